//! Small helpers shared by the interop driver binaries (secio-peer,
//! yamux-peer, tentacle-peer). The protocol crates themselves come from
//! crates.io; nothing here re-implements them.

use std::collections::HashMap;
use std::io::Write;

/// Print one machine-readable line on stdout and flush it at once, so a test
/// reading the pipe sees every event as it happens.
pub fn emit(line: &str) {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    // A closed stdout (the test went away) must not panic the driver.
    let _ = lock.write_all(line.as_bytes());
    let _ = lock.write_all(b"\n");
    let _ = lock.flush();
}

/// A message on one line (every stdout event is one line).
pub fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The deterministic test pattern every driver uses:
/// byte i = (i * 31 + fill) & 0xff. With fill = 7 this is the pattern of the
/// secio/yamux CLIs in notes/interfaces.md.
pub fn pattern_byte(i: u64, fill: u8) -> u8 {
    (i.wrapping_mul(31).wrapping_add(fill as u64) & 0xff) as u8
}

/// Fill `buf` with the pattern, starting at absolute offset `offset`.
pub fn fill_pattern(buf: &mut [u8], offset: u64, fill: u8) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = pattern_byte(offset + k as u64, fill);
    }
}

/// Returns the index of the first byte of `buf` (at absolute `offset`) that
/// differs from the pattern.
pub fn check_pattern(buf: &[u8], offset: u64, fill: u8) -> Option<u64> {
    buf.iter()
        .enumerate()
        .find(|(k, b)| **b != pattern_byte(offset + *k as u64, fill))
        .map(|(k, _)| offset + k as u64)
}

/// Minimal argv parser: `cmd --flag value --switch ...`. Flags may repeat.
pub struct Args {
    pub positional: Vec<String>,
    flags: HashMap<String, Vec<String>>,
    switches: Vec<String>,
}

impl Args {
    /// `switch_names` are the flags that take no value.
    pub fn parse(switch_names: &[&str]) -> Result<Args, String> {
        let mut positional = Vec::new();
        let mut flags: HashMap<String, Vec<String>> = HashMap::new();
        let mut switches = Vec::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                if let Some((k, v)) = name.split_once('=') {
                    flags.entry(k.to_string()).or_default().push(v.to_string());
                } else if switch_names.contains(&name) {
                    switches.push(name.to_string());
                } else {
                    let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                    flags.entry(name.to_string()).or_default().push(v);
                }
            } else {
                positional.push(a);
            }
        }
        Ok(Args { positional, flags, switches })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.flags.get(name).and_then(|v| v.last()).map(|s| s.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.flags.get(name).cloned().unwrap_or_default()
    }

    pub fn has(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: not a number: {v}")),
        }
    }

    /// Every flag given that is not in `known` (typos must fail loudly).
    pub fn reject_unknown(&self, known: &[&str]) -> Result<(), String> {
        for k in self.flags.keys() {
            if !known.contains(&k.as_str()) {
                return Err(format!("unknown option --{k}"));
            }
        }
        Ok(())
    }
}

/// How every driver starts: logging on stderr, then its CLI. `switches` are
/// the flags that take no value; a flag in neither `switches` nor `known` is
/// a usage error (exit 2).
pub fn parse_cli(switches: &[&str], known: &[&str]) -> Args {
    init_logging();
    let args = Args::parse(switches).unwrap_or_else(|e| die(&e));
    args.reject_unknown(known).unwrap_or_else(|e| die(&e));
    args
}

/// Decode a hex string (no 0x prefix) into bytes.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    hex::decode(s.trim()).map_err(|e| format!("bad hex: {e}"))
}

/// Initialise env_logger on stderr (RUST_LOG, default warn).
pub fn init_logging() {
    let env = env_logger::Env::default().default_filter_or("warn");
    let _ = env_logger::Builder::from_env(env)
        .target(env_logger::Target::Stderr)
        .try_init();
}

/// The identity from `--secret HEX32`, or a random one.
pub fn key_pair(secret: Option<&str>) -> tentacle_secio::SecioKeyPair {
    match secret {
        None => tentacle_secio::SecioKeyPair::secp256k1_generated(),
        Some(h) => {
            let raw = parse_hex(h).unwrap_or_else(|e| die(&format!("--secret: {e}")));
            if raw.len() != 32 {
                die("--secret must be 32 bytes (64 hex chars)");
            }
            tentacle_secio::SecioKeyPair::secp256k1_raw_key(raw)
                .unwrap_or_else(|e| die(&format!("--secret: not a valid secp256k1 secret: {e}")))
        }
    }
}

/// The runtime every driver runs on (two workers: the machine has two cores).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Exit with a usage error (code 2), message on stderr.
pub fn die(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}

/// When TENTACLE_TS_EXIT_ON_STDIN_EOF=1 (set by interop/lib for every
/// driver it spawns), exit as soon as stdin reaches EOF: the test process
/// that owns our stdin pipe is gone, so nobody will ever kill us.
pub fn exit_on_stdin_eof_if_asked() {
    if std::env::var("TENTACLE_TS_EXIT_ON_STDIN_EOF").as_deref() != Ok("1") {
        return;
    }
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        loop {
            match std::io::Read::read(&mut stdin, &mut sink) {
                Ok(0) | Err(_) => {
                    log::info!("stdin closed, exiting");
                    std::process::exit(0)
                }
                Ok(_) => {}
            }
        }
    });
}
