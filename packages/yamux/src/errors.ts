/**
 * Stable error codes of the yamux family. Callers branch on `code`, never on
 * the message text.
 */
export type YamuxErrorCode =
  /** The stream was reset (RST received, or reset locally). §8.3 */
  | 'ERR_STREAM_RESET'
  /** The stream's write side is already closed (FIN sent). */
  | 'ERR_STREAM_CLOSED'
  /** The session is over (closed, destroyed, or failed); see `cause`. */
  | 'ERR_SESSION_CLOSED'
  /** The remote sent GoAway with a non-zero code, or refused a new stream after GoAway. §8.6 */
  | 'ERR_GO_AWAY'
  /** An unanswered keepalive ping grew older than `pingTimeoutMs`. §8.5 */
  | 'ERR_KEEPALIVE_TIMEOUT'
  /** The connection refused our writes for longer than `connectionWriteTimeoutMs`. */
  | 'ERR_WRITE_TIMEOUT'
  /** The peer sent more data than the receive window it was granted. §8.4 */
  | 'ERR_RECV_WINDOW_EXCEEDED'
  /** A frame header carried a version other than 0. §8.1 */
  | 'ERR_INVALID_VERSION'
  /** A frame header carried a type other than 0..3. §8.1 */
  | 'ERR_INVALID_TYPE'
  /** A Data frame longer than `maxStreamWindowSize`. §8.1 */
  | 'ERR_FRAME_TOO_LARGE'
  /** No stream ids left to issue. §8.2 */
  | 'ERR_STREAMS_EXHAUSTED'
  /** The peer opened a stream id that is already open. §8.2 */
  | 'ERR_DUPLICATE_STREAM'
  /** A WindowUpdate overflowed the 32-bit send window. §8.4 */
  | 'ERR_WINDOW_OVERFLOW'
  /** The underlying connection ended or failed without a GoAway. */
  | 'ERR_CONNECTION_CLOSED'
  /** A configuration value is out of range. */
  | 'ERR_INVALID_CONFIG'

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
  /** For ERR_GO_AWAY: the GoAway code the remote sent (0 normal, 1 protocol error, 2 internal error). */
  readonly goAwayCode?: number

  constructor(code: YamuxErrorCode, message: string, options?: { cause?: unknown; goAwayCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'YamuxError'
    this.code = code
    Object.defineProperty(this, YAMUXERROR_BRAND, { value: true })
    if (options?.goAwayCode !== undefined) this.goAwayCode = options.goAwayCode
  }
}

/** True when `err` is a {@link YamuxError} (from any installed copy), optionally with the given code. */
export function isYamuxError(err: unknown, code?: YamuxErrorCode): err is YamuxError {
  return hasYamuxErrorBrand(err) && (code === undefined || (err as YamuxError).code === code)
}
