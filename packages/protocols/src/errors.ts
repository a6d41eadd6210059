/**
 * The one error family of this package. Callers branch on `code`, never on the
 * message text. The codes are stable; the package README lists them.
 */

/** Every code a {@link ProtocolsError} can carry. */
export type ProtocolsErrorCode =
  /** A ping, identify, discovery or Identify-blob message that does not decode (molecule, flags, bool). */
  | 'ERR_MALFORMED_MESSAGE'
  /** A binary multiaddr (§5.3) that does not decode: unknown protocol code, bad varint, short payload, bad peer id, bad UTF-8. */
  | 'ERR_INVALID_MULTIADDR'
  /** An option out of range, an unknown preset, a bootnode without a /p2p/ id. */
  | 'ERR_INVALID_OPTION'
  /** The address book file cannot be read or written. */
  | 'ERR_ADDRESS_BOOK_FILE'

/** Error raised by this package; `code` is stable. */
export class ProtocolsError extends Error {
  override readonly name = 'ProtocolsError'
  readonly code: ProtocolsErrorCode

  constructor(code: ProtocolsErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
  }
}

/** True when `err` is a {@link ProtocolsError}, optionally with the given code. */
export function isProtocolsError(err: unknown, code?: ProtocolsErrorCode): err is ProtocolsError {
  return err instanceof ProtocolsError && (code === undefined || err.code === code)
}
