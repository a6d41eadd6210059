// A js-libp2p node for the service bench baseline: TCP + @chainsafe/libp2p-noise +
// @chainsafe/libp2p-yamux, nothing else (no identify, no ping), like the tentacle
// services it is compared with (secio + yamux, no built-in protocols).
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import '../with-resolvers.ts'

export const LIBP2P_PROTOCOL = '/bench/1.0.0'

export type Libp2pNode = Awaited<ReturnType<typeof createLibp2pNode>>

/** A node listening on 127.0.0.1 (or not listening, for a dialer). */
export async function createLibp2pNode(listen: boolean) {
  return createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux({ enableKeepAlive: false })],
    connectionManager: {
      // Defaults would rate-limit one dialer to 5 inbound connections per second
      // and cap pending ones at 10: the bench measures the stack, not that policy.
      inboundConnectionThreshold: 1_000_000,
      maxIncomingPendingConnections: 1_000,
      maxConnections: 10_000,
    },
  })
}
