/**
 * The dialer process of the scale run (scale/run.ts): opens N sessions to one
 * node (secio, yamux and the selection of protocol 1 done by hand, so that
 * each session has its own peer id without a Service per session), keeps them
 * open, and pings on each every INTERVAL ms (an 8-byte message; the node
 * echoes it).
 *
 *   dialers.ts PORT N CONCURRENCY INTERVAL_MS [PROGRESS_EVERY]
 *
 * stdout: `STARTED` once loaded, `PROGRESS <n> <ms>` every PROGRESS_EVERY sessions (default 250), `READY <n> <ms> <failed>`
 * when all are up; then, on a stdin line `EXPECT <marker-byte>`, it counts the
 * messages starting with that byte across sessions and prints `RECEIVED <n>
 * <ms>` once every session got one (a broadcast). It ends when stdin closes.
 */
import net from 'node:net'
import { SecioKeyPair, handshake } from '@tentacle-ts/secio'
import { Session, type Stream } from '@tentacle-ts/yamux'
import { encodeFrame, LengthDelimitedDecoder } from '@tentacle-ts/codec'
import { encodeProtocolInfo } from '@tentacle-ts/tentacle'

const [portArg, nArg, concArg, intervalArg, everyArg] = process.argv.slice(2)
const EVERY = Number(everyArg ?? 250)
const PORT = Number(portArg)
const N = Number(nArg)
const CONCURRENCY = Number(concArg ?? 32)
const INTERVAL = Number(intervalArg ?? 10_000)
const INFO = encodeFrame(encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] }))

let expect: number | undefined
let got = 0
let expectT0 = 0
const streams: Stream[] = []

function onMessage(m: Uint8Array): void {
  if (expect !== undefined && m[0] === expect) {
    got++
    if (got === streams.length) {
      console.log(`RECEIVED ${got} ${(performance.now() - expectT0).toFixed(1)}`)
      expect = undefined
    }
  }
}

async function open(): Promise<void> {
  const socket = net.connect(PORT, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const { stream } = await handshake(socket, { key: SecioKeyPair.generate(), timeoutMs: 30_000 })
  stream.on('error', () => {})
  const mux = new Session(stream, { role: 'client', enableKeepalive: false })
  const s = await mux.openStream()
  await s.write(INFO)
  const dec = new LengthDelimitedDecoder(1 << 20)
  let selected = false
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      for (;;) {
        let c: Uint8Array | null | undefined
        try {
          c = s.readNow()
        } catch (err) {
          return reject(err as Error)
        }
        if (c === undefined) return s.onReadable(pump)
        if (c === null) return reject(new Error('EOF'))
        dec.push(c)
        for (let f = dec.next(); f !== null; f = dec.next()) {
          if (!selected) {
            selected = true
            resolve()
          } else onMessage(f)
        }
      }
    }
    pump()
  })
  streams.push(s)
}

console.log('STARTED')
const t0 = performance.now()
let started = 0
let failed = 0
async function worker(): Promise<void> {
  while (started < N) {
    started++
    try {
      await open()
    } catch {
      failed++
    }
    const n = streams.length
    if (n % EVERY === 0 && n > 0) console.log(`PROGRESS ${n} ${(performance.now() - t0).toFixed(0)}`)
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker))
console.log(`READY ${streams.length} ${(performance.now() - t0).toFixed(0)} ${failed}`)

// Pings, spread over the interval.
const ping = encodeFrame(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]))
let next = 0
const perTick = Math.max(1, Math.ceil(streams.length / (INTERVAL / 100)))
setInterval(() => {
  for (let i = 0; i < perTick && streams.length > 0; i++) {
    const s = streams[next++ % streams.length]!
    s.write(ping).catch(() => {})
  }
}, 100)

let line = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (d: string) => {
  line += d
  for (let i = line.indexOf('\n'); i >= 0; i = line.indexOf('\n')) {
    const cmd = line.slice(0, i)
    line = line.slice(i + 1)
    const m = /^EXPECT (\d+)/.exec(cmd)
    if (m !== null) {
      expect = Number(m[1])
      got = 0
      expectT0 = performance.now()
    }
  }
})
process.stdin.on('end', () => process.exit(0))
