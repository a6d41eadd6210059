/**
 * The one error family of this package. Callers branch on `code`, never on the
 * message text. The codes are stable; docs/errors.md lists them.
 */

/** Every code a {@link ProtocolsError} can carry; {@link ProtocolsErrorCode} is its union. */
export const PROTOCOLS_ERROR_CODES = [
  /** A ping, identify, discovery, disconnect or Identify-blob message that does not decode (molecule, flags, bool, UTF-8). */
  'PROTOCOLS_ERR_MALFORMED_MESSAGE',
  /** A binary multiaddr (§5.3) that does not decode: unknown protocol code, bad varint, short payload, bad peer id, bad UTF-8. */
  'PROTOCOLS_ERR_INVALID_MULTIADDR',
  /** An option out of range, an unknown preset, a bootnode without a /p2p/ id; `field` names it. */
  'PROTOCOLS_ERR_INVALID_OPTION',
  /** The address book file cannot be read or written. */
  'PROTOCOLS_ERR_ADDRESS_BOOK_FILE',
] as const

/** Every code a {@link ProtocolsError} can carry. */
export type ProtocolsErrorCode = (typeof PROTOCOLS_ERROR_CODES)[number]

/** Options of a {@link ProtocolsError}. */
export interface ProtocolsErrorOptions {
  cause?: unknown
  /** For `PROTOCOLS_ERR_INVALID_OPTION`: the option at fault (e.g. `networkName`, `bootnodes[0]`). */
  field?: string
}

/**
 * Marks a ProtocolsError made by any installed copy of this package: `Symbol.for` is
 * shared by the whole process, so isProtocolsError() holds for an error from a second
 * copy (two versions in node_modules), where `instanceof` would not.
 */
const PROTOCOLSERROR_BRAND = Symbol.for('@tentacle-ts/protocols:ProtocolsError')

function hasProtocolsErrorBrand(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[PROTOCOLSERROR_BRAND] === true
}

/** Error raised by this package; `code` is stable. */
export class ProtocolsError extends Error {
  override readonly name = 'ProtocolsError'
  readonly code: ProtocolsErrorCode
  /** For `PROTOCOLS_ERR_INVALID_OPTION`: the option at fault. */
  readonly field?: string

  constructor(code: ProtocolsErrorCode, message: string, opts?: ProtocolsErrorOptions) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    Object.defineProperty(this, PROTOCOLSERROR_BRAND, { value: true })
    if (opts?.field !== undefined) this.field = opts.field
  }
}

/** True when `err` is a {@link ProtocolsError} (from any installed copy), optionally with the given code. */
export function isProtocolsError(err: unknown, code?: ProtocolsErrorCode): err is ProtocolsError {
  return hasProtocolsErrorBrand(err) && (code === undefined || (err as ProtocolsError).code === code)
}
