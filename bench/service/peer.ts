// The receiving half of `npm run bench -- service`. Runs inside the bench process
// or as a child process (then driven over IPC), so both setups can be measured.
//   sink: count the bytes of every message; once `total` arrived, answer with one 1-byte message.
//   echo: answer every message with the same bytes.
// 'tentacle-1mib' is tentacle with CKB's 1 MiB yamux window instead of the default 256 KiB.
// Stacks: raw TCP (bytes, no framing), tentacle (secio + yamux + u32 framing,
// protocol 1), js-libp2p (noise + yamux, protocol /bench/1.0.0, stream bytes).
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext } from '@tentacle-ts/tentacle'
import { createLibp2pNode, LIBP2P_PROTOCOL } from './libp2p.ts'
import { listenTcp } from '../lib.ts'
import { serveChildHost } from '../peer-host.ts'

export type Stack = 'raw' | 'tentacle' | 'tentacle-1mib' | 'libp2p'

/** yamux window of the 'tentacle-1mib' stack: CKB's setting instead of tentacle's default 256 KiB (§8.7). */
export const CKB_WINDOW = 1024 * 1024
export interface PeerSpec {
  stack: Stack
  kind: 'sink' | 'echo'
  /** Bytes a sink expects before it acks. */
  total?: number
}
export interface Started {
  /** Multiaddr to dial (tentacle: with /p2p/; libp2p: with /p2p/); raw: unused. */
  addr: string
  port: number
}

const ACK = Uint8Array.of(1)

async function startRaw(spec: PeerSpec): Promise<{ started: Started; close: () => Promise<void> }> {
  const { port, close } = await listenTcp((socket) => {
    if (spec.kind === 'echo') {
      socket.on('data', (c: Buffer) => socket.write(c))
      socket.on('end', () => socket.end())
      return
    }
    let got = 0
    socket.on('data', (c: Buffer) => {
      got += c.length
      if (got === spec.total) socket.write(ACK)
    })
  })
  return { started: { addr: `/ip4/127.0.0.1/tcp/${port}`, port }, close }
}

const serviceKey = SecioKeyPair.generate()

async function startTentacle(spec: PeerSpec): Promise<{ started: Started; close: () => Promise<void> }> {
  const got = new Map<number, number>()
  const service = new Service({
    key: serviceKey,
    config: spec.stack === 'tentacle-1mib' ? { yamux: { maxStreamWindowSize: CKB_WINDOW } } : {},
    protocols: [
      {
        id: 1,
        handler:
          spec.kind === 'echo'
            ? { received: (ctx: ProtocolSessionContext, data: Uint8Array) => ctx.send(data) }
            : {
                received: (ctx: ProtocolSessionContext, data: Uint8Array) => {
                  const n = (got.get(ctx.session.id) ?? 0) + data.length
                  got.set(ctx.session.id, n)
                  if (n === spec.total) ctx.send(ACK)
                },
                disconnected: (ctx: ProtocolSessionContext) => {
                  got.delete(ctx.session.id)
                },
              },
      },
    ],
  })
  const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
  return {
    started: { addr: `${addr.toString()}/p2p/${service.peerId}`, port: Number(addr.toString().split('/')[4]) },
    close: () => service.shutdown(),
  }
}

async function startLibp2p(spec: PeerSpec): Promise<{ started: Started; close: () => Promise<void> }> {
  const node = await createLibp2pNode(true)
  await node.handle(
    LIBP2P_PROTOCOL,
    (stream) => {
      if (spec.kind === 'echo') {
        stream.addEventListener('message', (e) => {
          stream.send(e.data)
        })
        stream.addEventListener('remoteCloseWrite', () => {
          void stream.close().catch(() => {})
        })
        return
      }
      let got = 0
      stream.addEventListener('message', (e) => {
        got += e.data.byteLength
        if (got === spec.total) stream.send(ACK)
      })
    },
    { maxInboundStreams: 1024 },
  )
  const ma = node.getMultiaddrs()[0]!
  return {
    started: { addr: ma.toString(), port: Number(ma.toString().split('/')[4]) },
    close: async () => {
      await node.stop()
    },
  }
}

/** Starts a receiver on 127.0.0.1. */
export function startPeer(spec: PeerSpec): Promise<{ started: Started; close: () => Promise<void> }> {
  switch (spec.stack) {
    case 'raw':
      return startRaw(spec)
    case 'tentacle':
    case 'tentacle-1mib':
      return startTentacle(spec)
    case 'libp2p':
      return startLibp2p(spec)
  }
}

// Child-process mode: `{ start: PeerSpec }` -> `{ started }`, `{ stop: true }` -> `{ stopped: true }`.
serveChildHost('--bench-service-child', startPeer, (p) => p.started)
