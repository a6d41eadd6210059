import type { Multiaddr } from '@multiformats/multiaddr'
import type { TentacleError } from './errors.js'

export type SessionId = number
export type ProtocolId = number

/** Which side opened the TCP connection (§0.2). */
export type Direction = 'inbound' | 'outbound'

/** What a handler may know about a session (tentacle `SessionContext`, §12.1). */
export interface SessionInfo {
  readonly id: SessionId
  /** Remote address; ends in `/p2p/<peer id>` when secio is on (§5.2). */
  readonly address: Multiaddr
  readonly direction: Direction
  /** The remote's 33-byte compressed secp256k1 key; undefined in plaintext mode. */
  readonly remotePublicKey: Uint8Array | undefined
  /** The remote's PeerId in base58; undefined in plaintext mode. */
  readonly remotePeerId: string | undefined
  /** The secio suite negotiated (§3.7); undefined in plaintext mode. */
  readonly suite: { agreement: string; cipher: string; digest: string } | undefined
  /** Milliseconds from TCP connected (or accepted) to the secure stream being ready. */
  readonly handshakeMs: number
  /** True once the session is closing or closed. */
  readonly closed: boolean
  /** Ids of the protocols open on this session now (ckb #1908: apps enforce required sets). */
  readonly openProtocols: ReadonlySet<ProtocolId>
}

/** Which protocols a dial opens (§10.3 `TargetProtocol`). */
export type TargetProtocol =
  { kind: 'all' } | { kind: 'single'; id: ProtocolId } | { kind: 'filter'; filter: (id: ProtocolId) => boolean }

/** Which sessions a broadcast goes to (§12.3 `TargetSession`). */
export type TargetSession =
  | { kind: 'all' }
  | { kind: 'single'; id: SessionId }
  | { kind: 'multi'; ids: readonly SessionId[] }
  | { kind: 'filter'; filter: (session: SessionInfo) => boolean }

export interface SendOptions {
  /**
   * 'high' messages overtake normal messages already queued for the same
   * protocol stream (tentacle `quick_send_message_to`, §12.3). Order within
   * one priority is kept.
   */
  priority?: 'normal' | 'high'
}

/** The control surface handlers receive. Every call only queues work and returns (ckb #3738). */
export interface ServiceControl {
  /** Sends one message; dropped silently if the protocol is not open on the session (§12.3). */
  send(session: SessionId, proto: ProtocolId, data: Uint8Array, opts?: SendOptions): void
  /**
   * send() for a sender that honours backpressure: the message is queued the
   * same way, and the promise settles once it left this session's send queue
   * — `true` when it was handed to the yamux stream (so it no longer counts
   * against `sendBufferSize`, §12.2), `false` when it was dropped (protocol
   * not open, or closed/reset before the message went out). A sender that
   * awaits each call before the next never has more than one message queued,
   * and waits whenever the peer's yamux window is used up (§8.4). Rejects
   * with TENTACLE_ERR_MESSAGE_TOO_LARGE where send() throws.
   */
  sendAsync(session: SessionId, proto: ProtocolId, data: Uint8Array, opts?: SendOptions): Promise<boolean>
  broadcast(target: TargetSession, proto: ProtocolId, data: Uint8Array, opts?: SendOptions): void
  disconnect(session: SessionId): void
  openProtocol(session: SessionId, proto: ProtocolId): void
  openProtocols(session: SessionId, target: TargetProtocol): void
  closeProtocol(session: SessionId, proto: ProtocolId): void
  /** Calls the protocol handler's `notify(token)` every `intervalMs` until removed. */
  setServiceNotify(proto: ProtocolId, intervalMs: number, token: number): void
  removeServiceNotify(proto: ProtocolId, token: number): void
  setSessionNotify(session: SessionId, proto: ProtocolId, intervalMs: number, token: number): void
  removeSessionNotify(session: SessionId, proto: ProtocolId, token: number): void
  /** Dials; resolves when the connection is upgraded (before `session-open` is handled, so awaiting it in a handler cannot deadlock). */
  dial(address: string | Multiaddr, target?: TargetProtocol): Promise<SessionInfo>
  /** Binds a listener; resolves with the bound address (port 0 resolved). */
  listen(address: string | Multiaddr): Promise<Multiaddr>
  /** Sessions open now. */
  sessions(): SessionInfo[]
  session(id: SessionId): SessionInfo | undefined
}

/** Context of a protocol handler call. */
export interface ProtocolContext {
  readonly control: ServiceControl
  readonly protoId: ProtocolId
}

/** Context of a call about one protocol on one session. */
export interface ProtocolSessionContext extends ProtocolContext {
  readonly session: SessionInfo
  /** The version chosen by protocol selection (§9.3). */
  readonly version: string
  /** Sends on this protocol of this session. */
  send(data: Uint8Array, opts?: SendOptions): void
  /** sendAsync() on this protocol of this session: settles once the message was handed to yamux (true) or dropped (false). */
  sendAsync(data: Uint8Array, opts?: SendOptions): Promise<boolean>
}

/** What a handler may return: nothing, or a promise the handler queue waits for. */
export type Awaitable = void | Promise<void>

/**
 * A service-wide protocol handler (tentacle `ServiceProtocol`): one object for
 * every session. Calls to one handler are made one at a time, in order; a
 * handler returning a promise holds its queue until it settles.
 */
export interface ServiceProtocolHandler {
  init?(ctx: ProtocolContext): Awaitable
  connected?(ctx: ProtocolSessionContext, version: string): Awaitable
  disconnected?(ctx: ProtocolSessionContext): Awaitable
  received?(ctx: ProtocolSessionContext, data: Uint8Array): Awaitable
  notify?(ctx: ProtocolContext, token: number): Awaitable
}

/** A per-session protocol handler (tentacle `SessionProtocol`), made anew for every open. */
export interface SessionProtocolHandler {
  connected?(ctx: ProtocolSessionContext, version: string): Awaitable
  disconnected?(ctx: ProtocolSessionContext): Awaitable
  received?(ctx: ProtocolSessionContext, data: Uint8Array): Awaitable
  notify?(ctx: ProtocolSessionContext, token: number): Awaitable
}

/** One protocol of the service (tentacle `ProtocolMeta`, §12.4 MetaBuilder). */
export interface ProtocolSpec {
  id: ProtocolId
  /** Name on the wire (§10.2). Default `/p2p/<id>`. */
  name?: string
  /** Supported versions, ascending (§9.3). Default `["0.0.1"]`. */
  versions?: string[]
  /** Max message length in both directions (§10.1). Default 8 MiB. */
  maxFrameLength?: number
  /** Custom version choice (local, remote) (§9.3). */
  selectVersion?: (local: readonly string[], remote: readonly string[]) => string | undefined
  handler?: ServiceProtocolHandler
  sessionHandler?: () => SessionProtocolHandler
  /** Runs once on every message before it is sent (§12.3). */
  beforeSend?: (data: Uint8Array) => Uint8Array
  /** Runs once on every received message; throwing closes the protocol (§12.3). */
  beforeReceive?: (data: Uint8Array) => Uint8Array
}

/**
 * Why a session ended, as `session-close` reports it. The first cause wins:
 * a session this side disconnected stays `local-close` whatever its
 * connection does afterwards. A failed handshake never makes a session: it
 * is a `handshake-error` or `dial-error`, not a `session-close`.
 */
export type SessionCloseReason =
  /** We closed it: `disconnect()` or `Service.close()` (GoAway sent, §8.6). */
  | 'local-close'
  /** We tore it down without waiting for the peer: `Service.shutdown()`. */
  | 'local-shutdown'
  /** Crossing dials (§12.2): the connection to the same peer in the other direction was kept instead. */
  | 'replaced'
  /** The peer closed it cleanly: it sent GoAway(0) (§8.6). */
  | 'remote-close'
  /** The peer sent GoAway with an error code (§8.6); `error` is TENTACLE_ERR_MUXER, its cause the YamuxError with `goAwayCode`. */
  | 'remote-error'
  /** The connection ended (FIN) without GoAway, at a frame boundary: the peer's process died or it dropped the socket. */
  | 'connection-eof'
  /** The connection failed (ECONNRESET, EPIPE, ETIMEDOUT, ...): reset by the peer or its host. */
  | 'connection-reset'
  /**
   * The connection ended inside a frame: part of a protocol message (§10.1),
   * or of a secio frame, had arrived and the rest never came (a peer killed or
   * cut off mid-send). The partial message is never delivered.
   */
  | 'truncated'
  /** yamux keepalive pings went unanswered (§8.5). */
  | 'keepalive-timeout'
  /** The connection took none of our bytes for `yamux.connectionWriteTimeoutMs`. */
  | 'write-timeout'
  /**
   * The peer broke the wire protocol: an invalid yamux frame or window overrun
   * (TENTACLE_ERR_MUXER), a secio frame failing authentication (TENTACLE_ERR_CONNECTION_LOST), a
   * selection reply naming a protocol we never asked for
   * (TENTACLE_ERR_PROTOCOL_SELECT_UNKNOWN_NAME, §9.2).
   */
  | 'protocol-error'
  /** No protocol opened within `timeoutMs` (§12.2 SessionTimeout). */
  | 'session-timeout'
  /** Unsent bytes passed `sendBufferSize` (§12.2 SessionBlocked). */
  | 'session-blocked'

export type ServiceEvent =
  | { type: 'session-open'; session: SessionInfo }
  | {
      type: 'session-close'
      session: SessionInfo
      /** Why the session ended. */
      reason: SessionCloseReason
      /**
       * The error behind it, undefined for the clean ends (`local-close`,
       * `local-shutdown`, `replaced`, `remote-close`): TENTACLE_ERR_CONNECTION_LOST
       * for `connection-eof`, `connection-reset` and `truncated` (its cause
       * the lower layer's error), TENTACLE_ERR_MUXER for yamux failures, else the
       * code of the error event reported with it.
       */
      error?: TentacleError
      /**
       * Whole messages the peer sent on a protocol after this side had closed
       * it (`closeProtocol`, `disconnect`, `close`): read and discarded
       * (§10.4), counted here. Absent when none was. Messages that arrived
       * before a protocol closed, however it closed, are delivered, not counted.
       */
      droppedMessages?: number
    }
  | { type: 'listen-started'; address: Multiaddr }
  | { type: 'listen-close'; address: Multiaddr }

export type ServiceErrorEvent =
  /** A dial failed; `address` is the text given when it did not parse as a multiaddr. */
  | { type: 'dial-error'; address: Multiaddr | string; error: TentacleError }
  /** A listen failed; `address` is the text given when it did not parse as a multiaddr. */
  | { type: 'listen-error'; address: Multiaddr | string; error: TentacleError }
  /** An inbound upgrade failed (Rust drops these silently; here they are reported). */
  | { type: 'handshake-error'; address: Multiaddr; error: TentacleError }
  | { type: 'protocol-select-error'; session: SessionInfo; protoName: string | undefined; error: TentacleError }
  | { type: 'protocol-error'; session: SessionInfo; protoId: ProtocolId; error: TentacleError }
  | { type: 'protocol-handle-error'; session: SessionInfo | undefined; protoId: ProtocolId; error: TentacleError }
  | { type: 'session-timeout'; session: SessionInfo; error: TentacleError }
  | { type: 'muxer-error'; session: SessionInfo; error: TentacleError }
  | { type: 'session-blocked'; session: SessionInfo; error: TentacleError }

/** Receives service events and errors, one at a time, in order (§12.1, §12.2). */
export interface ServiceHandler {
  /** `session-open` is awaited before the session's protocols run (§10.3). */
  handleEvent?(event: ServiceEvent, control: ServiceControl): Awaitable
  handleError?(event: ServiceErrorEvent, control: ServiceControl): Awaitable
}
