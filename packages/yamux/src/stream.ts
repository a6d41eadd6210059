// One yamux stream (§8.3, §8.4): flow-controlled, half-closable, resettable.
//
// Waiters (ARCHITECTURE rule 2, tentacle #398): the read side and the write side
// wait apart. The session calls into the stream as frames arrive, so a window
// update wakes a blocked writer whether or not anyone reads, and data/FIN/RST
// wake readers whether or not anyone writes.
//   readers are woken by: data, FIN, RST, session end
//   writers are woken by: window update, session queue space, RST, session end
import type { Duplex } from 'node:stream'
import { Fifo } from '@tentacle-ts/codec'
import { YamuxError } from './errors.js'
import { FLAG_ACK, FLAG_FIN, FLAG_RST, FLAG_SYN, INITIAL_STREAM_WINDOW, TYPE_WINDOW_UPDATE } from './frame.js'
import type { FrameWriter } from './frame-writer.js'
import { streamToDuplex, type DuplexOptions } from './duplex.js'

/** Send or receive direction state. */
export type DirectionState = 'open' | 'closed' | 'reset'

/** What a stream needs from its session. @internal */
export interface StreamHost {
  readonly writer: FrameWriter
  readonly maxStreamWindowSize: number
  /** Undefined while data may be written; else the error to report. */
  writeRefusal(): YamuxError | undefined
  /** True when the session's outgoing queue is below its cap. */
  hasQueueSpace(): boolean
  /** Registers a stream to be pumped when the queue has space again. */
  waitQueueSpace(stream: Stream): void
  /** Called once, when the stream is closed in both directions (or reset). */
  streamClosed(stream: Stream): void
  /** A protocol error detected by a stream (e.g. window overflow): fail the session. */
  protocolError(err: YamuxError): void
}

/** Called once a write (or close) went to the session's writer, or with the refusal. */
export type WriteCallback = (err?: YamuxError) => void
interface WriteOp {
  data: Uint8Array
  offset: number
  cb: WriteCallback
}
interface ReadOp {
  max: number
  resolve: (v: Uint8Array | null) => void
  reject: (e: YamuxError) => void
}

const RESOLVED: Promise<void> = Promise.resolve()
/** Largest Data frame we send (see writeSome). */
const MAX_DATA_FRAME = INITIAL_STREAM_WINDOW

/**
 * A yamux stream. Obtain one from `Session.openStream()` or `Session.accept()`.
 *
 * Bytes given to `write()` are kept by reference until they reach the connection:
 * do not modify a buffer after passing it to `write()`.
 */
export class Stream {
  /** Stream id (odd for streams the client opened, even for the server's, §8.2). */
  readonly id: number
  readonly #host: StreamHost
  /**
   * The handshake flag still owed to the peer on our next frame (§8.3): SYN for a stream we
   * opened, ACK for one the peer opened, then 0. The peer's ACK changes nothing we do.
   */
  #owedFlag: number

  // Read-only from outside through the getters below; only this class moves them.
  #sendDir: DirectionState = 'open'
  #recvDir: DirectionState = 'open'
  /** The session is over (its end error is made when first needed: most streams never need it). */
  #sessionEnded = false
  #removed = false

  // Receive side (§8.4).
  readonly #maxWindow: number
  /** Window we have granted and the peer has not yet used. */
  recvWindow = INITIAL_STREAM_WINDOW
  /** Bytes of a Data frame announced by its header and not yet arrived. */
  #pendingBody = 0
  /** Received chunks not read yet. */
  readonly #readBuf = new Fifo<Uint8Array>()
  /** Bytes received and not yet read by the application. */
  bufferedBytes = 0
  #finPending = false // FIN/RST seen on a Data frame whose body is still arriving
  #rstPending = false
  /** Promise readers ({@link read}); made on the first read() that has to wait. */
  #readers: Fifo<ReadOp> | undefined
  #readWaiter: (() => void) | null = null

  // Send side (§8.4).
  #sendCredit = INITIAL_STREAM_WINDOW
  /**
   * Writes waiting for window or queue space, in order; only the head one is partly sent.
   * Made on the first write that has to wait (most streams never wait).
   */
  #writes: Fifo<WriteOp> | undefined
  #closeWaiters: WriteCallback[] | null = null
  #duplex: Duplex | undefined

  /** @internal Created by the Session. */
  constructor(id: number, host: StreamHost, inbound: boolean) {
    this.id = id
    this.#host = host
    this.#maxWindow = host.maxStreamWindowSize
    this.#owedFlag = inbound ? FLAG_ACK : FLAG_SYN
  }

  /** State of our sending direction: 'closed' once FIN is sent. */
  get sendState(): DirectionState {
    return this.#sendDir
  }

  /** State of the peer's sending direction: 'closed' once its FIN arrived. */
  get recvState(): DirectionState {
    return this.#recvDir
  }

  /** Bytes we may still send before the peer grants more (§8.4). */
  get sendWindow(): number {
    return this.#sendCredit
  }

  /** True once both directions are closed or the stream was reset. */
  get isClosed(): boolean {
    return this.#sendDir !== 'open' && this.#recvDir !== 'open'
  }

  // ---------------------------------------------------------------- reading

  /**
   * Reads the next chunk of data (at most `max` bytes if given).
   * Resolves `null` at EOF (the peer half-closed and everything was read).
   * Rejects with YAMUX_ERR_STREAM_RESET after a reset, or YAMUX_ERR_SESSION_CLOSED when the
   * session ended before the peer's FIN — in both cases after the buffered data.
   */
  read(max = Infinity): Promise<Uint8Array | null> {
    if (!(max >= 1)) return Promise.reject(new RangeError(`read(max): max must be ≥ 1, got ${max}`))
    if (this.#readers === undefined || this.#readers.length === 0) {
      try {
        const r = this.readNow(max)
        if (r !== undefined) return Promise.resolve(r)
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return new Promise((resolve, reject) => {
      ;(this.#readers ??= new Fifo<ReadOp>()).push({ max, resolve, reject })
    })
  }

  /**
   * Takes buffered data without waiting: a chunk, `null` at EOF, or `undefined`
   * when nothing is available yet. Throws YAMUX_ERR_STREAM_RESET / YAMUX_ERR_SESSION_CLOSED.
   * With {@link Stream.onReadable}, the promise-free way to read for a layer
   * that pumps many streams (tentacle's protocol streams, the Duplex adapter):
   * read until `undefined`, then register for the next read event.
   */
  readNow(max = Infinity): Uint8Array | null | undefined {
    if (this.bufferedBytes > 0) {
      let chunk = this.#readBuf.peek() as Uint8Array
      if (chunk.length > max) {
        this.#readBuf.replaceHead(chunk.subarray(max))
        chunk = chunk.subarray(0, max)
      } else {
        this.#readBuf.shift()
      }
      this.bufferedBytes -= chunk.length
      this.#consumed()
      return chunk
    }
    if (this.#recvDir === 'closed') return null
    if (this.#recvDir === 'reset') throw new YamuxError('YAMUX_ERR_STREAM_RESET', `stream ${this.id} was reset`)
    if (this.#sessionEnded) throw this.#sessionEndError()
    return undefined
  }

  /**
   * The error {@link Stream.readNow} throws once the data buffered now is read:
   * YAMUX_ERR_STREAM_RESET after a reset, the session's error when it ended
   * before the peer's FIN; undefined while reads still give data or EOF. A
   * reader pumping many streams sees the end here without a throw per stream
   * (`bufferedBytes === 0 && readError !== undefined`: the stream is over).
   */
  get readError(): YamuxError | undefined {
    if (this.#recvDir === 'reset') return new YamuxError('YAMUX_ERR_STREAM_RESET', `stream ${this.id} was reset`)
    if (this.#recvDir === 'closed') return undefined
    return this.#sessionEnded ? this.#sessionEndError() : undefined
  }

  /**
   * Whether {@link Stream.readError} is set (readNow will throw once the data buffered
   * now is read), without making the error: a reader that only needs to know the
   * stream is over checks this.
   */
  get readFailed(): boolean {
    return this.#recvDir === 'reset' || (this.#recvDir !== 'closed' && this.#sessionEnded)
  }

  /**
   * Registers the one callback to run at the next read event (data, EOF, reset
   * or the session's end); it replaces any earlier one and runs once. See
   * {@link Stream.readNow}.
   */
  onReadable(waiter: () => void): void {
    this.#readWaiter = waiter
  }

  /** §8.4: after the application consumed data, grant the peer more window (Rust's threshold rule). */
  #consumed(): void {
    if (this.#recvDir !== 'open' || this.#sessionEnded) return
    this.#sendWindowUpdate()
  }

  #sendWindowUpdate(): void {
    // delta = max − bytes held (buffered, or announced and still arriving) − window still granted
    const delta = this.#maxWindow - this.bufferedBytes - this.#pendingBody - this.recvWindow
    if (delta < this.#maxWindow / 2 && this.#owedFlag === 0) return
    this.recvWindow += delta
    this.#host.writer.control(TYPE_WINDOW_UPDATE, this.#takeFlags(), this.id, delta)
  }

  #wakeReaders(): void {
    const readers = this.#readers
    while (readers !== undefined && readers.length > 0) {
      let r: Uint8Array | null | undefined
      const op = readers.peek() as ReadOp
      try {
        r = this.readNow(op.max)
      } catch (err) {
        readers.shift()
        op.reject(err as YamuxError)
        continue
      }
      if (r === undefined) break
      readers.shift()
      op.resolve(r)
    }
    const w = this.#readWaiter
    if (w !== null) {
      this.#readWaiter = null
      w()
    }
  }

  // ---------------------------------------------------------------- writing

  /**
   * Writes `data`, in frames no larger than the send window. Resolves when every
   * byte was handed to the session's writer; waits (never buffers past the caps)
   * while the send window is 0 or the session's queue is full.
   * Rejects with YAMUX_ERR_STREAM_CLOSED after close(), YAMUX_ERR_STREAM_RESET after a reset,
   * YAMUX_ERR_SESSION_CLOSED once the session is closing or over.
   */
  write(data: Uint8Array): Promise<void> {
    const sent = this.#writeNow(data)
    if (sent === data.length) return RESOLVED
    if (typeof sent !== 'number') return Promise.reject(sent)
    return new Promise((resolve, reject) => {
      this.#enqueueWrite(data, sent, (err) => (err === undefined ? resolve() : reject(err)))
    })
  }

  /**
   * Callback flavour of {@link Stream.write}, same semantics: `cb()` once every
   * byte went to the session's writer, `cb(err)` on refusal. No promise is
   * made on the fast path, which matters to a layer writing per message.
   * `cb` may run before writeCb returns.
   */
  writeCb(data: Uint8Array, cb: WriteCallback): void {
    const sent = this.#writeNow(data)
    if (sent === data.length) return cb()
    if (typeof sent !== 'number') return cb(sent)
    this.#enqueueWrite(data, sent, cb)
  }

  /**
   * The start of every write: the refusal, or how many bytes of `data` went out at once
   * (none while earlier writes are queued: bytes leave in write order).
   */
  #writeNow(data: Uint8Array): number | YamuxError {
    const refusal = this.#writeRefusal()
    if (refusal !== undefined) return refusal
    return this.#writes === undefined || this.#writes.length === 0 ? this.#writeSome(data, 0) : 0
  }

  #enqueueWrite(data: Uint8Array, offset: number, cb: WriteCallback): void {
    const writes = (this.#writes ??= new Fifo<WriteOp>())
    writes.push({ data, offset, cb })
    // Only the head write waits on an event; later ones follow it in order.
    if (writes.length === 1) this.#blockedOn()
  }

  /** Sends as much of `data` from `offset` as window and queue allow; returns the new offset. */
  #writeSome(data: Uint8Array, offset: number): number {
    const host = this.#host
    while (offset < data.length && this.#sendCredit > 0 && host.hasQueueSpace()) {
      // §8.4: one frame carries min(send window, remaining) bytes, like tokio-yamux, but never
      // more than 256 KiB: every tokio-yamux peer accepts that (its max window is ≥ 256 KiB),
      // and it bounds how far one frame can overshoot the session's queue cap.
      const n = Math.min(this.#sendCredit, data.length - offset, MAX_DATA_FRAME)
      const payload = offset === 0 && n === data.length ? data : data.subarray(offset, offset + n)
      host.writer.data(this.#takeFlags(), this.id, payload)
      this.#sendCredit -= n
      offset += n
    }
    return offset
  }

  /** Registers with the session when the head write waits on queue space (a window wait needs nothing: the WindowUpdate arrives here). */
  #blockedOn(): void {
    if (this.#sendCredit > 0) this.#host.waitQueueSpace(this)
  }

  /** @internal Continues queued writes (window grew or queue has space). */
  pumpWrites(): void {
    const writes = this.#writes
    for (;;) {
      const op = writes?.peek()
      if (op === undefined) break
      const refusal = this.#queuedWriteRefusal()
      if (refusal !== undefined) return this.#failWrites(refusal)
      op.offset = this.#writeSome(op.data, op.offset)
      if (op.offset < op.data.length) {
        this.#blockedOn()
        return
      }
      writes!.shift()
      op.cb()
    }
    if (this.#closeWaiters !== null) this.#finishClose()
  }

  #failWrites(err: YamuxError): void {
    if (this.#writes !== undefined && this.#writes.length > 0) for (const op of this.#writes.takeAll()) op.cb(err)
    const waiters = this.#closeWaiters
    this.#closeWaiters = null
    if (waiters !== null) for (const w of waiters) w(err)
  }

  /** Why a new write is refused (also after close() was requested: it queues behind the FIN). */
  #writeRefusal(): YamuxError | undefined {
    if (this.#closeWaiters !== null && this.#sendDir === 'open') {
      return new YamuxError('YAMUX_ERR_STREAM_CLOSED', `stream ${this.id} is closed for writing`)
    }
    return this.#queuedWriteRefusal()
  }

  /** Why a write already queued cannot go on. */
  #queuedWriteRefusal(): YamuxError | undefined {
    if (this.#sendDir === 'reset') return new YamuxError('YAMUX_ERR_STREAM_RESET', `stream ${this.id} was reset`)
    if (this.#sendDir === 'closed')
      return new YamuxError('YAMUX_ERR_STREAM_CLOSED', `stream ${this.id} is closed for writing`)
    if (this.#sessionEnded) return this.#sessionEndError()
    return this.#host.writeRefusal()
  }

  // ---------------------------------------------------------------- closing

  /**
   * Half-closes the stream (sends FIN, §8.3) after every pending write.
   * Resolves once the FIN is handed to the session's writer (or at once if the
   * stream is already closed for writing or reset). Rejects with
   * YAMUX_ERR_SESSION_CLOSED if the session ended before the FIN could be sent.
   */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.closeCb((err) => (err === undefined ? resolve() : reject(err)))
    })
  }

  /** Callback flavour of {@link Stream.close}; `cb` may run before closeCb returns. */
  closeCb(cb: WriteCallback): void {
    if (this.#sendDir !== 'open') return cb()
    if (this.#sessionEnded) return cb(this.#sessionEndError())
    if (this.#closeWaiters !== null) {
      this.#closeWaiters.push(cb)
      return
    }
    if (this.#writes === undefined || this.#writes.length === 0) {
      // Nothing queued (the common case): FIN now, no waiter list.
      this.#sendFin()
      return cb()
    }
    this.#closeWaiters = [cb]
  }

  #finishClose(): void {
    const waiters = this.#closeWaiters ?? []
    this.#closeWaiters = null
    this.#sendFin()
    for (const w of waiters) w()
  }

  #sendFin(): void {
    if (this.#sendDir === 'open') {
      this.#sendDir = 'closed'
      this.#host.writer.control(TYPE_WINDOW_UPDATE, this.#takeFlags() | FLAG_FIN, this.id, 0)
      this.#transition()
    }
  }

  /**
   * Resets the stream (sends RST unless the stream is already closed both ways, §8.3):
   * pending and later reads and writes fail with YAMUX_ERR_STREAM_RESET, buffered data is dropped.
   */
  reset(): void {
    if (this.#sendDir === 'reset' && this.#recvDir === 'reset') return
    // Not once the stream is out of the session (closed both ways, or the session ended).
    if (!this.#removed) this.#host.writer.control(TYPE_WINDOW_UPDATE, this.#takeFlags() | FLAG_RST, this.id, 0)
    this.#sendDir = 'reset'
    this.#recvDir = 'reset'
    this.#readBuf.clear()
    this.bufferedBytes = 0
    const err = new YamuxError('YAMUX_ERR_STREAM_RESET', `stream ${this.id} was reset locally`)
    this.#failWrites(err)
    this.#wakeReaders()
    this.#transition()
  }

  /**
   * A Node Duplex over this stream (stream.pipeline works, backpressure both ways):
   * end() sends FIN, destroy() before both directions ended sends RST.
   * The adapter takes over reading: do not call read() on the stream as well.
   */
  toDuplex(options?: DuplexOptions): Duplex {
    if (this.#duplex === undefined) this.#duplex = streamToDuplex(this, options)
    return this.#duplex
  }

  // ------------------------------------------------- events from the session

  /** @internal The first frame we owe the peer: SYN for an opened stream (§8.3). */
  sendOpen(): void {
    this.#sendWindowUpdate() // flags are owed, so it is always sent; delta = max − 256 KiB
  }

  /** @internal WindowUpdate frame for this stream (§8.3 flags, §8.4 delta). */
  onWindowUpdate(flags: number, delta: number): void {
    if (flags & FLAG_FIN) this.#remoteFin()
    if (flags & FLAG_RST) this.#remoteRst()
    if (delta > 0 && this.#sendDir === 'open') {
      const w = this.#sendCredit + delta
      if (w > 0xffffffff) {
        // tokio-yamux: checked_add fails → protocol error → GoAway(1).
        this.#host.protocolError(
          new YamuxError('YAMUX_ERR_WINDOW_OVERFLOW', `stream ${this.id}: window update overflows the send window`),
        )
        return
      }
      this.#sendCredit = w
      if ((this.#writes !== undefined && this.#writes.length > 0) || this.#closeWaiters !== null) this.pumpWrites()
    }
  }

  /**
   * @internal Header of a Data frame for this stream. Returns false when the body must be
   * discarded (the peer already half-closed; tokio-yamux stops processing the stream then).
   * A RST on it still resets the stream, as a RST on a WindowUpdate after FIN does.
   * Throws YAMUX_ERR_RECV_WINDOW_EXCEEDED when the peer overran the window (§8.4).
   */
  onDataHeader(flags: number, length: number): boolean {
    if (this.#recvDir !== 'open') {
      if (flags & FLAG_RST) this.#remoteRst()
      return false
    }
    if (length > this.recvWindow) {
      throw new YamuxError(
        'YAMUX_ERR_RECV_WINDOW_EXCEEDED',
        `stream ${this.id}: data frame of ${length} bytes exceeds the receive window of ${this.recvWindow}`,
      )
    }
    this.recvWindow -= length
    this.#pendingBody += length
    if (flags & FLAG_FIN) this.#finPending = true
    if (flags & FLAG_RST) this.#rstPending = true
    if (length === 0) this.#onDataEnd()
    return true
  }

  /** @internal One body fragment of the current Data frame. */
  onDataFragment(fragment: Uint8Array, last: boolean): void {
    const n = fragment.length
    this.#pendingBody -= n
    if (this.#recvDir === 'open') {
      // Keep a view of the connection's chunk only if it is a large part of it; otherwise
      // copy, so a peer's tiny frames cannot pin big chunks (memory stays ~ the window).
      const keep = n >= fragment.buffer.byteLength >>> 3 ? fragment : copyOf(fragment)
      this.#readBuf.push(keep)
      this.bufferedBytes += n
    }
    if (last) this.#onDataEnd()
    else if (n > 0) this.#wakeReaders()
  }

  #onDataEnd(): void {
    if (this.#finPending) {
      this.#finPending = false
      this.#remoteFin()
    }
    if (this.#rstPending) {
      this.#rstPending = false
      this.#remoteRst()
    }
    this.#wakeReaders()
  }

  #remoteFin(): void {
    // A FIN after the receive side is already closed is ignored (see §8.3: in
    // tokio-yamux 0.3.20 such a FIN is never processed because the stream stops reading frames).
    if (this.#recvDir !== 'open') return
    this.#recvDir = 'closed'
    this.#wakeReaders()
    this.#transition()
  }

  #remoteRst(): void {
    if (this.#sendDir === 'reset' && this.#recvDir !== 'open') return
    this.#sendDir = 'reset'
    if (this.#recvDir === 'open') this.#recvDir = 'reset'
    this.#failWrites(new YamuxError('YAMUX_ERR_STREAM_RESET', `stream ${this.id} was reset by the peer`))
    this.#wakeReaders()
    this.#transition()
  }

  /** @internal The session is over: settle every waiter. */
  onSessionEnd(): void {
    if (this.#sessionEnded) return
    this.#sessionEnded = true
    this.#removed = true
    this.#pendingBody = 0
    if ((this.#writes !== undefined && this.#writes.length > 0) || this.#closeWaiters !== null)
      this.#failWrites(this.#sessionEndError())
    this.#wakeReaders()
  }

  /** The session's end error (the session makes it once, when first asked). */
  #sessionEndError(): YamuxError {
    return this.#host.writeRefusal() ?? new YamuxError('YAMUX_ERR_SESSION_CLOSED', 'session closed')
  }

  /** The one place that decides a stream is finished (LESSONS #8, tentacle #458). */
  #transition(): void {
    if (this.#removed || !this.isClosed) return
    this.#removed = true
    this.#host.streamClosed(this)
  }

  /** The flag owed to the peer (0 once sent), to put on the frame being sent now. */
  #takeFlags(): number {
    const f = this.#owedFlag
    this.#owedFlag = 0
    return f
  }
}

function copyOf(b: Uint8Array): Uint8Array {
  const c = Buffer.allocUnsafe(b.length)
  c.set(b)
  return c
}
