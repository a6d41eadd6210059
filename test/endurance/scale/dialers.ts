/**
 * The dialer process of the scale run (scale/run.ts): opens N sessions to one
 * node (secio, yamux and the selection of protocol 1 done by hand, so that
 * each session has its own peer id without a Service per session), keeps them
 * open, and pings on each every INTERVAL ms (an 8-byte message; the node
 * echoes it).
 *
 *   dialers.ts PORT N CONCURRENCY INTERVAL_MS [PROGRESS_EVERY]
 *
 * stdout: `STARTED <cpu-µs> <gc-ms>` once loaded, `PROGRESS <n> <ms> <cpu-µs> <gc-ms>` every PROGRESS_EVERY sessions (default 250;
 * cpu = this process's user+sys time, gc = its time in garbage collection, both since start), `READY <n> <ms>
 * <failed> <cpu-µs> <gc-ms>` when all are up; then, on a stdin line `EXPECT <marker-byte>`, it counts the
 * messages starting with that byte across sessions and prints `RECEIVED <n>
 * <ms>` once every session got one (a broadcast). stdin lines `PROFILE START` and `PROFILE STOP <file>` take a
 * CPU profile of this process (node:inspector) over the time between them and write it to <file>, then print
 * `PROFILED <file>`. It ends when stdin closes.
 */
import { writeFileSync } from 'node:fs'
import { Session as Inspector } from 'node:inspector/promises'
import { PerformanceObserver } from 'node:perf_hooks'
import type { Stream } from '@tentacle-ts/yamux'
import { encodeFrame } from '@tentacle-ts/codec'
import { dialOne } from './dial-one.js'

const [portArg, nArg, concArg, intervalArg, everyArg] = process.argv.slice(2)
const EVERY = Number(everyArg ?? 250)
const PORT = Number(portArg)
const N = Number(nArg)
const CONCURRENCY = Number(concArg ?? 32)
const INTERVAL = Number(intervalArg ?? 10_000)

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
  const { stream } = await dialOne(PORT, onMessage)
  streams.push(stream)
}

let gcMs = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration
}).observe({ entryTypes: ['gc'] })
const cpuUs = (): number => {
  const c = process.cpuUsage()
  return c.user + c.system
}

let inspector: Inspector | undefined
async function profile(cmd: string): Promise<void> {
  if (cmd === 'START') {
    inspector = new Inspector()
    inspector.connect()
    await inspector.post('Profiler.enable')
    await inspector.post('Profiler.start')
    return
  }
  const file = cmd.slice('STOP '.length)
  if (inspector === undefined) return
  const { profile } = await inspector.post('Profiler.stop')
  inspector.disconnect()
  inspector = undefined
  writeFileSync(file, JSON.stringify(profile))
  console.log(`PROFILED ${file}`)
}

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
    } else if (cmd.startsWith('PROFILE ')) {
      profile(cmd.slice('PROFILE '.length)).catch((err: unknown) => console.error(`dialers: profile: ${String(err)}`))
    }
  }
})
process.stdin.on('end', () => process.exit(0))

console.log(`STARTED ${cpuUs()} ${gcMs.toFixed(1)}`)
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
    if (n % EVERY === 0 && n > 0)
      console.log(`PROGRESS ${n} ${(performance.now() - t0).toFixed(0)} ${cpuUs()} ${gcMs.toFixed(1)}`)
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker))
console.log(`READY ${streams.length} ${(performance.now() - t0).toFixed(0)} ${failed} ${cpuUs()} ${gcMs.toFixed(1)}`)

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
