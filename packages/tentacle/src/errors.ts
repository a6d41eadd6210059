/**
 * Errors of the tentacle service layer. Callers branch on `code`, never on
 * the message text.
 */

/** Every code a {@link TentacleError} can carry; {@link TentacleErrorCode} is its union. */
export const TENTACLE_ERROR_CODES = [
  /** The service is closed or closing; the call was not carried out. §12.3 BrokenPipe */
  'TENTACLE_ERR_SERVICE_CLOSED',
  /** A multiaddr could not be parsed, or its /p2p/ id is not a peer id. */
  'TENTACLE_ERR_INVALID_MULTIADDR',
  /** A multiaddr no transport here handles (only TCP is supported). */
  'TENTACLE_ERR_UNSUPPORTED_MULTIADDR',
  /** TCP connect failed (refused, unreachable, DNS, timed out). §12.2 TransportError */
  'TENTACLE_ERR_DIAL_FAILED',
  /** Binding a listener failed. */
  'TENTACLE_ERR_LISTEN_FAILED',
  /** Connect + secio + yamux did not finish within the handshake deadline. §3.14 */
  'TENTACLE_ERR_HANDSHAKE_TIMEOUT',
  /** The secio handshake failed otherwise; `cause` is the SecioError. */
  'TENTACLE_ERR_HANDSHAKE_FAILED',
  /** The remote key does not match the /p2p/ id of the dialed address. §5.2 */
  'TENTACLE_ERR_PEER_ID_MISMATCH',
  /** The handshake found our own key on the other side: we dialed ourselves. §3.3, §3.13 */
  'TENTACLE_ERR_CONNECT_SELF',
  /** A /p2p/ address dialed by a service without a key, which cannot verify the id. */
  'TENTACLE_ERR_UNVERIFIABLE_PEER_ID',
  /** A session with the same remote public key already exists. §12.2 RepeatedConnection */
  'TENTACLE_ERR_REPEATED_CONNECTION',
  /** The address is already being dialed. §5.2 */
  'TENTACLE_ERR_ALREADY_DIALING',
  /** Over max connections (sessions + handshakes + dials). §12.4 */
  'TENTACLE_ERR_TOO_MANY_CONNECTIONS',
  /** Over max concurrent handshakes (an inbound socket's rejection reason). */
  'TENTACLE_ERR_TOO_MANY_HANDSHAKES',
  /** Protocol selection failed on a stream. §9.4 */
  'TENTACLE_ERR_PROTOCOL_SELECT',
  /** A selection reply named a protocol we never asked for (malicious server). §9.2 */
  'TENTACLE_ERR_PROTOCOL_SELECT_UNKNOWN_NAME',
  /** A protocol stream's codec failed (frame over the protocol's max, ...). §10.1 */
  'TENTACLE_ERR_PROTOCOL_CODEC',
  /** A protocol handler threw or rejected. §12.2 ProtocolHandleError */
  'TENTACLE_ERR_PROTOCOL_HANDLER',
  /** No protocol was open `timeout` after the session started. §12.2 SessionTimeout */
  'TENTACLE_ERR_SESSION_TIMEOUT',
  /** The multiplexer failed (invalid frame, keepalive timeout, ...); `cause` is the YamuxError. §12.2 MuxerError */
  'TENTACLE_ERR_MUXER',
  /** In `session-close`: the connection ended or failed under the session (EOF, reset, cut inside a frame); `cause` has the lower error. */
  'TENTACLE_ERR_CONNECTION_LOST',
  /** Unsent bytes of a session passed `sendBufferSize`. §12.2 SessionBlocked */
  'TENTACLE_ERR_SESSION_BLOCKED',
  /** A message exceeded the protocol's max frame length on send. */
  'TENTACLE_ERR_MESSAGE_TOO_LARGE',
  /** Invalid builder or config input; `field` names the setting. */
  'TENTACLE_ERR_INVALID_OPTION',
] as const

/** Every code a {@link TentacleError} can carry. */
export type TentacleErrorCode = (typeof TENTACLE_ERROR_CODES)[number]

/** Options of a {@link TentacleError}. */
export interface TentacleErrorOptions {
  cause?: unknown
  /** For handshake errors: the phase the upgrade was stuck in (rule 3). */
  phase?: string
  /** For handshake errors: bytes received from the peer before the failure. */
  bytesReceived?: number
  /** For TENTACLE_ERR_INVALID_OPTION: the setting at fault (`timeoutMs`, `yamux.maxQueuedBytes`, `secio.ciphers[0]`). */
  field?: string
}

/**
 * Marks a TentacleError made by any installed copy of this package: `Symbol.for` is
 * shared by the whole process, so isTentacleError() holds for an error from a second
 * copy (two versions in node_modules), where `instanceof` would not.
 */
const TENTACLEERROR_BRAND = Symbol.for('@tentacle-ts/tentacle:TentacleError')

function hasTentacleErrorBrand(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[TENTACLEERROR_BRAND] === true
}

/** Error of the tentacle service, with a stable `code`. */
export class TentacleError extends Error {
  readonly code: TentacleErrorCode
  /** For handshake errors: 'connecting', or secio's 'awaiting-propose' | 'awaiting-exchange' | 'awaiting-nonce-echo'. */
  readonly phase?: string
  readonly bytesReceived?: number
  /** For TENTACLE_ERR_INVALID_OPTION: the setting at fault. */
  readonly field?: string
  constructor(code: TentacleErrorCode, message: string, options?: TentacleErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TentacleError'
    this.code = code
    Object.defineProperty(this, TENTACLEERROR_BRAND, { value: true })
    if (options?.phase !== undefined) this.phase = options.phase
    if (options?.bytesReceived !== undefined) this.bytesReceived = options.bytesReceived
    if (options?.field !== undefined) this.field = options.field
  }
}

/**
 * A TentacleError without a captured stack. For errors made per hostile
 * connection (the incident, slowloris: thousands a second), where the stack
 * would only show the event-loop callback that noticed the failure.
 */
export function stacklessError(
  code: TentacleErrorCode,
  message: string,
  options?: TentacleErrorOptions,
): TentacleError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new TentacleError(code, message, options)
  } finally {
    Error.stackTraceLimit = limit
  }
}

/** The `code` of any error-like value, or undefined. */
export function errorCode(err: unknown): string | undefined {
  if (err !== null && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code
    return typeof code === 'string' ? code : undefined
  }
  return undefined
}

/** True when `err` is a {@link TentacleError} (from any installed copy), optionally with the given code. */
export function isTentacleError(err: unknown, code?: TentacleErrorCode): err is TentacleError {
  return hasTentacleErrorBrand(err) && (code === undefined || (err as TentacleError).code === code)
}
