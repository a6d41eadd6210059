//! tentacle-peer: a tentacle (crates.io 0.7.x) service driven by JSON lines.
//! stdin: commands, stdout: events (plus one `LISTENING <port> <peer-id>`
//! line). Full protocol: interop/README.md ("tentacle-peer").

use std::{collections::HashMap, sync::Arc, time::Duration};

use bytes::Bytes;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tentacle::{
    ProtocolId, SessionId, async_trait,
    builder::{MetaBuilder, ServiceBuilder},
    context::{ProtocolContext, ProtocolContextMutRef, ServiceContext, SessionContext},
    error::{DialerErrorKind, ListenErrorKind},
    multiaddr::Multiaddr,
    service::{
        HandshakeType, ProtocolHandle, ProtocolMeta, ServiceAsyncControl, ServiceError,
        ServiceEvent, SessionType, TargetProtocol, TargetSession,
    },
    traits::{ServiceHandle, ServiceProtocol},
};
use tentacle_ts_interop::{Args, die, emit, fill_pattern, one_line, parse_cli, parse_hex, runtime, key_pair};
use tokio::io::AsyncBufReadExt;
use tokio_util::codec::LengthDelimitedCodec;

/// Received payloads up to this size are also reported as `hex`; valid
/// UTF-8 up to TEXT_MAX as `text`.
const HEX_MAX: usize = 256;
const TEXT_MAX: usize = 1024;

#[derive(Clone)]
struct ProtoSpec {
    id: usize,
    name: String,
    versions: Vec<String>,
}

/// `ID[:NAME[:V1,V2,...]]`; defaults as tentacle's MetaBuilder (§10.2):
/// name `/p2p/<id>`, versions `["0.0.1"]`.
fn parse_proto(s: &str) -> Result<ProtoSpec, String> {
    let mut parts = s.splitn(3, ':');
    let id: usize = parts
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| format!("--protocol {s}: id must be a number"))?;
    let name = match parts.next() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("/p2p/{id}"),
    };
    let versions = match parts.next() {
        Some(v) if !v.is_empty() => v.split(',').map(|x| x.to_string()).collect(),
        _ => vec!["0.0.1".to_string()],
    };
    Ok(ProtoSpec { id, name, versions })
}

fn emit_json(v: Value) {
    emit(&v.to_string());
}

fn peer_id_of(ctx: &SessionContext) -> Value {
    match &ctx.remote_pubkey {
        Some(pk) => json!(pk.peer_id().to_base58()),
        None => Value::Null,
    }
}

fn ty_name(ty: SessionType) -> &'static str {
    if ty.is_outbound() { "outbound" } else { "inbound" }
}

/// `session_open` / `session_close`: the same fields for both.
fn session_event(event: &str, ctx: &SessionContext) -> Value {
    json!({
        "event": event,
        "session": ctx.id.value(),
        "address": ctx.address.to_string(),
        "peer_id": peer_id_of(ctx),
        "ty": ty_name(ctx.ty),
    })
}

struct ProtoHandle {
    spec: ProtoSpec,
    echo: bool,
}

#[async_trait]
impl ServiceProtocol for ProtoHandle {
    async fn init(&mut self, _context: &mut ProtocolContext) {}

    async fn connected(&mut self, context: ProtocolContextMutRef<'_>, version: &str) {
        emit_json(json!({
            "event": "protocol_open",
            "session": context.session.id.value(),
            "proto": self.spec.id,
            "name": self.spec.name,
            "version": version,
        }));
    }

    async fn disconnected(&mut self, context: ProtocolContextMutRef<'_>) {
        emit_json(json!({
            "event": "protocol_close",
            "session": context.session.id.value(),
            "proto": self.spec.id,
            "name": self.spec.name,
        }));
    }

    async fn received(&mut self, context: ProtocolContextMutRef<'_>, data: Bytes) {
        let mut ev = json!({
            "event": "received",
            "session": context.session.id.value(),
            "proto": self.spec.id,
            "len": data.len(),
            "sha256": hex::encode(Sha256::digest(&data)),
        });
        if data.len() <= HEX_MAX {
            ev["hex"] = json!(hex::encode(&data));
        }
        if data.len() <= TEXT_MAX {
            if let Ok(t) = std::str::from_utf8(&data) {
                ev["text"] = json!(t);
            }
        }
        emit_json(ev);
        if self.echo {
            if let Err(e) = context.send_message(data).await {
                emit_json(json!({"event": "command_error", "cmd": "echo", "error": format!("{e:?}")}));
            }
        }
    }
}

struct SHandle;

#[async_trait]
impl ServiceHandle for SHandle {
    async fn handle_error(&mut self, _context: &mut ServiceContext, error: ServiceError) {
        let ev = match error {
            ServiceError::DialerError { address, error } => {
                let kind = match &error {
                    DialerErrorKind::IoError(_) => "io",
                    DialerErrorKind::PeerIdNotMatch => "peer_id_not_match",
                    DialerErrorKind::RepeatedConnection(_) => "repeated_connection",
                    DialerErrorKind::HandshakeError(_) => "handshake",
                    DialerErrorKind::TransportError(_) => "transport",
                };
                json!({"event": "dial_error", "address": address.to_string(), "kind": kind,
                       "error": one_line(&format!("{error:?}"))})
            }
            ServiceError::ListenError { address, error } => {
                let kind = match &error {
                    ListenErrorKind::IoError(_) => "io",
                    ListenErrorKind::RepeatedConnection(_) => "repeated_connection",
                    ListenErrorKind::TransportError(_) => "transport",
                };
                json!({"event": "listen_error", "address": address.to_string(), "kind": kind,
                       "error": one_line(&format!("{error:?}"))})
            }
            ServiceError::ProtocolSelectError { proto_name, session_context } => json!({
                "event": "protocol_select_error",
                "session": session_context.id.value(),
                "name": proto_name,
            }),
            ServiceError::ProtocolError { id, proto_id, error } => json!({
                "event": "protocol_error",
                "session": id.value(),
                "proto": proto_id.value(),
                "error": one_line(&format!("{error:?}")),
            }),
            ServiceError::SessionTimeout { session_context } => json!({
                "event": "session_timeout",
                "session": session_context.id.value(),
            }),
            ServiceError::MuxerError { session_context, error } => json!({
                "event": "muxer_error",
                "session": session_context.id.value(),
                "error": one_line(&format!("{error:?}")),
            }),
            ServiceError::ProtocolHandleError { proto_id, error } => json!({
                "event": "protocol_handle_error",
                "proto": proto_id.value(),
                "error": one_line(&format!("{error:?}")),
            }),
            ServiceError::SessionBlocked { session_context } => json!({
                "event": "session_blocked",
                "session": session_context.id.value(),
            }),
        };
        emit_json(ev);
    }

    async fn handle_event(&mut self, _context: &mut ServiceContext, event: ServiceEvent) {
        let ev = match event {
            ServiceEvent::SessionOpen { session_context } => session_event("session_open", &session_context),
            ServiceEvent::SessionClose { session_context } => session_event("session_close", &session_context),
            ServiceEvent::ListenStarted { address } => {
                json!({"event": "listen_started", "address": address.to_string()})
            }
            ServiceEvent::ListenClose { address } => {
                json!({"event": "listen_close", "address": address.to_string()})
            }
        };
        emit_json(ev);
    }
}

fn main() {
    let known = [
        "listen", "dial", "dial-protocols", "secret", "protocol", "timeout-secs",
        "max-frame-length", "proto-max-frame", "window", "max-connections",
    ];
    let args = parse_cli(&["echo", "plaintext"], &known);
    if !args.positional.is_empty() {
        die("tentacle-peer takes only options (see interop/README.md)");
    }
    let rt = runtime();
    let code = rt.block_on(run(&args));
    std::process::exit(code);
}


fn meta(spec: &ProtoSpec, echo: bool, max_frame: usize) -> ProtocolMeta {
    let name = spec.name.clone();
    let handle_spec = spec.clone();
    MetaBuilder::new()
        .id(spec.id.into())
        .name(move |_| name.clone())
        .support_versions(spec.versions.clone())
        .codec(move || {
            Box::new(
                LengthDelimitedCodec::builder()
                    .max_frame_length(max_frame)
                    .new_codec(),
            )
        })
        .service_handle(move || {
            ProtocolHandle::Callback(Box::new(ProtoHandle { spec: handle_spec, echo }))
        })
        .build()
}

fn parse_addr(s: &str) -> Result<Multiaddr, String> {
    s.parse::<Multiaddr>().map_err(|e| format!("bad multiaddr {s}: {e:?}"))
}

/// "all" (default), a protocol id, or a list of ids.
fn target_protocol(v: Option<&Value>) -> Result<TargetProtocol, String> {
    match v {
        None | Some(Value::Null) => Ok(TargetProtocol::All),
        Some(Value::String(s)) if s == "all" => Ok(TargetProtocol::All),
        Some(Value::Number(n)) => Ok(TargetProtocol::Single(ProtocolId::new(
            n.as_u64().ok_or("bad protocol id")? as usize,
        ))),
        Some(Value::Array(a)) => {
            let ids: Vec<usize> = a
                .iter()
                .map(|x| x.as_u64().map(|n| n as usize).ok_or("bad protocol id"))
                .collect::<Result<_, _>>()?;
            Ok(TargetProtocol::Filter(Box::new(move |id: &ProtocolId| ids.contains(&id.value()))))
        }
        Some(other) => Err(format!("bad protocols value {other}")),
    }
}

fn target_from_cli(s: &str) -> Result<TargetProtocol, String> {
    if s == "all" {
        return Ok(TargetProtocol::All);
    }
    let ids: Vec<Value> = s
        .split(',')
        .map(|x| x.parse::<u64>().map(|n| json!(n)).map_err(|_| format!("bad --dial-protocols {s}")))
        .collect::<Result<_, _>>()?;
    target_protocol(Some(&Value::Array(ids)))
}

async fn run(args: &Args) -> i32 {
    let mut specs: Vec<ProtoSpec> = args
        .all("protocol")
        .iter()
        .map(|s| parse_proto(s).unwrap_or_else(|e| die(&e)))
        .collect();
    if specs.is_empty() {
        specs = vec![parse_proto("1").unwrap(), parse_proto("2").unwrap()];
    }
    let echo = args.has("echo");
    let proto_max_frame: usize = args.num("proto-max-frame", 8 * 1024 * 1024).unwrap_or_else(|e| die(&e));
    let key = key_pair(args.get("secret"));
    let peer_id = key.peer_id().to_base58();

    let mut builder = ServiceBuilder::default()
        .forever(true)
        .timeout(Duration::from_secs(args.num("timeout-secs", 10u64).unwrap_or_else(|e| die(&e))));
    for spec in &specs {
        builder = builder.insert_protocol(meta(spec, echo, proto_max_frame));
    }
    builder = if args.has("plaintext") {
        builder.handshake_type(HandshakeType::Noop)
    } else {
        builder.handshake_type(key.into())
    };
    if args.get("max-frame-length").is_some() {
        builder = builder.max_frame_length(args.num("max-frame-length", 0usize).unwrap_or_else(|e| die(&e)));
    }
    if args.get("window").is_some() {
        let mut cfg = tentacle::yamux::Config::default();
        cfg.max_stream_window_size = args.num("window", 0u32).unwrap_or_else(|e| die(&e));
        builder = builder.yamux_config(cfg);
    }
    if args.get("max-connections").is_some() {
        builder = builder.max_connection_number(args.num("max-connections", 0usize).unwrap_or_else(|e| die(&e)));
    }
    let mut service = builder.build(SHandle);

    let mut listening = Vec::new();
    for (i, a) in args.all("listen").iter().enumerate() {
        let addr = parse_addr(a).unwrap_or_else(|e| die(&e));
        match service.listen(addr).await {
            Ok(bound) => {
                if i == 0 {
                    let port = bound
                        .iter()
                        .find_map(|p| match p {
                            tentacle::multiaddr::Protocol::Tcp(port) => Some(port),
                            _ => None,
                        })
                        .unwrap_or(0);
                    emit(&format!("LISTENING {port} {peer_id}"));
                }
                listening.push(bound.to_string());
            }
            Err(e) => die(&format!("listen {a}: {e:?}")),
        }
    }
    let dial_target = args.get("dial-protocols").unwrap_or("all").to_string();
    for a in args.all("dial") {
        let addr = parse_addr(&a).unwrap_or_else(|e| die(&e));
        let target = target_from_cli(&dial_target).unwrap_or_else(|e| die(&e));
        if let Err(e) = service.dial(addr, target).await {
            // The dial future failed before the service ran (e.g. refused).
            emit_json(json!({"event": "dial_error", "address": a, "kind": "transport",
                             "error": one_line(&format!("{e:?}"))}));
        }
    }
    emit_json(json!({
        "event": "ready",
        "peer_id": peer_id,
        "listen": listening,
        "protocols": specs.iter().map(|s| json!({"id": s.id, "name": s.name, "versions": s.versions})).collect::<Vec<_>>(),
    }));

    let control = service.control().clone();
    let names: Arc<HashMap<usize, String>> = Arc::new(specs.iter().map(|s| (s.id, s.name.clone())).collect());
    tokio::spawn(read_commands(control, names));
    service.run().await;
    emit_json(json!({"event": "stopped"}));
    0
}

async fn read_commands(control: ServiceAsyncControl, names: Arc<HashMap<usize, String>>) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let cmd: Value = match serde_json::from_str(line) {
                    Ok(v) => v,
                    Err(e) => {
                        emit_json(json!({"event": "command_error", "cmd": Value::Null, "error": format!("bad json: {e}")}));
                        continue;
                    }
                };
                let name = cmd.get("cmd").and_then(|c| c.as_str()).unwrap_or("").to_string();
                let tag = cmd.get("id").cloned();
                match run_command(&control, &names, &name, &cmd).await {
                    Ok(()) => {
                        if let Some(tag) = tag {
                            emit_json(json!({"event": "ack", "cmd": name, "id": tag}));
                        }
                    }
                    Err(e) => emit_json(json!({"event": "command_error", "cmd": name, "id": tag, "error": e})),
                }
            }
            // stdin closed: the test went away; stop the service.
            Ok(None) | Err(_) => {
                let _ = control.shutdown().await;
                return;
            }
        }
    }
}

fn u64_field(cmd: &Value, k: &str) -> Result<u64, String> {
    cmd.get(k).and_then(|v| v.as_u64()).ok_or_else(|| format!("missing or bad \"{k}\""))
}

/// The message bytes of a send/broadcast command: "hex", "text", or
/// "size" (+ "fill", default 7) for the pattern byte i = (i*31 + fill) & 0xff.
fn payload(cmd: &Value) -> Result<Bytes, String> {
    if let Some(h) = cmd.get("hex").and_then(|v| v.as_str()) {
        return parse_hex(h).map(Bytes::from);
    }
    if let Some(t) = cmd.get("text").and_then(|v| v.as_str()) {
        return Ok(Bytes::from(t.as_bytes().to_vec()));
    }
    if let Some(size) = cmd.get("size").and_then(|v| v.as_u64()) {
        let fill = cmd.get("fill").and_then(|v| v.as_u64()).unwrap_or(7) as u8;
        let mut buf = vec![0u8; size as usize];
        fill_pattern(&mut buf, 0, fill);
        return Ok(Bytes::from(buf));
    }
    Err("send needs \"hex\", \"text\" or \"size\"".to_string())
}

async fn run_command(
    control: &ServiceAsyncControl,
    names: &HashMap<usize, String>,
    name: &str,
    cmd: &Value,
) -> Result<(), String> {
    let err = |e: tentacle::error::SendErrorKind| format!("{e:?}");
    match name {
        "send" => {
            let session = SessionId::new(u64_field(cmd, "session")? as usize);
            let proto = u64_field(cmd, "proto")? as usize;
            if !names.contains_key(&proto) {
                return Err(format!("protocol {proto} is not registered"));
            }
            let data = payload(cmd)?;
            let quick = cmd.get("quick").and_then(|v| v.as_bool()).unwrap_or(false);
            let repeat = cmd.get("repeat").and_then(|v| v.as_u64()).unwrap_or(1);
            for _ in 0..repeat {
                if quick {
                    control.quick_send_message_to(session, proto.into(), data.clone()).await.map_err(err)?;
                } else {
                    control.send_message_to(session, proto.into(), data.clone()).await.map_err(err)?;
                }
            }
            Ok(())
        }
        "broadcast" => {
            let proto = u64_field(cmd, "proto")? as usize;
            let data = payload(cmd)?;
            let target = match cmd.get("sessions") {
                None | Some(Value::Null) => TargetSession::All,
                Some(Value::String(s)) if s == "all" => TargetSession::All,
                Some(Value::Array(a)) => TargetSession::Multi(Box::new(
                    a.iter()
                        .map(|x| x.as_u64().map(|n| SessionId::new(n as usize)).ok_or("bad session id"))
                        .collect::<Result<Vec<_>, _>>()?
                        .into_iter(),
                )),
                Some(other) => return Err(format!("bad sessions value {other}")),
            };
            control.filter_broadcast(target, proto.into(), data).await.map_err(err)
        }
        "disconnect" => {
            let session = SessionId::new(u64_field(cmd, "session")? as usize);
            control.disconnect(session).await.map_err(err)
        }
        "open_protocol" => {
            let session = SessionId::new(u64_field(cmd, "session")? as usize);
            match cmd.get("proto") {
                Some(Value::Number(n)) => control
                    .open_protocol(session, ProtocolId::new(n.as_u64().ok_or("bad proto")? as usize))
                    .await
                    .map_err(err),
                other => control.open_protocols(session, target_protocol(other)?).await.map_err(err),
            }
        }
        "close_protocol" => {
            let session = SessionId::new(u64_field(cmd, "session")? as usize);
            let proto = u64_field(cmd, "proto")? as usize;
            control.close_protocol(session, proto.into()).await.map_err(err)
        }
        "dial" => {
            let addr = parse_addr(cmd.get("address").and_then(|v| v.as_str()).ok_or("missing \"address\"")?)?;
            let target = target_protocol(cmd.get("protocols"))?;
            control.dial(addr, target).await.map_err(err)
        }
        "listen" => {
            let addr = parse_addr(cmd.get("address").and_then(|v| v.as_str()).ok_or("missing \"address\"")?)?;
            control.listen(addr).await.map_err(err)
        }
        "close" => control.close().await.map_err(err),
        "shutdown" => control.shutdown().await.map_err(err),
        other => Err(format!("unknown command {other:?}")),
    }
}
