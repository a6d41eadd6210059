import { isCodecError } from '@tentacle-ts/codec'

/**
 * The one error family of this package. Callers branch on `code`, never on the
 * message text. The codes are stable; the package README lists them.
 */

/** Where a handshake was when it failed (§3.12 steps 2, 4 and 6). */
export type HandshakePhase = 'awaiting-propose' | 'awaiting-exchange' | 'awaiting-nonce-echo'

/** Every code a {@link SecioError} can carry. */
export type SecioErrorCode =
  // handshake (§3)
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_HANDSHAKE_ABORTED'
  | 'ERR_UNEXPECTED_EOF'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_SOCKET'
  | 'ERR_INVALID_PROPOSE'
  | 'ERR_INVALID_EXCHANGE'
  | 'ERR_INVALID_PUBLIC_KEY'
  | 'ERR_CONNECT_SELF'
  | 'ERR_PEER_ID_MISMATCH'
  | 'ERR_NO_COMMON_SUITE'
  | 'ERR_INVALID_EPHEMERAL_KEY'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_EQUAL_ORDERING'
  | 'ERR_NONCE_MISMATCH'
  // framing and encrypted stream (§2, §4)
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_FRAME_TOO_SHORT'
  | 'ERR_DECRYPT_FAILED'
  // keys, peer ids, configuration
  | 'ERR_INVALID_SECRET_KEY'
  | 'ERR_INVALID_KEY_FILE'
  | 'ERR_INVALID_PEER_ID'
  | 'ERR_INVALID_OPTION'
  | 'ERR_UNSUPPORTED'
  | 'ERR_SIGNING_FAILED'

export interface SecioErrorOptions {
  cause?: unknown
  phase?: HandshakePhase
  bytesReceived?: number
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

  constructor(code: SecioErrorCode, message: string, opts: SecioErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    Object.defineProperty(this, SECIOERROR_BRAND, { value: true })
    if (opts.phase !== undefined) this.phase = opts.phase
    if (opts.bytesReceived !== undefined) this.bytesReceived = opts.bytesReceived
  }
}

/** True when `err` is a {@link SecioError} (from any installed copy), optionally with the given code. */
export function isSecioError(err: unknown, code?: SecioErrorCode): err is SecioError {
  return hasSecioErrorBrand(err) && (code === undefined || (err as SecioError).code === code)
}

/**
 * Framing errors from `@tentacle-ts/codec` surface as the SecioError codes
 * secio users have always seen (`ERR_FRAME_TOO_LARGE`, `ERR_INVALID_OPTION`),
 * the CodecError kept as `cause`. Anything else is returned unchanged.
 */
export function fromCodecError(err: unknown): unknown {
  if (isCodecError(err) && (err.code === 'ERR_FRAME_TOO_LARGE' || err.code === 'ERR_INVALID_OPTION')) {
    return new SecioError(err.code, err.message, { cause: err })
  }
  return err
}
