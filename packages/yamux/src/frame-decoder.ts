// Incremental yamux frame decoder (§8.1), written as a named-state machine so that
// bytes may arrive in any chunking: a header split over several chunks, many frames
// in one chunk, a Data body spread over many chunks.
//
// It never assembles a Data body: the body is handed out as it arrives, one
// fragment per input chunk it spans (a subarray of that chunk, no copy). The
// consumer sees first the header (DECODED_HEADER, with `length`), then the body
// fragments (DECODED_BODY), the last one with `bodyDone = true`. A Data frame with
// length 0 has no fragments.
import { Fifo } from '@tentacle-ts/codec'
import { YamuxError } from './errors.js'
import { HEADER_SIZE, PROTOCOL_VERSION, TYPE_DATA, TYPE_GO_AWAY, readU32BE } from './frame.js'

/** What `next()` produced. */
export const NEED_MORE = 0
export const DECODED_HEADER = 1
export const DECODED_BODY = 2
export type DecodeResult = typeof NEED_MORE | typeof DECODED_HEADER | typeof DECODED_BODY

/** Named states of the decoder. */
export type YamuxDecoderState =
  /** Waiting for (the rest of) a 12-byte header. */
  | 'header'
  /** Inside the body of a Data frame; `bodyRemaining` bytes are still to come. */
  | 'body'
  /** A malformed header was seen; every later call throws the same error. */
  | 'failed'

const EMPTY = new Uint8Array(0)

export class YamuxFrameDecoder {
  #named: YamuxDecoderState = 'header'

  /** Current named state (read-only: only the decoder moves it). */
  get state(): YamuxDecoderState {
    return this.#named
  }

  // Fields of the last header (valid after DECODED_HEADER, and during its body).
  type = 0
  flags = 0
  streamId = 0
  length = 0
  /** The last body fragment (valid after DECODED_BODY until the next call). */
  body: Uint8Array = EMPTY
  /** True when `body` is the last fragment of its frame. */
  bodyDone = false

  #bodyRemaining = 0
  #error: YamuxError | undefined
  readonly #maxDataLength: number

  // Input queue: its head chunk is current, consumed up to `offset`.
  readonly #chunks = new Fifo<Uint8Array>()
  #offset = 0
  #queued = 0

  // A header split across chunks is gathered here (made the first time one is: most sessions never split one).
  #hdr: Uint8Array | undefined
  #hdrFill = 0

  /** @param maxDataLength Data frames longer than this are invalid (§8.1: the receiver's max window). */
  constructor(maxDataLength: number) {
    this.#maxDataLength = maxDataLength
  }

  /** Bytes pushed but not yet decoded (excluding a partial header already gathered). */
  get bufferedBytes(): number {
    return this.#queued
  }

  /** Queues a chunk of input. The decoder keeps a reference; the caller must not reuse it. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.#chunks.push(chunk)
    this.#queued += chunk.length
  }

  /**
   * Decodes the next item from the queued input.
   * @returns NEED_MORE when the input is exhausted, DECODED_HEADER or DECODED_BODY.
   * @throws YamuxError YAMUX_ERR_INVALID_VERSION | YAMUX_ERR_INVALID_TYPE | YAMUX_ERR_FRAME_TOO_LARGE on a bad header.
   */
  next(): DecodeResult {
    switch (this.#named) {
      case 'header':
        return this.#readHeaderState()
      case 'body':
        return this.#readBodyState()
      default:
        throw this.#error as YamuxError
    }
  }

  #readHeaderState(): DecodeResult {
    const chunk = this.#current()
    if (chunk === undefined) return NEED_MORE
    const off = this.#offset
    let b: Uint8Array
    let o: number
    if (this.#hdrFill === 0 && chunk.length - off >= HEADER_SIZE) {
      // Fast path: the whole header is in this chunk.
      b = chunk
      o = off
      this.#consume(HEADER_SIZE)
    } else {
      // Slow path: gather the header from as many chunks as it takes.
      const hdr = (this.#hdr ??= new Uint8Array(HEADER_SIZE))
      while (this.#hdrFill < HEADER_SIZE) {
        const c = this.#current()
        if (c === undefined) return NEED_MORE
        const n = Math.min(HEADER_SIZE - this.#hdrFill, c.length - this.#offset)
        hdr.set(c.subarray(this.#offset, this.#offset + n), this.#hdrFill)
        this.#hdrFill += n
        this.#consume(n)
      }
      this.#hdrFill = 0
      b = hdr
      o = 0
    }
    const version = b[o]
    const type = b[o + 1]
    const flags = (b[o + 2] << 8) | b[o + 3]
    const streamId = readU32BE(b, o + 4)
    const length = readU32BE(b, o + 8)
    if (version !== PROTOCOL_VERSION) {
      return this.#fail(new YamuxError('YAMUX_ERR_INVALID_VERSION', `yamux.version=${version}`))
    }
    if (type > TYPE_GO_AWAY) {
      return this.#fail(new YamuxError('YAMUX_ERR_INVALID_TYPE', `yamux.type=${type}`))
    }
    if (type === TYPE_DATA && length > this.#maxDataLength) {
      return this.#fail(
        new YamuxError('YAMUX_ERR_FRAME_TOO_LARGE', `yamux.length=${length} exceeds max ${this.#maxDataLength}`),
      )
    }
    this.type = type
    this.flags = flags
    this.streamId = streamId
    this.length = length
    if (type === TYPE_DATA && length > 0) {
      this.#bodyRemaining = length
      this.#named = 'body'
    }
    return DECODED_HEADER
  }

  #readBodyState(): DecodeResult {
    const chunk = this.#current()
    if (chunk === undefined) return NEED_MORE
    const off = this.#offset
    const n = Math.min(this.#bodyRemaining, chunk.length - off)
    this.body = off === 0 && n === chunk.length ? chunk : chunk.subarray(off, off + n)
    this.#consume(n)
    this.#bodyRemaining -= n
    if (this.#bodyRemaining === 0) {
      this.bodyDone = true
      this.#named = 'header'
    } else {
      this.bodyDone = false
    }
    return DECODED_BODY
  }

  #fail(err: YamuxError): never {
    this.#named = 'failed'
    this.#error = err
    this.#chunks.clear()
    this.#offset = 0
    this.#queued = 0
    throw err
  }

  #current(): Uint8Array | undefined {
    return this.#chunks.peek()
  }

  #consume(n: number): void {
    this.#offset += n
    this.#queued -= n
    if (this.#offset === (this.#chunks.peek() as Uint8Array).length) {
      this.#offset = 0
      this.#chunks.shift()
    }
  }
}
