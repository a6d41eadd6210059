// `npm run bench -- service [--quick] [--setup=two-process|in-process|both]`
//
// Figures (JSON lines via report()), each beside a baseline measured in the same run and setup:
//   service.throughput               one tentacle protocol stream (secio AES-128-GCM + yamux + u32
//                                    framing), 1 GiB (128 MiB with --quick) of 64 KiB messages,
//                                    sender and receiver two Services               vs raw-tcp
//   service.throughput.vs-libp2p     the same                                         vs js-libp2p
//                                    (TCP + noise + yamux, one stream, the same 64 KiB writes)
//   libp2p.throughput                js-libp2p itself                                 vs raw-tcp
//   service.throughput.window-1MiB   tentacle with CKB's 1 MiB yamux window (default: 256 KiB) vs raw-tcp
//   service.throughput.window-1MiB.vs-libp2p                                          vs js-libp2p
//   service.setup.sequential         sessions/s, one after another: dial, secio, yamux, open one
//                                    protocol, one 32-byte message round trip, disconnect, closed
//                                                                                     vs js-libp2p
//                                    (dial, noise, yamux, open a stream, one round trip, close)
//   service.setup.concurrent16       the same with 16 dialers at once (16 client nodes) vs js-libp2p
//
// Setups: "two-process" (default; the receiver runs in a child process, so sender and
// receiver each have one of the 2 cores, as two real nodes would) and "in-process" (both
// in this process, one core does both sides' work). Every contender is measured the same
// way; rounds alternate between contenders and each figure is the median of the rounds.
// See bench/README.md "## service".
import { once } from 'node:events'
import net from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext } from '@tentacle-ts/tentacle'
import { childHost, inProcessHost, type PeerHost } from './peer-host.ts'
import { alternate, mibPerSec, report } from './lib.ts'
import { createLibp2pNode, LIBP2P_PROTOCOL } from './service/libp2p.ts'
import { CKB_WINDOW, startPeer, type PeerSpec, type Stack, type Started } from './service/peer.ts'
import { lanes, tentacleClient } from './service/client.ts'

const MiB = 1024 * 1024
const MSG = 64 * 1024
const chunk = Buffer.alloc(MSG, 0x5a)
const PING = new Uint8Array(32).fill(7)

// ------------------------------------------------------------------ peers

export type Peer = PeerHost<PeerSpec, Started>

export const inProcessPeer = (): Peer => inProcessHost(startPeer, (p) => p.started)
export const childPeer = (): Promise<Peer> =>
  childHost(new URL('./service/peer.ts', import.meta.url), '--bench-service-child')

function deferred<T = void>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

// ------------------------------------------------------------------ throughput

/** Milliseconds from "stream open" to "the receiver acked the last byte". */
type Sender = (started: Started, total: number) => Promise<number>

const rawSender: Sender = async ({ port }, total) => {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
  await once(socket, 'connect')
  const ack = once(socket, 'data')
  const t0 = performance.now()
  for (let sent = 0; sent < total; sent += MSG) {
    if (!socket.write(chunk)) await once(socket, 'drain')
  }
  await ack
  const ms = performance.now() - t0
  socket.destroy()
  return ms
}

function tentacleSender(window?: number): Sender {
  return async ({ addr }, total) => {
    const open = deferred<ProtocolSessionContext>()
    const ack = deferred()
    const service = new Service({
      key: SecioKeyPair.generate(),
      config: window === undefined ? {} : { yamux: { maxStreamWindowSize: window } },
      protocols: [{ id: 1, handler: { connected: (ctx) => open.resolve(ctx), received: () => ack.resolve() } }],
      handler: { handleError: (e) => open.reject(e.error) },
    })
    try {
      await service.dial(addr, { kind: 'single', id: 1 })
      const ctx = await open.promise
      const t0 = performance.now()
      // Backpressure: each message waits until the previous one was handed to yamux.
      for (let sent = 0; sent < total; sent += MSG) {
        if (!(await ctx.sendAsync(chunk))) throw new Error('tentacle: message dropped')
      }
      await ack.promise
      return performance.now() - t0
    } finally {
      await service.shutdown()
    }
  }
}

const libp2pSender: Sender = async ({ addr }, total) => {
  const node = await createLibp2pNode(false)
  try {
    const conn = await node.dial(multiaddr(addr))
    const stream = await conn.newStream(LIBP2P_PROTOCOL)
    const ack = deferred()
    stream.addEventListener('message', () => ack.resolve())
    const t0 = performance.now()
    for (let sent = 0; sent < total; sent += MSG) {
      if (!stream.send(chunk)) await stream.onDrain()
    }
    await ack.promise
    return performance.now() - t0
  } finally {
    await node.stop()
  }
}

const senders: Record<Stack, Sender> = {
  raw: rawSender,
  tentacle: tentacleSender(),
  'tentacle-1mib': tentacleSender(CKB_WINDOW),
  libp2p: libp2pSender,
}

export async function throughput(peer: Peer, stack: Stack, total: number): Promise<number> {
  const started = await peer.start({ stack, kind: 'sink', total })
  try {
    return mibPerSec(total, await senders[stack](started, total))
  } finally {
    await peer.stop()
  }
}

// ------------------------------------------------------------------ session setup

/** Runs sessions for about `ms` milliseconds, `concurrency` at a time (one client node per lane); resolves sessions/s. */
type SetupRun = (started: Started, ms: number, concurrency: number) => Promise<number>

const tentacleSetup: SetupRun = async ({ addr }, ms, concurrency) => {
  const clients = Array.from({ length: concurrency }, tentacleClient)
  try {
    return await lanes(ms, concurrency, (i) => () => clients[i]!.session(addr))
  } finally {
    await Promise.all(clients.map((c) => c.service.shutdown()))
  }
}

const libp2pSetup: SetupRun = async ({ addr }, ms, concurrency) => {
  const nodes = await Promise.all(Array.from({ length: concurrency }, () => createLibp2pNode(false)))
  const ma = multiaddr(addr)
  try {
    return await lanes(ms, concurrency, (i) => async () => {
      const conn = await nodes[i]!.dial(ma)
      const stream = await conn.newStream(LIBP2P_PROTOCOL)
      const reply = deferred()
      stream.addEventListener('message', () => reply.resolve())
      stream.send(PING)
      await reply.promise
      await conn.close()
    })
  } finally {
    await Promise.all(nodes.map((n) => n.stop()))
  }
}

const setups: Record<'tentacle' | 'libp2p', SetupRun> = { tentacle: tentacleSetup, libp2p: libp2pSetup }

export async function setupRate(
  peer: Peer,
  stack: 'tentacle' | 'libp2p',
  ms: number,
  concurrency: number,
): Promise<number> {
  const started = await peer.start({ stack, kind: 'echo' })
  try {
    return await setups[stack](started, ms, concurrency)
  } finally {
    await peer.stop()
  }
}

// ------------------------------------------------------------------ run

export async function run(opts: { quick: boolean }): Promise<void> {
  const setupArg =
    process.argv.find((a) => a.startsWith('--setup='))?.slice('--setup='.length) ??
    (opts.quick ? 'two-process' : 'both')
  const setupNames = setupArg === 'both' ? ['two-process', 'in-process'] : [setupArg]
  const n = 3
  const bytes = (opts.quick ? 128 : 1024) * MiB
  /** Milliseconds each session-setup measurement runs. */
  const setupMs = opts.quick ? 1500 : 5000

  for (const setup of setupNames) {
    const peer = setup === 'in-process' ? inProcessPeer() : await childPeer()
    const tag = setup === 'in-process' ? '.in-process' : ''
    try {
      // Warm up every stack's code paths once before the measured rounds.
      for (const s of ['raw', 'tentacle', 'libp2p', 'tentacle-1mib'] as const) await throughput(peer, s, 16 * MiB)

      const t = await alternate(n, ['raw', 'tentacle', 'libp2p', 'tentacle-1mib'], (s) => throughput(peer, s, bytes))
      report({
        bench: `service.throughput${tag}`,
        value: t.tentacle,
        unit: 'MiB/s',
        baseline: t.raw,
        against: 'raw-tcp',
      })
      report({
        bench: `service.throughput.vs-libp2p${tag}`,
        value: t.tentacle,
        unit: 'MiB/s',
        baseline: t.libp2p,
        against: 'js-libp2p',
      })
      report({ bench: `libp2p.throughput${tag}`, value: t.libp2p, unit: 'MiB/s', baseline: t.raw, against: 'raw-tcp' })
      report({
        bench: `service.throughput.window-1MiB${tag}`,
        value: t['tentacle-1mib'],
        unit: 'MiB/s',
        baseline: t.raw,
        against: 'raw-tcp',
      })
      report({
        bench: `service.throughput.window-1MiB.vs-libp2p${tag}`,
        value: t['tentacle-1mib'],
        unit: 'MiB/s',
        baseline: t.libp2p,
        against: 'js-libp2p',
      })

      const s = await alternate(n, ['tentacle', 'libp2p'], (st) => setupRate(peer, st, setupMs, 1))
      report({
        bench: `service.setup.sequential${tag}`,
        value: s.tentacle,
        unit: 'sessions/s',
        baseline: s.libp2p,
        against: 'js-libp2p',
      })
      const c = await alternate(n, ['tentacle', 'libp2p'], (st) => setupRate(peer, st, setupMs, 16))
      report({
        bench: `service.setup.concurrent16${tag}`,
        value: c.tentacle,
        unit: 'sessions/s',
        baseline: c.libp2p,
        against: 'js-libp2p',
      })
    } finally {
      peer.exit()
    }
  }
}
