// Outgoing frame queue of one session (§8.1 framing).
//
// - Headers are encoded into a slab of our own; payloads are queued as the
//   caller's subarrays, never copied.
// - Frames queued during one burst go out in one flush (after the burst's microtasks),
//   inside cork()/uncork() so a socket sends them with one writev.
// - Bounded: `queuedBytes` (ours plus the connection's write buffer) is what
//   stream writers check against `maxQueuedBytes` before queueing more data.
// - Write-stall deadline (LESSONS #11, tentacle 5f3104b): the timer starts when a
//   flushed batch is pending in the connection and is pushed back only when the
//   connection makes progress (a batch's write callback). Inbound traffic never
//   touches it.
import type { Duplex } from 'node:stream'
import { HEADER_SIZE, INITIAL_STREAM_WINDOW, TYPE_DATA, writeHeader, writeU32 } from './frame.js'

const SLAB_SIZE = 16 * 1024
/**
 * A session's first slab: most sessions write a few dozen headers in their life, so they
 * start with a slice of Node's shared buffer pool (no allocation of their own) and take a
 * SLAB_SIZE slab only once they outgrow it.
 */
const FIRST_SLAB_SIZE = 1024
/**
 * Largest Data frame built by merging writes: 256 KiB, which every tokio-yamux peer accepts
 * (its decoder limit is its max window, ≥ 256 KiB, §8.1).
 */
const MAX_MERGED_DATA = INITIAL_STREAM_WINDOW

export interface FrameWriterHooks {
  /** The queue shrank (the connection made progress): blocked writers may continue. */
  onProgress(): void
  /** The connection made no progress for `stallTimeoutMs` while writes were pending. */
  onStall(): void
}

export class FrameWriter {
  readonly #conn: Duplex
  readonly #hooks: FrameWriterHooks
  readonly #stallTimeoutMs: number
  /** Whether the connection gathers corked chunks itself (net.Socket does, via writev). */
  readonly #gathers: boolean

  #chunks: Uint8Array[] = []
  /** Bytes queued here and not yet handed to the connection. */
  #pendingBytes = 0
  /** Of `pendingBytes`, how many belong to control frames (headers without payload). */
  #controlBytes = 0

  #slab: Buffer = Buffer.allocUnsafe(FIRST_SLAB_SIZE)
  #slabPos = 0
  #runStart = 0

  readonly #deferFlush: () => void
  // The last queued Data frame, while it may still grow (see data()).
  #openDataId = -1
  #openDataSlab: Buffer = this.#slab
  #openDataOffset = 0
  #openDataLength = 0

  readonly #runSoonFlush: () => void
  #soonScheduled = false
  #inflightBatches = 0
  #stallTimer: NodeJS.Timeout | undefined
  /** When the oldest batch still pending in the connection began waiting (or it last progressed). */
  #pendingSince = 0
  #closed = false

  constructor(conn: Duplex, stallTimeoutMs: number, hooks: FrameWriterHooks) {
    this.#conn = conn
    this.#hooks = hooks
    this.#stallTimeoutMs = stallTimeoutMs
    this.#gathers = typeof (conn as unknown as { _writev?: unknown })._writev === 'function'
    this.#runSoonFlush = () => {
      this.#soonScheduled = false
      this.flush()
    }
    this.#deferFlush = () => process.nextTick(this.#runSoonFlush)
    conn.on('drain', this.#onDrain)
  }

  /** Bytes held for the connection: our queue plus the connection's own write buffer. */
  get queuedBytes(): number {
    return this.#pendingBytes + this.#conn.writableLength
  }

  /** Bytes of control frames waiting in our queue. */
  get controlBacklogBytes(): number {
    return this.#controlBytes
  }

  /** Queues a header-only frame (WindowUpdate, Ping, GoAway). */
  control(type: number, flags: number, streamId: number, length: number): void {
    if (this.#closed) return
    this.#openDataId = -1 // later data must stay after this frame
    this.#putHeader(type, flags, streamId, length)
    this.#pendingBytes += HEADER_SIZE
    this.#controlBytes += HEADER_SIZE
    this.#schedule()
  }

  /**
   * Queues a Data frame; `payload` is kept by reference (the caller must not mutate it).
   * When the last queued frame is an unflushed Data frame of the same stream without flags,
   * the payload joins it instead (its header's length grows, up to MAX_MERGED_DATA): one
   * frame, one header and one decode on the peer instead of several. The bytes on the wire
   * are the same stream bytes in the same order.
   */
  data(flags: number, streamId: number, payload: Uint8Array): void {
    if (this.#closed) return
    const n = payload.length
    if (flags === 0 && streamId === this.#openDataId && this.#openDataLength + n <= MAX_MERGED_DATA) {
      this.#openDataLength += n
      writeU32(this.#openDataSlab, this.#openDataOffset + 8, this.#openDataLength)
      this.#chunks.push(payload)
      this.#pendingBytes += n
      return
    }
    this.#putHeader(TYPE_DATA, flags, streamId, n)
    this.#chunks.push(this.#slab.subarray(this.#runStart, this.#slabPos))
    this.#runStart = this.#slabPos
    this.#chunks.push(payload)
    this.#openDataId = streamId
    this.#openDataSlab = this.#slab
    this.#openDataOffset = this.#slabPos - HEADER_SIZE
    this.#openDataLength = n
    this.#pendingBytes += HEADER_SIZE + n
    this.#schedule()
  }

  /** Drops every frame not yet handed to the connection (tokio-yamux does this on GoAway, §8.6). */
  clear(): void {
    this.#openDataId = -1
    this.#chunks = []
    this.#runStart = this.#slabPos
    this.#pendingBytes = 0
    this.#controlBytes = 0
  }

  /**
   * Hands everything queued to the connection now. Unless `force`, waits for 'drain' if the
   * connection asked for it; `force` is for the last flush before ending the connection
   * (the bytes are already held, so moving them into its buffer costs no memory).
   */
  flush(force = false): void {
    if (this.#closed || this.#pendingBytes === 0) return
    const conn = this.#conn
    if ((conn.writableNeedDrain && !force) || conn.destroyed || conn.writableEnded) return
    if (this.#slabPos > this.#runStart) {
      this.#chunks.push(this.#slab.subarray(this.#runStart, this.#slabPos))
      this.#runStart = this.#slabPos
    }
    const chunks = this.#chunks
    this.#chunks = []
    this.#openDataId = -1 // handed over: its header must not change any more
    this.#pendingBytes = 0
    this.#controlBytes = 0
    if (this.#inflightBatches++ === 0) {
      this.#pendingSince = performance.now()
      if (this.#stallTimer === undefined) this.#stallTimer = setTimeout(this.#onStallTimer, this.#stallTimeoutMs)
    }
    if (chunks.length === 1 || !this.#gathers) {
      const one = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      conn.write(one, this.#onBatchWritten)
    } else {
      conn.cork()
      const last = chunks.length - 1
      for (let i = 0; i < last; i++) conn.write(chunks[i])
      conn.write(chunks[last], this.#onBatchWritten)
      conn.uncork()
    }
  }

  /** Detaches from the connection and clears every timer. Queued frames are dropped. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.clear()
    if (this.#stallTimer !== undefined) clearTimeout(this.#stallTimer)
    this.#stallTimer = undefined
    this.#conn.removeListener('drain', this.#onDrain)
  }

  #putHeader(type: number, flags: number, streamId: number, length: number): void {
    if (this.#slabPos + HEADER_SIZE > this.#slab.length) {
      // The old slab stays alive only while queued subarrays still point into it.
      if (this.#slabPos > this.#runStart) this.#chunks.push(this.#slab.subarray(this.#runStart, this.#slabPos))
      this.#slab = Buffer.allocUnsafe(SLAB_SIZE)
      this.#slabPos = 0
      this.#runStart = 0
    }
    writeHeader(this.#slab, this.#slabPos, type, flags, streamId, length)
    this.#slabPos += HEADER_SIZE
  }

  /**
   * Flush once the current burst of synchronous work and the microtasks it started are done
   * (a microtask that schedules a nextTick runs after the whole microtask queue drained), so a
   * loop of awaited writes goes out in one flush without waiting for the next event-loop turn.
   */
  #schedule(): void {
    if (!this.#soonScheduled) {
      this.#soonScheduled = true
      queueMicrotask(this.#deferFlush)
    }
  }

  // Bound methods, not arrow fields: run from source through tsx, esbuild's keepNames sets an
  // arrow field's name at run time (~0.2 µs per function, per instance); a bound method costs a plain allocation.
  readonly #onBatchWritten = this.#batchWritten.bind(this)

  #batchWritten(err?: Error | null): void {
    if (this.#closed) return
    this.#inflightBatches--
    if (err) return // the connection's 'error'/'close' ends the session
    // Progress: a pending stall (if any) is measured from now. The timer itself is left
    // armed and re-checks when it fires (no timer churn per batch).
    if (this.#inflightBatches > 0) this.#pendingSince = performance.now()
    this.#hooks.onProgress()
  }

  readonly #onDrain = this.#drained.bind(this)

  #drained(): void {
    if (this.#closed) return
    this.flush()
    this.#hooks.onProgress()
  }

  readonly #onStallTimer = this.#stallTimerFired.bind(this)

  #stallTimerFired(): void {
    this.#stallTimer = undefined
    if (this.#closed || this.#inflightBatches === 0) return
    const stalledFor = performance.now() - this.#pendingSince
    if (stalledFor >= this.#stallTimeoutMs) return this.#hooks.onStall()
    this.#stallTimer = setTimeout(this.#onStallTimer, this.#stallTimeoutMs - stalledFor)
  }
}
