import { createNetworkProtocols, type NetworkProtocols, type PeerInfo } from '@tentacle-ts/protocols'
import type { Logger } from 'pino'
import { DEFAULT_NETWORK_NAME, type Preset } from './preset.js'

/** What `tentacle node` passes to the protocols package. */
export interface NetworkOptions {
  preset: Preset
  networkName?: string
  clientVersion: string
  pingIntervalMs?: number
  pingTimeoutMs?: number
  bootnodes: string[]
  maxOutbound?: number
  discoveryIntervalMs?: number
  outboundIntervalMs?: number
  dialIntervalMs?: number
  allowLocalAddresses?: boolean
  addressBookFile?: string
}

/** One peer in GET /status (JSON-safe: identify flags as a decimal string). */
export type PeerView = Omit<PeerInfo, 'identified'> & {
  identified?: Omit<NonNullable<PeerInfo['identified']>, 'flags'> & { flags: string }
}

/** The preset's protocols (ping, identify, discovery, feeler, disconnect message, §11), logging what they report. */
export function createNetwork(opts: NetworkOptions, logger: Logger): NetworkProtocols {
  const net = createNetworkProtocols({
    ...stripUndefined(opts),
    networkName: opts.networkName ?? DEFAULT_NETWORK_NAME[opts.preset],
  })
  net.on('identified', (e) =>
    logger.info(
      { session: e.sessionId, peerId: e.peerId, name: e.info.name, clientVersion: e.info.clientVersion },
      'identified',
    ),
  )
  net.on('misbehaviour', (e) => logger.warn(jsonSafe(e) as object, 'misbehaviour'))
  net.on('peer-dropped', (e) =>
    logger.info(
      { session: e.sessionId, peerId: e.peerId, address: e.address, reason: jsonSafe(e.reason) },
      'peer-dropped',
    ),
  )
  net.on('disconnect-message', (e) =>
    logger.info({ session: e.sessionId, peerId: e.peerId, message: e.message }, 'disconnect-message'),
  )
  net.on('ping', (e) => logger.debug({ session: e.sessionId, peerId: e.peerId, rttMs: e.rttMs }, 'ping'))
  return net
}

/** Peers for GET /status. */
export function peerViews(net: NetworkProtocols): PeerView[] {
  return net.peers().map((p) => {
    const { identified, ...rest } = p
    return identified === undefined
      ? rest
      : { ...rest, identified: { ...identified, flags: identified.flags.toString() } }
  })
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** bigints (CKB flags) as strings, so pino and JSON.stringify take them. */
function jsonSafe(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)))
}
