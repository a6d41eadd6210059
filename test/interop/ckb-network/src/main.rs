//! ckb-network-peer: CKB's own network layer (crates.io `ckb-network`) as an
//! interop peer for tentacle-ts. It runs `NetworkService` with CKB's ping,
//! identify, discovery, feeler and disconnect-message protocol handlers,
//! unchanged, and prints what it saw as JSON lines on stdout (see
//! test/interop/README.md, "ckb-network-peer").
//!
//! The handlers are the crate's own; only the reporting is ours. It comes
//! from two places, because the crate exposes no event hooks:
//! - the crate's own log records (`log` facade, target `ckb_network::…`),
//!   read by a logger installed here and turned into events (session
//!   open/close, disconnect messages, bans, refused identify, discovered
//!   addresses, feeler dials, pings sent/received);
//! - the peer registry and ban list, read every `--snapshot-ms` (identify
//!   results, ping RTTs, opened protocols, direction).

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    io::{BufRead, Write},
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use ckb_app_config::{NetworkConfig, SupportProtocol, write_secret_to_file};
use ckb_network::{
    Flags, NetworkController, NetworkService, NetworkState, Peer, SessionId,
    bytes::Bytes,
    extract_peer_id,
    multiaddr::{Multiaddr, Protocol},
    network::TransportType,
};
use serde_json::{Value, json};

const USAGE: &str = "usage: ckb-network-peer [--network-name NAME | --chain-id ID --genesis-hash HEX]
  [--listen MULTIADDR]... [--bootnode MULTIADDR]... [--ping-interval-secs N]
  [--ping-timeout-secs N] [--discovery-interval-secs N] [--connect-outbound-interval-secs N]
  [--discovery-local-address] [--data-dir DIR] [--secret HEX32] [--flags N]
  [--required-flags N] [--required-protocols IDS] [--client-version S]
  [--max-peers N] [--max-outbound N] [--no-reuse-port] [--snapshot-ms N]";

// ---------------------------------------------------------------- output

/// Lines emitted before `LISTENING` is printed wait here, so that
/// `LISTENING` is always the first stdout line; `None` once it is out.
static EARLY: Mutex<Option<Vec<String>>> = Mutex::new(Some(Vec::new()));

fn write_line(line: &str) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn emit(v: Value) {
    let line = v.to_string();
    let mut early = EARLY.lock().unwrap_or_else(|e| e.into_inner());
    match early.as_mut() {
        Some(held) => held.push(line),
        None => write_line(&line),
    }
}

/// Prints `first` and then every held line, and ends holding.
fn release_early(first: &str) {
    let mut early = EARLY.lock().unwrap_or_else(|e| e.into_inner());
    write_line(first);
    for line in early.take().unwrap_or_default() {
        write_line(&line);
    }
}

fn plain(line: &str) {
    release_early(line);
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------- options

struct Options {
    network_name: String,
    listen: Vec<Multiaddr>,
    bootnodes: Vec<Multiaddr>,
    ping_interval_secs: u64,
    ping_timeout_secs: u64,
    discovery_interval_secs: Option<u64>,
    connect_outbound_interval_secs: u64,
    discovery_local_address: bool,
    data_dir: Option<PathBuf>,
    secret: Option<[u8; 32]>,
    flags: u64,
    required_flags: u64,
    required_protocols: Vec<usize>,
    client_version: String,
    max_peers: u32,
    max_outbound: u32,
    reuse_port: bool,
    snapshot_ms: u64,
}

fn usage_error(why: &str) -> ! {
    eprintln!("ckb-network-peer: {why}\n{USAGE}");
    std::process::exit(2)
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn parse_options() -> Options {
    let mut o = Options {
        network_name: "/ckb/92b197aa".to_owned(),
        listen: Vec::new(),
        bootnodes: Vec::new(),
        // CKB's defaults (ckb.toml): ping 120 s / 1200 s, outbound every 15 s.
        ping_interval_secs: 120,
        ping_timeout_secs: 1200,
        discovery_interval_secs: None,
        connect_outbound_interval_secs: 15,
        discovery_local_address: false,
        data_dir: None,
        secret: None,
        // A full CKB node announces every flag (util/launcher: Flags::all()).
        flags: Flags::all().bits(),
        // NetworkState's default required flags.
        required_flags: (Flags::SYNC | Flags::DISCOVERY | Flags::RELAY).bits(),
        // Every registered protocol but feeler must be open ("fully open"),
        // as ProtocolTypeCheckerService checks for CKB's Sync.
        required_protocols: vec![0, 1, 2, 4],
        client_version: "ckb-network-peer/ckb-network-1.2.4".to_owned(),
        max_peers: 125,
        max_outbound: 8,
        reuse_port: true,
        snapshot_ms: 50,
    };
    let mut chain_id: Option<String> = None;
    let mut genesis: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| -> String {
            args.next()
                .unwrap_or_else(|| usage_error(&format!("{name} needs a value")))
        };
        let num = |name: &str, v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage_error(&format!("{name}: not a number: {v}")))
        };
        let addr = |name: &str, v: String| -> Multiaddr {
            v.parse()
                .unwrap_or_else(|_| usage_error(&format!("{name}: bad multiaddr: {v}")))
        };
        match a.as_str() {
            "--network-name" => o.network_name = val(&a),
            "--chain-id" => chain_id = Some(val(&a)),
            "--genesis-hash" => genesis = Some(val(&a)),
            "--listen" => o.listen.push(addr(&a, val(&a))),
            "--bootnode" => o.bootnodes.push(addr(&a, val(&a))),
            "--ping-interval-secs" => o.ping_interval_secs = num(&a, val(&a)),
            "--ping-timeout-secs" => o.ping_timeout_secs = num(&a, val(&a)),
            "--discovery-interval-secs" => o.discovery_interval_secs = Some(num(&a, val(&a))),
            "--connect-outbound-interval-secs" => {
                o.connect_outbound_interval_secs = num(&a, val(&a))
            }
            "--discovery-local-address" => o.discovery_local_address = true,
            "--data-dir" => o.data_dir = Some(PathBuf::from(val(&a))),
            "--secret" => {
                let v = val(&a);
                o.secret = Some(
                    parse_hex32(&v).unwrap_or_else(|| usage_error("--secret: 64 hex digits")),
                )
            }
            "--flags" => o.flags = num(&a, val(&a)),
            "--required-flags" => o.required_flags = num(&a, val(&a)),
            "--required-protocols" => {
                let v = val(&a);
                o.required_protocols = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| num("--required-protocols", s.to_owned()) as usize)
                    .collect()
            }
            "--client-version" => o.client_version = val(&a),
            "--max-peers" => o.max_peers = num(&a, val(&a)) as u32,
            "--max-outbound" => o.max_outbound = num(&a, val(&a)) as u32,
            "--no-reuse-port" => o.reuse_port = false,
            "--snapshot-ms" => o.snapshot_ms = num(&a, val(&a)).max(5),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0)
            }
            other => usage_error(&format!("unknown option {other}")),
        }
    }
    match (chain_id, genesis) {
        (Some(id), Some(hash)) => {
            // ckb-chain-spec's Consensus::identify_name: "/{id}/{first 8 hex of genesis}".
            let hex = hash.trim_start_matches("0x").to_lowercase();
            if hex.len() < 8 {
                usage_error("--genesis-hash: at least 8 hex digits");
            }
            o.network_name = format!("/{}/{}", id, &hex[..8]);
        }
        (None, None) => {}
        _ => usage_error("--chain-id and --genesis-hash go together"),
    }
    if o.listen.is_empty() {
        o.listen.push("/ip4/127.0.0.1/tcp/0".parse().expect("valid"));
    }
    o
}

// ---------------------------------------------------------------- log capture

/// Addresses this node dialed (from the crate's "Dialing {addr}" record),
/// to tell an outbound SessionOpen from an inbound one.
static DIALED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

fn dialed() -> &'static Mutex<HashSet<String>> {
    DIALED.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Every `SessionId(N)` in a text, in order.
fn session_ids(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("SessionId(") {
        rest = &rest[i + "SessionId(".len()..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if let Ok(n) = digits.parse() {
            out.push(n);
        }
    }
    out
}

/// Every multiaddr-looking token (`/ip4/…`, `/ip6/…`, `/dns4/…`) in a text.
fn multiaddrs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("/ip4/") || rest.starts_with("/ip6/") || rest.starts_with("/dns") {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | ')' | ']' | '}' | '"'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            i += end.max(1);
        } else {
            i += 1;
        }
    }
    out
}

fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|i| &text[i + marker.len()..])
}

/// Turns one of the crate's log records into an event, if it is one we
/// know. Unknown warn/error records become `log` events.
fn on_record(level: log::Level, target: &str, msg: &str) {
    let s = |n: usize| -> Value { json!(n) };
    let first_session = || session_ids(msg).first().copied().map(s).unwrap_or(Value::Null);
    if let Some(rest) = msg.strip_prefix("SessionOpen(") {
        let address = after(rest, "), ").map(|a| a.trim_end_matches(')')).unwrap_or("");
        // An address this node dialed: outbound (and no longer needed).
        let outbound = dialed().lock().unwrap().remove(address);
        emit(json!({"event": "session_open", "session": first_session(), "address": address,
            "ty": if outbound { "outbound" } else { "inbound" }}));
    } else if let Some(rest) = msg.strip_prefix("SessionClose(") {
        let address = after(rest, "), ").map(|a| a.trim_end_matches(')')).unwrap_or("");
        emit(json!({"event": "session_close", "session": first_session(), "address": address}));
    } else if let Some(rest) = msg.strip_prefix("Dialing ") {
        dialed().lock().unwrap().insert(rest.to_owned());
        emit(json!({"event": "dialing", "address": rest}));
    } else if let Some(rest) = msg.strip_prefix("Feeler connected ") {
        let address = after(rest, " => ").unwrap_or("");
        emit(json!({"event": "feeler_session_open", "session": first_session(), "address": address}));
    } else if let Some(rest) = msg.strip_prefix("peer=") {
        if let Some(address) = rest.strip_suffix(" FeelerProtocol.connected") {
            emit(json!({"event": "feeler_open", "address": address}));
        } else if let Some(address) = rest.strip_suffix(" FeelerProtocol.disconnected") {
            emit(json!({"event": "feeler_close", "address": address}));
        }
    } else if msg.starts_with("feeler dial count=") || msg.starts_with("identify dial count=") {
        let addrs = multiaddrs(msg);
        if !addrs.is_empty() {
            let ev = if msg.starts_with("feeler") { "feeler_dial" } else { "identify_dial" };
            emit(json!({"event": ev, "addresses": addrs}));
        }
    } else if let Some(rest) = msg.strip_prefix("Received disconnect message from peer=") {
        let message = after(rest, ": ").unwrap_or("");
        emit(json!({"event": "disconnect_message", "session": first_session(), "message": message}));
    } else if msg.contains("send us a malformed disconnect message") {
        emit(json!({"event": "disconnect_message_malformed", "session": first_session()}));
    } else if msg.starts_with("IdentifyProtocol detects peer has different network identifiers") {
        let local = after(msg, "local network id: ").and_then(|r| r.split(", ").next());
        let remote = after(msg, "remote network id: ");
        emit(json!({"event": "identify_refused", "reason": "network_name",
            "local": local, "remote": remote}));
    } else if msg.starts_with("Session closed from IdentifyProtocol due to peer's flag") {
        emit(json!({"event": "identify_refused", "reason": "flags"}));
    } else if msg.starts_with("IdentifyProtocol detects abnormal behavior") {
        emit(json!({"event": "misbehaviour", "protocol": "identify", "session": first_session(),
            "reason": after(msg, "reason: ")}));
    } else if msg.starts_with("DiscoveryProtocol detects abnormal behavior") {
        emit(json!({"event": "misbehaviour", "protocol": "discovery", "session": first_session(),
            "reason": after(msg, "behavior: ")}));
    } else if let Some(rest) = msg.strip_prefix("Ban peer ") {
        let seconds: Option<u64> = after(rest, " for ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok());
        emit(json!({"event": "ban", "address": multiaddrs(rest).first(),
            "seconds": seconds, "reason": after(rest, "reason: ")}));
    } else if msg.starts_with("received ping from: ") {
        emit(json!({"event": "ping_received", "session": first_session()}));
    } else if msg.starts_with("start ping peers: ") {
        emit(json!({"event": "ping_sent", "sessions": session_ids(msg)}));
    } else if msg.starts_with("Ping timeout, ") {
        emit(json!({"event": "ping_timeout", "session": first_session()}));
    } else if msg == "Message decode error" && target.ends_with("ping") {
        emit(json!({"event": "ping_decode_error"}));
    } else if let Some(rest) = msg.strip_prefix("Add discovered address:") {
        // The crate logs the address only (its flags are not in the line).
        emit(json!({"event": "discovered", "address": multiaddrs(rest).first()}));
    } else if msg.starts_with("IdentifyProtocol add remote listening addresses") {
        emit(json!({"event": "identify_listen_addrs", "session": first_session(),
            "addresses": multiaddrs(after(msg, "addresses : ").unwrap_or(""))}));
    } else if msg.starts_with("IdentifyProtocol process observed address") {
        emit(json!({"event": "identify_observed", "session": first_session(),
            "address": multiaddrs(after(msg, "observed: ").unwrap_or("")).first()}));
    } else if let Some(rest) = msg.strip_prefix("listen port: ") {
        emit(json!({"event": "get_nodes_received", "listen_port": rest}));
    } else if let Some(rest) = msg.strip_prefix("Discovered random addrs: ") {
        emit(json!({"event": "nodes_reply", "addresses": multiaddrs(rest)}));
    } else if msg.starts_with("Close peer ") && msg.contains("open protocols error") {
        emit(json!({"event": "protocol_type_close", "address": multiaddrs(msg).first(),
            "error": after(msg, "open protocols error: ")}));
    } else if level <= log::Level::Warn {
        emit(json!({"event": "log", "level": level.as_str(), "target": target, "message": msg}));
    }
}

struct CaptureLogger {
    /// Copy records to stderr (CKB_NETWORK_PEER_LOG=1 or RUST_LOG set).
    verbose: bool,
}

impl log::Log for CaptureLogger {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.target().starts_with("ckb_network")
            || (self.verbose && meta.level() <= log::Level::Debug)
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let msg = record.args().to_string();
        if self.verbose {
            eprintln!("{} {} {}", record.level(), record.target(), msg);
        }
        if record.target().starts_with("ckb_network") {
            on_record(record.level(), record.target(), &msg);
        }
    }

    fn flush(&self) {}
}

// ---------------------------------------------------------------- snapshots

fn peer_id_of(addr: &Multiaddr) -> Value {
    extract_peer_id(addr)
        .map(|id| json!(id.to_base58()))
        .unwrap_or(Value::Null)
}

fn direction(peer: &Peer) -> &'static str {
    if peer.is_outbound() {
        "outbound"
    } else if peer.is_inbound() {
        "inbound"
    } else {
        "block_relay_only"
    }
}

fn peer_json(peer: &Peer) -> Value {
    let mut protocols: Vec<usize> = peer.protocols.keys().map(|p| p.value()).collect();
    protocols.sort_unstable();
    json!({
        "session": peer.session_id.value(),
        "peer_id": peer_id_of(&peer.connected_addr),
        "address": peer.connected_addr.to_string(),
        "ty": direction(peer),
        "identified": peer.identify_info.as_ref().map(|i| json!({
            "flags": i.flags.bits(), "client_version": i.client_version})),
        "ping_rtt_ms": peer.ping_rtt.map(|d| d.as_secs_f64() * 1000.0),
        "protocols": protocols,
        "listened_addrs": peer.listened_addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    })
}

/// Diffs the peer registry and the ban list against the previous look and
/// reports what changed.
struct Snapshot {
    peers: HashMap<usize, Peer>,
    banned: BTreeMap<String, u64>,
    network_name: String,
}

impl Snapshot {
    fn step(&mut self, controller: &NetworkController) {
        let now: HashMap<usize, Peer> = controller
            .connected_peers()
            .into_iter()
            .map(|(id, p)| (id.value(), p))
            .collect();
        for (id, peer) in &now {
            let before = self.peers.get(id);
            if before.is_none() {
                emit(json!({"event": "peer_open", "peer": peer_json(peer)}));
            }
            if let (Some(info), true) = (
                &peer.identify_info,
                before.map(|b| b.identify_info.is_none()).unwrap_or(true),
            ) {
                emit(json!({"event": "identify_accepted", "session": id,
                    "peer_id": peer_id_of(&peer.connected_addr), "ty": direction(peer),
                    "name": self.network_name, "flags": info.flags.bits(),
                    "client_version": info.client_version}));
            }
            if peer.ping_rtt.is_some() && before.map(|b| b.ping_rtt) != Some(peer.ping_rtt) {
                emit(json!({"event": "ping_rtt", "session": id,
                    "peer_id": peer_id_of(&peer.connected_addr),
                    "rtt_ms": peer.ping_rtt.map(|d| d.as_secs_f64() * 1000.0)}));
            }
            if before.map(|b| b.protocols != peer.protocols).unwrap_or(true) {
                let mut protocols: Vec<usize> = peer.protocols.keys().map(|p| p.value()).collect();
                protocols.sort_unstable();
                emit(json!({"event": "protocols", "session": id, "protocols": protocols}));
            }
        }
        for (id, peer) in &self.peers {
            if !now.contains_key(id) {
                emit(json!({"event": "peer_close", "session": id,
                    "peer_id": peer_id_of(&peer.connected_addr),
                    "address": peer.connected_addr.to_string()}));
            }
        }
        self.peers = now;

        let banned: BTreeMap<String, u64> = controller
            .get_banned_addrs()
            .into_iter()
            .map(|b| {
                let key = b.address.to_string();
                if !self.banned.contains_key(&key) {
                    emit(json!({"event": "banned", "address": key, "ban_until": b.ban_until,
                        "seconds": b.ban_until.saturating_sub(b.created_at) / 1000,
                        "reason": b.ban_reason}));
                }
                (key, b.ban_until)
            })
            .collect();
        self.banned = banned;
    }
}

// ---------------------------------------------------------------- commands

fn handle_command(
    line: &str,
    controller: &NetworkController,
    state: &Arc<NetworkState>,
) -> Result<Option<Value>, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("bad json: {e}"))?;
    let cmd = v["cmd"].as_str().ok_or("no cmd")?.to_owned();
    let id = v.get("id").cloned();
    let session = || -> Result<SessionId, String> {
        v["session"]
            .as_u64()
            .map(|n| SessionId::new(n as usize))
            .ok_or_else(|| "session: a number".to_owned())
    };
    let address = || -> Result<Multiaddr, String> {
        v["address"]
            .as_str()
            .ok_or("address: a string")?
            .parse::<Multiaddr>()
            .map_err(|e| format!("address: {e}"))
    };
    let control = controller.p2p_control();
    match cmd.as_str() {
        // CKB's own dial path: NetworkState::dial_identify (opens identify only).
        "dial" => controller.add_node(address()?),
        // CKB's feeler dial: identify first, feeler after it succeeds.
        "feeler" => state.dial_feeler(control, address()?),
        // As the crate's disconnect_with_message: quick send on /ckb/disconnectmsg, then disconnect.
        "disconnect" => {
            let sid = session()?;
            let message = v["message"].as_str().unwrap_or("");
            if !message.is_empty() {
                control
                    .quick_send_message_to(sid, 4.into(), Bytes::from(message.as_bytes().to_vec()))
                    .map_err(|e| format!("{e:?}"))?;
            }
            control.disconnect(sid).map_err(|e| format!("{e:?}"))?;
        }
        "ban" => controller.ban_peer(
            session()?,
            Duration::from_secs(v["secs"].as_u64().unwrap_or(300)),
            v["reason"].as_str().unwrap_or("test").to_owned(),
        ),
        "ping" => controller.ping_peers(),
        "send" => {
            let hex = v["hex"].as_str().ok_or("hex: a string")?;
            let data = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|e| format!("hex: {e}"))?;
            let proto = v["proto"].as_u64().ok_or("proto: a number")? as usize;
            control
                .send_message_to(session()?, proto.into(), Bytes::from(data))
                .map_err(|e| format!("{e:?}"))?;
        }
        "peers" => {
            let peers: Vec<Value> =
                controller.connected_peers().iter().map(|(_, p)| peer_json(p)).collect();
            emit(json!({"event": "peers", "id": id, "peers": peers}));
        }
        "banned" => {
            let list: Vec<Value> = controller
                .get_banned_addrs()
                .into_iter()
                .map(|b| json!({"address": b.address.to_string(), "ban_until": b.ban_until,
                    "reason": b.ban_reason}))
                .collect();
            emit(json!({"event": "banned_list", "id": id, "banned": list}));
        }
        "shutdown" => return Ok(Some(json!("shutdown"))),
        other => return Err(format!("unknown cmd {other}")),
    }
    if let Some(id) = id {
        emit(json!({"event": "ack", "cmd": cmd, "id": id}));
    }
    Ok(None)
}

// ---------------------------------------------------------------- main

fn tcp_port(addr: &str) -> Option<u16> {
    let ma: Multiaddr = addr.parse().ok()?;
    ma.iter().find_map(|p| match p {
        Protocol::Tcp(port) => Some(port),
        _ => None,
    })
}

fn main() {
    let o = parse_options();
    let verbose = std::env::var_os("CKB_NETWORK_PEER_LOG").is_some()
        || std::env::var_os("RUST_LOG").is_some();
    log::set_logger(Box::leak(Box::new(CaptureLogger { verbose }))).expect("logger");
    log::set_max_level(log::LevelFilter::Trace);

    // The data dir holds the secret key and the peer store; a temporary one
    // is made (and removed on a clean exit) when none is given.
    let (data_dir, temporary) = match &o.data_dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir()
                .join(format!("ckb-network-peer-{}-{}", std::process::id(), now_ms())),
            true,
        ),
    };
    let cleanup = {
        let dir = data_dir.clone();
        move || {
            if temporary {
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    };
    let fail = |why: String| -> ! {
        plain(&format!("FAIL {why}"));
        cleanup();
        std::process::exit(1)
    };
    if let Err(e) = std::fs::create_dir_all(&data_dir) {
        fail(format!("data dir {}: {e}", data_dir.display()));
    }

    let mut config = NetworkConfig::default();
    config.path = data_dir.clone();
    if let Some(secret) = o.secret {
        let path = config.secret_key_path();
        let _ = std::fs::remove_file(&path);
        if let Err(e) = write_secret_to_file(&secret, path) {
            fail(format!("write secret: {e}"));
        }
    }
    config.max_peers = o.max_peers;
    config.max_outbound_peers = o.max_outbound;
    config.discovery_local_address = o.discovery_local_address;
    config.discovery_announce_check_interval_secs = o.discovery_interval_secs;
    config.ping_interval_secs = o.ping_interval_secs;
    config.ping_timeout_secs = o.ping_timeout_secs;
    config.connect_outbound_interval_secs = o.connect_outbound_interval_secs;
    config.listen_addresses = o.listen.clone();
    config.bootnodes = o.bootnodes.clone();
    config.support_protocols = vec![
        SupportProtocol::Ping,
        SupportProtocol::Discovery,
        SupportProtocol::Identify,
        SupportProtocol::Feeler,
        SupportProtocol::DisconnectMessage,
    ];
    config.reuse_port_on_linux = o.reuse_port;
    config.reuse_tcp_with_ws = false;
    config.upnp = false;

    let (handle, _stop_rx, runtime) = ckb_async_runtime::new_global_runtime(Some(2));

    let required_flags = Flags::from_bits_truncate(o.required_flags);
    let state = match NetworkState::from_config(config) {
        Ok(s) => Arc::new(s.required_flags(required_flags)),
        Err(e) => fail(format!("network state: {e}")),
    };
    let service = NetworkService::new(
        Arc::clone(&state),
        Vec::new(),
        o.required_protocols.iter().map(|&p| p.into()).collect(),
        (
            o.network_name.clone(),
            o.client_version.clone(),
            Flags::from_bits_truncate(o.flags),
        ),
        TransportType::Tcp,
    );
    let controller = match service.start(&handle) {
        Ok(c) => c,
        Err(e) => fail(format!("start: {e}")),
    };

    let listen: Vec<String> = controller
        .public_urls(16)
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let peer_id = controller.node_id();
    let port = listen.first().and_then(|a| tcp_port(a)).unwrap_or(0);
    release_early(&format!("LISTENING {port} {peer_id}"));
    emit(json!({"event": "ready", "peer_id": peer_id, "listen": listen,
        "network_name": o.network_name, "client_version": o.client_version,
        "flags": o.flags, "required_flags": o.required_flags,
        "protocols": controller.protocols().into_iter()
            .map(|(id, name, versions)| json!({"id": id.value(), "name": name, "versions": versions}))
            .collect::<Vec<_>>(),
        "data_dir": data_dir.display().to_string()}));

    {
        let controller = controller.clone();
        let mut snap = Snapshot {
            peers: HashMap::new(),
            banned: BTreeMap::new(),
            network_name: o.network_name.clone(),
        };
        let every = Duration::from_millis(o.snapshot_ms);
        handle.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                snap.step(&controller);
            }
        });
    }

    let (stop_tx, mut stop_rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    {
        let controller = controller.clone();
        let state = Arc::clone(&state);
        let exit_on_eof = std::env::var("TENTACLE_TS_EXIT_ON_STDIN_EOF").as_deref() == Ok("1");
        let stop_tx = stop_tx.clone();
        std::thread::spawn(move || {
            let stdin = std::io::stdin();
            for line in stdin.lock().lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                match handle_command(&line, &controller, &state) {
                    Ok(Some(_)) => {
                        let _ = stop_tx.send("shutdown");
                        return;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let id = serde_json::from_str::<Value>(&line)
                            .ok()
                            .and_then(|v| v.get("id").cloned());
                        emit(json!({"event": "command_error", "id": id, "error": e}));
                    }
                }
            }
            if exit_on_eof {
                let _ = stop_tx.send("stdin closed");
            }
        });
    }

    // SIGTERM/SIGINT keep their default action (the process ends at once);
    // a clean stop is `{"cmd":"shutdown"}` or, under the test helpers, EOF.
    let why = runtime.block_on(async move { stop_rx.recv().await.unwrap_or("stop") });
    emit(json!({"event": "stopped", "why": why}));
    cleanup();
    // The crate's background tasks never end by themselves; leave at once.
    std::process::exit(0);
}
