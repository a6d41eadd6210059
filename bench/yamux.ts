// `npm run bench -- yamux [--quick] [--setup=in-process|two-process|both]`
//
// Figures (JSON lines via report()), each beside a baseline measured in the same run and setup:
//   yamux.single.throughput          one yamux stream, default config (256 KiB window), 1 GiB
//                                    (128 MiB with --quick) in 64 KiB writes          vs raw-tcp
//   yamux.single.read-api            the same, the receiver consuming with `await stream.read()`
//                                    instead of the Duplex adapter's 'data' events     vs raw-tcp
//   yamux.single.window-ceiling      raw TCP obeying the same window rule (256 KiB window, a
//                                    12-byte credit per 128 KiB consumed): the best any
//                                    tokio-compatible yamux stream can do here         vs raw-tcp
//   yamux.single.window-1MiB         one stream, maxStreamWindowSize = 1 MiB (CKB)      vs raw-tcp
//   libp2p-yamux.single.throughput   @chainsafe/libp2p-yamux 8, one stream             vs raw-tcp
//   yamux.single.vs-libp2p           ours                                               vs libp2p-yamux
//   yamux.streams1000.throughput     1000 concurrent streams of 256 KiB (64 KiB --quick) vs raw-tcp
//   yamux.streams1000.vs-libp2p      the same                                           vs libp2p-yamux
//   yamux.fairness.streams2000       aggregate rate, 2000 live streams vs 20 carrying the same total,
//                                    streams opened before the clock starts (ratio = fairness;
//                                    tentacle #213/#281)
//   yamux.fairness.streams2000.read-api  the same with `await stream.read()` receivers
// Every receiver consumes the way the raw TCP and libp2p receivers do, with 'data' events (ours:
// the stream's Node Duplex adapter), except the ".read-api" figures.
// Figure names carry the setup suffix ".two-process" when run that way.
//
// Setups: "in-process" (the default) runs both ends in this process over TCP loopback (one core
// does both sides' work, for every contender alike); "two-process" runs the receiving end in a
// child process. Contenders alternate round by round; each figure is the median of 5 rounds
// (single stream) or 3 rounds (many streams) after a warm-up round. See bench/README.md "## yamux".
import { once } from 'node:events'
import net from 'node:net'
import { Session } from '@tentacle-ts/yamux'
import { childHost, inProcessHost, type PeerHost } from './peer-host.ts'
import { alternate, mibPerSec, report } from './lib.ts'
import { libp2pMuxer } from './yamux/libp2p.ts'
import { CEILING_WINDOW, startReceiver, type Mode, type ReceiverSpec } from './yamux/receiver.ts'

const MiB = 1024 * 1024
const CHUNK = 64 * 1024
const payload = Buffer.alloc(CHUNK, 0x5a)

interface Spec extends ReceiverSpec {
  mode: Mode
}

interface Receiver {
  /** Starts a receiver; `done` settles with the byte count it got. */
  start(spec: Spec): Promise<{ port: number; done: Promise<number> }>
  stop(): Promise<void>
  exit(): void
}

/** A receiver host whose start() also returns a promise of the byte count the receiver reports. */
async function withDone(
  makeHost: (done: (bytes: number) => void) => PeerHost<Spec, number> | Promise<PeerHost<Spec, number>>,
): Promise<Receiver> {
  let resolveDone: (n: number) => void = () => {}
  const host = await makeHost((n) => resolveDone(n))
  return {
    async start(spec) {
      const done = new Promise<number>((r) => (resolveDone = r))
      return { port: await host.start(spec), done }
    },
    stop: () => host.stop(),
    exit: () => host.exit(),
  }
}

const inProcessReceiver = (): Promise<Receiver> =>
  withDone((done) =>
    inProcessHost(
      (spec: Spec) => startReceiver(spec, done),
      (r) => r.port,
    ),
  )

const childReceiver = (): Promise<Receiver> =>
  withDone((done) =>
    childHost<Spec, number>(new URL('./yamux/receiver.ts', import.meta.url), '--bench-yamux-child', (m) => {
      if (typeof m.done === 'number') done(m.done)
    }),
  )

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true })
  await once(socket, 'connect')
  return socket
}

/** Connects, sets up, then times from the first byte sent until the receiver reported every byte. */
async function measure(receiver: Receiver, spec: Spec): Promise<number> {
  const { port, done } = await receiver.start(spec)
  const socket = await connect(port)
  const total = spec.streams * spec.each
  let cleanup: () => void = () => socket.destroy()
  try {
    let t0 = 0
    switch (spec.mode) {
      case 'raw': {
        t0 = performance.now()
        for (let sent = 0; sent < total; sent += CHUNK) {
          if (!socket.write(payload)) await once(socket, 'drain')
        }
        break
      }
      case 'ceiling': {
        let window = CEILING_WINDOW
        let wake: (() => void) | null = null
        socket.on('data', (d: Buffer) => {
          window += (CEILING_WINDOW / 2) * (d.length / 12)
          const w = wake
          wake = null
          w?.()
        })
        t0 = performance.now()
        for (let sent = 0; sent < total; sent += CHUNK) {
          while (window < CHUNK) await new Promise<void>((r) => (wake = r))
          window -= CHUNK
          if (!socket.write(payload)) await once(socket, 'drain')
        }
        break
      }
      case 'yamux': {
        const session = new Session(socket, {
          role: 'client',
          enableKeepalive: false,
          ...(spec.window ? { maxStreamWindowSize: spec.window } : {}),
        })
        cleanup = () => session.destroy()
        if (!spec.prepared) t0 = performance.now()
        const streams = await Promise.all(Array.from({ length: spec.streams }, () => session.openStream()))
        if (spec.prepared) {
          // Every stream open, accepted and answered before the clock starts.
          const hello = Buffer.of(1)
          await Promise.all(
            streams.map(async (s) => {
              await s.write(hello)
              if ((await s.read(1)) === null) throw new Error('no hello answer')
            }),
          )
          t0 = performance.now()
        }
        await Promise.all(
          streams.map(async (s) => {
            for (let sent = 0; sent < spec.each; sent += CHUNK) {
              const n = Math.min(CHUNK, spec.each - sent)
              await s.write(n === CHUNK ? payload : payload.subarray(0, n))
            }
            await s.close()
          }),
        )
        break
      }
      case 'libp2p': {
        const muxer = libp2pMuxer(socket, 'client')
        cleanup = () => {
          muxer.abort(new Error('bench done'))
          socket.destroy()
        }
        t0 = performance.now()
        await Promise.all(
          Array.from({ length: spec.streams }, async () => {
            const s = await muxer.createStream()
            for (let sent = 0; sent < spec.each; sent += CHUNK) {
              const n = Math.min(CHUNK, spec.each - sent)
              if (!s.send(n === CHUNK ? payload : payload.subarray(0, n))) await s.onDrain()
            }
            void s.close().catch(() => {})
          }),
        )
        break
      }
    }
    const got = await done
    const ms = performance.now() - t0
    if (got !== total) throw new Error(`${spec.mode}: the receiver got ${got} of ${total} bytes`)
    return mibPerSec(total, ms)
  } finally {
    cleanup()
    await receiver.stop()
  }
}

/** One warm-up round, then `rounds` rounds alternating the contenders; median MiB/s of each. */
async function compare(
  receiver: Receiver,
  rounds: number,
  specs: Record<string, Spec>,
): Promise<Record<string, number>> {
  const names = Object.keys(specs)
  for (const n of names) await measure(receiver, specs[n]!)
  return alternate(rounds, names, (n) => measure(receiver, specs[n]!))
}

async function runSetup(receiver: Receiver, quick: boolean, suffix: string): Promise<void> {
  const rounds = 3
  const name = (n: string) => n + suffix

  // Single-stream figures move most with machine load: 5 rounds.
  const single = quick ? 128 * MiB : 1024 * MiB
  const s = await compare(receiver, 5, {
    raw: { mode: 'raw', streams: 1, each: single },
    ceiling: { mode: 'ceiling', streams: 1, each: single },
    ours: { mode: 'yamux', streams: 1, each: single },
    oursRead: { mode: 'yamux', streams: 1, each: single, reader: 'read' },
    ours1MiB: { mode: 'yamux', streams: 1, each: single, window: MiB },
    libp2p: { mode: 'libp2p', streams: 1, each: single },
  })
  report({
    bench: name('yamux.single.throughput'),
    value: s.ours!,
    unit: 'MiB/s',
    baseline: s.raw!,
    against: 'raw-tcp',
  })
  report({
    bench: name('yamux.single.read-api'),
    value: s.oursRead!,
    unit: 'MiB/s',
    baseline: s.raw!,
    against: 'raw-tcp',
  })
  report({
    bench: name('yamux.single.window-ceiling'),
    value: s.ceiling!,
    unit: 'MiB/s',
    baseline: s.raw!,
    against: 'raw-tcp',
  })
  report({
    bench: name('yamux.single.window-1MiB'),
    value: s.ours1MiB!,
    unit: 'MiB/s',
    baseline: s.raw!,
    against: 'raw-tcp',
  })
  report({
    bench: name('libp2p-yamux.single.throughput'),
    value: s.libp2p!,
    unit: 'MiB/s',
    baseline: s.raw!,
    against: 'raw-tcp',
  })
  report({
    bench: name('yamux.single.vs-libp2p'),
    value: s.ours!,
    unit: 'MiB/s',
    baseline: s.libp2p!,
    against: 'libp2p-yamux',
  })

  const each = quick ? 64 * 1024 : 256 * 1024
  const m = await compare(receiver, rounds, {
    raw: { mode: 'raw', streams: 1, each: 1000 * each },
    ours: { mode: 'yamux', streams: 1000, each },
    libp2p: { mode: 'libp2p', streams: 1000, each },
  })
  report({
    bench: name('yamux.streams1000.throughput'),
    value: m.ours!,
    unit: 'MiB/s',
    baseline: m.raw!,
    against: 'raw-tcp',
  })
  report({
    bench: name('yamux.streams1000.vs-libp2p'),
    value: m.ours!,
    unit: 'MiB/s',
    baseline: m.libp2p!,
    against: 'libp2p-yamux',
  })

  // Fairness at scale: streams opened (and answered) before the clock starts, so the figure is
  // about moving data through 2000 live streams, not about opening them.
  const perStream2000 = (quick ? 64 : 128) * 1024 // 2000 × 64 KiB = 125 MiB; × 128 KiB = 250 MiB
  const f = await compare(receiver, rounds, {
    streams20: { mode: 'yamux', streams: 20, each: 100 * perStream2000, prepared: true },
    streams2000: { mode: 'yamux', streams: 2000, each: perStream2000, prepared: true },
    streams20read: { mode: 'yamux', streams: 20, each: 100 * perStream2000, prepared: true, reader: 'read' },
    streams2000read: { mode: 'yamux', streams: 2000, each: perStream2000, prepared: true, reader: 'read' },
  })
  report({
    bench: name('yamux.fairness.streams2000'),
    value: f.streams2000!,
    unit: 'MiB/s',
    baseline: f.streams20!,
    against: 'yamux-20-streams',
  })
  report({
    bench: name('yamux.fairness.streams2000.read-api'),
    value: f.streams2000read!,
    unit: 'MiB/s',
    baseline: f.streams20read!,
    against: 'yamux-20-streams-read-api',
  })
}

export async function run(opts: { quick: boolean }): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith('--setup='))?.slice('--setup='.length) ?? 'in-process'
  if (!['in-process', 'two-process', 'both'].includes(arg))
    throw new Error(`--setup must be in-process, two-process or both`)
  if (arg !== 'two-process') await runSetup(await inProcessReceiver(), opts.quick, '')
  if (arg !== 'in-process') {
    const child = await childReceiver()
    try {
      await runSetup(child, opts.quick, '.two-process')
    } finally {
      child.exit()
    }
  }
}
