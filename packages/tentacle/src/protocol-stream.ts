import { FRAME_HEADER_SIZE, isCodecError, type LengthDelimitedDecoder } from '@tentacle-ts/codec'
import type { Stream } from '@tentacle-ts/yamux'
import { TentacleError } from './errors.js'
import type { ProtocolId } from './types.js'
import { SendQueue, type SentCallback } from './send-queue.js'
import type { TaskDoneListener } from './serial-queue.js'

export type { SentCallback }

/** What a protocol stream needs from its session. */
export interface ProtocolStreamHost {
  /**
   * A complete message arrived; `ps.taskDone(data.length)` must be called exactly
   * once, when the handler has taken it (or the message was dropped).
   */
  deliver(ps: ProtocolStream, data: Uint8Array): void
  /** The protocol is over on this session (`error` set for codec failures). Called once. */
  closed(ps: ProtocolStream, error: TentacleError | undefined): void
  /** Queued-but-unsent bytes changed by `delta` (session send-buffer accounting, §12.2). */
  pendingChanged(delta: number): void
  /** A whole message arrived after this side closed the protocol: read and discarded (§10.4). */
  discarded(ps: ProtocolStream): void
}

export interface ProtocolStreamOptions {
  protoId: ProtocolId
  name: string
  version: string
  /** Max message length both ways (§10.1). */
  maxFrameLength: number
  /** Stop reading while this many messages wait for the handler (tentacle `channel_size`). */
  maxPendingMessages: number
  /** ...or while this many bytes wait for the handler. */
  maxPendingBytes: number
  beforeSend?: (data: Uint8Array) => Uint8Array
  beforeReceive?: (data: Uint8Array) => Uint8Array
}

/** Messages up to this size are copied into one batch buffer with their length prefix. */
const COALESCE_MAX = 16 * 1024
/** Size of one coalesced batch. */
const BATCH_SIZE = 64 * 1024

type State = 'open' | 'closing' | 'closed'

/**
 * One open protocol on one session (§10): u32be length-delimited messages
 * (§10.1) over a yamux stream, a high and a normal send queue (§12.3), and
 * a read loop that stops reading while the handler is behind (backpressure
 * to the peer through the yamux window).
 */
export class ProtocolStream implements TaskDoneListener {
  readonly protoId: ProtocolId
  readonly name: string
  readonly version: string
  readonly #opts: ProtocolStreamOptions
  readonly #stream: Stream
  readonly #decoder: LengthDelimitedDecoder
  readonly #host: ProtocolStreamHost
  #state: State = 'open'
  /** host.closed() was called. */
  #finished = false

  /** High-priority messages go out before any normal one still queued (§12.3); made on the first one. */
  #high: SendQueue | undefined
  readonly #normal = new SendQueue()
  /** Callback of the one message in the write yamux holds now (a large message, or a batch of one). */
  #inFlightCb: SentCallback | undefined = undefined
  /** Callbacks of the messages of a batch in the write yamux holds now (more than one); made when needed. */
  #inFlightCbs: SentCallback[] | undefined
  /** The data of the write {@link #takeBatch} prepared. */
  #batchData: Uint8Array = EMPTY
  /** Bytes queued here and not yet handed to yamux (prefixes included). */
  queuedBytes = 0
  #writing = false

  #pendingMessages = 0
  #pendingBytes = 0
  #readPaused = false
  #reading = false
  /** After a local close the peer's bytes stopped decoding: they are discarded uncounted. */
  #stopCounting = false
  /**
   * The protocol ended (local close, the connection's end, a failed write) with
   * whole messages possibly still to deliver: the host is told it closed once they went out.
   */
  #finishPending = false
  readonly #pumpReadsBound: () => void
  /** The one write callback (no closure per write); see pumpWrites. */
  readonly #writeDoneBound: (err?: Error) => void
  /** True while writeCb is on the stack: a callback then only records the result. */
  #writeSync = false
  #writeSyncDone = false
  #writeSyncErr: Error | undefined
  #inFlight = 0

  constructor(stream: Stream, decoder: LengthDelimitedDecoder, host: ProtocolStreamHost, opts: ProtocolStreamOptions) {
    this.#stream = stream
    this.#decoder = decoder
    this.#host = host
    this.#opts = opts
    this.protoId = opts.protoId
    this.name = opts.name
    this.version = opts.version
    this.#pumpReadsBound = () => this.#pumpReads()
    this.#writeDoneBound = (err?: Error) => this.#writeDone(err)
  }

  get isOpen(): boolean {
    return this.#state === 'open'
  }

  /** Starts delivering messages (including bytes that arrived with the selection reply, §9.2). */
  start(): void {
    this.#pumpReads()
  }

  /**
   * Queues one message. Returns false (message dropped) when the protocol is
   * closing, or throws TENTACLE_ERR_MESSAGE_TOO_LARGE for a message over the max frame.
   * `onSent`, if given, is called once: true when the message was handed to
   * the yamux stream, false when it was dropped (reset, session over).
   */
  send(data: Uint8Array, high: boolean, onSent?: SentCallback): boolean {
    if (this.#state !== 'open') return false
    const msg = this.#opts.beforeSend ? this.#opts.beforeSend(data) : data
    if (msg.length > this.#opts.maxFrameLength) {
      throw new TentacleError(
        'TENTACLE_ERR_MESSAGE_TOO_LARGE',
        `message of ${msg.length} bytes exceeds ${this.name}'s max frame length ${this.#opts.maxFrameLength}`,
      )
    }
    ;(high ? (this.#high ??= new SendQueue()) : this.#normal).push(msg, onSent)
    const n = msg.length + FRAME_HEADER_SIZE
    this.queuedBytes += n
    this.#host.pendingChanged(n)
    if (!this.#writing) this.#pumpWrites()
    return true
  }

  /**
   * Local close (§10.4): queued messages are sent, then FIN; nothing more can
   * be sent. Whole messages that had already arrived (waiting for a busy
   * handler) are still delivered, at the handler's pace, and then the host
   * is told the protocol closed; the stream keeps draining the peer's bytes
   * until its FIN, discarding what arrives after the close (each whole
   * message told to the host as discarded).
   */
  close(): void {
    if (this.#state !== 'open') return
    this.#takeArrived()
    this.#state = 'closing'
    this.#finishPending = true
    if (!this.#writing) this.#pumpWrites()
    this.#pumpReads()
  }

  /** Abort: RST the stream and drop everything queued (codec failure). */
  reset(error?: TentacleError): void {
    if (this.#state === 'closed') return
    this.#dropQueues()
    this.#state = 'closed'
    this.#stream.reset()
    this.#finish(error)
  }

  /**
   * The connection under the session is over (however it ended): nothing
   * more can be sent (queues dropped); whole messages already in memory are
   * delivered in order, at the handler's pace, then the host is told the
   * protocol closed. A partial message stays in the decoder (the session
   * reports it as `truncated`).
   */
  connectionEnded(): void {
    this.#dropQueues()
    if (this.#state === 'open') {
      this.#takeArrived()
      this.#finishPending = true
    }
    this.#state = 'closed'
    this.#pumpReads()
  }

  // ------------------------------------------------------------------ writing

  #pumpWrites(): void {
    if (this.#writing) return
    for (;;) {
      const bytes = this.#takeBatch()
      if (bytes < 0) break
      const data = this.#batchData
      this.#batchData = EMPTY
      this.#writing = true
      this.#inFlight = bytes
      this.#writeSync = true
      this.#writeSyncDone = false
      this.#stream.writeCb(data, this.#writeDoneBound)
      this.#writeSync = false
      if (!this.#writeSyncDone) return // resumes in writeDone
      const err = this.#writeSyncErr
      this.#writeSyncErr = undefined
      this.#writing = false
      this.#settleWrite(err)
      if (err !== undefined) return
    }
    // Queue empty: a closing protocol now sends its FIN (§10.4).
    if (this.#state === 'closing') {
      this.#state = 'closed'
      this.#stream.closeCb(noop)
    }
  }

  #writeDone(err?: Error): void {
    if (this.#writeSync) {
      // Completed inside writeCb: pumpWrites settles it and loops, without recursing.
      this.#writeSyncDone = true
      this.#writeSyncErr = err
      return
    }
    this.#writing = false
    this.#settleWrite(err)
    if (err === undefined) this.#pumpWrites()
  }

  #settleWrite(err: Error | undefined): void {
    const n = this.#inFlight
    this.#inFlight = 0
    this.queuedBytes -= n
    this.#host.pendingChanged(-n)
    const one = this.#inFlightCb
    if (one !== undefined) {
      this.#inFlightCb = undefined
      one(err === undefined)
    }
    const cbs = this.#inFlightCbs
    if (cbs !== undefined && cbs.length > 0) {
      this.#inFlightCbs = undefined
      for (const cb of cbs) cb(err === undefined)
    }
    if (err !== undefined) {
      // The stream is reset or the session is over: nothing queued can go out;
      // what already arrived whole still goes to the handler, then the protocol closes.
      this.#dropQueues()
      if (this.#state === 'open') {
        this.#takeArrived()
        this.#finishPending = true
      }
      this.#state = 'closed'
      if (this.#finishPending) this.#pumpReads()
      else this.#finish(undefined)
    }
  }

  /**
   * Next write: one large message (prefix included) or a batch of small ones in
   * one buffer, left in {@link #batchData}; returns its queued bytes, or -1 when
   * nothing is queued. Its sent-callbacks go to inFlightCb / inFlightCbs.
   */
  #takeBatch(): number {
    const first = this.#peekAt(0)
    if (first === undefined) return -1
    if (first.length > COALESCE_MAX) {
      this.#shift()
      this.#inFlightCb = this.#takenCb
      // The prefix and a large payload go out as two writes so the payload
      // is never copied; yamux coalesces them on the socket.
      const prefix = Buffer.allocUnsafe(FRAME_HEADER_SIZE)
      prefix.writeUInt32BE(first.length, 0)
      this.#stream.writeCb(prefix, noop)
      this.queuedBytes -= FRAME_HEADER_SIZE
      this.#host.pendingChanged(-FRAME_HEADER_SIZE)
      this.#batchData = first
      return first.length
    }
    // `first` is at most COALESCE_MAX < BATCH_SIZE, so the batch has at least one message.
    let size = 0
    let count = 0
    for (;;) {
      const m = this.#peekAt(count)
      if (m === undefined || m.length > COALESCE_MAX || size + m.length + FRAME_HEADER_SIZE > BATCH_SIZE) break
      size += m.length + FRAME_HEADER_SIZE
      count++
    }
    const buf = Buffer.allocUnsafe(size)
    let off = 0
    for (let i = 0; i < count; i++) {
      const m = this.#shift() as Uint8Array
      const cb = this.#takenCb
      if (cb !== undefined) {
        if (count === 1) this.#inFlightCb = cb
        else (this.#inFlightCbs ??= []).push(cb)
      }
      buf.writeUInt32BE(m.length, off)
      buf.set(m, off + FRAME_HEADER_SIZE)
      off += m.length + FRAME_HEADER_SIZE
    }
    this.#batchData = buf
    return size
  }

  /** The i-th message in send order (high first). */
  #peekAt(i: number): Uint8Array | undefined {
    const h = this.#high === undefined ? 0 : this.#high.length
    return i < h ? this.#high!.peek(i) : this.#normal.peek(i - h)
  }

  /** Takes the next message in send order; its sent-callback, if any, is left in {@link #takenCb}. */
  #shift(): Uint8Array | undefined {
    const q = this.#high !== undefined && this.#high.length > 0 ? this.#high : this.#normal
    const m = q.shift()
    this.#takenCb = q.takenCb
    return m
  }

  /** The sent-callback of the message {@link #shift} took last. */
  #takenCb: SentCallback | undefined = undefined

  #dropQueues(): void {
    const dropped = this.queuedBytes - this.#inFlight
    let cbs: SentCallback[] | undefined
    if (this.#normal.length > 0 || (this.#high !== undefined && this.#high.length > 0)) {
      cbs = []
      this.#high?.drain(cbs)
      this.#normal.drain(cbs)
    }
    this.queuedBytes = this.#inFlight
    if (dropped !== 0) this.#host.pendingChanged(-dropped)
    if (cbs !== undefined) for (const cb of cbs) cb(false)
  }

  // ------------------------------------------------------------------ reading

  #pumpReads(): void {
    if (this.#readPaused || this.#reading) return
    this.#reading = true
    try {
      for (;;) {
        if (!this.#deliverFrames()) return
        if (this.#readPaused) return
        const stream = this.#stream
        let chunk: Uint8Array | null | undefined
        // RST or session over: a quiet close (§8.3 "Receive RST"); seen without a throw when nothing is left to read.
        if (stream.bufferedBytes === 0 && stream.readFailed) {
          this.#remoteGone()
          return
        }
        try {
          chunk = stream.readNow()
        } catch {
          this.#remoteGone()
          return
        }
        if (chunk === undefined) {
          this.#stream.onReadable(this.#pumpReadsBound)
          return
        }
        if (chunk === null) {
          this.#remoteFin()
          return
        }
        // After a local close the bytes still go through the decoder, only to count the messages discarded.
        if (!this.#stopCounting) this.#decoder.push(chunk)
      }
    } finally {
      this.#reading = false
    }
  }

  /**
   * Moves the bytes the yamux stream holds unread into the decoder (the
   * chunks themselves, no copy): they arrived before the protocol ended, so
   * their whole messages are delivered before the host hears it closed.
   */
  #takeArrived(): void {
    const stream = this.#stream
    for (;;) {
      if (stream.bufferedBytes === 0) return // nothing unread (and no throw at a reset or the session's end)
      let chunk: Uint8Array | null | undefined
      try {
        chunk = stream.readNow()
      } catch {
        return // reset or session over, and nothing left unread
      }
      if (chunk === undefined || chunk === null) return
      this.#decoder.push(chunk)
    }
  }

  /** Delivering: the protocol is open, or it ended and the messages that arrived before are still going out. */
  get #delivering(): boolean {
    return this.#state === 'open' || this.#finishPending
  }

  /**
   * The peer's bytes do not decode, or beforeReceive rejected them: an open
   * protocol is reset with `error`; one that ended with messages still to
   * deliver stops there and closes with `error`. False when the stream was reset.
   */
  #receiveFailed(error: TentacleError): boolean {
    if (this.#state === 'open') {
      this.reset(error)
      return false
    }
    this.#stopCounting = true
    if (this.#finishPending) {
      this.#finishPending = false
      this.#finish(error)
    }
    return true
  }

  /** Hands complete frames to the handler (at most its backlog limits); false when the stream failed. */
  #deliverFrames(): boolean {
    for (;;) {
      if (
        this.#delivering &&
        (this.#pendingMessages >= this.#opts.maxPendingMessages || this.#pendingBytes >= this.#opts.maxPendingBytes)
      ) {
        this.#readPaused = true
        return true
      }
      let frame: Uint8Array | null
      try {
        frame = this.#decoder.next()
      } catch (err) {
        // After the close, what the peer sends is discarded, valid or not (§10.4): stop counting.
        if (!this.#delivering) {
          this.#stopCounting = true
          return true
        }
        const code = isCodecError(err, 'CODEC_ERR_FRAME_TOO_LARGE') ? 'over the max frame length' : String(err)
        return this.#receiveFailed(
          new TentacleError('TENTACLE_ERR_PROTOCOL_CODEC', `${this.name}: ${code} (${(err as Error).message})`, {
            cause: err,
          }),
        )
      }
      if (frame === null) {
        if (this.#finishPending) {
          // Every whole message that arrived before the end went out: now the protocol is closed.
          this.#finishPending = false
          this.#finish(undefined)
        }
        return true
      }
      if (!this.#delivering) {
        this.#host.discarded(this)
        continue
      }
      let data: Uint8Array = frame
      if (this.#opts.beforeReceive) {
        try {
          data = this.#opts.beforeReceive(frame)
        } catch (err) {
          if (
            !this.#receiveFailed(
              new TentacleError(
                'TENTACLE_ERR_PROTOCOL_CODEC',
                `${this.name}: beforeReceive rejected a message: ${(err as Error).message}`,
                { cause: err },
              ),
            )
          ) {
            return false
          }
          continue
        }
      }
      this.#pendingMessages++
      this.#pendingBytes += data.length
      this.#host.deliver(this, data)
    }
  }

  /**
   * The handler is done with a delivered message of `n` bytes (the host calls
   * this once per message: no closure per message). Reading resumes when the
   * handler's backlog is below both limits again.
   */
  taskDone(n: number): void {
    this.#pendingMessages--
    this.#pendingBytes -= n
    if (
      this.#readPaused &&
      this.#pendingMessages < this.#opts.maxPendingMessages &&
      this.#pendingBytes < this.#opts.maxPendingBytes
    ) {
      this.#readPaused = false
      queueMicrotask(this.#pumpReadsBound)
    }
  }

  /** The peer sent FIN (§10.4): the protocol is closed; answer with our FIN after queued messages. */
  #remoteFin(): void {
    if (this.#decoder.hasPartialFrame && this.#state === 'open') {
      this.reset(new TentacleError('TENTACLE_ERR_PROTOCOL_CODEC', `${this.name}: stream ended inside a message`))
      return
    }
    if (this.#state === 'open') {
      this.#state = 'closing'
      this.#finish(undefined)
      if (!this.#writing) this.#pumpWrites()
    }
  }

  #remoteGone(): void {
    this.#dropQueues()
    this.#state = 'closed'
    this.#finish(undefined)
  }

  /** Tells the host once, on leaving 'open' (every path out of 'open' calls this). */
  #finish(error: TentacleError | undefined): void {
    if (this.#finished) return
    this.#finished = true
    this.#host.closed(this, error)
  }
}

function noop(): void {}

const EMPTY = new Uint8Array(0)
