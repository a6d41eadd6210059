// `npm run bench -- secio [--quick] [--setup=two-process|in-process|both]`
//
// Figures, each beside raw Node TCP measured in the same run and the same setup:
//   secio.handshakes.sequential   connect + secio handshake + close, one after another
//                                 (baseline: connect + 1-byte round trip + close)
//   secio.handshakes.concurrent16 the same with 16 connections in flight
//   secio.throughput.aes-128-gcm  one connection, 1 GiB (256 MiB with --quick) of 64 KiB writes,
//                                 until the receiver acked the last byte (baseline: a raw socket)
//
// Setups: "two-process" (default) runs the server in a child process, so client and
// server each have a core, as two real nodes would; "in-process" runs both in this
// process (one core does both sides' work). See bench/README.md.
import { once } from 'node:events'
import net from 'node:net'
import { handshake, SecioKeyPair } from '@tentacle-ts/secio'
import { childHost, inProcessHost, type PeerHost } from './peer-host.ts'
import { alternate, mibPerSec, report, timed } from './lib.ts'
import { startServer, type PeerMode, type ServerSpec } from './secio/peer.ts'

type Peer = PeerHost<ServerSpec, number>

const inProcessPeer = (): Peer => inProcessHost(startServer, (s) => s.port)
const childPeer = (): Promise<Peer> => childHost(new URL('./secio/peer.ts', import.meta.url), '--bench-secio-child')

const clientKey = SecioKeyPair.generate()

/**
 * One connection. raw: connect, 1-byte round trip, close. secio: connect, handshake,
 * close — the handshake ends with an encrypted round trip of its own (each side
 * echoes the other's nonce, §3.11), so it stands where the raw round trip does.
 */
async function roundTrip(port: number, mode: PeerMode): Promise<void> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
  if (mode === 'secio') {
    const { stream } = await handshake(socket, { key: clientKey })
    stream.destroy()
    return
  }
  await once(socket, 'connect')
  const gotByte = once(socket, 'data')
  socket.write(Buffer.of(1))
  await gotByte
  socket.destroy()
}

async function handshakeRate(peer: Peer, mode: PeerMode, count: number, concurrency: number): Promise<number> {
  const port = await peer.start({ kind: 'handshake', mode })
  try {
    for (let i = 0; i < 20; i++) await roundTrip(port, mode) // warm up
    let left = count
    const ms = await timed(async () => {
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (left > 0) {
            left--
            await roundTrip(port, mode)
          }
        }),
      )
    })
    return count / (ms / 1000)
  } finally {
    await peer.stop()
  }
}

async function throughput(peer: Peer, mode: PeerMode, total: number): Promise<number> {
  const port = await peer.start({ kind: 'sink', mode, total, cipher: 'AES-128-GCM' })
  try {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
    let stream: import('node:stream').Duplex = socket
    if (mode === 'secio') stream = (await handshake(socket, { key: clientKey, ciphers: ['AES-128-GCM'] })).stream
    else await once(socket, 'connect')
    const chunk = Buffer.alloc(64 * 1024, 0x5a)
    const ack = once(stream, 'data')
    const ms = await timed(async () => {
      let sent = 0
      while (sent < total) {
        sent += chunk.length
        if (!stream.write(chunk)) await once(stream, 'drain')
      }
      await ack
    })
    stream.destroy()
    return mibPerSec(total, ms)
  } finally {
    await peer.stop()
  }
}

/** raw and secio, measured alternately (bench/lib.ts alternate()). */
const MODES: readonly PeerMode[] = ['raw', 'secio']

export async function run(opts: { quick: boolean }): Promise<void> {
  const setupArg =
    process.argv.find((a) => a.startsWith('--setup='))?.slice('--setup='.length) ??
    (opts.quick ? 'two-process' : 'both')
  const setups = setupArg === 'both' ? ['two-process', 'in-process'] : [setupArg]
  const rounds = 3
  const seq = opts.quick ? 200 : 1000
  const conc = opts.quick ? 600 : 3000
  const bytes = (opts.quick ? 256 : 1024) * 1024 * 1024

  for (const setup of setups) {
    const peer = setup === 'in-process' ? inProcessPeer() : await childPeer()
    const tag = setup === 'in-process' ? '.in-process' : ''
    try {
      const s = await alternate(rounds, MODES, (mode) => handshakeRate(peer, mode, seq, 1))
      report({
        bench: `secio.handshakes.sequential${tag}`,
        value: s.secio,
        unit: 'handshakes/s',
        baseline: s.raw,
        against: 'raw-tcp-connect-rtt',
      })
      const c = await alternate(rounds, MODES, (mode) => handshakeRate(peer, mode, conc, 16))
      report({
        bench: `secio.handshakes.concurrent16${tag}`,
        value: c.secio,
        unit: 'handshakes/s',
        baseline: c.raw,
        against: 'raw-tcp-connect-rtt',
      })
      const t = await alternate(rounds, MODES, (mode) => throughput(peer, mode, bytes))
      report({
        bench: `secio.throughput.aes-128-gcm${tag}`,
        value: t.secio,
        unit: 'MiB/s',
        baseline: t.raw,
        against: 'raw-tcp',
      })
    } finally {
      peer.exit()
    }
  }
}
