/**
 * The secio handshake (§3), identical for dialer and listener (§3.12):
 *   1. send Propose at once, without waiting for the peer (§2.3, §15.1);
 *   2. read the peer's Propose, order, select the suite (§3.6, §3.7);
 *   3. generate the ephemeral key, sign, send Exchange (§3.8, §3.9);
 *   4. read the peer's Exchange, verify its signature;
 *   5. ECDH, stretch, split, build the ciphers (§3.10);
 *   6. send the peer's nonce encrypted, read ours back (§3.11).
 * One deadline covers everything from the call to the verified nonce (§3.14);
 * its error names the phase and the bytes received. On every outcome the timer,
 * the listeners and the abort hook are released; on failure the socket is destroyed.
 *
 * With a synchronous signer and verifier (the node:crypto provider's default, see
 * {@link Signer.signSync}) and other handshakes in progress in the process, the
 * messages one read makes us send go out in one socket write: the listener's
 * Propose and Exchange, the dialer's Exchange and nonce echo (fewer writes and
 * wake-ups of the peer: less CPU when the CPU is the limit). A handshake alone
 * writes each message at once instead, so the peer works on it while we sign or
 * verify (coalescing cost a sequential dialer ~15 % of its rate on 2 cores).
 * The bytes on the wire are the same either way.
 */
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import { nodeCryptoProvider } from './crypto/node-provider.js'
import type { Aead, CryptoProvider, EphemeralKey, Signer } from './crypto/provider.js'
import { DEFAULT_MAX_FRAME_LENGTH, LengthDelimitedDecoder, isMoleculeError } from '@tentacle-ts/codec'
import { fromCodecError, SecioError, type HandshakePhase } from './errors.js'
import type { SecioKeyPair } from './key-pair.js'
import { decodePublicKey, encodeExchange, encodePublicKey, ExchangeCodec, ProposeCodec } from './messages.js'
import { PeerId } from './peer-id.js'
import { maxSendPlaintext, SecureStream } from './secure-stream.js'
import { deriveSessionKeys } from './stretch.js'
import {
  AEAD_TAG_SIZE,
  AGREEMENTS,
  CIPHERS,
  compareBytes,
  DEFAULT_AGREEMENTS,
  DEFAULT_CIPHERS,
  DEFAULT_DIGESTS,
  DIGESTS,
  EPHEMERAL_KEY_SIZE,
  propositionString,
  selectBest,
  type AgreementName,
  type CipherName,
  type DigestName,
  type Ordering,
  type Suite,
} from './support.js'

/** Default handshake deadline: tentacle's service timeout (§3.14, §12.4). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000

/** Handshakes between start and settlement in this process (see the file comment: when > 1, writes coalesce). */
let handshakesInProgress = 0

/** @internal Handshakes in progress in this process (for tests: every outcome must release its count). */
export function handshakesInProgressCount(): number {
  return handshakesInProgress
}

/** Size of our nonce (§3.4). */
const NONCE_SIZE = 16

export interface HandshakeOptions {
  /** Our identity. */
  key: SecioKeyPair
  /** Key agreements in preference order (default P-256, P-384, X25519; §3.5). */
  agreements?: readonly (AgreementName | string)[]
  /** Ciphers in preference order (default AES-128-GCM, AES-256-GCM, CHACHA20_POLY1305). */
  ciphers?: readonly (CipherName | string)[]
  /** Digests in preference order (default SHA256, SHA512). */
  digests?: readonly (DigestName | string)[]
  /** Largest frame accepted from the peer, handshake and stream alike (default 8 MiB; §2.2). */
  maxFrameLength?: number
  /** Largest frame we send once encrypted (default min(maxFrameLength, 1 MiB + 16)). */
  maxSendFrameLength?: number
  /** Deadline from this call to the verified nonce echo (default 10 000 ms; §3.14). */
  timeoutMs?: number
  /** Fail with SECIO_ERR_PEER_ID_MISMATCH unless the peer's key hashes to this id (§5.2). */
  expectedPeerId?: PeerId
  /** Crypto implementation (default node:crypto). */
  crypto?: CryptoProvider
  /** Aborts the handshake (SECIO_ERR_HANDSHAKE_ABORTED) and destroys the socket. */
  signal?: AbortSignal
  /**
   * Called as each phase completes, with the milliseconds since the call:
   * `awaiting-propose` once the peer's Propose was read and our Exchange sent,
   * `awaiting-exchange` once its Exchange verified and our nonce echo sent,
   * `awaiting-nonce-echo` once our nonce came back (just before the promise
   * resolves). For diagnostics (`tentacle dial`); what it throws is ignored.
   */
  onPhase?: (completed: HandshakePhase, elapsedMs: number) => void
  /**
   * Send our Propose only once the peer's first bytes arrived (default false).
   * A listener does this, as Rust's does (§2.3): a connection that is already
   * dead when we get to it then costs one read, not a Propose written into the
   * void. Failing before any byte came: phase `awaiting-propose`, 0 bytes received.
   */
  waitForPeer?: boolean
  /** Coalesce writes made in the same tick into one frame (default true). */
  autoCork?: boolean
  /** Keep the stream's writable side open after the peer's EOF (default false). */
  allowHalfOpen?: boolean
  /** The stream's writable high-water mark (default 256 KiB: lets bursts coalesce into large frames). */
  writableHighWaterMark?: number
  /** The stream's readable high-water mark (default 64 KiB). */
  readableHighWaterMark?: number
  /**
   * Fixed inputs that make a handshake reproducible. For test vectors only:
   * never set them in production.
   */
  testing?: { nonce?: Uint8Array; ephemeralSecret?: Uint8Array }
}

export interface HandshakeResult {
  /** The encrypted stream (owns the socket from now on). */
  stream: SecureStream
  /** The peer's raw secp256k1 public key (33 bytes). */
  remotePublicKey: Uint8Array
  remotePeerId: PeerId
  suite: Suite
  /** From the call to the verified nonce. */
  durationMs: number
}

/**
 * Runs the secio handshake on a connected (or connecting) socket. Resolves with
 * the encrypted stream; rejects with a {@link SecioError} whose `code` is stable
 * (and `phase` / `bytesReceived` set), after destroying the socket.
 */
export function handshake(socket: Duplex, opts: HandshakeOptions): Promise<HandshakeResult> {
  return new Handshake(socket, opts).promise
}

interface Config {
  agreements: string
  ciphers: string
  digests: string
  maxFrameLength: number
  timeoutMs: number
  /** The three propositions joined: the key of our cached Propose template. */
  proposeId: string
}

const DEFAULT_PROPOSITIONS = {
  agreements: DEFAULT_AGREEMENTS.join(','),
  ciphers: DEFAULT_CIPHERS.join(','),
  digests: DEFAULT_DIGESTS.join(','),
}
const DEFAULT_PROPOSE_ID = `${DEFAULT_PROPOSITIONS.agreements}|${DEFAULT_PROPOSITIONS.ciphers}|${DEFAULT_PROPOSITIONS.digests}`

function resolveConfig(opts: HandshakeOptions): Config {
  if (opts === null || typeof opts !== 'object' || opts.key === undefined) {
    throw new SecioError('SECIO_ERR_INVALID_OPTION', 'handshake options need a key (SecioKeyPair)', { field: 'key' })
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new SecioError('SECIO_ERR_INVALID_OPTION', `timeoutMs must be a positive number, got ${timeoutMs}`, {
      field: 'timeoutMs',
    })
  }
  const maxFrameLength = opts.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH
  if (!Number.isInteger(maxFrameLength) || maxFrameLength < 1024 || maxFrameLength > 0xffffffff) {
    throw new SecioError(
      'SECIO_ERR_INVALID_OPTION',
      `maxFrameLength must be an integer in [1024, 2^32-1], got ${maxFrameLength}`,
      { field: 'maxFrameLength' },
    )
  }
  // Checked now, not when the stream is built after the nonce echo.
  maxSendPlaintext(opts.maxSendFrameLength, maxFrameLength)
  if (opts.agreements === undefined && opts.ciphers === undefined && opts.digests === undefined) {
    // Written out, not spread: an object spread in a literal takes V8's slow path (~2 µs, profiled per handshake).
    return {
      agreements: DEFAULT_PROPOSITIONS.agreements,
      ciphers: DEFAULT_PROPOSITIONS.ciphers,
      digests: DEFAULT_PROPOSITIONS.digests,
      maxFrameLength,
      timeoutMs,
      proposeId: DEFAULT_PROPOSE_ID,
    }
  }
  const config = {
    agreements:
      opts.agreements === undefined
        ? DEFAULT_PROPOSITIONS.agreements
        : propositionString('agreement', opts.agreements, AGREEMENTS, DEFAULT_AGREEMENTS),
    ciphers:
      opts.ciphers === undefined
        ? DEFAULT_PROPOSITIONS.ciphers
        : propositionString('cipher', opts.ciphers, CIPHERS, DEFAULT_CIPHERS),
    digests:
      opts.digests === undefined
        ? DEFAULT_PROPOSITIONS.digests
        : propositionString('digest', opts.digests, DIGESTS, DEFAULT_DIGESTS),
    maxFrameLength,
    timeoutMs,
    proposeId: '',
  }
  config.proposeId = `${config.agreements}|${config.ciphers}|${config.digests}`
  return config
}

/**
 * Propose payloads differ only in the 16-byte nonce for a given key and
 * propositions; the encoded template is kept per key (§3.2). The nonce is the
 * first field, so it sits at a fixed offset: 4 (total size) + 4 × 5 (offsets) + 4 (its length).
 */
const PROPOSE_NONCE_OFFSET = 4 + 4 * 5 + 4
const proposeTemplates = new WeakMap<SecioKeyPair, Map<string, Uint8Array>>()

function encodePropose(key: SecioKeyPair, config: Config, nonce: Uint8Array): Uint8Array {
  if (nonce.length !== NONCE_SIZE) {
    return ProposeCodec.encode({
      rand: nonce,
      pubkey: encodePublicKey(key.publicKey),
      exchanges: config.agreements,
      ciphers: config.ciphers,
      hashes: config.digests,
    })
  }
  let perKey = proposeTemplates.get(key)
  if (perKey === undefined) proposeTemplates.set(key, (perKey = new Map()))
  const id = config.proposeId
  let template = perKey.get(id)
  if (template === undefined) {
    template = ProposeCodec.encode({
      rand: new Uint8Array(NONCE_SIZE),
      pubkey: encodePublicKey(key.publicKey),
      exchanges: config.agreements,
      ciphers: config.ciphers,
      hashes: config.digests,
    })
    if (perKey.size < 16) perKey.set(id, template)
  }
  const out = Buffer.allocUnsafe(template.length)
  out.set(template)
  out.set(nonce, PROPOSE_NONCE_OFFSET)
  return out
}

class Handshake {
  readonly promise: Promise<HandshakeResult>
  #resolve!: (r: HandshakeResult) => void
  #reject!: (e: SecioError) => void

  readonly #socket: Duplex
  readonly #opts: HandshakeOptions
  readonly #started = performance.now()
  #crypto!: CryptoProvider
  #config!: Config
  #decoder!: LengthDelimitedDecoder
  #timer: NodeJS.Timeout | undefined

  #phase: HandshakePhase = 'awaiting-propose'
  #settled = false
  /** An async crypto step is running; frames wait in the decoder (see {@link #setBusy}). */
  #busy = false
  /** The socket was paused because bytes came while busy. */
  #paused = false
  /** Our Propose is still to be sent, on the peer's first bytes (`waitForPeer`). */
  #proposePending = false
  #ended = false
  #bytesReceived = 0
  /** Counted in handshakesInProgress (from the start until #detach). */
  #counted = false

  /** Frames (each as its payload pieces) to write together at the end of this turn (#flush). */
  #out: (readonly Uint8Array[])[] = []

  // Handshake state (§3.12).
  #localNonce!: Uint8Array
  #localPropose!: Uint8Array
  #remotePropose!: Buffer
  #remoteNonce!: Uint8Array
  #remotePublicKey!: Uint8Array
  #remotePeerId!: PeerId
  #ordering: Ordering = 0
  #suite!: Suite
  #ephemeral!: EphemeralKey
  #decryptor!: Aead
  #encryptor!: Aead
  /** Plaintext received in the nonce phase: the echo, then possibly stream data. */
  #echo: Buffer[] = []
  #echoLength = 0

  // Bound methods, not arrow fields: run from source through tsx, esbuild's keepNames names an
  // arrow field at run time (~0.2 µs per function and handshake); a bound method is a plain allocation.
  readonly #onData = this.#handleData.bind(this)
  readonly #onEnd = this.#handleEnd.bind(this)
  readonly #onError = this.#handleError.bind(this)
  readonly #onClose = this.#handleClose.bind(this)
  /** Bound only when there is a signal to listen to. */
  #onAbort: (() => void) | undefined

  #handleData(chunk: Buffer): void {
    this.#bytesReceived += chunk.length
    this.#decoder.push(chunk)
    if (this.#proposePending) {
      this.#proposePending = false
      try {
        this.#sendPropose()
      } catch (err) {
        this.#fail(err)
        return
      }
    }
    if (this.#busy) {
      // Bytes while a crypto step runs: an honest peer sends nothing more before our
      // next message, so stop reading; the rest waits in the socket buffers (rule 5).
      if (!this.#paused) {
        this.#paused = true
        this.#socket.pause()
      }
      return
    }
    this.#pump()
  }

  #handleEnd(): void {
    this.#ended = true
    this.#pump()
  }

  #handleError(err: Error): void {
    this.#fail(new SecioError('SECIO_ERR_SOCKET', `socket error: ${err.message}`, { cause: err }))
  }

  #handleClose(): void {
    // After a clean EOF the frames already received may still finish the handshake
    // (an async crypto step may be running): #pump decides once it can.
    if (this.#ended) this.#pump()
    else this.#fail(new SecioError('SECIO_ERR_CONNECTION_CLOSED', 'connection closed during the handshake'))
  }

  /** The deadline's callback (a static function with the handshake as argument: no closure per handshake). */
  static #timedOut(this: void, hs: Handshake): void {
    hs.#timer = undefined
    hs.#fail(
      new SecioError(
        'SECIO_ERR_HANDSHAKE_TIMEOUT',
        `handshake timed out after ${hs.#config.timeoutMs} ms ${hs.#phase} (${hs.#bytesReceived} bytes received)`,
      ),
    )
  }

  #handleAbort(): void {
    this.#fail(new SecioError('SECIO_ERR_HANDSHAKE_ABORTED', 'handshake aborted', { cause: this.#opts.signal?.reason }))
  }

  constructor(socket: Duplex, opts: HandshakeOptions) {
    this.promise = new Promise<HandshakeResult>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.#socket = socket
    this.#opts = opts
    try {
      this.#config = resolveConfig(opts)
      this.#crypto = opts.crypto ?? nodeCryptoProvider
      this.#decoder = new LengthDelimitedDecoder(this.#config.maxFrameLength)
    } catch (err) {
      this.#fail(err)
      return
    }
    if (opts.signal?.aborted) {
      this.#handleAbort()
      return
    }
    if (socket.destroyed || socket.readableEnded) {
      this.#fail(new SecioError('SECIO_ERR_CONNECTION_CLOSED', 'socket is already closed'))
      return
    }
    handshakesInProgress++
    this.#counted = true
    this.#timer = setTimeout(Handshake.#timedOut, this.#config.timeoutMs, this)
    if (opts.signal !== undefined) {
      this.#onAbort = this.#handleAbort.bind(this)
      opts.signal.addEventListener('abort', this.#onAbort, { once: true })
    }
    socket.on('data', this.#onData)
    socket.on('end', this.#onEnd)
    socket.on('error', this.#onError)
    socket.on('close', this.#onClose)
    socket.resume()
    if (opts.waitForPeer === true) {
      this.#proposePending = true
      return
    }
    try {
      this.#sendPropose()
    } catch (err) {
      this.#fail(err)
      return
    }
    this.#flush()
  }

  // ------------------------------------------------------------------ plumbing

  /**
   * Queues one frame. Alone in the process it is written at once (latency: the peer
   * works on it while we compute the next); with other handshakes in progress
   * #flush writes what this turn queued in one write (CPU).
   */
  #send(pieces: readonly Uint8Array[]): void {
    this.#out.push(pieces)
    if (handshakesInProgress <= 1) this.#flush()
  }

  /** Writes the queued frames, length-prefixed (§2.2), in one socket write. */
  #flush(): void {
    const out = this.#out
    const n = out.length
    if (n === 0) return
    let total = 0
    for (let i = 0; i < n; i++) {
      total += 4
      for (const p of out[i]!) total += p.length
    }
    const buf = Buffer.allocUnsafe(total)
    let at = 0
    for (let i = 0; i < n; i++) {
      const start = at
      at += 4
      for (const p of out[i]!) {
        buf.set(p, at)
        at += p.length
      }
      buf.writeUInt32BE(at - start - 4, start)
    }
    out.length = 0
    this.#socket.write(buf)
  }

  #detach(): void {
    if (this.#counted) {
      this.#counted = false
      handshakesInProgress--
    }
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#onAbort !== undefined) this.#opts.signal?.removeEventListener('abort', this.#onAbort)
    const s = this.#socket
    s.off('data', this.#onData)
    s.off('end', this.#onEnd)
    s.off('error', this.#onError)
    s.off('close', this.#onClose)
  }

  #fail(cause: unknown): void {
    if (this.#settled) return
    this.#settled = true
    if (this.#decoder !== undefined) this.#detach()
    const mapped = fromCodecError(cause)
    const err =
      mapped instanceof SecioError
        ? mapped
        : new SecioError('SECIO_ERR_SOCKET', cause instanceof Error ? cause.message : String(cause), { cause })
    err.phase ??= this.#phase
    err.bytesReceived ??= this.#bytesReceived
    // What we had to say before the failure goes out as it would have unqueued.
    if (this.#out.length > 0 && !this.#socket.destroyed && this.#socket.writable) this.#flush()
    // A destroyed socket must not crash the process with a late 'error'.
    this.#socket.on('error', noop)
    this.#socket.destroy()
    this.#decoder?.reset()
    this.#reject(err)
  }

  #phaseDone(completed: HandshakePhase): void {
    const hook = this.#opts.onPhase
    if (hook === undefined) return
    try {
      hook(completed, performance.now() - this.#started)
    } catch {
      // A diagnostics hook must not break (or crash) the handshake.
    }
  }

  /**
   * While an async crypto step runs, frames wait in the decoder. The socket is
   * paused only if bytes arrive meanwhile (see #onData): an honest peer sends
   * nothing but its next message, so a flooding one fills the socket buffers,
   * not our memory (rule 5), and the usual case (a signature that settles in a
   * microtask, before any I/O) costs no pause/resume.
   */
  #setBusy(busy: boolean): void {
    this.#busy = busy
    if (!busy && this.#paused) {
      this.#paused = false
      this.#socket.resume()
    }
  }

  /** Takes frames while no async step runs, dispatching on the phase. */
  #pump(): void {
    if (this.#busy || this.#settled) return
    try {
      for (;;) {
        const frame = this.#decoder.next()
        if (frame === null) break
        switch (this.#phase) {
          case 'awaiting-propose':
            if (!this.#onPropose(frame)) return // continues after signing
            break
          case 'awaiting-exchange':
            if (!this.#onExchange(frame)) return // continues after verifying
            break
          case 'awaiting-nonce-echo':
            if (this.#onEchoFrame(frame)) return
            break
        }
      }
    } catch (err) {
      this.#fail(err)
      return
    }
    this.#flush()
    if (this.#ended) {
      this.#fail(new SecioError('SECIO_ERR_UNEXPECTED_EOF', `connection ended ${this.#phase}`))
    }
  }

  // ------------------------------------------------------------------ steps

  /** Step 1 (§3.2): nonce, Propose, sent before anything is read. */
  #sendPropose(): void {
    const nonce = this.#opts.testing?.nonce ?? this.#crypto.randomBytes(NONCE_SIZE)
    this.#localNonce = nonce
    this.#localPropose = encodePropose(this.#opts.key, this.#config, nonce)
    this.#send([this.#localPropose])
  }

  /** Step 2 and 3 (§3.6–§3.9). False while an async signature runs (it calls #pump when done). */
  #onPropose(frame: Buffer): boolean {
    // Keep the exact received bytes: they are signed (§3.2). The frame may be a view of a socket chunk.
    this.#remotePropose = Buffer.from(frame)
    let propose
    let remoteKey: Uint8Array
    try {
      propose = ProposeCodec.decode(this.#remotePropose)
      remoteKey = decodePublicKey(propose.pubkey)
    } catch (err) {
      if (isMoleculeError(err))
        throw new SecioError('SECIO_ERR_INVALID_PROPOSE', `malformed Propose: ${err.message}`, { cause: err })
      throw err
    }
    const local = this.#opts.key.publicKey
    if (compareBytes(remoteKey, local) === 0)
      throw new SecioError('SECIO_ERR_CONNECT_SELF', 'the peer has our own public key')
    if (!this.#crypto.isValidPublicKey(remoteKey)) {
      throw new SecioError(
        'SECIO_ERR_INVALID_PUBLIC_KEY',
        `the peer's public key is not a secp256k1 point (${remoteKey.length} bytes)`,
      )
    }
    this.#remotePublicKey = Uint8Array.from(remoteKey)
    this.#remotePeerId = PeerId.fromPublicKey(this.#remotePublicKey)
    const expected = this.#opts.expectedPeerId
    if (expected !== undefined && !expected.equals(this.#remotePeerId)) {
      throw new SecioError(
        'SECIO_ERR_PEER_ID_MISMATCH',
        `expected peer ${expected.toString()}, got ${this.#remotePeerId.toString()}`,
      )
    }
    this.#remoteNonce = propose.rand

    // §3.6: oh1 = SHA256(remote key ‖ local nonce), oh2 = SHA256(local key ‖ remote nonce).
    const oh1 = this.#crypto.sha256(this.#remotePublicKey, this.#localNonce)
    const oh2 = this.#crypto.sha256(local, this.#remoteNonce)
    this.#ordering = compareBytes(oh1, oh2)

    // §3.7, in the order Rust selects them.
    const agreement = selectBest(this.#ordering, this.#config.agreements, propose.exchanges, AGREEMENTS)
    if (agreement === undefined) throw noCommon('key agreement', this.#config.agreements, propose.exchanges)
    const cipher = selectBest(this.#ordering, this.#config.ciphers, propose.ciphers, CIPHERS)
    if (cipher === undefined) throw noCommon('cipher', this.#config.ciphers, propose.ciphers)
    const digest = selectBest(this.#ordering, this.#config.digests, propose.hashes, DIGESTS)
    if (digest === undefined) throw noCommon('digest', this.#config.digests, propose.hashes)
    this.#suite = { agreement, cipher, digest }

    // §3.8, §3.9: sign SHA-256(local Propose ‖ remote Propose ‖ local epubkey).
    this.#ephemeral = this.#crypto.generateEphemeral(agreement, this.#opts.testing?.ephemeralSecret)
    const toSign = Buffer.concat([this.#localPropose, this.#remotePropose, this.#ephemeral.publicKey])
    const signer: Signer = this.#opts.key.signer(this.#crypto)
    if (signer.signSync !== undefined) {
      let signature: Uint8Array
      try {
        signature = signer.signSync(toSign)
      } catch (err) {
        throw signingFailed(err)
      }
      this.#sendExchange(signature)
      return true
    }
    this.#flush()
    this.#setBusy(true)
    signer.sign(toSign).then(
      (signature) => {
        if (this.#settled) return
        this.#sendExchange(signature)
        this.#setBusy(false)
        this.#pump()
      },
      (err: unknown) => this.#fail(signingFailed(err)),
    )
    return false
  }

  #sendExchange(signature: Uint8Array): void {
    this.#send([encodeExchange(this.#ephemeral.publicKey, signature)])
    this.#phase = 'awaiting-exchange'
    this.#phaseDone('awaiting-propose')
  }

  /** Steps 4 and 5 (§3.9, §3.10). False while an async verification runs (it calls #pump when done). */
  #onExchange(frame: Buffer): boolean {
    let exchange
    try {
      exchange = ExchangeCodec.decode(frame)
    } catch (err) {
      if (isMoleculeError(err))
        throw new SecioError('SECIO_ERR_INVALID_EXCHANGE', `malformed Exchange: ${err.message}`, { cause: err })
      throw err
    }
    const epubkey = Uint8Array.from(exchange.epubkey)
    const expectedLength = EPHEMERAL_KEY_SIZE[this.#suite.agreement]
    if (epubkey.length !== expectedLength) {
      throw new SecioError(
        'SECIO_ERR_INVALID_EPHEMERAL_KEY',
        `${this.#suite.agreement} ephemeral key of ${epubkey.length} bytes, expected ${expectedLength}`,
      )
    }
    // Verify over SHA-256(remote Propose ‖ local Propose ‖ remote epubkey).
    const signed = Buffer.concat([this.#remotePropose, this.#localPropose, epubkey])
    const crypto = this.#crypto
    if (crypto.verifySync !== undefined) {
      if (!crypto.verifySync(this.#remotePublicKey, signed, exchange.signature))
        throw new SecioError('SECIO_ERR_SIGNATURE_INVALID', "the peer's Exchange signature does not verify")
      this.#deriveAndEcho(epubkey)
      this.#phaseDone('awaiting-exchange')
      return true
    }
    this.#flush()
    this.#setBusy(true)
    this.#crypto.verify(this.#remotePublicKey, signed, exchange.signature).then(
      (ok) => {
        if (this.#settled) return
        try {
          if (!ok) throw new SecioError('SECIO_ERR_SIGNATURE_INVALID', "the peer's Exchange signature does not verify")
          this.#deriveAndEcho(epubkey)
          this.#phaseDone('awaiting-exchange')
        } catch (err) {
          this.#fail(err)
          return
        }
        this.#setBusy(false)
        this.#pump()
      },
      (err: unknown) => this.#fail(err),
    )
    return false
  }

  /** Step 5 and the first half of step 6 (§3.10, §3.11). */
  #deriveAndEcho(remoteEphemeral: Uint8Array): void {
    const shared = this.#ephemeral.deriveSecret(remoteEphemeral)
    const { cipher, digest } = this.#suite
    const keys = deriveSessionKeys(this.#crypto, cipher, digest, shared, this.#ordering)
    this.#encryptor = this.#crypto.createAead(cipher, keys.localKey)
    this.#decryptor = this.#crypto.createAead(cipher, keys.remoteKey)
    // The peer's nonce, encrypted, as a frame of its own.
    const nonce = this.#remoteNonce
    this.#send(this.#encryptor.seal([nonce], nonce.length))
    this.#phase = 'awaiting-nonce-echo'
  }

  /** Second half of step 6: collect 16 plaintext bytes and compare. True when done. */
  #onEchoFrame(frame: Buffer): boolean {
    if (frame.length < AEAD_TAG_SIZE) {
      throw new SecioError(
        'SECIO_ERR_FRAME_TOO_SHORT',
        `encrypted frame of ${frame.length} bytes is shorter than the tag`,
      )
    }
    const plain = this.#decryptor.open(frame)
    if (plain.length === 0) return false
    this.#echo.push(Buffer.isBuffer(plain) ? plain : Buffer.from(plain.buffer, plain.byteOffset, plain.length))
    this.#echoLength += plain.length
    if (this.#echoLength < this.#localNonce.length) return false
    const all = this.#echo.length === 1 ? this.#echo[0]! : Buffer.concat(this.#echo)
    const n = this.#localNonce.length
    if (compareBytes(all.subarray(0, n), this.#localNonce) !== 0) {
      throw new SecioError('SECIO_ERR_NONCE_MISMATCH', 'the peer did not echo our nonce')
    }
    this.#finish(all.length > n ? [all.subarray(n)] : [])
    return true
  }

  #finish(initialPlaintext: Buffer[]): void {
    // Our echo goes out before anything the stream writes.
    this.#flush()
    this.#detach()
    // Settled only once the stream exists: if building it throws, #fail still destroys the socket and rejects.
    const stream = new SecureStream(
      {
        socket: this.#socket,
        encryptor: this.#encryptor,
        decryptor: this.#decryptor,
        decoder: this.#decoder,
        initialPlaintext,
        remotePeerId: this.#remotePeerId,
        remotePublicKey: this.#remotePublicKey,
        suite: this.#suite,
      },
      {
        maxFrameLength: this.#config.maxFrameLength,
        maxSendFrameLength: this.#opts.maxSendFrameLength,
        autoCork: this.#opts.autoCork,
        allowHalfOpen: this.#opts.allowHalfOpen,
        writableHighWaterMark: this.#opts.writableHighWaterMark,
        readableHighWaterMark: this.#opts.readableHighWaterMark,
      },
    )
    this.#settled = true
    this.#phaseDone('awaiting-nonce-echo')
    this.#resolve({
      stream,
      remotePublicKey: this.#remotePublicKey,
      remotePeerId: this.#remotePeerId,
      suite: this.#suite,
      durationMs: performance.now() - this.#started,
    })
  }
}

function signingFailed(err: unknown): SecioError {
  return new SecioError('SECIO_ERR_SIGNING_FAILED', `signing failed: ${String(err)}`, { cause: err })
}

function noCommon(kind: string, ours: string, theirs: string): SecioError {
  return new SecioError('SECIO_ERR_NO_COMMON_SUITE', `no common ${kind}: ours "${ours}", theirs "${theirs}"`)
}

function noop(): void {}
