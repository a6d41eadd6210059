// A yamux session over one Duplex connection, behaving like tokio-yamux 0.3.20 (§8).
//
// Inbound: the connection's chunks go through the YamuxFrameDecoder; each frame is
// dispatched at once to its stream (Map lookup), so window credit, data, FIN and
// RST reach the stream — and wake its waiters — whether or not the application
// is currently reading or writing that stream (tentacle #398).
// Outbound: every frame goes through one FrameWriter (coalesced, bounded).
import type { Duplex } from 'node:stream'
import { Fifo } from '@tentacle-ts/codec'
import { DEFAULT_CONFIG, resolveConfig, type YamuxConfig } from './config.js'
import { YamuxError } from './errors.js'
import { DECODED_HEADER, YamuxFrameDecoder, NEED_MORE } from './frame-decoder.js'
import { FrameWriter } from './frame-writer.js'
import {
  FLAG_ACK,
  FLAG_RST,
  FLAG_SYN,
  GO_AWAY_INTERNAL_ERROR,
  GO_AWAY_NORMAL,
  GO_AWAY_PROTOCOL_ERROR,
  TYPE_DATA,
  TYPE_GO_AWAY,
  TYPE_PING,
  TYPE_WINDOW_UPDATE,
} from './frame.js'
import { Stream } from './stream.js'

/** Options of a Session: its role plus any YamuxConfig field. */
export interface SessionOptions extends Partial<YamuxConfig> {
  /** 'client' (dialer: odd stream ids) or 'server' (listener: even ids), §8.2 / §8.8. */
  role: 'client' | 'server'
}

/** Lifecycle: open → closing (our GoAway sent, waiting for the peer) → ended. */
export type SessionState = 'open' | 'closing' | 'ended'

/** Why the session ended (`undefined` while it runs). */
export type SessionEndReason =
  | 'local-close' // close(): GoAway exchanged, or the peer never answered within the deadline
  | 'remote-go-away' // the peer sent GoAway
  | 'destroyed' // destroy() without an error
  | 'error' // see `error`

const PAUSE_BACKLOG = 1
const PAUSE_CONTROL = 2
/** Unanswered pings kept at most (tentacle #183); the timeout check normally ends the session first. */
const MAX_UNANSWERED_PINGS = 64
const MAX_STREAM_ID = 0xffffffff

/**
 * White-box hook for this package's own tests (stream-id exhaustion cannot be
 * reached by opening 2³¹ streams). Not exported from the package index.
 * @internal
 */
export let setNextStreamIdForTest!: (session: Session, id: number) => void

/**
 * A yamux session. Create one per connection, on each side:
 * `new Session(socket, { role: 'client' })` on the dialer, `{ role: 'server' }` on the listener.
 */
export class Session {
  static {
    setNextStreamIdForTest = (session, id) => {
      session.#nextStreamId = id
    }
  }

  readonly role: 'client' | 'server'
  readonly config: Readonly<YamuxConfig>
  /** @internal */
  readonly writer: FrameWriter
  /** @internal */
  readonly maxStreamWindowSize: number

  /** Why the session ended, when it ended abnormally (undefined while open and after a clean end). */
  error: YamuxError | undefined
  /** How the session ended; undefined while it runs. */
  endReason: SessionEndReason | undefined
  /** The GoAway code the peer sent, if it sent one (§8.6). */
  remoteGoAwayCode: number | undefined
  /** Settles (never rejects) once the session is over and the connection is closed. */
  readonly closed: Promise<void>

  readonly #conn: Duplex
  readonly #decoder: YamuxFrameDecoder
  readonly #streams = new Map<number, Stream>()
  #nextStreamId: number
  #sessionState: SessionState = 'open'
  #localGoAway = false
  #remoteGoAway = false
  #endError: YamuxError | undefined // what streams see once the session is over

  /** Inbound streams not accepted yet (at most acceptBacklog, §8.9). */
  readonly #acceptQueue = new Fifo<Stream>()
  readonly #acceptWaiters = new Fifo<(s: Stream | null) => void>()
  readonly #blockedWriters = new Set<Stream>()

  // Inbound dispatch state.
  #paused = 0
  #bodyStream: Stream | null = null
  #backlogGraceUsed = false
  #deferred: { type: number; flags: number; streamId: number; length: number } | undefined
  #backlogImmediate: NodeJS.Immediate | undefined

  // Keepalive (§8.5).
  readonly #pings = new Map<number, number>()
  #pingId = 0
  #keepaliveTimer: NodeJS.Timeout | undefined
  #goAwayTimer: NodeJS.Timeout | undefined
  #connTeardownTimer: NodeJS.Timeout | undefined
  #connClosed = false
  #resolveClosed!: () => void

  constructor(conn: Duplex, options: SessionOptions) {
    if (options.role !== 'client' && options.role !== 'server') {
      throw new YamuxError('YAMUX_ERR_INVALID_OPTION', `role must be 'client' or 'server'`, { field: 'role' })
    }
    this.role = options.role
    this.config = configFor(options)
    this.maxStreamWindowSize = this.config.maxStreamWindowSize
    this.#conn = conn
    this.#nextStreamId = this.role === 'client' ? 1 : 2
    this.#decoder = new YamuxFrameDecoder(this.config.maxStreamWindowSize)
    this.writer = new FrameWriter(conn, this.config.connectionWriteTimeoutMs, {
      onProgress: this.#onWriterProgress.bind(this),
      onStall: this.#onWriterStall.bind(this),
    })
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve
    })
    conn.on('data', this.#onData)
    conn.on('end', this.#onEnd)
    conn.on('error', this.#onConnError)
    conn.on('close', this.#onConnClose)
    if (this.config.enableKeepalive) {
      this.#keepaliveTimer = setTimeout(this.#keepaliveTick, this.config.keepaliveIntervalMs)
    }
    if (conn.destroyed) queueMicrotask(() => this.#onConnClose())
  }

  /** Current lifecycle state. */
  get state(): SessionState {
    return this.#sessionState
  }

  /** Streams currently open in at least one direction (for limits and leak checks). */
  get streamCount(): number {
    return this.#streams.size
  }

  /** Inbound streams waiting for accept(). */
  get pendingAcceptCount(): number {
    return this.#acceptQueue.length
  }

  /** Bytes held for the connection (our queue plus its write buffer). */
  get queuedBytes(): number {
    return this.writer.queuedBytes
  }

  /** Unanswered keepalive pings. */
  get unansweredPings(): number {
    return this.#pings.size
  }

  // ------------------------------------------------------------ public API

  /**
   * Opens a stream: sends WindowUpdate+SYN with delta = maxStreamWindowSize − 256 KiB
   * (§8.3) and resolves at once; data may follow immediately.
   * Rejects with YAMUX_ERR_SESSION_CLOSED, YAMUX_ERR_GO_AWAY (the peer sent GoAway),
   * YAMUX_ERR_STREAMS_EXHAUSTED or YAMUX_ERR_DUPLICATE_STREAM.
   */
  openStream(): Promise<Stream> {
    try {
      return Promise.resolve(this.openStreamSync())
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Synchronous flavour of openStream(); throws instead of rejecting. */
  openStreamSync(): Stream {
    if (this.#remoteGoAway)
      throw new YamuxError('YAMUX_ERR_GO_AWAY', 'the peer sent GoAway', { goAwayCode: this.remoteGoAwayCode })
    if (this.#sessionState !== 'open') throw this.#sessionClosedError()
    const id = this.#nextStreamId
    // tokio-yamux advances with checked_add(2) before using the id (§8.2).
    if (id + 2 > MAX_STREAM_ID) throw new YamuxError('YAMUX_ERR_STREAMS_EXHAUSTED', 'no more stream ids to issue')
    this.#nextStreamId = id + 2
    if (this.#streams.has(id)) throw new YamuxError('YAMUX_ERR_DUPLICATE_STREAM', `stream ${id} is already open`)
    const stream = new Stream(id, this, false)
    this.#streams.set(id, stream)
    stream.sendOpen()
    return stream
  }

  /**
   * Resolves the next stream the peer opened, or `null` once no more will come
   * (the session is closing or over). Streams that arrived before the end are still
   * returned (with their data and FIN) before `null`.
   */
  accept(): Promise<Stream | null> {
    const s = this.#takeAccepted()
    if (s !== undefined) return Promise.resolve(s)
    if (this.#sessionState !== 'open') return Promise.resolve(null)
    return new Promise((resolve) => this.#acceptWaiters.push(resolve))
  }

  /**
   * accept() without a promise: calls `cb` once, with the next stream the peer opened, or
   * `null` once no more will come (same order and end as accept()). `cb` runs before
   * acceptCb returns when a stream is already waiting (or the session is over); otherwise
   * it runs while the frame that opened the stream is being decoded, before that frame's
   * data is delivered to the stream. It must not throw. Cheaper than accept() for a reader
   * that accepts streams in a loop (no promise per stream).
   */
  acceptCb(cb: (stream: Stream | null) => void): void {
    const s = this.#takeAccepted()
    if (s !== undefined) return cb(s)
    if (this.#sessionState !== 'open') return cb(null)
    this.#acceptWaiters.push(cb)
  }

  /**
   * Graceful close (§8.6): refuses new writes and streams, flushes every frame already
   * queued (so every byte whose write() resolved is sent), sends GoAway(0), then waits for
   * the peer's GoAway or EOF up to `connectionWriteTimeoutMs` and ends the connection.
   * Resolves when the session is over.
   */
  close(): Promise<void> {
    if (this.#sessionState !== 'open') return this.closed
    this.#sessionState = 'closing'
    this.#settleAcceptWaiters()
    for (const s of this.#streams.values()) s.pumpWrites() // pending writes now fail
    // Armed before the flush: a connection may deliver synchronously, and the peer's answer
    // can end the session (clearing this timer) before flush() returns.
    this.#goAwayTimer = setTimeout(() => {
      this.#goAwayTimer = undefined
      // tokio-yamux: the peer did not answer our GoAway in time; treat it as gone (§8.6).
      this.#finish(undefined, 'local-close')
    }, this.config.connectionWriteTimeoutMs)
    this.#sendGoAway(GO_AWAY_NORMAL)
    this.writer.flush()
    return this.closed
  }

  /** Ends the session at once: settles every waiter and destroys the connection. */
  destroy(err?: Error): void {
    if (this.#sessionState === 'ended') {
      this.#conn.destroy()
      return
    }
    const yerr =
      err === undefined
        ? undefined
        : err instanceof YamuxError
          ? err
          : new YamuxError('YAMUX_ERR_SESSION_CLOSED', err.message, { cause: err })
    try {
      this.#terminate(yerr, yerr === undefined ? 'destroyed' : 'error')
    } finally {
      this.writer.close()
      this.#conn.destroy()
    }
  }

  // ------------------------------------------------------- StreamHost (internal)
  // What each Stream needs from its session (`new Stream(id, this, …)` checks
  // the shape); not declared with `implements` so that the stripped
  // declarations stay consistent.

  /** @internal */
  writeRefusal(): YamuxError | undefined {
    return this.#sessionState === 'open' ? undefined : this.#sessionClosedError()
  }

  /** @internal */
  hasQueueSpace(): boolean {
    return this.writer.queuedBytes < this.config.maxQueuedBytes
  }

  /** @internal */
  waitQueueSpace(stream: Stream): void {
    this.#blockedWriters.add(stream)
  }

  /** @internal The single cleanup point for a finished stream (LESSONS #8). */
  streamClosed(stream: Stream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id)
    this.#blockedWriters.delete(stream)
  }

  /** @internal */
  protocolError(err: YamuxError): void {
    this.#fail(err)
  }

  // ------------------------------------------------------------- inbound

  // Bound methods, not arrow fields: run from source through tsx, esbuild's keepNames sets an
  // arrow field's name at run time (~0.2 µs per function, per instance); a bound method costs a plain allocation.
  readonly #onData = this.#handleData.bind(this)

  #handleData(chunk: Uint8Array): void {
    if (this.#sessionState === 'ended') return
    this.#decoder.push(chunk)
    this.#processInput()
  }

  #processInput(): void {
    const d = this.#decoder
    try {
      const f = this.#deferred
      if (f !== undefined && this.#paused === 0 && this.#sessionState !== 'ended') {
        // The SYN held back by a full accept backlog (see acceptSyn) goes first.
        this.#deferred = undefined
        this.#handleHeader(f.type, f.flags, f.streamId, f.length)
      }
      while (this.#paused === 0 && this.#sessionState !== 'ended') {
        const r = d.next()
        if (r === NEED_MORE) return
        if (r === DECODED_HEADER) this.#handleHeader(d.type, d.flags, d.streamId, d.length)
        else {
          const s = this.#bodyStream
          if (s !== null) s.onDataFragment(d.body, d.bodyDone)
          if (d.bodyDone) this.#bodyStream = null
        }
      }
    } catch (err) {
      if (err instanceof YamuxError) this.#fail(err)
      else this.#abort(new YamuxError('YAMUX_ERR_SESSION_CLOSED', `internal error: ${String(err)}`, { cause: err }))
    }
  }

  #handleHeader(type: number, flags: number, streamId: number, length: number): void {
    switch (type) {
      case TYPE_DATA:
      case TYPE_WINDOW_UPDATE:
        this.#handleStreamFrame(type, flags, streamId, length)
        break
      case TYPE_PING:
        this.#handlePing(flags, length)
        break
      case TYPE_GO_AWAY:
        this.#handleGoAway(length)
        break
    }
    // Ping answers and resets are never refused, but they must not pile up: past the cap,
    // hand them to the connection now; if it is not draining, stop reading until it drains
    // (bounded memory, hashicorp "ping of death").
    if (this.writer.controlBacklogBytes > this.config.maxControlBacklogBytes) {
      this.writer.flush()
      if (this.writer.controlBacklogBytes > 0) this.#pause(PAUSE_CONTROL)
    }
  }

  #handleStreamFrame(type: number, flags: number, streamId: number, length: number): void {
    if (flags & FLAG_SYN && !this.#acceptSyn(type, flags, streamId, length)) return
    const stream = this.#streams.get(streamId)
    if (stream === undefined) {
      // §8.2: frames for unknown or finished streams are dropped silently.
      return
    }
    if (type === TYPE_WINDOW_UPDATE) {
      stream.onWindowUpdate(flags, length)
    } else if (stream.onDataHeader(flags, length) && length > 0) {
      this.#bodyStream = stream
    }
  }

  /**
   * A SYN for `streamId` (§8.3, tokio-yamux distribute_to_substream). Returns false when
   * the frame must not be delivered further (and its body, if any, is discarded).
   */
  #acceptSyn(type: number, flags: number, streamId: number, length: number): boolean {
    if (this.#localGoAway) {
      // After our GoAway: refuse with RST (no ACK).
      this.writer.control(TYPE_WINDOW_UPDATE, FLAG_RST, streamId, 0)
      return false
    }
    const c = this.config
    if (this.#streams.size < c.maxStreamCount && this.pendingAcceptCount < c.acceptBacklog) {
      if (this.#streams.has(streamId)) {
        throw new YamuxError('YAMUX_ERR_DUPLICATE_STREAM', `the peer opened stream ${streamId}, which is already open`)
      }
      const stream = new Stream(streamId, this, true)
      this.#streams.set(streamId, stream)
      stream.sendOpen() // ACK at once, before the application accepts (§8.3)
      const w = this.#acceptWaiters.shift()
      if (w !== undefined) w(stream)
      else this.#acceptQueue.push(stream)
      return true
    }
    if (this.#streams.size < c.maxStreamCount && !this.#backlogGraceUsed) {
      // The backlog is full. tokio-yamux hands each new stream to the application before it
      // reads the next frame; we decode a whole chunk at once, so give the application one
      // turn of the event loop to accept() before refusing.
      this.#backlogGraceUsed = true
      this.#deferred = { type, flags, streamId, length }
      this.#pause(PAUSE_BACKLOG)
      this.#backlogImmediate = setImmediate(() => this.#resumeAfterBacklogGrace())
      return false
    }
    // Over max_stream_count or accept_backlog: ACK|RST (§8.3, §8.9 item 5). tokio-yamux still
    // delivers the frame to an existing stream of that id, so fall through.
    this.writer.control(TYPE_WINDOW_UPDATE, FLAG_ACK | FLAG_RST, streamId, 0)
    return true
  }

  #resumeAfterBacklogGrace(): void {
    this.#backlogImmediate = undefined
    this.#paused &= ~PAUSE_BACKLOG
    this.#resumeInput() // handles the held-back SYN first
  }

  #handlePing(flags: number, value: number): void {
    if (flags & FLAG_SYN) {
      // §8.5: answer with the same opaque value.
      this.writer.control(TYPE_PING, FLAG_ACK, 0, value)
    } else if (flags & FLAG_ACK) {
      // tokio-yamux forgets this id and every smaller one (tentacle #183).
      for (const id of this.#pings.keys()) if (id <= value) this.#pings.delete(id)
    }
    // Neither SYN nor ACK: ignored, like tokio-yamux.
  }

  #handleGoAway(code: number): void {
    // §8.6: any GoAway ends the session; reply GoAway(0) if we have not sent one.
    this.#remoteGoAway = true
    this.remoteGoAwayCode = code
    this.writer.clear() // tokio-yamux drops unsent frames on GoAway
    if (!this.#localGoAway) this.#sendGoAway(GO_AWAY_NORMAL)
    const err =
      code === GO_AWAY_NORMAL
        ? undefined
        : new YamuxError(
            'YAMUX_ERR_GO_AWAY',
            `the peer sent GoAway(${code === GO_AWAY_INTERNAL_ERROR ? 'InternalError' : 'ProtocolError'})`,
            {
              goAwayCode: code,
            },
          )
    const answered = this.#sessionState === 'closing'
    this.#finish(err, err !== undefined ? 'error' : answered ? 'local-close' : 'remote-go-away')
  }

  // ------------------------------------------------------------- keepalive

  readonly #keepaliveTick = this.#runKeepaliveTick.bind(this)

  #runKeepaliveTick(): void {
    this.#keepaliveTimer = undefined
    if (this.#sessionState !== 'open') return
    // §8.5: at each tick, an unanswered ping older than the timeout ends the session.
    const now = performance.now()
    for (const sentAt of this.#pings.values()) {
      if (now - sentAt >= this.config.pingTimeoutMs) {
        return this.#abort(
          new YamuxError('YAMUX_ERR_KEEPALIVE_TIMEOUT', `no answer to a ping for ${this.config.pingTimeoutMs} ms`),
        )
      }
    }
    if (this.#pings.size >= MAX_UNANSWERED_PINGS) {
      return this.#abort(new YamuxError('YAMUX_ERR_KEEPALIVE_TIMEOUT', `${this.#pings.size} pings unanswered`))
    }
    this.#pingId = (this.#pingId + 1) >>> 0
    this.#pings.set(this.#pingId, now)
    this.writer.control(TYPE_PING, FLAG_SYN, 0, this.#pingId)
    this.#keepaliveTimer = setTimeout(this.#keepaliveTick, this.config.keepaliveIntervalMs)
  }

  // ------------------------------------------------------------- outbound flow

  #onWriterProgress(): void {
    if (this.#sessionState === 'ended') return
    if (this.#paused & PAUSE_CONTROL && this.writer.controlBacklogBytes <= this.config.maxControlBacklogBytes) {
      this.#paused &= ~PAUSE_CONTROL
      this.#resumeInput()
    }
    // Wake writers waiting for queue space, oldest first, while there is space.
    for (const s of this.#blockedWriters) {
      if (!this.hasQueueSpace()) break
      this.#blockedWriters.delete(s)
      s.pumpWrites()
    }
  }

  #onWriterStall(): void {
    this.#abort(
      new YamuxError(
        'YAMUX_ERR_WRITE_TIMEOUT',
        `connection accepted no writes for ${this.config.connectionWriteTimeoutMs} ms`,
      ),
    )
  }

  #pause(bit: number): void {
    if (this.#paused === 0) this.#conn.pause()
    this.#paused |= bit
  }

  #resumeInput(): void {
    if (this.#paused !== 0 || this.#sessionState === 'ended') return
    this.#processInput()
    if (this.#paused === 0 && this.state !== 'ended') this.#conn.resume() // (the getter: processInput may have ended it)
  }

  #takeAccepted(): Stream | undefined {
    const s = this.#acceptQueue.shift()
    if (s === undefined) return undefined
    if (this.pendingAcceptCount < this.config.acceptBacklog) this.#backlogGraceUsed = false
    return s
  }

  #settleAcceptWaiters(): void {
    for (const w of this.#acceptWaiters.takeAll()) w(null)
  }

  #sendGoAway(code: number): void {
    this.#localGoAway = true
    this.writer.control(TYPE_GO_AWAY, 0, 0, code)
  }

  #sessionClosedError(): YamuxError {
    if (this.#endError !== undefined) return this.#endError
    if (this.#sessionState !== 'ended') return new YamuxError('YAMUX_ERR_SESSION_CLOSED', 'the session is closing')
    // What streams see once the session is over: made when first needed (most sessions end
    // with no stream left, and never need it). Its stack would only show this function, so it
    // is not captured (~40 µs per error).
    const err = this.error
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    this.#endError = new YamuxError(
      'YAMUX_ERR_SESSION_CLOSED',
      err ? `session ended: ${err.message}` : 'session closed',
      {
        cause: err,
      },
    )
    Error.stackTraceLimit = limit
    return this.#endError
  }

  // ------------------------------------------------------------- ending

  /** Protocol error from the peer: GoAway(ProtocolError), flush, end (§8.6). */
  #fail(err: YamuxError): void {
    if (this.#sessionState === 'ended') return
    if (!this.#localGoAway) {
      this.writer.clear() // tokio-yamux send_go_away_with_code clears unsent frames
      this.#sendGoAway(GO_AWAY_PROTOCOL_ERROR)
    }
    this.#finish(err, 'error')
  }

  /** Local failure (timeouts): no GoAway, the connection is destroyed. */
  #abort(err: YamuxError): void {
    if (this.#sessionState === 'ended') return
    try {
      this.#terminate(err, 'error')
    } finally {
      this.writer.close()
      this.#conn.destroy()
    }
  }

  /** Ends the session, flushes what is queued (GoAway last), then ends the connection. */
  #finish(err: YamuxError | undefined, reason: SessionEndReason): void {
    if (this.#sessionState === 'ended') return
    try {
      this.#terminate(err, reason)
    } finally {
      this.writer.flush(true)
      this.#endConn()
    }
  }

  /** Settles every stream, waiter and timer. The one place the session becomes 'ended'. */
  #terminate(err: YamuxError | undefined, reason: SessionEndReason): void {
    if (this.#sessionState === 'ended') return
    this.#sessionState = 'ended'
    this.error = err
    this.endReason = reason
    this.#clearTimers()
    this.#pings.clear()
    this.#deferred = undefined
    this.#bodyStream = null
    this.#blockedWriters.clear()
    this.#settleAcceptWaiters()
    const streams = [...this.#streams.values()]
    this.#streams.clear()
    // Streams that arrived but were not accepted yet stay acceptable: their data (and FIN)
    // arrived before the end, so accept() still returns them, then null.
    for (const s of this.#acceptQueue) streams.push(s)
    // Settling a stream runs application callbacks (write callbacks, a Duplex's handlers). One
    // that throws must not leave the other streams waiting: every stream is told, then the
    // first error is rethrown (the callers finish tearing down in `finally`).
    let thrown: { error: unknown } | undefined
    for (const s of streams) {
      try {
        s.onSessionEnd()
      } catch (error) {
        thrown ??= { error }
      }
    }
    if (thrown !== undefined) throw thrown.error
  }

  #clearTimers(): void {
    if (this.#keepaliveTimer !== undefined) clearTimeout(this.#keepaliveTimer)
    if (this.#goAwayTimer !== undefined) clearTimeout(this.#goAwayTimer)
    if (this.#backlogImmediate !== undefined) clearImmediate(this.#backlogImmediate)
    this.#keepaliveTimer = undefined
    this.#goAwayTimer = undefined
    this.#backlogImmediate = undefined
  }

  /**
   * Ends the connection once the writer's last frames (GoAway last) reached it. The session
   * is over, so nothing more is read: tokio-yamux's tentacle drops the socket the same way.
   * Bounded by connectionWriteTimeoutMs in case the connection never drains.
   */
  #endConn(): void {
    const conn = this.#conn
    if (this.#connClosed || conn.destroyed) return this.#connDone()
    this.#connTeardownTimer = setTimeout(() => {
      this.#connTeardownTimer = undefined
      this.writer.close()
      conn.destroy()
    }, this.config.connectionWriteTimeoutMs)
    if (!conn.writableEnded) conn.end()
    if (conn.writableFinished) conn.destroy()
    else conn.once('finish', () => conn.destroy())
  }

  readonly #onEnd = this.#handleEnd.bind(this)

  #handleEnd(): void {
    if (this.#sessionState === 'ended') return
    // EOF: after our GoAway it is the peer's answer; otherwise the peer left without GoAway.
    const err = this.#localGoAway
      ? undefined
      : new YamuxError('YAMUX_ERR_CONNECTION_CLOSED', 'the connection ended without GoAway')
    this.#finish(err, err === undefined ? 'local-close' : 'error')
  }

  readonly #onConnError = this.#handleConnError.bind(this)

  #handleConnError(cause: Error): void {
    if (this.#sessionState === 'ended') return
    this.#terminate(
      new YamuxError('YAMUX_ERR_CONNECTION_CLOSED', `connection error: ${cause.message}`, { cause }),
      'error',
    )
  }

  readonly #onConnClose = this.#handleConnClose.bind(this)

  #handleConnClose(): void {
    try {
      if (this.#sessionState !== 'ended') {
        this.#terminate(
          this.#localGoAway
            ? undefined
            : new YamuxError('YAMUX_ERR_CONNECTION_CLOSED', 'the connection closed without GoAway'),
          this.#localGoAway ? 'local-close' : 'error',
        )
      }
    } finally {
      this.#connDone()
    }
  }

  #connDone(): void {
    if (this.#connClosed) return
    this.#connClosed = true
    this.writer.close()
    if (this.#connTeardownTimer !== undefined) clearTimeout(this.#connTeardownTimer)
    this.#connTeardownTimer = undefined
    const conn = this.#conn
    conn.removeListener('data', this.#onData)
    conn.removeListener('end', this.#onEnd)
    conn.removeListener('close', this.#onConnClose)
    // Keep a no-op error listener: a late 'error' on a destroyed socket must not crash the process.
    conn.removeListener('error', this.#onConnError)
    conn.on('error', noop)
    this.#resolveClosed()
  }
}

function noop(): void {}

const CONFIG_KEYS = Object.keys(DEFAULT_CONFIG) as (keyof YamuxConfig)[]
// The options of the last session made, and their resolved (frozen) config: a service makes
// every session from the same options, so each one skips the merge and validation.
let lastOptions: unknown[] | undefined
let lastConfig: Readonly<YamuxConfig> = DEFAULT_CONFIG

function configFor(options: Partial<YamuxConfig>): Readonly<YamuxConfig> {
  const last = lastOptions
  if (last !== undefined) {
    let i = 0
    while (i < CONFIG_KEYS.length && options[CONFIG_KEYS[i]!] === last[i]) i++
    if (i === CONFIG_KEYS.length) return lastConfig
  }
  const config = Object.freeze(resolveConfig(options))
  lastOptions = CONFIG_KEYS.map((k) => options[k])
  lastConfig = config
  return config
}
