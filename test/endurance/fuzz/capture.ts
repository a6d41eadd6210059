/**
 * Builds the seed corpora from real traffic of Rust peers (the interop
 * drivers, test/interop/build.sh): a TCP tap between two peers records the
 * bytes each side sent, and the captures are cut into seeds for every
 * target. Run it again after a wire change:
 *
 *   node --conditions=source --import tsx test/endurance/fuzz/capture.ts
 *
 * Captures (all on 127.0.0.1):
 *   - secio: TS handshake client ↔ Rust secio-peer server (tentacle-secio): the
 *     Rust side's Propose and Exchange frames, then ciphertext;
 *   - yamux: Rust yamux-peer client ↔ Rust yamux-peer server (tokio-yamux),
 *     echo and reset runs, both directions;
 *   - tentacle: two Rust tentacle-peers in plaintext mode (yamux directly on
 *     TCP), protocols 1 and 2, messages both ways: yamux frames, protocol
 *     selection (ProtocolInfo frames) and protocol messages.
 *   - ckb: CKB's own NetworkService (test/interop's ckb-network-peer, crates.io
 *     ckb-network) talking to a TS Service that registers CKB's protocols: the
 *     ping, identify and discovery messages CKB sent, as our handlers got them.
 * Besides, a few messages encoded by this repository's encoders, and
 * hand-made secio-frames records.
 */
import net from 'node:net'
import { Socket } from 'node:net'
import { rmSync } from 'node:fs'
import { SecioKeyPair, handshake, ProposeCodec, ExchangeCodec } from '@tentacle-ts/secio'
import {
  decodePingMessage,
  encodeDiscoveryMessage,
  encodeIdentifyBlob,
  encodeIdentifyMessage,
  encodePingMessage,
  encodeMultiaddr,
} from '@tentacle-ts/protocols'
import { Service } from '@tentacle-ts/tentacle'
import { CkbNetworkPeer } from '../../interop/lib/ckb-network-peer.js'
import { binPath, runToExit, startServer, killAll, spawnPeer } from '../../interop/lib/index.js'
import { SEED_DIR, saveInput } from './corpus.js'
import { MOLECULE_SCHEMAS } from './targets.js'

interface Tap {
  port: number
  /** Bytes the dialer sent, and the bytes the listener sent, per connection. */
  conns: { up: Buffer[]; down: Buffer[] }[]
  close(): Promise<void>
}

/** A TCP proxy on 127.0.0.1 that forwards to `targetPort` and records both directions. */
async function tap(targetPort: number): Promise<Tap> {
  const conns: Tap['conns'] = []
  const open = new Set<Socket>()
  const server = net.createServer((a) => {
    const rec = { up: [] as Buffer[], down: [] as Buffer[] }
    conns.push(rec)
    const b = net.connect(targetPort, '127.0.0.1')
    for (const s of [a, b]) {
      open.add(s)
      s.on('close', () => open.delete(s))
      s.on('error', () => {})
    }
    a.on('data', (d: Buffer) => {
      rec.up.push(d)
      b.write(d)
    })
    b.on('data', (d: Buffer) => {
      rec.down.push(d)
      a.write(d)
    })
    a.on('end', () => b.end())
    b.on('end', () => a.end())
    a.on('close', () => b.destroy())
    b.on('close', () => a.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    conns,
    async close() {
      for (const s of open) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** u32be length-delimited frames of `b` (complete ones only). */
function frames(b: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at + 4 <= b.length;) {
    const n = b.readUInt32BE(at)
    if (at + 4 + n > b.length) break
    out.push(b.subarray(at + 4, at + 4 + n))
    at += 4 + n
  }
  return out
}

/** Yamux frames of a capture: per stream id, the Data payload bytes in order (§8.1). */
function yamuxStreams(b: Buffer): Map<number, Buffer> {
  const parts = new Map<number, Buffer[]>()
  for (let at = 0; at + 12 <= b.length;) {
    const type = b[at + 1]!
    const id = b.readUInt32BE(at + 4)
    const len = b.readUInt32BE(at + 8)
    const body = type === 0 ? b.subarray(at + 12, at + 12 + len) : Buffer.alloc(0)
    if (body.length > 0) parts.set(id, [...(parts.get(id) ?? []), body])
    at += 12 + (type === 0 ? len : 0)
  }
  return new Map([...parts].map(([id, p]) => [id, Buffer.concat(p)]))
}

const cap = (b: Buffer, n: number): Buffer => b.subarray(0, Math.min(b.length, n))
let saved = 0
function seed(target: string, ...parts: Uint8Array[]): void {
  saveInput(SEED_DIR, target, Buffer.concat(parts))
  saved++
}
const schemaIndex = (name: string): number => MOLECULE_SCHEMAS.findIndex((c) => c.name === name)

async function captureSecio(): Promise<void> {
  const server = await startServer(binPath('secio-peer'), ['server'])
  const t = await tap(server.port)
  try {
    const socket = net.connect(t.port, '127.0.0.1')
    const { stream } = await handshake(socket, { key: SecioKeyPair.generate(), timeoutMs: 10_000 })
    stream.write(Buffer.from('hello from the capture'))
    await new Promise<void>((resolve) => stream.once('data', () => resolve()))
    stream.destroy()
    await new Promise((r) => setTimeout(r, 100))
  } finally {
    await t.close()
    await killAll(server.peer)
  }
  for (const c of t.conns) {
    const down = Buffer.concat(c.down)
    const up = Buffer.concat(c.up)
    for (const [dir, bytes] of [
      ['down', down],
      ['up', up],
    ] as const) {
      const f = frames(bytes)
      if (f.length < 2) throw new Error(`secio capture ${dir}: ${f.length} frames`)
      seed('molecule', Uint8Array.of(schemaIndex('Propose')), f[0]!)
      seed('molecule', Uint8Array.of(schemaIndex('Exchange')), f[1]!)
      seed('molecule', Uint8Array.of(schemaIndex('PublicKey')), ProposeCodec.decode(f[0]!).pubkey)
      ExchangeCodec.decode(f[1]!)
      seed('length-delimited', Uint8Array.of(7, 0), cap(bytes, 2000))
      seed('length-delimited', Uint8Array.of(7, 0x82), cap(bytes, 2000))
    }
    // The handshake target plays the Rust side's messages back to our handshake.
    seed('secio-handshake', Uint8Array.of(0), cap(down, 2000))
    seed('secio-handshake', Uint8Array.of(2), cap(down, 2000))
  }
}

async function captureYamux(): Promise<void> {
  const server = await startServer(binPath('yamux-peer'), ['server'])
  const t = await tap(server.port)
  try {
    for (const args of [
      ['--streams', '3', '--bytes', '300'],
      ['--mode', 'reset'],
      ['--mode', 'rset'],
    ]) {
      const run = await runToExit(binPath('yamux-peer'), ['client', '--port', String(t.port), ...args], {
        exitWithinMs: 30_000,
      })
      if (run.code !== 0) throw new Error(`yamux-peer client ${args.join(' ')}: exit ${run.code}`)
    }
  } finally {
    await t.close()
    await killAll(server.peer)
  }
  for (const c of t.conns) {
    const up = Buffer.concat(c.up)
    const down = Buffer.concat(c.down)
    seed('yamux-frame', Uint8Array.of(3, 0), cap(up, 2000))
    seed('yamux-frame', Uint8Array.of(3, 2), cap(down, 2000))
    // Session target: bit 0 of the first byte = our role is client (we read what a server sent).
    seed('yamux-session', Uint8Array.of(0, 0), cap(up, 4000))
    seed('yamux-session', Uint8Array.of(1, 3), cap(down, 4000))
    seed('yamux-session', Uint8Array.of(4, 9), cap(up, 4000))
  }
}

async function captureTentacle(): Promise<void> {
  const listener = await startServer(binPath('tentacle-peer'), [
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--plaintext',
    '--echo',
  ])
  const t = await tap(listener.port)
  const dialer = await spawnPeer(binPath('tentacle-peer'), ['--plaintext', '--dial', `/ip4/127.0.0.1/tcp/${t.port}`])
  try {
    await dialer.waitFor((l) => l.includes('"protocol_open"') && l.includes('"proto":2'), 15_000)
    dialer.send({ cmd: 'send', session: 1, proto: 1, text: 'hello tentacle' })
    dialer.send({ cmd: 'send', session: 1, proto: 2, size: 600 })
    await dialer.waitFor((l) => l.includes('"received"') && l.includes('"proto":2'), 15_000)
    dialer.send({ cmd: 'disconnect', session: 1 })
    await dialer.waitFor((l) => l.includes('"session_close"'), 15_000)
  } finally {
    await t.close()
    await killAll(dialer, listener.peer)
  }
  for (const c of t.conns) {
    for (const [role, bytes] of [
      [0, Buffer.concat(c.up)],
      [1, Buffer.concat(c.down)],
    ] as const) {
      seed('yamux-session', Uint8Array.of(role, 0), cap(bytes, 4000))
      seed('yamux-frame', Uint8Array.of(4, 1), cap(bytes, 2000))
      for (const data of yamuxStreams(bytes).values()) {
        seed('protocol-select', Uint8Array.of(0), cap(data, 1000))
        seed('protocol-select', Uint8Array.of(2), cap(data, 1000))
        seed('length-delimited', Uint8Array.of(5, 3), cap(data, 2000))
        const first = frames(data)[0]
        if (first !== undefined) seed('molecule', Uint8Array.of(schemaIndex('ProtocolInfo')), first)
      }
    }
  }
}

async function captureCkb(): Promise<void> {
  const ckb = await CkbNetworkPeer.start({
    pingIntervalSecs: 1,
    pingTimeoutSecs: 5,
    discoveryIntervalSecs: 1,
    discoveryLocalAddress: true,
  })
  const got = new Map<number, Uint8Array[]>()
  const enough = (): boolean => (got.get(0)?.length ?? 0) >= 2 && got.has(2)
  let gotEnough!: () => void
  const enoughReceived = new Promise<void>((resolve) => (gotEnough = resolve))
  const names = ['/ckb/ping', '/ckb/discovery', '/ckb/identify']
  const service = new Service({
    key: SecioKeyPair.generate(),
    protocols: names.map((name, id) => ({
      id,
      name,
      versions: ['3'],
      handler: {
        connected: (ctx) => {
          if (id === 2) {
            const blob = encodeIdentifyBlob({
              flag: 0b111111n,
              name: ckb.ready.network_name,
              clientVersion: 'tentacle-ts capture',
            })
            ctx.send(
              encodeIdentifyMessage({
                listenAddrs: ['/ip4/127.0.0.1/tcp/8115'],
                observedAddr: '/ip4/127.0.0.1/tcp/8114',
                identify: blob,
              }),
            )
          }
          if (id === 1)
            ctx.send(
              encodeDiscoveryMessage({
                type: 'get-nodes',
                version: 1,
                count: 1000,
                listenPort: 8115,
                requiredFlags: 1n,
              }),
            )
        },
        received: (ctx, data) => {
          got.set(id, [...(got.get(id) ?? []), Uint8Array.from(data)])
          if (enough()) gotEnough()
          if (id === 0) {
            const m = decodePingMessage(data)
            if (m.type === 'ping') ctx.send(encodePingMessage({ type: 'pong', nonce: m.nonce }))
          }
        },
      },
    })),
  })
  try {
    await service.dial(ckb.dialAddress)
    // Until two ping messages and a discovery one arrived (each received() re-checks), at most 15 s.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([enoughReceived, new Promise((r) => (timer = setTimeout(r, 15_000)))])
    clearTimeout(timer)
  } finally {
    await service.shutdown()
    await ckb.kill()
  }
  if (!got.has(0) || !got.has(2)) throw new Error(`ckb capture: got protocols ${[...got.keys()]}`)
  // protocol-messages selector: 0 ping, 1 identify, 2 discovery (targets.ts PROTOCOL_DECODERS).
  const selector = new Map([
    [0, 0],
    [2, 1],
    [1, 2],
  ])
  for (const [id, msgs] of got)
    for (const m of msgs.slice(0, 3)) seed('protocol-messages', Uint8Array.of(selector.get(id)!), m)
}

function encodedSeeds(): void {
  const ma = encodeMultiaddr('/ip4/127.0.0.1/tcp/8115/p2p/QmSsHu9iqvw3Dq7V3L6YvdX5qTJfVcqEqXSbTB4HJXWU9Y')
  seed('protocol-messages', Uint8Array.of(0), encodePingMessage({ type: 'ping', nonce: 7 }))
  seed('protocol-messages', Uint8Array.of(0), encodePingMessage({ type: 'pong', nonce: 0xffffffff }))
  seed(
    'protocol-messages',
    Uint8Array.of(1),
    encodeIdentifyMessage({
      listenAddrs: ['/ip4/127.0.0.1/tcp/8115'],
      observedAddr: '/ip4/10.0.0.1/tcp/4000',
      identify: new Uint8Array(12),
    }),
  )
  seed(
    'protocol-messages',
    Uint8Array.of(2),
    encodeDiscoveryMessage({ type: 'get-nodes', version: 1, count: 1000, listenPort: 8115, requiredFlags: 1n }),
  )
  seed(
    'protocol-messages',
    Uint8Array.of(2),
    encodeDiscoveryMessage({
      type: 'nodes',
      announce: true,
      items: [{ addresses: ['/ip4/127.0.0.1/tcp/8115'], flags: 1n }],
    }),
  )
  seed('protocol-messages', Uint8Array.of(3), ma)
  // secio-frames records: [op][u16be len][bytes] (op 0 valid, 1 raw, 2 bad tag, 3 short).
  const rec = (op: number, data: string): Buffer =>
    Buffer.concat([Uint8Array.of(op, 0, data.length), Buffer.from(data)])
  seed('secio-frames', rec(0, 'hello'), rec(0, ''), rec(0, 'world'))
  seed('secio-frames', rec(0, 'a'.repeat(200)), rec(2, 'bad'), rec(0, 'lost'))
  seed('secio-frames', rec(0, 'x'), rec(3, 'short'))
  seed('secio-frames', rec(0, 'x'), rec(1, '\u0000\u0000\u0000\u0004abcd'))
  const everything = MOLECULE_SCHEMAS[schemaIndex('Everything')]!
  seed(
    'molecule',
    Uint8Array.of(schemaIndex('Everything')),
    everything.encode({
      fixed: [{ a: 1, b: 2, c: Uint8Array.of(1, 2, 3) }],
      dyn: [Uint8Array.of(9), new Uint8Array(0)],
      opt: 'x',
      choice: { type: 'In', value: { a: 0, b: 7, c: new Uint8Array(3) } },
      n: 5n,
      nested: { names: ['a', 'bc'], empty: {} },
    } as never),
  )
}

rmSync(SEED_DIR, { recursive: true, force: true })
await captureSecio()
await captureYamux()
await captureTentacle()
await captureCkb()
encodedSeeds()
console.log(`capture: ${saved} seeds written under ${SEED_DIR}`)
