import type { Multiaddr } from '@multiformats/multiaddr'
import type { LengthDelimitedDecoder } from '@tentacle-ts/codec'
import type { Session as MuxSession, Stream } from '@tentacle-ts/yamux'
import { TentacleError } from './errors.js'
import { holdsPartialFrame, remoteEnd, type SessionEnd } from './close-reason.js'
import { NotifyTimers } from './notify-timers.js'
import { ProtocolStream, type ProtocolStreamHost } from './protocol-stream.js'
import { SelectionSet, type Selection, type SelectionHost } from './protocol-select.js'
import type { ResolvedProtocol } from './protocol-registry.js'
import type { SerialQueue } from './serial-queue.js'
import type {
  Direction,
  ProtocolId,
  ProtocolSessionContext,
  SendOptions,
  ServiceControl,
  ServiceErrorEvent,
  SessionId,
  SessionCloseReason,
  SessionInfo,
  SessionProtocolHandler,
  TargetProtocol,
} from './types.js'

/** What a session needs from its service. */
export interface SessionHost {
  readonly control: ServiceControl
  readonly timeoutMs: number
  readonly sendBufferSize: number
  readonly channelSize: number
  protocol(id: ProtocolId): ResolvedProtocol | undefined
  protocolByName(name: string): ResolvedProtocol | undefined
  protocols(): Iterable<ResolvedProtocol>
  /** The service-wide handler queue of a protocol. */
  handlerQueue(id: ProtocolId): SerialQueue
  /** A queue for a per-session handler. */
  newQueue(id: ProtocolId): SerialQueue
  emitError(ev: ServiceErrorEvent): void
  /** The session is over and every `disconnected` call has run; emit session-close (with why) and forget it. */
  sessionEnded(session: TentacleSession, end: SessionEnd): void
  /** Byte counters. */
  countBytes(dir: 'in' | 'out', n: number, proto: ProtocolId): void
}

interface OpenProtocol {
  ps: ProtocolStream
  /** The protocol's message decoder: holding part of a message when the connection ends means `truncated`. */
  decoder: LengthDelimitedDecoder
  ctx: ProtocolSessionContext
  queue: SerialQueue
  sessionHandler: SessionProtocolHandler | undefined
}

type State = 'handshaken' | 'open' | 'closing' | 'closed'

/**
 * One connection after the upgrade: a yamux session and the protocols open
 * on it (§10). The service creates it when secio is done, emits
 * `session-open`, and calls `start()` once that event was handled (§10.3),
 * so no protocol runs before the user saw the session.
 */
export class TentacleSession implements ProtocolStreamHost, SelectionHost<ResolvedProtocol> {
  readonly id: SessionId
  readonly info: SessionInfo
  /** The same object as `info`, writable here. */
  readonly #info: { -readonly [K in keyof SessionInfo]: SessionInfo[K] }
  readonly mux: MuxSession
  /** When the service put this session up (performance.now(); crossing-dial window, §12.2). */
  upAt = 0
  readonly #host: SessionHost
  #state: State = 'handshaken'
  readonly #open = new Map<ProtocolId, OpenProtocol>()
  readonly #openIds = new Set<ProtocolId>()
  readonly #opening = new Set<ProtocolId>()
  /** Opens asked for before start() (e.g. from the session-open handler); run at start. Made when first needed. */
  #openBeforeStart: Set<ProtocolId> | undefined
  /** Session notify timers (§12.3), made on the first setNotify. */
  #notifyTimers: NotifyTimers | undefined
  #sessionTimer: NodeJS.Timeout | undefined
  /** Protocol selections in progress, under the service timeout; expired when the session ends. */
  readonly #selections: SelectionSet<ResolvedProtocol>
  /** Bytes queued on this session's protocols and not yet handed to yamux (§12.2 SessionBlocked). */
  #pendingBytes = 0
  /** The connection ended (#onMuxEnded ran); session-close follows once every protocol closed and was disconnected. */
  #muxEnded = false
  /** session-close was reported. */
  #reported = false
  /** A microtask will report session-close if the session is still over by then. */
  #reportQueued = false
  /** ended()'s promise, made only when someone asks before the end was reported. */
  #endedPromise: Promise<void> | undefined
  #resolveEnded: (() => void) | undefined
  /** Why this side ended the session, set by the first local cause (session-close's reason). */
  #localEnd: SessionEnd | undefined
  /** A protocol held part of a message when the connection ended. */
  #truncated = false
  /** Whole messages the peer sent on protocols after this side closed them (session-close's droppedMessages). */
  #droppedMessages = 0
  /** `disconnected` calls queued and not yet run; the session-close event waits for them. */
  #disconnecting = 0

  constructor(
    id: SessionId,
    host: SessionHost,
    mux: MuxSession,
    init: {
      address: Multiaddr
      direction: Direction
      remotePublicKey?: Uint8Array
      remotePeerId?: string
      suite?: SessionInfo['suite']
      handshakeMs: number
    },
  ) {
    this.id = id
    this.#host = host
    this.mux = mux
    this.#selections = new SelectionSet(this, host.timeoutMs)
    // A plain object: an object literal with a getter costs ~2 µs to make (V8's slow path);
    // `closed` is kept up to date by #enter() instead.
    this.info = this.#info = {
      id,
      address: init.address,
      direction: init.direction,
      remotePublicKey: init.remotePublicKey,
      remotePeerId: init.remotePeerId,
      suite: init.suite,
      handshakeMs: init.handshakeMs,
      closed: false,
      openProtocols: this.#openIds,
    }
    // The session ends when yamux does, whoever ended it (§10.4).
    void mux.closed.then(() => this.#onMuxEnded())
  }

  /** The one place the session starts closing or is closed: `info.closed` follows. */
  #enter(state: 'closing' | 'closed'): void {
    this.#state = state
    this.#info.closed = true
  }

  get isClosed(): boolean {
    return this.#state === 'closing' || this.#state === 'closed'
  }

  /**
   * Runs protocols: accepts the peer's streams (§10.3: the listener opens
   * nothing by itself) and, for a dialed session, opens `target`.
   */
  start(target: TargetProtocol | undefined): void {
    if (this.#state !== 'handshaken') return
    this.#state = 'open'
    // §12.2 SessionTimeout: no protocol open `timeout` after start -> close.
    this.#sessionTimer = setTimeout(() => {
      this.#sessionTimer = undefined
      if (this.#state === 'open' && this.#open.size === 0) {
        const error = new TentacleError(
          'TENTACLE_ERR_SESSION_TIMEOUT',
          `no protocol opened within ${this.#host.timeoutMs} ms`,
        )
        this.#host.emitError({ type: 'session-timeout', session: this.info, error })
        this.#localEnd ??= { reason: 'session-timeout', error }
        this.disconnect()
      }
      // The same timer is the selections' first deadline (§9.4; protocol-select.ts SelectionSet).
      this.#selections.tick()
    }, this.#host.timeoutMs)
    this.#selections.tickComing()
    this.mux.acceptCb(this.#onAccepted)
    if (target !== undefined) this.openProtocols(target)
    const early = this.#openBeforeStart
    this.#openBeforeStart = undefined
    if (early !== undefined) for (const id of early) this.openProtocol(id)
  }

  // ------------------------------------------------------------ control

  send(proto: ProtocolId, data: Uint8Array, opts?: SendOptions): void {
    const p = this.#open.get(proto)
    if (p === undefined) return // §12.3: dropped silently when not open
    if (p.ps.send(data, opts?.priority === 'high')) this.#host.countBytes('out', data.length, proto)
  }

  /** send() that settles when the message was handed to yamux (true) or dropped (false). */
  sendAsync(proto: ProtocolId, data: Uint8Array, opts?: SendOptions): Promise<boolean> {
    const p = this.#open.get(proto)
    if (p === undefined) return Promise.resolve(false)
    return new Promise((resolve) => {
      if (p.ps.send(data, opts?.priority === 'high', resolve)) this.#host.countBytes('out', data.length, proto)
      else resolve(false)
    })
  }

  openProtocols(target: TargetProtocol): void {
    for (const p of this.#host.protocols()) {
      if (
        target.kind === 'all' ||
        (target.kind === 'single' && target.id === p.id) ||
        (target.kind === 'filter' && target.filter(p.id))
      ) {
        this.openProtocol(p.id)
      }
    }
  }

  /** Opens a protocol by id; opening an open (or opening) protocol is a no-op (§10.3). */
  openProtocol(id: ProtocolId): void {
    if (this.#state === 'handshaken') {
      ;(this.#openBeforeStart ??= new Set()).add(id)
      return
    }
    if (this.#state !== 'open' || this.#open.has(id) || this.#opening.has(id)) return
    const proto = this.#host.protocol(id)
    if (proto === undefined) return
    this.#opening.add(id)
    this.#runClientSelect(proto)
  }

  closeProtocol(id: ProtocolId): void {
    this.#open.get(id)?.ps.close()
  }

  setNotify(proto: ProtocolId, intervalMs: number, token: number): void {
    if (this.isClosed) return
    // Looked up on every tick: the protocol may close and reopen with a new handler.
    ;(this.#notifyTimers ??= new NotifyTimers()).set(proto, token, intervalMs, () => {
      const p = this.#open.get(proto)
      const h = p?.sessionHandler
      if (p === undefined || h?.notify === undefined) return undefined
      return { queue: p.queue, call: () => h.notify?.(p.ctx, token) }
    })
  }

  removeNotify(proto: ProtocolId, token: number): void {
    this.#notifyTimers?.remove(proto, token)
  }

  /**
   * Graceful disconnect (§10.4): protocols flush and FIN, then yamux sends
   * GoAway and waits (bounded) for the peer. Returns at once; the end is
   * reported by `session-close` (reason `local-close`, or `replaced` for
   * the loser of crossing dials).
   */
  disconnect(reason: 'local-close' | 'replaced' = 'local-close'): void {
    if (this.isClosed) return
    this.#localEnd ??= { reason }
    this.#enter('closing')
    for (const p of [...this.#open.values()]) p.ps.close()
    void this.mux.close()
  }

  /** Immediate teardown: service shutdown (the default reason), limits, a malicious peer. */
  destroy(reason: SessionCloseReason = 'local-shutdown', error?: TentacleError): void {
    if (this.#state === 'closed') return
    this.#localEnd ??= error === undefined ? { reason } : { reason, error }
    this.#enter('closing')
    this.mux.destroy()
  }

  /** Settles once the session is over and reported. */
  ended(): Promise<void> {
    if (this.#reported) return Promise.resolve()
    this.#endedPromise ??= new Promise<void>((resolve) => (this.#resolveEnded = resolve))
    return this.#endedPromise
  }

  // ------------------------------------------------------------ ProtocolStreamHost

  deliver(ps: ProtocolStream, data: Uint8Array): void {
    const p = this.#open.get(ps.protoId)
    if (p?.ps !== ps) return ps.taskDone(data.length)
    this.#host.countBytes('in', data.length, ps.protoId)
    const h = p.sessionHandler ?? this.#host.protocol(ps.protoId)?.handler
    if (h?.received === undefined) return ps.taskDone(data.length)
    // No closure per message: the queue calls h.received(ctx, data), then ps.taskDone(length).
    p.queue.call(h.received, h, p.ctx, data, ps, data.length)
  }

  closed(ps: ProtocolStream, error: TentacleError | undefined): void {
    const p = this.#open.get(ps.protoId)
    if (p?.ps !== ps) return
    this.#open.delete(ps.protoId)
    this.#openIds.delete(ps.protoId)
    // Closed by the end of the connection with part of a message held: the peer stopped mid-send.
    if (this.mux.state === 'ended' && holdsPartialFrame(p.decoder)) this.#truncated = true
    if (error !== undefined) {
      this.#host.emitError({ type: 'protocol-error', session: this.info, protoId: ps.protoId, error })
    }
    const h = p.sessionHandler ?? this.#host.protocol(ps.protoId)?.handler
    this.#disconnecting++
    // `after` runs once disconnected is over however it ended (or was dropped), maybe at once.
    p.queue.push(
      () => h?.disconnected?.(p.ctx),
      () => this.#disconnectedRan(p),
    )
    this.#reportIfOver()
  }

  #disconnectedRan(p: OpenProtocol): void {
    this.#disconnecting--
    // A per-session handler's queue has nothing more to run.
    if (p.sessionHandler !== undefined) p.queue.close()
    this.#reportIfOver()
  }

  discarded(): void {
    this.#droppedMessages++
  }

  /** Bytes queued on this session's protocols and not yet handed to yamux. */
  get pendingBytes(): number {
    return this.#pendingBytes
  }

  pendingChanged(delta: number): void {
    this.#pendingBytes += delta
    if (this.#pendingBytes > this.#host.sendBufferSize && !this.isClosed) {
      // §12.2 SessionBlocked: the peer does not take what we queue.
      const error = new TentacleError(
        'TENTACLE_ERR_SESSION_BLOCKED',
        `${this.#pendingBytes} unsent bytes exceed sendBufferSize ${this.#host.sendBufferSize}`,
      )
      this.#host.emitError({ type: 'session-blocked', session: this.info, error })
      this.destroy('session-blocked', error)
    }
  }

  // ------------------------------------------------------------ selection

  /** Takes the peer's streams one at a time (acceptCb: no promise per stream). */
  readonly #onAccepted = this.#accepted.bind(this)

  /** Set while #accepted runs: a stream acceptCb hands over at once waits here (a loop, not recursion). */
  #acceptLooping = false
  #acceptedNow: Stream | null | undefined

  #accepted(stream: Stream | null): void {
    if (this.#acceptLooping) {
      this.#acceptedNow = stream
      return
    }
    this.#acceptLooping = true
    try {
      let s: Stream | null | undefined = stream
      while (s != null) {
        if (this.#state !== 'open') s.reset()
        else this.#runServerSelect(s)
        this.#acceptedNow = undefined
        this.mux.acceptCb(this.#onAccepted)
        s = this.#acceptedNow
      }
    } finally {
      this.#acceptedNow = undefined
      this.#acceptLooping = false
    }
  }

  /** Listener side of §9.2: read the peer's info, answer with the chosen version or an empty list (protocol-select.ts). */
  #runServerSelect(stream: Stream): void {
    this.#selections.start(stream, undefined)
  }

  /** Dialer side of §9.2. */
  #runClientSelect(proto: ResolvedProtocol): void {
    let stream: Stream
    try {
      stream = this.mux.openStreamSync()
    } catch (err) {
      this.#opening.delete(proto.id)
      this.#selectError(undefined, `cannot open a stream: ${(err as Error).message}`, err)
      return
    }
    this.#selections.start(stream, proto)
  }

  // SelectionHost: how selections end.

  protocolByName(name: string): ResolvedProtocol | undefined {
    return this.#host.protocolByName(name)
  }

  selected(sel: Selection<ResolvedProtocol>, proto: ResolvedProtocol, version: string): void {
    if (sel.proto !== undefined) this.#opening.delete(sel.proto.id)
    this.#protocolSelected(sel.stream, sel.decoder, proto, version)
  }

  selectFailed(
    sel: Selection<ResolvedProtocol>,
    protoName: string | undefined,
    message: string,
    cause?: unknown,
  ): void {
    if (sel.proto !== undefined) this.#opening.delete(sel.proto.id)
    this.#selectError(protoName, message, cause)
  }

  selectWrongName(sel: Selection<ResolvedProtocol>, answered: string): void {
    const asked = sel.proto?.name
    if (sel.proto !== undefined) this.#opening.delete(sel.proto.id)
    // §9.2 step 3: a reply naming another protocol is a malicious server: close the session.
    const error = new TentacleError(
      'TENTACLE_ERR_PROTOCOL_SELECT_UNKNOWN_NAME',
      `asked for "${asked}", the peer answered "${answered}"`,
    )
    this.#host.emitError({ type: 'protocol-select-error', session: this.info, protoName: undefined, error })
    this.destroy('protocol-error', error)
  }

  #selectError(protoName: string | undefined, message: string, cause?: unknown): void {
    if (this.isClosed) return
    this.#host.emitError({
      type: 'protocol-select-error',
      session: this.info,
      protoName,
      error: new TentacleError('TENTACLE_ERR_PROTOCOL_SELECT', message, { cause }),
    })
  }

  #protocolSelected(stream: Stream, decoder: LengthDelimitedDecoder, proto: ResolvedProtocol, version: string): void {
    if (this.#state !== 'open' || this.#open.has(proto.id)) {
      // §9.4: already open on this session (or we are closing): drop the new stream.
      stream.reset()
      return
    }
    decoder.setMaxFrameLength(proto.maxFrameLength)
    const ps = new ProtocolStream(stream, decoder, this, {
      protoId: proto.id,
      name: proto.name,
      version,
      maxFrameLength: proto.maxFrameLength,
      maxPendingMessages: this.#host.channelSize,
      maxPendingBytes: Math.max(proto.maxFrameLength, 4 * 1024 * 1024),
      beforeSend: proto.beforeSend,
      beforeReceive: proto.beforeReceive,
    })
    const sessionHandler = proto.sessionHandler?.()
    const queue = sessionHandler ? this.#host.newQueue(proto.id) : this.#host.handlerQueue(proto.id)
    const control = this.#host.control
    const ctx: ProtocolSessionContext = {
      control,
      protoId: proto.id,
      session: this.info,
      version,
      send: sendTo(control, this.id, proto.id),
      sendAsync: sendAsyncTo(control, this.id, proto.id),
    }
    const p: OpenProtocol = { ps, decoder, ctx, queue, sessionHandler }
    this.#open.set(proto.id, p)
    this.#openIds.add(proto.id)
    const h = sessionHandler ?? proto.handler
    if (h?.connected) queue.push(() => h.connected?.(ctx, version))
    ps.start()
  }

  // ------------------------------------------------------------ end

  #onMuxEnded(): void {
    if (this.#muxEnded) return
    this.#muxEnded = true
    this.#enter('closed')
    this.#selections.expireAll()
    if (this.#sessionTimer) clearTimeout(this.#sessionTimer)
    this.#notifyTimers?.clear()
    const err = this.mux.error
    // EOF-like ends are quiet (§12.2 MuxerError is "other than EOF-like").
    if (err !== undefined && err.code !== 'YAMUX_ERR_CONNECTION_CLOSED' && err.code !== 'YAMUX_ERR_SESSION_CLOSED') {
      this.#host.emitError({
        type: 'muxer-error',
        session: this.info,
        error: new TentacleError('TENTACLE_ERR_MUXER', err.message, { cause: err }),
      })
    }
    // Every protocol still open first gets the whole messages that already
    // arrived (at its handler's pace), then is disconnected; then the session
    // closes (§10.4). Whether one held part of a message is known as it closes.
    if (this.#open.size > 0) for (const p of [...this.#open.values()]) p.ps.connectionEnded()
    this.#reportIfOver()
  }

  /**
   * Reports session-close once the connection ended and every protocol closed and was
   * disconnected. Checked again in a microtask: the code that closed the last protocol
   * may still be running (a protocol stream counts the messages it discards after it
   * told us it closed).
   */
  #reportIfOver(): void {
    if (this.#reportQueued || !this.#overNow()) return
    this.#reportQueued = true
    queueMicrotask(() => {
      this.#reportQueued = false
      if (this.#overNow()) this.#report()
    })
  }

  #overNow(): boolean {
    return this.#muxEnded && !this.#reported && this.#open.size === 0 && this.#disconnecting === 0
  }

  /** The one place session-close is reported. */
  #report(): void {
    this.#reported = true
    const end = this.#localEnd ?? remoteEnd(this.mux, this.#truncated)
    const dropped = this.#droppedMessages
    this.#host.sessionEnded(this, dropped > 0 ? { ...end, droppedMessages: dropped } : end)
    this.#resolveEnded?.()
  }
}

// The context's send functions are made by these rather than written inline: a function
// written as a named property gets its name set at run time by the tsx/esbuild loader
// (keepNames), which costs ~0.2 µs per function, twice per protocol opened.

function sendTo(control: ServiceControl, session: SessionId, proto: ProtocolId): ProtocolSessionContext['send'] {
  return (data, opts) => control.send(session, proto, data, opts)
}

function sendAsyncTo(
  control: ServiceControl,
  session: SessionId,
  proto: ProtocolId,
): ProtocolSessionContext['sendAsync'] {
  return (data, opts) => control.sendAsync(session, proto, data, opts)
}
