//! secio-peer: a tentacle-secio (crates.io 0.6.x) handshake + echo driver.
//! CLI and stdout lines: interop/README.md ("secio-peer").

use std::time::Duration;

use tentacle_secio::{
    Digest, SecioKeyPair, crypto::cipher::CipherType, handshake::Config,
};
use tentacle_ts_interop::{Args, exit_on_stdin_eof_if_asked, check_pattern, die, emit, fill_pattern, one_line, parse_cli, runtime, key_pair};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const CHUNK: usize = 64 * 1024;
const FILL: u8 = 7;

fn main() {
    exit_on_stdin_eof_if_asked();
    let known = [
        "port", "secret", "ciphers", "agreements", "digests", "max-conns", "bytes",
        "handshake-timeout-secs", "max-frame-length",
    ];
    let args = parse_cli(&[], &known);
    let mode = args.positional.first().map(|s| s.as_str()).unwrap_or("");
    let rt = runtime();
    let code = match mode {
        "server" => rt.block_on(server(&args)),
        "client" => rt.block_on(client(&args)),
        _ => die("usage: secio-peer server|client [options] (see interop/README.md)"),
    };
    std::process::exit(code);
}


fn list(args: &Args, name: &str) -> Option<Vec<String>> {
    args.get(name).map(|v| v.split(',').map(|s| s.to_string()).collect())
}

/// Build the secio Config from the CLI (names as on the wire, spec §3.5).
fn config(args: &Args, key: SecioKeyPair) -> Config<SecioKeyPair> {
    let mut cfg = Config::new(key);
    if let Some(names) = list(args, "ciphers") {
        let v: Vec<CipherType> = names
            .iter()
            .map(|n| match n.as_str() {
                "AES-128-GCM" => CipherType::Aes128Gcm,
                "AES-256-GCM" => CipherType::Aes256Gcm,
                "CHACHA20_POLY1305" => CipherType::ChaCha20Poly1305,
                other => die(&format!("unknown cipher {other}")),
            })
            .collect();
        cfg = cfg.ciphers(v.iter());
    }
    if let Some(names) = list(args, "digests") {
        let v: Vec<Digest> = names
            .iter()
            .map(|n| match n.as_str() {
                "SHA256" => Digest::Sha256,
                "SHA512" => Digest::Sha512,
                other => die(&format!("unknown digest {other}")),
            })
            .collect();
        cfg = cfg.digests(v.iter());
    }
    if let Some(names) = list(args, "agreements") {
        cfg = with_agreements(cfg, &names);
    }
    if let Some(n) = args.get("max-frame-length") {
        let n: usize = n.parse().unwrap_or_else(|_| die("--max-frame-length: not a number"));
        cfg = cfg.max_frame_length(n);
    }
    cfg
}

/// `Config::key_agreements` takes `&KeyAgreement`, but tentacle-secio 0.6.x
/// does not export `KeyAgreement` (it lives in the private `dh_compat`
/// module), so no caller can name or build one. We obtain values of the
/// unnameable type by inference: a fieldless enum of 3 variants is one byte
/// holding its declaration index (EcdhP256 = 0, EcdhP384 = 1, X25519 = 2).
/// Each value is checked through its `Debug` name before use, and the
/// resulting proposition string is checked through `Config`'s `Debug`, so a
/// layout change in a future crate makes this fail loudly instead of
/// proposing the wrong thing.
fn with_agreements(cfg: Config<SecioKeyPair>, names: &[String]) -> Config<SecioKeyPair> {
    fn build<T: Copy + std::fmt::Debug + 'static>(
        cfg: Config<SecioKeyPair>,
        names: &[String],
        apply: impl FnOnce(Config<SecioKeyPair>, &[T]) -> Config<SecioKeyPair>,
    ) -> Config<SecioKeyPair> {
        assert_eq!(std::mem::size_of::<T>(), 1, "KeyAgreement layout changed");
        let mut v: Vec<T> = Vec::new();
        for n in names {
            let (idx, debug_name) = match n.as_str() {
                "P-256" => (0u8, "EcdhP256"),
                "P-384" => (1u8, "EcdhP384"),
                "X25519" => (2u8, "X25519"),
                other => die(&format!("unknown agreement {other}")),
            };
            // SAFETY: size checked above; idx < 3 is a valid discriminant of
            // the 3-variant fieldless enum; the Debug check below confirms it.
            let value: T = unsafe { std::mem::transmute_copy::<u8, T>(&idx) };
            if format!("{value:?}") != debug_name {
                die("cannot build tentacle-secio KeyAgreement values (crate changed)");
            }
            v.push(value);
        }
        apply(cfg, &v)
    }
    let cfg = build(cfg, names, |cfg, v| cfg.key_agreements(v.iter()));
    let want = format!("agreements_proposal: Some({:?})", names.join(","));
    if !format!("{cfg:?}").contains(&want) {
        die("agreements proposal did not take effect (crate changed)");
    }
    cfg
}

fn timeout(args: &Args) -> Duration {
    Duration::from_secs(args.num("handshake-timeout-secs", 10u64).unwrap_or_else(|e| die(&e)))
}

fn describe_ephemeral(len: usize) -> &'static str {
    // spec §3.8: P-256 65 bytes, P-384 97 bytes (uncompressed), X25519 32.
    match len {
        65 => "P-256",
        97 => "P-384",
        32 => "X25519",
        _ => "unknown",
    }
}

async fn server(args: &Args) -> i32 {
    let port: u16 = args.num("port", 0u16).unwrap_or_else(|e| die(&e));
    let max_conns: u64 = args.num("max-conns", 0u64).unwrap_or_else(|e| die(&e));
    let key = key_pair(args.get("secret"));
    let peer_id = key.peer_id().to_base58();
    let cfg = config(args, key);
    let hs_timeout = timeout(args);
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => die(&format!("bind 127.0.0.1:{port}: {e}")),
    };
    let local = listener.local_addr().expect("local addr");
    emit(&format!("LISTENING {} {}", local.port(), peer_id));

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut accepted: u64 = 0;
    let mut finished: u64 = 0;
    loop {
        tokio::select! {
            r = listener.accept(), if max_conns == 0 || accepted < max_conns => {
                match r {
                    Ok((socket, addr)) => {
                        accepted += 1;
                        log::info!("accepted {addr}");
                        let cfg = cfg.clone();
                        let done = done_tx.clone();
                        tokio::spawn(async move {
                            serve_one(socket, cfg, hs_timeout).await;
                            let _ = done.send(());
                        });
                    }
                    // The accept loop never stops because of one connection.
                    Err(e) => log::warn!("accept error: {e}"),
                }
            }
            Some(()) = done_rx.recv() => {
                finished += 1;
                if max_conns != 0 && finished >= max_conns {
                    return 0;
                }
            }
        }
    }
}

async fn serve_one(socket: TcpStream, cfg: Config<SecioKeyPair>, hs_timeout: Duration) {
    let _ = socket.set_nodelay(true);
    let hs = tokio::time::timeout(hs_timeout, cfg.handshake(socket)).await;
    let (stream, remote, ephemeral) = match hs {
        Err(_) => {
            emit("HANDSHAKE_ERR timeout");
            return;
        }
        Ok(Err(e)) => {
            emit(&format!("HANDSHAKE_ERR {}", one_line(&format!("{e:?}"))));
            return;
        }
        Ok(Ok(v)) => v,
    };
    log::info!(
        "handshake ok, remote ephemeral key {} bytes ({})",
        ephemeral.len(),
        describe_ephemeral(ephemeral.len())
    );
    emit(&format!("HANDSHAKE_OK {}", remote.peer_id().to_base58()));
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut buf = vec![0u8; CHUNK];
    let mut total: u64 = 0;
    loop {
        match rd.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = wr.write_all(&buf[..n]).await {
                    emit(&format!("ECHO_ERR {total} {}", one_line(&e.to_string())));
                    return;
                }
                total += n as u64;
            }
            Err(e) if is_eof(&e) => break,
            Err(e) => {
                emit(&format!("ECHO_ERR {total} {}", one_line(&e.to_string())));
                return;
            }
        }
    }
    emit(&format!("ECHOED {total}"));
    let _ = wr.shutdown().await;
}

/// tentacle-secio's SecureStream reports the end of the underlying stream as
/// an io::Error of kind BrokenPipe with no inner error (not as Ok(0));
/// decryption failures are BrokenPipe *with* an inner error.
fn is_eof(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::UnexpectedEof)
        || (e.kind() == std::io::ErrorKind::BrokenPipe && e.get_ref().is_none())
}

async fn client(args: &Args) -> i32 {
    let port: u16 = match args.get("port") {
        Some(_) => args.num("port", 0u16).unwrap_or_else(|e| die(&e)),
        None => die("client needs --port"),
    };
    let total: u64 = args.num("bytes", 0u64).unwrap_or_else(|e| die(&e));
    let cfg = config(args, key_pair(args.get("secret")));
    let hs_timeout = timeout(args);
    let socket = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(e) => {
            emit(&format!("FAIL connect: {}", one_line(&e.to_string())));
            return 1;
        }
    };
    let _ = socket.set_nodelay(true);
    let (stream, remote, ephemeral) = match tokio::time::timeout(hs_timeout, cfg.handshake(socket)).await {
        Err(_) => {
            emit("HANDSHAKE_ERR timeout");
            emit("FAIL handshake timeout");
            return 1;
        }
        Ok(Err(e)) => {
            let m = one_line(&format!("{e:?}"));
            emit(&format!("HANDSHAKE_ERR {m}"));
            emit(&format!("FAIL handshake: {m}"));
            return 1;
        }
        Ok(Ok(v)) => v,
    };
    log::info!(
        "handshake ok, remote ephemeral key {} bytes ({})",
        ephemeral.len(),
        describe_ephemeral(ephemeral.len())
    );
    emit(&format!("HANDSHAKE_OK {}", remote.peer_id().to_base58()));
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = async move {
        let mut buf = vec![0u8; CHUNK];
        let mut off: u64 = 0;
        while off < total {
            let n = std::cmp::min(CHUNK as u64, total - off) as usize;
            fill_pattern(&mut buf[..n], off, FILL);
            wr.write_all(&buf[..n]).await.map_err(|e| format!("write: {e}"))?;
            off += n as u64;
        }
        wr.flush().await.map_err(|e| format!("flush: {e}"))?;
        Ok::<_, String>(wr)
    };
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        let mut got: u64 = 0;
        while got < total {
            let want = std::cmp::min(CHUNK as u64, total - got) as usize;
            let n = match rd.read(&mut buf[..want]).await {
                Ok(0) => return Err(format!("eof after {got} of {total} bytes")),
                Ok(n) => n,
                Err(e) if is_eof(&e) => return Err(format!("eof after {got} of {total} bytes")),
                Err(e) => return Err(format!("read after {got} bytes: {e}")),
            };
            if let Some(at) = check_pattern(&buf[..n], got, FILL) {
                return Err(format!("byte {at} differs"));
            }
            got += n as u64;
        }
        Ok::<_, String>(rd)
    };
    match tokio::try_join!(writer, reader) {
        Ok((mut wr, _rd)) => {
            emit(&format!("OK {total}"));
            let _ = wr.shutdown().await;
            0
        }
        Err(why) => {
            emit(&format!("FAIL {}", one_line(&why)));
            1
        }
    }
}
