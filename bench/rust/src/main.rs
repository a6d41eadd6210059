//! tentacle-bench: the Rust tentacle (crates.io 0.7.7) side of
//! `npm run bench -- rust`. Each mode runs one role of a workload that
//! bench/rust.ts also runs with tentacle-ts; results are JSON lines on stdout:
//!
//!   service-sink  --total N [--window W] [--nodelay] [--echo]
//!       listen on 127.0.0.1; prints {"listening": "/ip4/…/p2p/<id>"}; per session:
//!       {"open": cpu} when protocol 1 opens, {"got": cpu} when N bytes of messages
//!       arrived (then answers with one 1-byte message). --echo: echo every message.
//!   service-send  --dial ADDR --total N [--window W] [--nodelay]
//!       {"start": cpu} when protocol 1 is open, then N bytes of 64 KiB messages
//!       (`send_message_to(..).await`, at most PENDING bytes queued), then
//!       {"done": ms, "cpu": cpu} when the 1-byte ack arrived; exits.
//!   setup         --dial ADDR --lanes L --ms T [--nodelay]
//!       L lanes of KEYS client services (own keys), each lane running sessions one after another
//!       (dial, open protocol 1, 32-byte echo, disconnect, session closed) for T ms
//!       after warm-up; prints {"clock": cpu} when the clock starts and
//!       {"rate": sessions/s, "cpu": cpu} at the end; exits.
//!   secio-sink    --total N           secio alone (AES-128-GCM) over TCP; {"listening": port}
//!   secio-send    --port P --total N  64 KiB writes, then waits for the 1-byte ack
//!
//! cpu = this process's user+sys CPU time in microseconds (getrusage, all threads).
//! Listeners answer each line on stdin with {"cpu": cpu} and exit when stdin reaches EOF. --nodelay sets TCP_NODELAY on every
//! socket (tentacle 0.7.7 as shipped leaves Nagle on).

use std::{
    collections::HashMap,
    io::Write as _,
    os::fd::AsRawFd,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use tentacle::{
    async_trait,
    builder::{MetaBuilder, ServiceBuilder},
    context::{ProtocolContext, ProtocolContextMutRef, ServiceContext},
    multiaddr::Multiaddr,
    secio::SecioKeyPair,
    service::{
        ProtocolHandle, ProtocolMeta, Service, ServiceAsyncControl, ServiceError, ServiceEvent, SessionType, TargetProtocol,
        TcpSocket, TransformerContext,
    },
    traits::{ServiceHandle, ServiceProtocol},
    SessionId,
};
use tentacle_secio::crypto::cipher::CipherType;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};

const MSG: usize = 64 * 1024;
/// Most bytes the service-send loop leaves queued in tentacle before it waits.
const PENDING: usize = 4 * 1024 * 1024;
/// Client keys per session-setup lane.
const KEYS: usize = 4;

fn emit(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn die(msg: &str) -> ! {
    eprintln!("tentacle-bench: {msg}");
    std::process::exit(2)
}

/// user+sys CPU of this process (all threads), microseconds.
fn cpu_us() -> u64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

struct Args(HashMap<String, String>);

impl Args {
    fn parse() -> (String, Args) {
        let mut it = std::env::args().skip(1);
        let mode = it.next().unwrap_or_else(|| die("usage: tentacle-bench MODE [--opt value]…"));
        let mut m = HashMap::new();
        while let Some(a) = it.next() {
            let k = a.strip_prefix("--").unwrap_or_else(|| die(&format!("unexpected {a}"))).to_string();
            if k == "nodelay" || k == "echo" {
                m.insert(k, String::new());
            } else {
                m.insert(k, it.next().unwrap_or_else(|| die(&format!("--{a} needs a value"))));
            }
        }
        (mode, Args(m))
    }
    fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }
    fn str(&self, k: &str) -> &str {
        self.0.get(k).map(|s| s.as_str()).unwrap_or_else(|| die(&format!("--{k} is required")))
    }
    fn num(&self, k: &str) -> u64 {
        self.str(k).parse().unwrap_or_else(|_| die(&format!("--{k} must be a number")))
    }
}

fn set_nodelay(sock: TcpSocket, _: TransformerContext) -> std::io::Result<TcpSocket> {
    let one: libc::c_int = 1;
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(sock)
}

/// A service with protocol 1 (tentacle's default length-delimited codec) and a fresh secp256k1 key.
fn service<P, H>(args: &Args, key: SecioKeyPair, proto: P, handle: H) -> Service<H, SecioKeyPair>
where
    P: ServiceProtocol + Send + Unpin + Clone + 'static,
    H: ServiceHandle + Unpin + Send + 'static,
{
    let meta: ProtocolMeta = MetaBuilder::new()
        .id(1.into())
        .service_handle(move || ProtocolHandle::Callback(Box::new(proto.clone())))
        .build();
    let mut b = ServiceBuilder::default()
        .insert_protocol(meta)
        .forever(true)
        .handshake_type(key.into());
    if args.has("window") {
        let mut cfg = tentacle::yamux::Config::default();
        cfg.max_stream_window_size = args.num("window") as u32;
        b = b.yamux_config(cfg);
    }
    if args.has("nodelay") {
        b = b.tcp_config(set_nodelay);
    }
    b.build(handle)
}

/// Reports every service error on stderr; `fatal` ones end the process (a bench must not hang).
struct Errors {
    fatal: bool,
}

#[async_trait]
impl ServiceHandle for Errors {
    async fn handle_error(&mut self, _: &mut ServiceContext, error: ServiceError) {
        eprintln!("tentacle-bench: service error {error:?}");
        if self.fatal {
            std::process::exit(1);
        }
    }
}

// ------------------------------------------------------------------ service-sink

#[derive(Clone)]
struct Sink {
    total: u64,
    echo: bool,
    got: Arc<AtomicU64>,
}

#[async_trait]
impl ServiceProtocol for Sink {
    async fn init(&mut self, _: &mut ProtocolContext) {}
    async fn connected(&mut self, _: ProtocolContextMutRef<'_>, _: &str) {
        if !self.echo {
            self.got.store(0, Ordering::Relaxed);
            emit(format!("{{\"open\":{}}}", cpu_us()));
        }
    }
    async fn received(&mut self, ctx: ProtocolContextMutRef<'_>, data: Bytes) {
        if self.echo {
            let _ = ctx.send_message(data).await;
            return;
        }
        let n = self.got.fetch_add(data.len() as u64, Ordering::Relaxed) + data.len() as u64;
        if n == self.total {
            emit(format!("{{\"got\":{}}}", cpu_us()));
            let _ = ctx.send_message(Bytes::from_static(&[1])).await;
        }
    }
}

async fn service_sink(args: Args) {
    let sink = Sink { total: if args.has("echo") { 0 } else { args.num("total") }, echo: args.has("echo"), got: Arc::new(AtomicU64::new(0)) };
    let key = SecioKeyPair::secp256k1_generated();
    let peer_id = key.peer_id().to_base58();
    let mut svc = service(&args, key, sink, Errors { fatal: false });
    let addr = svc.listen("/ip4/127.0.0.1/tcp/0".parse().unwrap()).await.unwrap_or_else(|e| die(&format!("listen: {e:?}")));
    emit(format!("{{\"listening\":\"{addr}/p2p/{peer_id}\"}}"));
    tokio::spawn(exit_on_stdin_eof());
    svc.run().await;
}

/// A listener answers every line on stdin with {"cpu": cpu} and exits at EOF.
async fn exit_on_stdin_eof() {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = lines.next_line().await {
        emit(format!("{{\"cpu\":{}}}", cpu_us()));
    }
    std::process::exit(0);
}

// ------------------------------------------------------------------ service-send

#[derive(Clone)]
struct Sender {
    total: u64,
    t0: Arc<std::sync::Mutex<Option<Instant>>>,
}

#[async_trait]
impl ServiceProtocol for Sender {
    async fn init(&mut self, _: &mut ProtocolContext) {}
    async fn connected(&mut self, ctx: ProtocolContextMutRef<'_>, _: &str) {
        emit(format!("{{\"start\":{}}}", cpu_us()));
        *self.t0.lock().unwrap() = Some(Instant::now());
        let control = ctx.control().clone();
        let session = ctx.session.clone();
        let total = self.total;
        tokio::spawn(async move {
            let chunk = Bytes::from(vec![0x5au8; MSG]);
            let mut sent = 0u64;
            while sent < total {
                // tentacle kills a session whose unsent data passes send_buffer_size
                // (24 MiB) and has no "drained" signal: keep at most PENDING queued,
                // looking again every millisecond (PENDING lasts several ms at any rate here).
                while session.pending_data_size() > PENDING {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                if let Err(e) = control.send_message_to(session.id, 1.into(), chunk.clone()).await {
                    die(&format!("send: {e:?}"));
                }
                sent += MSG as u64;
            }
        });
    }
    async fn received(&mut self, _: ProtocolContextMutRef<'_>, _: Bytes) {
        let t0 = self.t0.lock().unwrap().expect("ack before start");
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        emit(format!("{{\"done\":{ms},\"cpu\":{}}}", cpu_us()));
        std::process::exit(0);
    }
}

async fn service_send(args: Args) {
    let sender = Sender { total: args.num("total"), t0: Arc::new(std::sync::Mutex::new(None)) };
    let mut svc = service(&args, SecioKeyPair::secp256k1_generated(), sender, Errors { fatal: true });
    svc.dial(args.str("dial").parse().unwrap_or_else(|_| die("bad --dial")), TargetProtocol::Single(1.into()))
        .await
        .unwrap_or_else(|e| die(&format!("dial: {e:?}")));
    svc.run().await;
}

// ------------------------------------------------------------------ setup

enum Ev {
    Open(SessionId),
    Reply(SessionId),
    Closed(SessionId),
}

#[derive(Clone)]
struct Lane {
    tx: mpsc::UnboundedSender<Ev>,
}

#[async_trait]
impl ServiceProtocol for Lane {
    async fn init(&mut self, _: &mut ProtocolContext) {}
    async fn connected(&mut self, ctx: ProtocolContextMutRef<'_>, _: &str) {
        let _ = self.tx.send(Ev::Open(ctx.session.id));
    }
    async fn received(&mut self, ctx: ProtocolContextMutRef<'_>, _: Bytes) {
        let _ = self.tx.send(Ev::Reply(ctx.session.id));
    }
}

#[async_trait]
impl ServiceHandle for Lane {
    async fn handle_error(&mut self, _: &mut ServiceContext, error: ServiceError) {
        match error {
            // A refused session (see one_session) ends in one of these, then SessionClose.
            ServiceError::ProtocolSelectError { .. } | ServiceError::MuxerError { .. } | ServiceError::ProtocolError { .. } => {}
            other => die(&format!("setup: service error {other:?}")),
        }
    }
    async fn handle_event(&mut self, _: &mut ServiceContext, event: ServiceEvent) {
        if let ServiceEvent::SessionClose { session_context } = event {
            if session_context.ty == SessionType::Outbound {
                let _ = self.tx.send(Ev::Closed(session_context.id));
            }
        }
    }
}

/// One session: dial, protocol open, 32-byte echo, disconnect, closed. false:
/// the listener refused it (it still had this key's previous session, §12.2) —
/// not counted, the lane goes on with its next key.
async fn one_session(control: &ServiceAsyncControl, addr: &Multiaddr, ping: &Bytes, rx: &mut mpsc::UnboundedReceiver<Ev>) -> bool {
    control.dial(addr.clone(), TargetProtocol::Single(1.into())).await.unwrap_or_else(|e| die(&format!("dial: {e:?}")));
    let id = loop {
        match rx.recv().await {
            Some(Ev::Open(id)) => break id,
            Some(Ev::Closed(_)) => return false,
            Some(Ev::Reply(_)) => {}
            None => die("lane closed"),
        }
    };
    control.send_message_to(id, 1.into(), ping.clone()).await.unwrap_or_else(|e| die(&format!("send: {e:?}")));
    while !matches!(rx.recv().await, Some(Ev::Reply(r)) if r == id) {}
    control.disconnect(id).await.unwrap_or_else(|e| die(&format!("disconnect: {e:?}")));
    while !matches!(rx.recv().await, Some(Ev::Closed(c)) if c == id) {}
    true
}

async fn setup(args: Args) {
    let lanes = args.num("lanes") as usize;
    let ms = args.num("ms");
    let addr: Multiaddr = args.str("dial").parse().unwrap_or_else(|_| die("bad --dial"));
    let ping = Bytes::from(vec![7u8; 32]);
    let done = Arc::new(AtomicU64::new(0));
    let warm_up = std::cmp::max(2, (10 + lanes - 1) / lanes);
    let start = Arc::new(tokio::sync::Barrier::new(lanes + 1));
    let until = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let mut tasks = Vec::new();
    for _ in 0..lanes {
        // KEYS client services (keys) per lane, used in turn: a tentacle listener
        // refuses a session from a key it still has a session with (§12.2), and
        // it may learn of the previous session's end after the dialer did.
        let mut clients = Vec::new();
        for _ in 0..KEYS {
            let (tx, rx) = mpsc::unbounded_channel();
            let lane = Lane { tx };
            let mut svc = service(&args, SecioKeyPair::secp256k1_generated(), lane.clone(), lane);
            let control = svc.control().clone();
            tokio::spawn(async move { svc.run().await });
            clients.push((control, rx));
        }
        let (addr, ping, done, start, until) = (addr.clone(), ping.clone(), done.clone(), start.clone(), until.clone());
        tasks.push(tokio::spawn(async move {
            let mut k = 0usize;
            for _ in 0..warm_up {
                let (control, rx) = &mut clients[k % KEYS];
                one_session(control, &addr, &ping, rx).await;
                k += 1;
            }
            start.wait().await; // warmed up
            start.wait().await; // the clock runs
            let end = until.lock().unwrap().expect("deadline");
            while Instant::now() < end {
                let (control, rx) = &mut clients[k % KEYS];
                k += 1;
                if one_session(control, &addr, &ping, rx).await {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Every lane warmed up: start the clock, then let the lanes go.
    start.wait().await;
    emit(format!("{{\"clock\":{}}}", cpu_us()));
    let t0 = Instant::now();
    *until.lock().unwrap() = Some(t0 + Duration::from_millis(ms));
    start.wait().await;
    for t in tasks {
        t.await.unwrap();
    }
    let rate = done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64();
    emit(format!("{{\"rate\":{rate},\"cpu\":{}}}", cpu_us()));
    std::process::exit(0);
}

// ------------------------------------------------------------------ secio alone

fn secio_config() -> tentacle_secio::handshake::Config<SecioKeyPair> {
    tentacle_secio::handshake::Config::new(SecioKeyPair::secp256k1_generated()).ciphers(&[CipherType::Aes128Gcm])
}

async fn secio_sink(args: Args) {
    let total = args.num("total");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| die(&format!("listen: {e}")));
    emit(format!("{{\"listening\":{}}}", listener.local_addr().unwrap().port()));
    tokio::spawn(exit_on_stdin_eof());
    let config = secio_config();
    while let Ok((socket, _)) = listener.accept().await {
        let _ = socket.set_nodelay(true);
        let config = config.clone();
        tokio::spawn(async move {
            let (mut s, _, _) = match config.handshake(socket).await {
                Ok(r) => r,
                Err(e) => return eprintln!("tentacle-bench: secio handshake: {e:?}"),
            };
            emit(format!("{{\"open\":{}}}", cpu_us()));
            let mut buf = vec![0u8; 256 * 1024];
            let mut got = 0u64;
            while got < total {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got += n as u64,
                }
            }
            emit(format!("{{\"got\":{}}}", cpu_us()));
            let _ = s.write_all(&[1]).await;
            let _ = s.flush().await;
            let _ = s.read(&mut buf).await; // until the sender closes
        });
    }
}

async fn secio_send(args: Args) {
    let total = args.num("total");
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", args.num("port") as u16))
        .await
        .unwrap_or_else(|e| die(&format!("connect: {e}")));
    let _ = socket.set_nodelay(true);
    let (mut s, _, _) = secio_config().handshake(socket).await.unwrap_or_else(|e| die(&format!("handshake: {e:?}")));
    emit(format!("{{\"start\":{}}}", cpu_us()));
    let t0 = Instant::now();
    let chunk = vec![0x5au8; MSG];
    let mut sent = 0u64;
    while sent < total {
        s.write_all(&chunk).await.unwrap_or_else(|e| die(&format!("write: {e}")));
        sent += MSG as u64;
    }
    s.flush().await.unwrap_or_else(|e| die(&format!("flush: {e}")));
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).await.unwrap_or_else(|e| die(&format!("ack: {e}")));
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    emit(format!("{{\"done\":{ms},\"cpu\":{}}}", cpu_us()));
    std::process::exit(0);
}

fn main() {
    let (mode, args) = Args::parse();
    // As tentacle-based nodes run: tokio's multi-threaded runtime, one worker per core.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    rt.block_on(async move {
        match mode.as_str() {
            "service-sink" => service_sink(args).await,
            "service-send" => service_send(args).await,
            "setup" => setup(args).await,
            "secio-sink" => secio_sink(args).await,
            "secio-send" => secio_send(args).await,
            other => die(&format!("unknown mode {other}")),
        }
    });
}
