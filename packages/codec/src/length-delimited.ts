/**
 * Length-delimited frames (§2.1): `u32be length` then that many bytes. The same
 * framing carries secio's plaintext handshake messages, every encrypted frame
 * (§4.1), protocol selection (§9.2) and the messages of a protocol stream (§10.1).
 *
 * A named-state machine fed with chunks of any size:
 *   'header' — collecting the 4 length bytes; the length is checked against
 *              the max frame length (§2.2) as soon as it is known, BEFORE any
 *              byte of the body is kept, so a hostile length costs nothing;
 *   'body'   — collecting the body; a body that lies entirely inside one input
 *              chunk is returned as a view of it (no copy);
 *   'failed' — a length over the max was seen; every later call throws again.
 */
import { CodecError } from './errors.js'
import { Fifo } from './fifo.js'

/** Default max frame length: tentacle's 8 MiB (§2.2). */
export const DEFAULT_MAX_FRAME_LENGTH = 8 * 1024 * 1024

/** Bytes of the length prefix (§2.1). */
export const FRAME_HEADER_SIZE = 4

export type LengthDelimitedDecoderState = 'header' | 'body' | 'failed'

const EMPTY = Buffer.alloc(0)

/**
 * Decoder of u32be-length-prefixed frames (§2.1), fed with chunks of any size.
 * Whole-frame mode ({@link LengthDelimitedDecoder.next}) or piece mode
 * ({@link LengthDelimitedDecoder.nextPiece}); a length over the max is a
 * {@link CodecError} `CODEC_ERR_FRAME_TOO_LARGE`, sticky.
 */
export class LengthDelimitedDecoder {
  /** The current state (see the module comment). */
  state: LengthDelimitedDecoderState = 'header'
  /** Largest frame accepted; see {@link setMaxFrameLength}. */
  maxFrameLength: number

  /** Input chunks not consumed yet, the first one from `#offset`. */
  readonly #queue = new Fifo<Buffer>()
  #offset = 0
  #queued = 0
  /** Length prefix being collected (big-endian, as a number: no buffer per decoder). */
  #header = 0
  #headerFill = 0
  /** Body length of the frame being collected (state 'body'). */
  #need = 0
  /** Pieces of a body that spans chunks (whole-frame mode, {@link next}); made when first needed. */
  #parts: Buffer[] | undefined
  #partsLength = 0
  /** Body bytes already handed out in piece mode ({@link nextPiece}). */
  #delivered = 0

  /** Set by {@link nextPiece}: the piece returned is the first of its frame. */
  pieceStartsFrame = false
  /** Set by {@link nextPiece}: the piece returned completes its frame. */
  pieceEndsFrame = false
  /** Body length of the frame the last piece belongs to. */
  frameLength = 0

  constructor(maxFrameLength: number = DEFAULT_MAX_FRAME_LENGTH) {
    this.maxFrameLength = checkMaxFrameLength(maxFrameLength)
  }

  /**
   * Changes the max frame length for frames not started yet. Used when one
   * byte stream changes framing limits midway (tentacle: protocol selection
   * frames, then the selected protocol's own max, §9.2/§10.1), keeping the
   * bytes already buffered.
   */
  setMaxFrameLength(maxFrameLength: number): void {
    this.maxFrameLength = checkMaxFrameLength(maxFrameLength)
  }

  /** Adds received bytes. Call {@link next} until it returns null to take the frames. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
    this.#queue.push(buf)
    this.#queued += buf.length
  }

  /**
   * Returns the next complete frame payload, or null when more bytes are needed.
   * Throws CodecError CODEC_ERR_FRAME_TOO_LARGE when a header announces more than the max.
   */
  next(): Buffer | null {
    if (this.state !== 'body') {
      const length = this.#takeHeader()
      if (length === null) return null
      if (length === 0) return EMPTY
      this.state = 'body'
    }
    const frame = this.#readBody()
    if (frame === null) return null
    this.state = 'header'
    return frame
  }

  /**
   * Piece mode: returns the next available bytes of the current frame body as
   * soon as they arrive (views of the input, no copy), or null when more input
   * is needed. {@link pieceStartsFrame}, {@link pieceEndsFrame} and
   * {@link frameLength} describe the piece; an empty frame gives one empty piece
   * that both starts and ends it. The max length is checked on the header as in
   * {@link next}. May take over in the middle of a frame started with next().
   */
  nextPiece(): Buffer | null {
    if (this.state !== 'body') {
      const length = this.#takeHeader()
      if (length === null) return null
      if (length === 0) {
        this.frameLength = 0
        this.pieceStartsFrame = true
        this.pieceEndsFrame = true
        return EMPTY
      }
      this.state = 'body'
    }
    let piece: Buffer
    this.frameLength = this.#need
    if (this.#partsLength > 0) {
      // Bytes collected by next() before piece mode took over.
      const parts = this.#parts!
      piece = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#partsLength)
      this.#parts = undefined
      this.#partsLength = 0
    } else {
      const head = this.#queue.peek()
      if (head === undefined) return null
      const available = head.length - this.#offset
      const take = Math.min(available, this.#need - this.#delivered)
      piece = head.subarray(this.#offset, this.#offset + take)
      this.#advance(take, available)
    }
    this.pieceStartsFrame = this.#delivered === 0
    this.#delivered += piece.length
    this.pieceEndsFrame = this.#delivered === this.#need
    if (this.pieceEndsFrame) {
      this.state = 'header'
      this.#delivered = 0
    }
    return piece
  }

  /** Bytes held: unconsumed input plus a partly collected header or body. */
  get bufferedBytes(): number {
    return this.#queued + this.#headerFill + this.#partsLength
  }

  /** True when some bytes of an unfinished frame (or unconsumed input) are held. */
  get hasPartialFrame(): boolean {
    return this.state === 'body' || this.bufferedBytes > 0
  }

  /** Body bytes of the current frame already returned by {@link nextPiece}. */
  get deliveredBytes(): number {
    return this.#delivered
  }

  /** Drops everything held (used when the connection is torn down). */
  reset(): void {
    this.#drop()
    this.#header = 0
    this.#headerFill = 0
    this.#delivered = 0
    if (this.state !== 'failed') this.state = 'header'
  }

  #drop(): void {
    this.#queue.clear()
    this.#offset = 0
    this.#queued = 0
    this.#parts = undefined
    this.#partsLength = 0
  }

  #tooLarge(length: number): CodecError {
    return new CodecError(
      'CODEC_ERR_FRAME_TOO_LARGE',
      `frame of ${length} bytes exceeds the max frame length ${this.maxFrameLength}`,
    )
  }

  /**
   * The next frame's length once its 4 header bytes are in, or null. A length
   * over the max fails the decoder for good (§2.2) before any body byte is kept;
   * every later call throws again.
   */
  #takeHeader(): number | null {
    if (this.state === 'failed') throw this.#tooLarge(this.#need)
    if (!this.#readHeader()) return null
    const length = this.#header
    this.#header = 0
    this.#headerFill = 0
    if (length > this.maxFrameLength) {
      this.state = 'failed'
      this.#need = length
      this.#drop()
      throw this.#tooLarge(length)
    }
    this.#need = length
    return length
  }

  /** Fills the 4-byte header from the queue; true when complete. */
  #readHeader(): boolean {
    while (this.#headerFill < FRAME_HEADER_SIZE) {
      const head = this.#queue.peek()
      if (head === undefined) return false
      const available = head.length - this.#offset
      const take = Math.min(available, FRAME_HEADER_SIZE - this.#headerFill)
      const at = this.#offset
      if (take === FRAME_HEADER_SIZE) {
        // Fast path: the whole header is in one chunk.
        this.#header = head[at]! * 0x1000000 + ((head[at + 1]! << 16) | (head[at + 2]! << 8) | head[at + 3]!)
      } else {
        let h = this.#header
        for (let i = 0; i < take; i++) h = h * 256 + head[at + i]!
        this.#header = h
      }
      this.#headerFill += take
      this.#advance(take, available)
    }
    return true
  }

  /** Collects the body; returns it when complete. */
  #readBody(): Buffer | null {
    for (let head = this.#queue.peek(); head !== undefined; head = this.#queue.peek()) {
      const available = head.length - this.#offset
      const missing = this.#need - this.#partsLength
      if (this.#partsLength === 0 && available >= missing) {
        // Zero copy: the whole body lies in this chunk.
        const frame = head.subarray(this.#offset, this.#offset + missing)
        this.#advance(missing, available)
        return frame
      }
      const take = Math.min(available, missing)
      const parts = (this.#parts ??= [])
      parts.push(head.subarray(this.#offset, this.#offset + take))
      this.#partsLength += take
      this.#advance(take, available)
      if (this.#partsLength === this.#need) {
        const frame = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#need)
        this.#parts = undefined
        this.#partsLength = 0
        return frame
      }
    }
    return null
  }

  #advance(taken: number, available: number): void {
    this.#queued -= taken
    if (taken === available) {
      this.#queue.shift()
      this.#offset = 0
    } else {
      this.#offset += taken
    }
  }
}

function checkMaxFrameLength(maxFrameLength: number): number {
  if (!Number.isInteger(maxFrameLength) || maxFrameLength < 0 || maxFrameLength > 0xffffffff) {
    throw new CodecError(
      'CODEC_ERR_INVALID_OPTION',
      `maxFrameLength must be an integer in [0, 2^32-1], got ${maxFrameLength}`,
      { field: 'maxFrameLength' },
    )
  }
  return maxFrameLength
}

/** Builds the 4-byte u32be length prefix of a frame (§2.1). */
export function frameHeader(length: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_SIZE)
  h.writeUInt32BE(length, 0)
  return h
}

/** One frame as a single buffer: prefix + payload (handshake messages). */
export function encodeFrame(payload: Uint8Array): Buffer {
  return encodeFramePieces([payload], payload.length)
}

/** One frame as a single buffer: prefix + the payload's pieces (`length` bytes in all, checked by the caller). */
export function encodeFramePieces(pieces: readonly Uint8Array[], length: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_SIZE + length)
  out.writeUInt32BE(length, 0)
  let at = FRAME_HEADER_SIZE
  for (const p of pieces) {
    out.set(p, at)
    at += p.length
  }
  return out
}
