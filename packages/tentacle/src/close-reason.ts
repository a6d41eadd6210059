import type { LengthDelimitedDecoder } from '@tentacle-ts/codec'
import { isSecioError } from '@tentacle-ts/secio'
import type { Session as MuxSession } from '@tentacle-ts/yamux'
import { TentacleError } from './errors.js'
import type { SessionCloseReason } from './types.js'

/** Why a session ended, and the error behind it (none for the clean ends). */
export interface SessionEnd {
  reason: SessionCloseReason
  error?: TentacleError
  /** Whole messages discarded because they arrived after this side closed their protocol. */
  droppedMessages?: number
}

/** secio failures that mean the peer sent bytes that are not a valid secure stream (§3.12). */
const SECIO_PROTOCOL_ERRORS: ReadonlySet<string> = new Set([
  'SECIO_ERR_DECRYPT_FAILED',
  'SECIO_ERR_FRAME_TOO_SHORT',
  'SECIO_ERR_FRAME_TOO_LARGE',
])

/**
 * True when a closed protocol's decoder holds part of a message (§10.1). A
 * protocol ended by the connection has handed its whole messages to the
 * handler already (ProtocolStream.connectionEnded); any whole message still
 * here is taken out first all the same: it is not a cut message.
 */
export function holdsPartialFrame(decoder: LengthDelimitedDecoder): boolean {
  try {
    while (decoder.next() !== null);
  } catch {
    return false // over the max, or failed before: a codec error, reported as such
  }
  return decoder.hasPartialFrame
}

/** The error and its causes, outermost first (bounded: a cause cycle must not hang). */
function causes(err: unknown): unknown[] {
  const out: unknown[] = []
  for (let e = err; e !== undefined && e !== null && out.length < 8; e = (e as { cause?: unknown }).cause) {
    out.push(e)
  }
  return out
}

/** An OS error code (ECONNRESET, EPIPE, ETIMEDOUT, ...) somewhere in the chain. */
function errnoOf(chain: unknown[]): string | undefined {
  for (const e of chain) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code
  }
  return undefined
}

function lost(reason: SessionCloseReason, message: string, cause: unknown): SessionEnd {
  return { reason, error: new TentacleError('TENTACLE_ERR_CONNECTION_LOST', message, { cause }) }
}

/**
 * Why the session ended, when this side did not end it: read from how its
 * yamux session ended (§8.6) and the connection below it. `truncated` is true
 * when a protocol of the session held part of a message (§10.1) as the
 * connection went: a peer that died (or was cut off) in the middle of a send.
 */
export function remoteEnd(mux: MuxSession, truncated: boolean): SessionEnd {
  switch (mux.endReason) {
    case 'remote-go-away':
      return { reason: 'remote-close' }
    case 'local-close':
      return { reason: 'local-close' }
    case 'destroyed':
      return { reason: 'local-shutdown' }
    default:
      break
  }
  const err = mux.error
  const muxer = (reason: SessionCloseReason): SessionEnd => ({
    reason,
    error: new TentacleError('TENTACLE_ERR_MUXER', err?.message ?? 'the multiplexer failed', { cause: err }),
  })
  switch (err?.code) {
    case 'YAMUX_ERR_GO_AWAY':
      return muxer('remote-error')
    case 'YAMUX_ERR_KEEPALIVE_TIMEOUT':
      return muxer('keepalive-timeout')
    case 'YAMUX_ERR_WRITE_TIMEOUT':
      return muxer('write-timeout')
    case undefined:
    case 'YAMUX_ERR_CONNECTION_CLOSED':
    case 'YAMUX_ERR_SESSION_CLOSED':
      break
    default:
      // The peer broke yamux (§8): bad header, window overrun, duplicate stream, ...
      return muxer('protocol-error')
  }
  const chain = causes(err)
  const secio = chain.find((e) => isSecioError(e))
  if (secio !== undefined && isSecioError(secio)) {
    if (secio.code === 'SECIO_ERR_UNEXPECTED_EOF') return lost('truncated', secio.message, err)
    if (SECIO_PROTOCOL_ERRORS.has(secio.code)) return lost('protocol-error', secio.message, err)
  }
  if (truncated) return lost('truncated', 'the connection ended inside a protocol message', err)
  const errno = errnoOf(chain)
  if (errno !== undefined) return lost('connection-reset', `the connection failed: ${errno}`, err)
  return lost('connection-eof', 'the connection ended without GoAway', err)
}
