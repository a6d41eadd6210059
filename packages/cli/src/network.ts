import type { ProtocolSpec, Service, ServiceHandler } from '@tentacle-ts/tentacle'
import type { Preset } from './preset.js'

/** Options `tentacle node` passes to the protocols package (createNetworkProtocols). */
export interface NetworkOptions {
  preset: Preset
  networkName?: string
  clientVersion: string
  pingIntervalMs?: number
  pingTimeoutMs?: number
  bootnodes: string[]
  maxOutbound?: number
  discoveryIntervalMs?: number
  allowLocalAddresses?: boolean
  addressBookFile?: string
}

/** One peer as the protocols package reports it. */
export interface PeerView {
  sessionId: number
  peerId?: string
  address: string
  direction: string
  pingRttMs?: number
  lastSeenAt?: number
  identified?: { name?: string; clientVersion?: string }
}

/** What the node needs of the protocols package. */
export interface Network {
  protocols: ProtocolSpec[]
  serviceHandler(user?: ServiceHandler): ServiceHandler
  attach(service: Service): void
  peers(): PeerView[]
  close(): Promise<void>
}

/**
 * The preset's protocols (ping, identify, discovery, ...) from
 * @tentacle-ts/protocols; undefined while that package does not provide
 * `createNetworkProtocols` yet.
 */
export async function loadNetwork(opts: NetworkOptions): Promise<Network | undefined> {
  const mod = (await import('@tentacle-ts/protocols')) as Record<string, unknown>
  const create = mod.createNetworkProtocols as ((o: unknown) => unknown) | undefined
  if (typeof create !== 'function') return undefined
  const net = create(opts) as Network & { peers(): Array<PeerView & { address: unknown }> }
  return {
    protocols: net.protocols,
    serviceHandler: (user) => net.serviceHandler(user),
    attach: (service) => net.attach(service),
    peers: () => net.peers().map((p) => ({ ...p, address: String(p.address) })),
    close: () => net.close(),
  }
}
