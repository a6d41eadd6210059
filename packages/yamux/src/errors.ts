/**
 * Stable error codes of the yamux family. Callers branch on `code`, never on
 * the message text.
 */

/** Every code a {@link YamuxError} can carry; {@link YamuxErrorCode} is its union. */
export const YAMUX_ERROR_CODES = [
  /** The stream was reset (RST received, or reset locally). §8.3 */
  'YAMUX_ERR_STREAM_RESET',
  /** The stream's write side is already closed (FIN sent). */
  'YAMUX_ERR_STREAM_CLOSED',
  /** The session is over (closed, destroyed, or failed); see `cause`. */
  'YAMUX_ERR_SESSION_CLOSED',
  /** The remote sent GoAway with a non-zero code, or refused a new stream after GoAway. §8.6 */
  'YAMUX_ERR_GO_AWAY',
  /** An unanswered keepalive ping grew older than `pingTimeoutMs`. §8.5 */
  'YAMUX_ERR_KEEPALIVE_TIMEOUT',
  /** The connection refused our writes for longer than `connectionWriteTimeoutMs`. */
  'YAMUX_ERR_WRITE_TIMEOUT',
  /** The peer sent more data than the receive window it was granted. §8.4 */
  'YAMUX_ERR_RECV_WINDOW_EXCEEDED',
  /** A frame header carried a version other than 0. §8.1 */
  'YAMUX_ERR_INVALID_VERSION',
  /** A frame header carried a type other than 0..3. §8.1 */
  'YAMUX_ERR_INVALID_TYPE',
  /** A Data frame longer than `maxStreamWindowSize`. §8.1 */
  'YAMUX_ERR_FRAME_TOO_LARGE',
  /** No stream ids left to issue. §8.2 */
  'YAMUX_ERR_STREAMS_EXHAUSTED',
  /** The peer opened a stream id that is already open. §8.2 */
  'YAMUX_ERR_DUPLICATE_STREAM',
  /** A WindowUpdate overflowed the 32-bit send window. §8.4 */
  'YAMUX_ERR_WINDOW_OVERFLOW',
  /** The underlying connection ended or failed without a GoAway. */
  'YAMUX_ERR_CONNECTION_CLOSED',
  /** A configuration value is out of range; `field` names it. */
  'YAMUX_ERR_INVALID_OPTION',
] as const

/** Every code a {@link YamuxError} can carry. */
export type YamuxErrorCode = (typeof YAMUX_ERROR_CODES)[number]

/** Options of a {@link YamuxError}. */
export interface YamuxErrorOptions {
  cause?: unknown
  /** For `YAMUX_ERR_GO_AWAY`: the GoAway code the remote sent. */
  goAwayCode?: number
  /** For `YAMUX_ERR_INVALID_OPTION`: the option at fault (e.g. `maxStreamWindowSize`). */
  field?: string
}

/**
 * Marks a YamuxError made by any installed copy of this package: `Symbol.for` is
 * shared by the whole process, so isYamuxError() holds for an error from a second
 * copy (two versions in node_modules), where `instanceof` would not.
 */
const YAMUXERROR_BRAND = Symbol.for('@tentacle-ts/yamux:YamuxError')

function hasYamuxErrorBrand(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[YAMUXERROR_BRAND] === true
}

/** Error of the yamux family, with a stable `code`. */
export class YamuxError extends Error {
  readonly code: YamuxErrorCode
  /** For YAMUX_ERR_GO_AWAY: the GoAway code the remote sent (0 normal, 1 protocol error, 2 internal error). */
  readonly goAwayCode?: number
  /** For YAMUX_ERR_INVALID_OPTION: the option at fault. */
  readonly field?: string

  constructor(code: YamuxErrorCode, message: string, options?: YamuxErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'YamuxError'
    this.code = code
    Object.defineProperty(this, YAMUXERROR_BRAND, { value: true })
    if (options?.goAwayCode !== undefined) this.goAwayCode = options.goAwayCode
    if (options?.field !== undefined) this.field = options.field
  }
}

/** True when `err` is a {@link YamuxError} (from any installed copy), optionally with the given code. */
export function isYamuxError(err: unknown, code?: YamuxErrorCode): err is YamuxError {
  return hasYamuxErrorBrand(err) && (code === undefined || (err as YamuxError).code === code)
}
