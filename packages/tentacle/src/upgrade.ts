import type { Duplex } from 'node:stream'
import type net from 'node:net'
import { handshake, isSecioError, type PeerId, type SecioErrorCode, type SecioKeyPair } from '@tentacle-ts/secio'
import { Session as MuxSession } from '@tentacle-ts/yamux'
import { stacklessError, type TentacleError, type TentacleErrorCode } from './errors.js'
import type { ServiceConfig } from './config.js'
import type { Direction } from './types.js'

export interface Upgraded {
  mux: MuxSession
  remotePublicKey?: Uint8Array
  remotePeerId?: string
  suite?: { agreement: string; cipher: string; digest: string }
  /** From the start of the upgrade to yamux ready. */
  durationMs: number
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
  const started = performance.now()
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
        // Like the Rust listener (§2.3), say nothing until the dialer has: a
        // connection that is already dead (the incident: FIN or RST before we
        // got to it) then costs one read, not a Propose written into the void.
        waitForPeer: opts.direction === 'inbound',
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
  return { mux, remotePublicKey, remotePeerId, suite, durationMs: performance.now() - started }
}

/**
 * secio failures a caller acts on get tentacle's code of the same name (do not
 * redial yourself, the address names another peer, the peer is slow); any other
 * is TENTACLE_ERR_HANDSHAKE_FAILED. The SecioError stays the `cause`.
 */
const FROM_SECIO: ReadonlyMap<SecioErrorCode, TentacleErrorCode> = new Map([
  ['SECIO_ERR_HANDSHAKE_TIMEOUT', 'TENTACLE_ERR_HANDSHAKE_TIMEOUT'],
  ['SECIO_ERR_PEER_ID_MISMATCH', 'TENTACLE_ERR_PEER_ID_MISMATCH'],
  ['SECIO_ERR_CONNECT_SELF', 'TENTACLE_ERR_CONNECT_SELF'],
])

/** The upgrade's error; its own stack would say nothing the secio cause does not. */
function toUpgradeError(err: unknown): TentacleError {
  if (isSecioError(err)) {
    const code = FROM_SECIO.get(err.code) ?? 'TENTACLE_ERR_HANDSHAKE_FAILED'
    const phase = err.phase !== undefined ? ` (phase ${err.phase}, ${err.bytesReceived ?? 0} bytes received)` : ''
    return stacklessError(code, `${err.message}${phase}`, {
      cause: err,
      phase: err.phase,
      bytesReceived: err.bytesReceived,
    })
  }
  return stacklessError('TENTACLE_ERR_HANDSHAKE_FAILED', (err as Error)?.message ?? String(err), { cause: err })
}
