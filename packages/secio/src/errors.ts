import { isCodecError, type CodecError, type CodecErrorCode } from '@tentacle-ts/codec'

/**
 * The one error family of this package. Callers branch on `code`, never on the
 * message text. The codes are stable; the package README lists them.
 */

/** Where a handshake was when it failed (§3.12 steps 2, 4 and 6). */
export type HandshakePhase = 'awaiting-propose' | 'awaiting-exchange' | 'awaiting-nonce-echo'

/** Every code a {@link SecioError} can carry; {@link SecioErrorCode} is its union. */
export const SECIO_ERROR_CODES = [
  // handshake (§3)
  /** The handshake deadline (`timeoutMs`, §3.14) passed; `phase` says where it stuck. */
  'SECIO_ERR_HANDSHAKE_TIMEOUT',
  /** The caller's `AbortSignal` fired. */
  'SECIO_ERR_HANDSHAKE_ABORTED',
  /** The peer ended the connection mid-handshake, or inside an encrypted frame. */
  'SECIO_ERR_UNEXPECTED_EOF',
  /** The socket closed (or was closed already); a write pending when it closed fails with it. */
  'SECIO_ERR_CONNECTION_CLOSED',
  /** A socket error during the handshake (`cause` holds it). */
  'SECIO_ERR_SOCKET',
  /** The peer's Propose is not valid molecule or UTF-8, or its PublicKey union is unknown (§3.1–§3.3). */
  'SECIO_ERR_INVALID_PROPOSE',
  /** The peer's Exchange is not valid molecule. */
  'SECIO_ERR_INVALID_EXCHANGE',
  /** The peer's identity key is not a secp256k1 point. */
  'SECIO_ERR_INVALID_PUBLIC_KEY',
  /** The peer has our own key (§3.3). */
  'SECIO_ERR_CONNECT_SELF',
  /** The peer is not the `expectedPeerId` (§5.2). */
  'SECIO_ERR_PEER_ID_MISMATCH',
  /** No common agreement, cipher or digest (§3.7). */
  'SECIO_ERR_NO_COMMON_SUITE',
  /** An ephemeral key of the wrong length, not on the curve, or an all-zero X25519 result (§3.8). */
  'SECIO_ERR_INVALID_EPHEMERAL_KEY',
  /** The Exchange signature does not verify, is not strict DER, or has a high S (§3.9). */
  'SECIO_ERR_SIGNATURE_INVALID',
  /** Both ordering hashes are equal (§3.10). */
  'SECIO_ERR_EQUAL_ORDERING',
  /** The peer did not echo our nonce (§3.11). */
  'SECIO_ERR_NONCE_MISMATCH',
  /** Signing our Exchange failed (the provider's error is the `cause`). */
  'SECIO_ERR_SIGNING_FAILED',
  // framing and encrypted stream (§2, §4)
  /** A frame announced more than `maxFrameLength` (§2.2); the codec's error is the `cause`. */
  'SECIO_ERR_FRAME_TOO_LARGE',
  /** An encrypted frame shorter than its 16-byte tag (§4.2). */
  'SECIO_ERR_FRAME_TOO_SHORT',
  /** A frame does not authenticate: tampered, replayed, wrong key. */
  'SECIO_ERR_DECRYPT_FAILED',
  // keys, peer ids, configuration
  /** A secret that is not a secp256k1 scalar in [1, n−1]. */
  'SECIO_ERR_INVALID_SECRET_KEY',
  /** A key file cannot be read (the fs error is the `cause`) or holds no valid secret. */
  'SECIO_ERR_INVALID_KEY_FILE',
  /** A PeerId that is not Base58, not sha2-256, or the wrong length (§5.1). */
  'SECIO_ERR_INVALID_PEER_ID',
  /** A bad handshake or stream option; `field` names it. */
  'SECIO_ERR_INVALID_OPTION',
  /** A requested crypto backend is missing, or an ephemeral key is used twice. */
  'SECIO_ERR_UNSUPPORTED',
] as const

/** Every code a {@link SecioError} can carry. */
export type SecioErrorCode = (typeof SECIO_ERROR_CODES)[number]

/** Options of a {@link SecioError}. */
export interface SecioErrorOptions {
  cause?: unknown
  phase?: HandshakePhase
  bytesReceived?: number
  /** For `SECIO_ERR_INVALID_OPTION`: the option at fault (e.g. `ciphers[0]`, `timeoutMs`). */
  field?: string
}

/**
 * Marks a SecioError made by any installed copy of this package: `Symbol.for` is
 * shared by the whole process, so isSecioError() holds for an error from a second
 * copy (two versions in node_modules), where `instanceof` would not.
 */
const SECIOERROR_BRAND = Symbol.for('@tentacle-ts/secio:SecioError')

function hasSecioErrorBrand(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[SECIOERROR_BRAND] === true
}

/** Error raised by the secio layer; `code` is stable. */
export class SecioError extends Error {
  override readonly name = 'SecioError'
  readonly code: SecioErrorCode
  /** The handshake step in progress when it failed (handshake errors only). */
  phase?: HandshakePhase
  /** Bytes received from the socket when the handshake failed (handshake errors only). */
  bytesReceived?: number
  /** For `SECIO_ERR_INVALID_OPTION`: the option at fault. */
  readonly field?: string

  constructor(code: SecioErrorCode, message: string, opts: SecioErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    Object.defineProperty(this, SECIOERROR_BRAND, { value: true })
    if (opts.phase !== undefined) this.phase = opts.phase
    if (opts.bytesReceived !== undefined) this.bytesReceived = opts.bytesReceived
    if (opts.field !== undefined) this.field = opts.field
  }
}

/** True when `err` is a {@link SecioError} (from any installed copy), optionally with the given code. */
export function isSecioError(err: unknown, code?: SecioErrorCode): err is SecioError {
  return hasSecioErrorBrand(err) && (code === undefined || (err as SecioError).code === code)
}

/** The codec errors secio re-raises under its own code. */
const FROM_CODEC: ReadonlyMap<CodecErrorCode, SecioErrorCode> = new Map([
  ['CODEC_ERR_FRAME_TOO_LARGE', 'SECIO_ERR_FRAME_TOO_LARGE'],
  ['CODEC_ERR_INVALID_OPTION', 'SECIO_ERR_INVALID_OPTION'],
])

/**
 * Framing errors from `@tentacle-ts/codec` surface under secio's own codes
 * (`CODEC_ERR_FRAME_TOO_LARGE` as `SECIO_ERR_FRAME_TOO_LARGE`,
 * `CODEC_ERR_INVALID_OPTION` as `SECIO_ERR_INVALID_OPTION`), the CodecError
 * kept as `cause` (and its `field`). Anything else is returned unchanged.
 */
export function fromCodecError(err: unknown): unknown {
  const code = isCodecError(err) ? FROM_CODEC.get(err.code) : undefined
  if (code === undefined) return err
  const e = err as CodecError
  return new SecioError(code, e.message, { cause: e, ...(e.field !== undefined ? { field: e.field } : {}) })
}
