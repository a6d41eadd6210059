//! yamux-peer: a tokio-yamux (crates.io 0.3.x) driver, plaintext yamux over
//! TCP. CLI and stdout lines: interop/README.md ("yamux-peer").

use std::time::Duration;

use std::{collections::VecDeque, future::Future, pin::Pin, task::Poll};

use futures::{StreamExt, future, future::join_all};
use tentacle_ts_interop::{Args, exit_on_stdin_eof_if_asked, check_pattern, die, emit, fill_pattern, one_line, parse_cli, runtime};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_yamux::{config::Config, session::Session, stream::StreamHandle};

const CHUNK: usize = 64 * 1024;
const FILL: u8 = 7;

fn main() {
    exit_on_stdin_eof_if_asked();
    let known = ["port", "streams", "bytes", "mode", "window", "max-streams", "timeout-secs"];
    let args = parse_cli(&["late-fin"], &known);
    let mode = args.positional.first().map(|s| s.as_str()).unwrap_or("");
    let rt = runtime();
    let code = match mode {
        "server" => rt.block_on(server(&args)),
        "client" => rt.block_on(client(&args)),
        _ => die("usage: yamux-peer server|client [options] (see interop/README.md)"),
    };
    std::process::exit(code);
}

/// tokio-yamux Config from the CLI; defaults are the crate's (spec §8.7).
fn config(args: &Args) -> Config {
    let mut cfg = Config::default();
    if args.get("window").is_some() {
        cfg.max_stream_window_size = args.num("window", 0u32).unwrap_or_else(|e| die(&e));
        if cfg.max_stream_window_size < 256 * 1024 {
            die("--window must be >= 262144 (tokio-yamux requirement)");
        }
    }
    if args.get("max-streams").is_some() {
        cfg.max_stream_count = args.num("max-streams", 0usize).unwrap_or_else(|e| die(&e));
    }
    cfg
}

async fn server(args: &Args) -> i32 {
    let port: u16 = args.num("port", 0u16).unwrap_or_else(|e| die(&e));
    let cfg = config(args);
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => die(&format!("bind 127.0.0.1:{port}: {e}")),
    };
    emit(&format!("LISTENING {}", listener.local_addr().expect("addr").port()));
    loop {
        match listener.accept().await {
            Ok((socket, addr)) => {
                log::info!("accepted {addr}");
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve_session(socket, cfg));
            }
            // The accept loop never stops because of one connection.
            Err(e) => log::warn!("accept error: {e}"),
        }
    }
}

async fn serve_session(socket: TcpStream, cfg: Config) {
    let mut session = Session::new_server(socket, cfg);
    // The session is a Stream of inbound substreams; polling it is also what
    // drives all of its I/O, so this loop must run for as long as any stream
    // is in use.
    let end = loop {
        match session.next().await {
            Some(Ok(stream)) => {
                tokio::spawn(serve_stream(stream));
            }
            Some(Err(e)) => break format!("error {}", one_line(&e.to_string())),
            None => break "ok".to_string(),
        }
    };
    emit(&format!("SESSION_END {end}"));
}

async fn serve_stream(mut stream: StreamHandle) {
    let id = stream.id();
    let mut cmd = [0u8; 4];
    if let Err(e) = stream.read_exact(&mut cmd).await {
        if e.kind() == std::io::ErrorKind::ConnectionReset {
            emit(&format!("STREAM_RESET_SEEN {id} 0"));
            return;
        }
        log::warn!("stream {id}: no command: {e}");
        emit(&format!("STREAM_BAD {id} {}", one_line(&e.to_string())));
        return;
    }
    match &cmd {
        b"ECHO" => match echo_pump(&mut stream).await {
            Ok(total) => {
                // Peer sent FIN and everything was echoed: close our side (FIN).
                let _ = stream.shutdown().await;
                emit(&format!("STREAM_DONE {id} {total}"));
            }
            Err((total, e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                emit(&format!("STREAM_RESET_SEEN {id} {total}"));
            }
            Err((total, e)) => {
                emit(&format!("STREAM_ERR {id} {total} {}", one_line(&e.to_string())));
            }
        },
        b"RSET" => {
            // Dropping a StreamHandle that was not closed sends RST (spec §8.3).
            drop(stream);
            emit(&format!("STREAM_RESET_SENT {id}"));
        }
        b"SINK" => {
            let mut buf = vec![0u8; CHUNK];
            let mut total: u64 = 0;
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) => {
                        let _ = stream.shutdown().await;
                        emit(&format!("STREAM_EOF {id} {total}"));
                        return;
                    }
                    Ok(n) => total += n as u64,
                    Err(e) => {
                        log::info!("stream {id}: sink read error: {e}");
                        emit(&format!("STREAM_RESET_SEEN {id} {total}"));
                        return;
                    }
                }
            }
        }
        other => {
            log::warn!("stream {id}: unknown command {other:?}");
            emit(&format!("STREAM_BAD {id} unknown-command"));
        }
    }
}

/// Echo every byte until the peer's FIN, with backpressure (at most
/// ECHO_QUEUE bytes read ahead of what was written back).
///
/// tokio-yamux 0.3.20 applies a WindowUpdate to a stream only while that
/// stream is being *read* (poll_read registers the stream's frame channel;
/// poll_write only drains it without registering). A task that blocks in
/// write_all at send window 0 with no read pending is never woken. So this
/// pump always keeps a read polled, a zero-length one when the queue is full
/// (it processes queued frames and registers the waker without consuming
/// data). Returns the number of bytes echoed, or (bytes, error).
async fn echo_pump(stream: &mut StreamHandle) -> Result<u64, (u64, std::io::Error)> {
    const ECHO_QUEUE: usize = 1024 * 1024;
    let id = stream.id();
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let mut front_off = 0usize;
    let mut queued = 0usize;
    let mut eof = false;
    let mut echoed: u64 = 0;
    let mut buf = vec![0u8; CHUNK];
    let stall_after = Duration::from_secs(20);
    let mut stall = Box::pin(tokio::time::sleep(stall_after));
    let mut warned = false;
    future::poll_fn(|cx| {
        loop {
            let mut progress = false;
            if !eof {
                if queued < ECHO_QUEUE {
                    let mut rb = ReadBuf::new(&mut buf);
                    match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                        Poll::Ready(Ok(())) => {
                            let n = rb.filled().len();
                            if n == 0 {
                                eof = true;
                            } else {
                                queue.push_back(rb.filled().to_vec());
                                queued += n;
                            }
                            progress = true;
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err((echoed, e))),
                        Poll::Pending => {}
                    }
                } else {
                    let mut empty: [u8; 0] = [];
                    let mut rb = ReadBuf::new(&mut empty);
                    if let Poll::Ready(Err(e)) = Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                        return Poll::Ready(Err((echoed, e)));
                    }
                }
            }
            if let Some(front) = queue.front() {
                match Pin::new(&mut *stream).poll_write(cx, &front[front_off..]) {
                    Poll::Ready(Ok(n)) => {
                        front_off += n;
                        queued -= n;
                        echoed += n as u64;
                        if front_off == front.len() {
                            queue.pop_front();
                            front_off = 0;
                        }
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err((echoed, e))),
                    Poll::Pending => {}
                }
            } else if eof {
                return Poll::Ready(Ok(echoed));
            }
            if progress {
                stall.as_mut().reset(tokio::time::Instant::now() + stall_after);
                warned = false;
                continue;
            }
            // Diagnostics only: say on stderr when nothing moved for a while
            // (see README "Known tokio-yamux behaviours"); keep waiting.
            if !warned && stall.as_mut().poll(cx).is_ready() {
                warned = true;
                log::warn!(
                    "stream {id}: echo stalled for {}s (eof={eof}, queued={queued}, echoed={echoed}, send_window={})",
                    stall_after.as_secs(),
                    stream.send_window()
                );
            }
            return Poll::Pending;
        }
    })
    .await
}

async fn client(args: &Args) -> i32 {
    let port: u16 = match args.get("port") {
        Some(_) => args.num("port", 0u16).unwrap_or_else(|e| die(&e)),
        None => die("client needs --port"),
    };
    let mode = args.get("mode").unwrap_or("echo").to_string();
    let late_fin = args.has("late-fin");
    let streams: usize = args.num("streams", 1usize).unwrap_or_else(|e| die(&e));
    let bytes: u64 = args.num("bytes", 0u64).unwrap_or_else(|e| die(&e));
    let limit = Duration::from_secs(args.num("timeout-secs", 120u64).unwrap_or_else(|e| die(&e)));
    let cfg = config(args);
    let socket = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(e) => {
            emit(&format!("FAIL connect: {}", one_line(&e.to_string())));
            return 1;
        }
    };
    let _ = socket.set_nodelay(true);
    let mut session = Session::new_client(socket, cfg);
    let mut control = session.control();
    let driver = tokio::spawn(async move {
        // Drive the session; streams the server opens towards us are refused
        // by dropping them (RST).
        loop {
            match session.next().await {
                Some(Ok(s)) => drop(s),
                Some(Err(e)) => return format!("error {}", one_line(&e.to_string())),
                None => return "ok".to_string(),
            }
        }
    });

    let work = async {
        match mode.as_str() {
            "echo" => {
                let mut opened = Vec::with_capacity(streams);
                for _ in 0..streams {
                    // Opening is synchronous inside the session; the SYNs go
                    // out at once and the streams then run concurrently.
                    opened.push(control.open_stream().await.map_err(|e| format!("open: {e:?}"))?);
                }
                let results = join_all(opened.into_iter().map(|s| echo_stream(s, bytes, late_fin))).await;
                for r in results {
                    r?;
                }
                Ok(format!("OK {streams} {bytes}"))
            }
            "reset" => {
                let mut s1 = control.open_stream().await.map_err(|e| format!("open: {e:?}"))?;
                let mut first = vec![0u8; 4 + 1000];
                first[..4].copy_from_slice(b"SINK");
                fill_pattern(&mut first[4..], 0, FILL);
                s1.write_all(&first).await.map_err(|e| format!("write: {e}"))?;
                // Drop without close = RST (spec §8.3).
                drop(s1);
                let s2 = control.open_stream().await.map_err(|e| format!("open: {e:?}"))?;
                echo_stream(s2, if bytes == 0 { 4096 } else { bytes }, late_fin).await?;
                Ok("OK reset".to_string())
            }
            "rset" => {
                // Extension: ask the server to reset; our read must fail.
                let mut s = control.open_stream().await.map_err(|e| format!("open: {e:?}"))?;
                s.write_all(b"RSET").await.map_err(|e| format!("write: {e}"))?;
                let mut buf = [0u8; 16];
                match s.read(&mut buf).await {
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok("OK rset".to_string()),
                    other => Err(format!("expected a reset, got {other:?}")),
                }
            }
            m => Err(format!("unknown --mode {m}")),
        }
    };
    let code = match tokio::time::timeout(limit, work).await {
        Ok(Ok(line)) => {
            emit(&line);
            0
        }
        Ok(Err(why)) => {
            emit(&format!("FAIL {}", one_line(&why)));
            1
        }
        Err(_) => {
            emit(&format!("FAIL timeout after {}s", limit.as_secs()));
            1
        }
    };
    // Graceful end: GoAway, then wait briefly for the session to finish.
    // tokio-yamux waits up to connection_write_timeout (10 s) for the peer's
    // GoAway or EOF; hashicorp never answers a GoAway, so don't wait for that.
    control.close().await;
    match tokio::time::timeout(Duration::from_secs(1), driver).await {
        Ok(Ok(end)) => log::info!("session end: {end}"),
        _ => log::info!("session did not end within 1 s (hashicorp never answers GoAway)"),
    }
    code
}

/// Write `ECHO` + n pattern bytes, half-close, read the echo to EOF and
/// verify. With `late_fin` the half-close waits until the whole echo arrived
/// (then EOF must follow); see README "Known tokio-yamux behaviours".
async fn echo_stream(stream: StreamHandle, n: u64, late_fin: bool) -> Result<(), String> {
    let id = stream.id();
    let (mut rd, wr) = tokio::io::split(stream);
    let w = write_pattern(wr, b"ECHO", n, !late_fin);
    let r = read_pattern(&mut rd, n, !late_fin);
    let (w, r) = futures::join!(w, r);
    let mut wr = w.map_err(|e| format!("stream {id}: {e}"))?;
    r.map_err(|e| format!("stream {id}: {e}"))?;
    if late_fin {
        wr.shutdown().await.map_err(|e| format!("stream {id}: half-close: {e}"))?;
        let mut one = [0u8; 1];
        match rd.read(&mut one).await {
            Ok(0) => {}
            other => return Err(format!("stream {id}: expected EOF after the echo, got {other:?}")),
        }
    }
    Ok(())
}

async fn write_pattern<W: AsyncWrite + Unpin>(mut wr: W, head: &[u8], n: u64, fin: bool) -> Result<W, String> {
    wr.write_all(head).await.map_err(|e| format!("write: {e}"))?;
    let mut buf = vec![0u8; CHUNK];
    let mut off = 0u64;
    while off < n {
        let k = std::cmp::min(CHUNK as u64, n - off) as usize;
        fill_pattern(&mut buf[..k], off, FILL);
        wr.write_all(&buf[..k]).await.map_err(|e| format!("write at {off}: {e}"))?;
        off += k as u64;
    }
    if fin {
        wr.shutdown().await.map_err(|e| format!("half-close: {e}"))?;
    }
    Ok(wr)
}

/// Read and verify n echoed bytes; with `to_eof` also require EOF right after.
async fn read_pattern<R: AsyncRead + Unpin>(rd: &mut R, n: u64, to_eof: bool) -> Result<(), String> {
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    while got < n || to_eof {
        let want = if got < n { std::cmp::min(CHUNK as u64, n - got) as usize } else { CHUNK };
        let k = rd.read(&mut buf[..want]).await.map_err(|e| format!("read at {got}: {e}"))?;
        if k == 0 {
            break;
        }
        if got + k as u64 > n {
            return Err(format!("echo longer than {n} bytes"));
        }
        if let Some(at) = check_pattern(&buf[..k], got, FILL) {
            return Err(format!("echo byte {at} differs"));
        }
        got += k as u64;
    }
    if got != n {
        return Err(format!("eof after {got} of {n} echoed bytes"));
    }
    Ok(())
}
