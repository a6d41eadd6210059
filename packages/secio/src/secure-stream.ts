/**
 * The encrypted byte stream after a handshake (§4): a Node Duplex carrying
 * plaintext, with backpressure both ways.
 *
 * - Write: bytes written in the same tick are coalesced (auto-cork) and sent as
 *   one frame `u32be(N) ‖ ciphertext ‖ tag` per up to `maxSendFrameLength`
 *   plaintext bytes (§4.1). A write's callback fires once the socket accepted
 *   the frame (socket.write returned true, or 'drain' fired).
 * - Read: frames are decrypted as the reader asks for data; when push() says
 *   stop, the socket is paused (no more reads from the kernel) and resumed in
 *   _read(). Decrypted data is a byte stream; frame boundaries mean nothing (§4.3).
 * - secio has no half-close: end() ends the socket (FIN), as Rust's poll_shutdown.
 * - destroy() destroys the socket; a socket error or close destroys the stream.
 */
import { Duplex } from 'node:stream'
import type { Aead } from './crypto/provider.js'
import { encodeFramePieces, FRAME_HEADER_SIZE, frameHeader, type LengthDelimitedDecoder } from '@tentacle-ts/codec'
import { fromCodecError, SecioError } from './errors.js'
import type { PeerId } from './peer-id.js'
import { AEAD_TAG_SIZE, type Suite } from './support.js'

/** Frames whose total size is at most this are written as one buffer (one copy beats several writes). */
const SMALL_FRAME = 16 * 1024

/** Writes buffered before write() returns false; a burst up to this size becomes one frame. */
export const DEFAULT_WRITABLE_HIGH_WATER_MARK = 256 * 1024
/** Plaintext buffered for the reader before the socket is paused. */
export const DEFAULT_READABLE_HIGH_WATER_MARK = 64 * 1024

/** Default cap on the plaintext of one sent frame: big enough to amortise per-frame cost, small enough to pipeline. */
export const DEFAULT_MAX_SEND_FRAME_LENGTH = 1024 * 1024

export interface SecureStreamOptions {
  /** Max frame length accepted from the peer, header included in the check as Rust does (§2.2). */
  maxFrameLength: number
  /** Max frame length we send (plaintext + 16); default min(maxFrameLength, 1 MiB + 16). */
  maxSendFrameLength?: number
  /** Coalesce writes made in the same tick into one frame (default true). */
  autoCork?: boolean
  /** Keep the writable side open after the peer's EOF (default false, like net.Socket). */
  allowHalfOpen?: boolean
  readableHighWaterMark?: number
  writableHighWaterMark?: number
}

/** @internal What the handshake hands over. */
export interface SecureStreamInit {
  socket: Duplex
  encryptor: Aead
  decryptor: Aead
  /** The handshake's decoder, possibly holding bytes of frames after the nonce echo. */
  decoder: LengthDelimitedDecoder
  /** Plaintext that followed the nonce echo (§3.11). */
  initialPlaintext: Buffer[]
  remotePeerId: PeerId
  remotePublicKey: Uint8Array
  suite: Suite
}

/**
 * @internal The plaintext cap of one sent frame: min(maxSendFrameLength, maxFrameLength) − tag.
 * Throws SECIO_ERR_INVALID_OPTION unless that leaves room for at least one plaintext byte.
 */
export function maxSendPlaintext(maxSendFrameLength: number | undefined, maxFrameLength: number): number {
  const maxSend = Math.min(maxSendFrameLength ?? DEFAULT_MAX_SEND_FRAME_LENGTH + AEAD_TAG_SIZE, maxFrameLength)
  if (!Number.isInteger(maxSend) || maxSend <= AEAD_TAG_SIZE) {
    throw new SecioError(
      'SECIO_ERR_INVALID_OPTION',
      `maxSendFrameLength must be an integer greater than ${AEAD_TAG_SIZE}, got ${maxSendFrameLength}`,
      { field: 'maxSendFrameLength' },
    )
  }
  return maxSend - AEAD_TAG_SIZE
}

function uncorkAuto(stream: SecureStream): void {
  stream.autoUncork()
}

export class SecureStream extends Duplex {
  /** The authenticated peer. */
  readonly remotePeerId: PeerId
  /** The peer's raw public key (33 bytes). */
  readonly remotePublicKey: Uint8Array
  /** The negotiated agreement, cipher and digest. */
  readonly suite: Suite
  /** The underlying socket (owned by this stream). */
  readonly socket: Duplex

  readonly #encryptor: Aead
  readonly #decryptor: Aead
  readonly #decoder: LengthDelimitedDecoder
  readonly #maxSendPlain: number
  readonly #autoCork: boolean
  #autoCorked = false

  /** The consumer wants more data (push() has not said stop since the last _read). */
  #reading = true
  #draining = false
  #socketPaused = false
  #socketEnded = false
  #socketClosed = false
  #eofPushed = false
  // The frame being received (§4.1: ciphertext ‖ 16-byte tag).
  /** Ciphertext bytes of the current frame not seen yet. */
  #cipherLeft = 0
  readonly #tag = Buffer.allocUnsafe(AEAD_TAG_SIZE)
  #tagFill = 0
  /** The ciphertext pieces of the current frame (views of socket reads; emptied, not replaced, per frame). */
  readonly #cipherParts: Buffer[] = []
  #cipherLength = 0

  /** Callback of the write waiting for the socket's 'drain'. */
  #pendingWrite: ((err?: Error | null) => void) | null = null
  /** Callback of _final waiting for the socket to finish. */
  #pendingFinal: ((err?: Error | null) => void) | null = null

  // Bound methods, not arrow fields: run from source through tsx, esbuild's keepNames sets an
  // arrow field's name at run time (~0.2 µs per function, per instance); a bound method costs a plain allocation.
  readonly #onData = this.#handleData.bind(this)

  #handleData(chunk: Buffer): void {
    this.#decoder.push(chunk)
    this.#drain()
  }
  readonly #onEnd = this.#handleEnd.bind(this)

  #handleEnd(): void {
    this.#socketEnded = true
    this.#drain()
  }
  readonly #onDrain = this.#handleDrain.bind(this)

  #handleDrain(): void {
    const cb = this.#pendingWrite
    if (cb !== null) {
      this.#pendingWrite = null
      cb()
    }
  }
  readonly #onError = this.#handleError.bind(this)

  #handleError(err: Error): void {
    this.destroy(err)
  }
  readonly #onClose = this.#handleClose.bind(this)

  #handleClose(): void {
    this.#socketClosed = true
    const cb = this.#pendingWrite
    if (cb !== null) {
      this.#pendingWrite = null
      cb(new SecioError('SECIO_ERR_CONNECTION_CLOSED', 'socket closed before the write was accepted'))
    }
    this.#finishFinal()
    // A clean EOF leaves buffered plaintext for the reader; anything else ends the stream now.
    if (!this.#socketEnded) this.destroy()
  }

  /** @internal Created by {@link handshake}. */
  constructor(init: SecureStreamInit, opts: SecureStreamOptions) {
    super({
      allowHalfOpen: opts.allowHalfOpen ?? false,
      readableHighWaterMark: opts.readableHighWaterMark ?? DEFAULT_READABLE_HIGH_WATER_MARK,
      writableHighWaterMark: opts.writableHighWaterMark ?? DEFAULT_WRITABLE_HIGH_WATER_MARK,
      // We tear down the socket ourselves; keep Node's default of destroying us when both sides are done.
      autoDestroy: true,
    })
    this.socket = init.socket
    this.#encryptor = init.encryptor
    this.#decryptor = init.decryptor
    this.#decoder = init.decoder
    this.remotePeerId = init.remotePeerId
    this.remotePublicKey = init.remotePublicKey
    this.suite = init.suite
    this.#maxSendPlain = maxSendPlaintext(opts.maxSendFrameLength, opts.maxFrameLength)
    this.#autoCork = opts.autoCork ?? true

    for (const p of init.initialPlaintext) if (p.length > 0) this.push(p)

    const s = this.socket
    s.on('data', this.#onData)
    s.on('end', this.#onEnd)
    s.on('drain', this.#onDrain)
    s.on('error', this.#onError)
    s.on('close', this.#onClose)
    // The peer may have ended (or the socket closed) while the handshake was finishing.
    if (s.readableEnded) this.#socketEnded = true
    if (s.destroyed) this.#socketClosed = true
    if (this.#socketClosed && !this.#socketEnded) {
      process.nextTick(() =>
        this.destroy(new SecioError('SECIO_ERR_CONNECTION_CLOSED', 'socket closed during the handshake')),
      )
    } else {
      if (!this.#socketClosed && s.isPaused()) s.resume()
      // Frames that arrived together with the nonce echo (and a clean EOF, if any).
      this.#drain()
    }
  }

  // ------------------------------------------------------------------ read side

  override _read(): void {
    this.#reading = true
    this.#drain()
  }

  /**
   * Decrypts queued input while the reader wants data; pauses or resumes the socket.
   * Ciphertext is decrypted as it arrives (no reassembly copy); a frame's
   * plaintext is pushed only once its tag has been checked.
   */
  #drain(): void {
    if (this.#draining || this.destroyed) return
    this.#draining = true
    let starved = false
    try {
      const d = this.#decoder
      while (this.#reading) {
        const piece = d.nextPiece()
        if (piece === null) {
          starved = true
          break
        }
        if (d.pieceStartsFrame) this.#beginFrame(d.frameLength)
        this.#takePiece(piece)
        if (d.pieceEndsFrame) this.#endFrame()
      }
    } catch (err) {
      this.destroy(fromCodecError(err) as Error)
      return
    } finally {
      this.#draining = false
    }
    if (this.destroyed) return
    if (starved && this.#socketEnded) {
      if (this.#eofPushed) return
      if (this.#decoder.hasPartialFrame) {
        this.destroy(
          new SecioError(
            'SECIO_ERR_UNEXPECTED_EOF',
            `connection ended inside a frame (${this.#decoder.bufferedBytes} bytes held)`,
          ),
        )
        return
      }
      this.#eofPushed = true
      this.push(null)
      return
    }
    if (!this.#reading && !this.#socketPaused && !this.#socketEnded) {
      this.#socketPaused = true
      this.socket.pause()
    } else if (this.#reading && this.#socketPaused) {
      this.#socketPaused = false
      this.socket.resume()
    }
  }

  #beginFrame(length: number): void {
    if (length < AEAD_TAG_SIZE) {
      throw new SecioError(
        'SECIO_ERR_FRAME_TOO_SHORT',
        `encrypted frame of ${length} bytes is shorter than the ${AEAD_TAG_SIZE}-byte tag`,
      )
    }
    this.#cipherLeft = length - AEAD_TAG_SIZE
    this.#tagFill = 0
  }

  #takePiece(piece: Buffer): void {
    let cipher = piece
    if (piece.length > this.#cipherLeft) {
      cipher = piece.subarray(0, this.#cipherLeft)
      const tagPart = piece.subarray(this.#cipherLeft)
      tagPart.copy(this.#tag, this.#tagFill)
      this.#tagFill += tagPart.length
    }
    if (cipher.length === 0) return
    this.#cipherLeft -= cipher.length
    this.#cipherParts.push(cipher)
    this.#cipherLength += cipher.length
  }

  /**
   * The frame is in: decrypt its ciphertext in ONE cipher call, so the reader
   * gets one plaintext buffer per frame. Per-piece decryption made one buffer
   * (and its objects) per socket read, and messages spanning those buffers were
   * copied again upstream (yamux, protocol messages). A frame in several socket
   * reads is joined in a process-wide scratch buffer first (no allocation; the
   * pieces are views of socket reads the decoder held anyway, ≤ one frame).
   */
  #endFrame(): void {
    const parts = this.#cipherParts
    const n = this.#cipherLength
    this.#cipherLength = 0
    if (this.#decryptor.beginOpen === undefined) {
      parts.push(this.#tag)
      const payload = Buffer.concat(parts)
      parts.length = 0
      this.#pushPlain(this.#decryptor.open(payload))
      return
    }
    const opener = this.#decryptor.beginOpen()
    let plain: Uint8Array
    if (parts.length <= 1) {
      plain = opener.update(parts.length === 1 ? parts[0]! : EMPTY)
    } else {
      const joined = joinInScratch(parts, n)
      plain = opener.update(joined)
    }
    parts.length = 0
    opener.finish(this.#tag)
    this.#pushPlain(plain)
  }

  #pushPlain(p: Uint8Array): void {
    if (p.length > 0 && !this.push(p)) this.#reading = false
  }

  // ------------------------------------------------------------------ write side

  override write(
    chunk: unknown,
    encoding?: BufferEncoding | ((error: Error | null | undefined) => void),
    cb?: (error: Error | null | undefined) => void,
  ): boolean {
    if (this.#autoCork && !this.#autoCorked && !this.writableEnded) {
      this.#autoCorked = true
      this.cork()
      process.nextTick(uncorkAuto, this)
    }
    return typeof encoding === 'function'
      ? super.write(chunk, encoding)
      : super.write(chunk, encoding as BufferEncoding, cb)
  }

  /** @internal */
  autoUncork(): void {
    this.#autoCorked = false
    this.uncork()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#send([chunk], chunk.length, cb)
  }

  override _writev(chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>, cb: (err?: Error | null) => void): void {
    const list = new Array<Buffer>(chunks.length)
    let total = 0
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!.chunk
      list[i] = c
      total += c.length
    }
    this.#send(list, total, cb)
  }

  /** Splits `list` into frames of at most maxSendPlain bytes and writes them. */
  #send(list: Buffer[], total: number, cb: (err?: Error | null) => void): void {
    if (this.#socketClosed || this.socket.destroyed) {
      cb(new SecioError('SECIO_ERR_CONNECTION_CLOSED', 'socket is closed'))
      return
    }
    if (total === 0) {
      cb()
      return
    }
    let ok: boolean
    try {
      if (total <= this.#maxSendPlain) {
        ok = this.#writeFrame(list, total)
      } else {
        ok = true
        const max = this.#maxSendPlain
        let frame: Buffer[] = []
        let frameLength = 0
        for (let c of list) {
          while (c.length > 0) {
            const room = max - frameLength
            if (c.length < room) {
              frame.push(c)
              frameLength += c.length
              break
            }
            frame.push(room === c.length ? c : c.subarray(0, room))
            frameLength += room
            c = c.subarray(room)
            ok = this.#writeFrame(frame, frameLength)
            frame = []
            frameLength = 0
          }
        }
        if (frameLength > 0) ok = this.#writeFrame(frame, frameLength)
      }
    } catch (err) {
      cb(err as Error)
      return
    }
    if (ok) cb()
    else this.#pendingWrite = cb
  }

  /** Encrypts one frame and hands it to the socket; returns socket.write's verdict. */
  #writeFrame(chunks: Buffer[], length: number): boolean {
    const pieces = this.#encryptor.seal(chunks.length > 8 ? mergeSmall(chunks) : chunks, length)
    const frameLength = length + AEAD_TAG_SIZE
    const s = this.socket
    if (frameLength + FRAME_HEADER_SIZE <= SMALL_FRAME) return s.write(encodeFramePieces(pieces, frameLength))
    s.cork()
    s.write(frameHeader(frameLength))
    let ok = true
    for (const p of pieces) ok = s.write(p)
    s.uncork()
    return ok
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.#socketClosed || this.socket.destroyed) {
      cb()
      return
    }
    // secio has no half-close: ending our side ends the socket (FIN), as Rust's poll_shutdown.
    // The socket closing first also completes it (see #onClose).
    this.#pendingFinal = cb
    this.socket.end(this.#finishFinal)
  }

  /** Completes a pending _final once (socket finished or closed). */
  readonly #finishFinal = this.#runFinishFinal.bind(this)

  #runFinishFinal(): void {
    const cb = this.#pendingFinal
    if (cb !== null) {
      this.#pendingFinal = null
      cb()
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const s = this.socket
    s.off('data', this.#onData)
    s.off('end', this.#onEnd)
    s.off('drain', this.#onDrain)
    s.off('error', this.#onError)
    s.off('close', this.#onClose)
    // Swallow late socket errors (e.g. EPIPE after we destroyed it): the stream already reported.
    s.on('error', noop)
    s.destroy()
    this.#decoder.reset()
    const pending = this.#pendingWrite
    this.#pendingWrite = null
    if (pending !== null)
      pending(err ?? new SecioError('SECIO_ERR_CONNECTION_CLOSED', 'stream destroyed before the write was accepted'))
    cb(err)
  }
}

function noop(): void {}

const EMPTY = Buffer.alloc(0)
/** Frames up to this size are joined in the shared scratch buffer; larger ones in a buffer of their own. */
const SCRATCH_MAX = 1024 * 1024 + 64 * 1024
let scratch = Buffer.allocUnsafe(0)

/**
 * Copies `parts` (`length` bytes) into one contiguous view. The scratch buffer is
 * shared by every stream: it is only used synchronously, for one cipher call.
 */
function joinInScratch(parts: readonly Buffer[], length: number): Buffer {
  let out: Buffer
  if (length > SCRATCH_MAX) {
    out = Buffer.allocUnsafe(length)
  } else {
    if (scratch.length < length)
      scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX, Math.max(length, scratch.length * 2, 64 * 1024)))
    out = scratch
  }
  let at = 0
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!
    p.copy(out, at)
    at += p.length
  }
  return out.subarray(0, length)
}

/**
 * Joins runs of small plaintext chunks (yamux headers, message prefixes) so a
 * frame is sealed in a few cipher updates and written as a few pieces; large
 * chunks pass through uncopied.
 */
function mergeSmall(chunks: Buffer[]): Buffer[] {
  const out: Buffer[] = []
  let run: Buffer[] = []
  let runLength = 0
  const flush = (): void => {
    if (run.length === 1) out.push(run[0]!)
    else if (run.length > 1) out.push(Buffer.concat(run, runLength))
    run = []
    runLength = 0
  }
  for (const c of chunks) {
    if (c.length >= SMALL_FRAME) {
      flush()
      out.push(c)
    } else {
      run.push(c)
      runLength += c.length
    }
  }
  flush()
  return out
}
