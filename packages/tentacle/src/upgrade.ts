import type { Duplex } from 'node:stream'
import type net from 'node:net'
import { handshake, isSecioError, type PeerId, type SecioKeyPair } from '@tentacle-ts/secio'
import { Session as MuxSession } from '@tentacle-ts/yamux'
import { TentacleError } from './errors.js'
import type { ServiceConfig } from './config.js'
import type { Direction } from './types.js'

export interface Upgraded {
  mux: MuxSession
  remotePublicKey?: Uint8Array
  remotePeerId?: string
  suite?: { agreement: string; cipher: string; digest: string }
}

export interface UpgradeOptions {
  direction: Direction
  /** Our identity; undefined runs plaintext yamux directly on TCP (tentacle's Noop handshake, §1). */
  key: SecioKeyPair | undefined
  config: ServiceConfig
  /** Milliseconds left of the handshake deadline (§3.14). */
  timeoutMs: number
  expectedPeerId?: PeerId
  signal?: AbortSignal
}

/**
 * TCP connected -> secio -> yamux ready (§1), under one deadline. The error
 * names the phase it was stuck in: secio's own phases (`awaiting-propose`,
 * `awaiting-exchange`, `awaiting-nonce-echo`) with the bytes received.
 * On failure the socket is destroyed.
 */
export async function upgrade(socket: net.Socket, opts: UpgradeOptions): Promise<Upgraded> {
  const { config } = opts
  socket.setNoDelay(true)
  let conn: Duplex = socket
  let remotePublicKey: Uint8Array | undefined
  let remotePeerId: string | undefined
  let suite: Upgraded['suite']
  if (opts.key !== undefined) {
    try {
      const res = await handshake(socket, {
        key: opts.key,
        agreements: config.secio.agreements,
        ciphers: config.secio.ciphers,
        digests: config.secio.digests,
        maxFrameLength: config.maxFrameLength,
        timeoutMs: opts.timeoutMs,
        expectedPeerId: opts.expectedPeerId,
        signal: opts.signal,
      })
      conn = res.stream
      remotePublicKey = res.remotePublicKey
      remotePeerId = res.remotePeerId.toString()
      suite = res.suite
    } catch (err) {
      socket.destroy()
      throw toUpgradeError(err)
    }
  }
  // yamux has no handshake of its own: it is ready as soon as it exists (§8).
  const mux = new MuxSession(conn, {
    role: opts.direction === 'outbound' ? 'client' : 'server', // §8.8
    ...config.yamux,
  })
  return { mux, remotePublicKey, remotePeerId, suite }
}

/**
 * One failed upgrade per hostile connection can mean thousands a second
 * (the incident, slowloris): the wrapper's own stack says nothing the
 * secio cause does not, so it is built without one.
 */
function toUpgradeError(err: unknown): TentacleError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return wrapUpgradeError(err)
  } finally {
    Error.stackTraceLimit = limit
  }
}

function wrapUpgradeError(err: unknown): TentacleError {
  if (isSecioError(err)) {
    const code =
      err.code === 'ERR_HANDSHAKE_TIMEOUT'
        ? 'ERR_HANDSHAKE_TIMEOUT'
        : err.code === 'ERR_PEER_ID_MISMATCH'
          ? 'ERR_PEER_ID_MISMATCH'
          : 'ERR_HANDSHAKE_FAILED'
    const phase = err.phase !== undefined ? ` (phase ${err.phase}, ${err.bytesReceived ?? 0} bytes received)` : ''
    return new TentacleError(code, `${err.message}${phase}`, { cause: err, phase: err.phase, bytesReceived: err.bytesReceived })
  }
  return new TentacleError('ERR_HANDSHAKE_FAILED', (err as Error)?.message ?? String(err), { cause: err })
}
