// `npm run bench -- yamux [--quick]`
//
// Figures (JSON lines via report()), each beside a baseline measured in the same run:
//   yamux.single.throughput          one yamux stream over TCP, default config (256 KiB window),
//                                    1 GiB (128 MiB with --quick) in 64 KiB writes   vs raw-tcp
//   yamux.single.window-ceiling      raw TCP with the same window rule (256 KiB window, 12-byte
//                                    credit per 128 KiB consumed): the best any tokio-compatible
//                                    yamux can do here                                vs raw-tcp
//   yamux.single.window-1MiB         one stream with maxStreamWindowSize = 1 MiB (CKB) vs raw-tcp
//   libp2p-yamux.single.throughput   @chainsafe/libp2p-yamux, one stream              vs raw-tcp
//   yamux.single.vs-libp2p           ours vs @chainsafe/libp2p-yamux
//   yamux.streams1000.throughput     1000 concurrent streams (256 KiB each; 64 KiB with --quick),
//                                    aggregate                                        vs raw-tcp
//   yamux.streams1000.vs-libp2p      the same                                          vs libp2p-yamux
//   yamux.fairness.streams2000       aggregate rate with 2000 streams vs 20 streams carrying the
//                                    same total (ratio = fairness, target ≥ 0.8; tentacle #213/#281)
//
// Setup: both ends in this process over TCP loopback (one core does both sides' work), the
// same for every contender. Rounds alternate between contenders; each figure is the median.
// See bench/README.md "## yamux".
import net from 'node:net'
import { Session, type Stream } from '@tentacle-ts/yamux'
import { mibPerSec, report } from './lib.ts'
import { libp2pMuxer } from './yamux/libp2p.ts'

const MiB = 1024 * 1024
const CHUNK = 64 * 1024

interface Pair {
  client: net.Socket
  server: net.Socket
}

async function tcpPair(): Promise<Pair> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const accepted = new Promise<net.Socket>((resolve) => srv.once('connection', resolve))
  const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  const server = await accepted
  srv.close()
  client.setNoDelay(true)
  server.setNoDelay(true)
  return { client, server }
}

function closePair(p: Pair): void {
  p.client.destroy()
  p.server.destroy()
}

const payload = Buffer.alloc(CHUNK, 0x5a)

/** Milliseconds to move `total` bytes through `fn`. */
async function time(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

// ---------------------------------------------------------------- contenders: one stream

async function rawSingle(total: number): Promise<number> {
  const p = await tcpPair()
  try {
    return await time(async () => {
      let got = 0
      const done = new Promise<void>((resolve) =>
        p.server.on('data', (d: Buffer) => {
          got += d.length
          if (got >= total) resolve()
        }),
      )
      for (let sent = 0; sent < total; sent += CHUNK) {
        if (!p.client.write(payload)) await new Promise((r) => p.client.once('drain', r))
      }
      await done
    })
  } finally {
    closePair(p)
  }
}

/** Raw TCP that waits for credit like tokio-yamux: 256 KiB window, 12-byte credit per 128 KiB read. */
async function windowCeiling(total: number): Promise<number> {
  const WINDOW = 256 * 1024
  const p = await tcpPair()
  try {
    return await time(async () => {
      let got = 0
      let credited = 0
      const credit = Buffer.alloc(12)
      const done = new Promise<void>((resolve) =>
        p.server.on('data', (d: Buffer) => {
          got += d.length
          if (got - credited >= WINDOW / 2) {
            credited = got
            p.server.write(credit)
          }
          if (got >= total) resolve()
        }),
      )
      let window = WINDOW
      let wake: (() => void) | null = null
      p.client.on('data', (d: Buffer) => {
        window += (WINDOW / 2) * (d.length / 12)
        const w = wake
        wake = null
        w?.()
      })
      for (let sent = 0; sent < total; sent += CHUNK) {
        while (window < CHUNK) await new Promise<void>((r) => (wake = r))
        window -= CHUNK
        if (!p.client.write(payload)) await new Promise((r) => p.client.once('drain', r))
      }
      await done
    })
  } finally {
    closePair(p)
  }
}

async function drain(s: Stream): Promise<number> {
  let n = 0
  for (;;) {
    const c = await s.read()
    if (c === null) return n
    n += c.length
  }
}

async function oursSingle(total: number, window?: number): Promise<number> {
  const p = await tcpPair()
  const cfg = { enableKeepalive: false, ...(window ? { maxStreamWindowSize: window } : {}) }
  const client = new Session(p.client, { role: 'client', ...cfg })
  const server = new Session(p.server, { role: 'server', ...cfg })
  try {
    return await time(async () => {
      const reading = server.accept().then((s) => drain(s!))
      const s = await client.openStream()
      for (let sent = 0; sent < total; sent += CHUNK) await s.write(payload)
      await s.close()
      const got = await reading
      if (got !== total) throw new Error(`yamux: received ${got} of ${total}`)
    })
  } finally {
    client.destroy()
    server.destroy()
  }
}

type LibStream = Awaited<ReturnType<ReturnType<typeof libp2pMuxer>['createStream']>>

async function libp2pSend(s: LibStream, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK) {
    const n = Math.min(CHUNK, bytes - sent)
    if (!s.send(n === CHUNK ? payload : payload.subarray(0, n))) await s.onDrain()
  }
  void s.close().catch(() => {})
}

/** libp2p-yamux: `streams` streams of `each` bytes; resolves when the server saw every byte and FIN. */
async function libp2pRun(streams: number, each: number): Promise<number> {
  const p = await tcpPair()
  const client = libp2pMuxer(p.client, 'client')
  const server = libp2pMuxer(p.server, 'server')
  try {
    return await time(async () => {
      let finished = 0
      let bytes = 0
      const done = new Promise<void>((resolve) => {
        server.addEventListener('stream', (evt) => {
          const st = evt.detail
          st.addEventListener('message', (e) => {
            bytes += e.data.byteLength
          })
          st.addEventListener('remoteCloseWrite', () => {
            if (++finished === streams) resolve()
          })
        })
      })
      await Promise.all(
        Array.from({ length: streams }, async () => {
          const s = await client.createStream()
          await libp2pSend(s, each)
        }),
      )
      await done
      if (bytes !== streams * each) throw new Error(`libp2p-yamux: received ${bytes} of ${streams * each}`)
    })
  } finally {
    client.abort(new Error('bench done'))
    server.abort(new Error('bench done'))
    closePair(p)
  }
}

// ---------------------------------------------------------------- contenders: many streams

async function oursMany(streams: number, each: number): Promise<number> {
  const p = await tcpPair()
  const client = new Session(p.client, { role: 'client', enableKeepalive: false })
  const server = new Session(p.server, { role: 'server', enableKeepalive: false })
  try {
    return await time(async () => {
      const received = (async () => {
        const all: Promise<number>[] = []
        for (let i = 0; i < streams; i++) {
          const s = await server.accept()
          if (s === null) throw new Error('session ended early')
          all.push(drain(s))
        }
        return (await Promise.all(all)).reduce((a, b) => a + b, 0)
      })()
      await Promise.all(
        Array.from({ length: streams }, async () => {
          const s = await client.openStream()
          for (let sent = 0; sent < each; sent += CHUNK) {
            const n = Math.min(CHUNK, each - sent)
            await s.write(n === CHUNK ? payload : payload.subarray(0, n))
          }
          await s.close()
        }),
      )
      const got = await received
      if (got !== streams * each) throw new Error(`yamux: received ${got} of ${streams * each}`)
    })
  } finally {
    client.destroy()
    server.destroy()
  }
}

// ---------------------------------------------------------------- driver

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Runs each contender `rounds` times, alternating, after one warm-up round; returns median MiB/s. */
async function compare(bytes: number, rounds: number, contenders: Record<string, () => Promise<number>>): Promise<Record<string, number>> {
  const names = Object.keys(contenders)
  for (const n of names) await contenders[n]() // warm-up (JIT, socket buffers)
  const rates: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  for (let r = 0; r < rounds; r++) {
    for (const n of names) rates[n].push(mibPerSec(bytes, await contenders[n]()))
  }
  return Object.fromEntries(names.map((n) => [n, median(rates[n])]))
}

export async function run(opts: { quick: boolean }): Promise<void> {
  const quick = opts.quick
  const rounds = 3

  // One stream.
  const single = quick ? 128 * MiB : 1024 * MiB
  const s = await compare(single, rounds, {
    raw: () => rawSingle(single),
    ceiling: () => windowCeiling(single),
    ours: () => oursSingle(single),
    ours1MiB: () => oursSingle(single, MiB),
    libp2p: () => libp2pRun(1, single),
  })
  report({ bench: 'yamux.single.throughput', value: s.ours, unit: 'MiB/s', baseline: s.raw, against: 'raw-tcp' })
  report({ bench: 'yamux.single.window-ceiling', value: s.ceiling, unit: 'MiB/s', baseline: s.raw, against: 'raw-tcp' })
  report({ bench: 'yamux.single.window-1MiB', value: s.ours1MiB, unit: 'MiB/s', baseline: s.raw, against: 'raw-tcp' })
  report({ bench: 'libp2p-yamux.single.throughput', value: s.libp2p, unit: 'MiB/s', baseline: s.raw, against: 'raw-tcp' })
  report({ bench: 'yamux.single.vs-libp2p', value: s.ours, unit: 'MiB/s', baseline: s.libp2p, against: 'libp2p-yamux' })

  // 1000 concurrent streams.
  const each = quick ? 64 * 1024 : 256 * 1024
  const manyBytes = 1000 * each
  const m = await compare(manyBytes, rounds, {
    raw: () => rawSingle(manyBytes),
    ours: () => oursMany(1000, each),
    libp2p: () => libp2pRun(1000, each),
  })
  report({ bench: 'yamux.streams1000.throughput', value: m.ours, unit: 'MiB/s', baseline: m.raw, against: 'raw-tcp' })
  report({ bench: 'yamux.streams1000.vs-libp2p', value: m.ours, unit: 'MiB/s', baseline: m.libp2p, against: 'libp2p-yamux' })

  // Fairness: the same total over 20 and over 2000 streams.
  const perStream2000 = (quick ? 64 : 128) * 1024 // 2000 × 64 KiB = 125 MiB; × 128 KiB = 250 MiB
  const total = 2000 * perStream2000
  const f = await compare(total, rounds, {
    streams20: () => oursMany(20, total / 20),
    streams2000: () => oursMany(2000, perStream2000),
  })
  report({ bench: 'yamux.fairness.streams2000', value: f.streams2000, unit: 'MiB/s', baseline: f.streams20, against: 'yamux-20-streams' })
}
