/**
 * Scale: one node (a Service in this process) holding N sessions from dialers
 * in other processes (scale/dialers.ts), each session with protocol 1 open and
 * pinging (8 bytes every 10 s, echoed by the node). Reports memory per idle
 * session (RSS and heap), the setup rate as sessions accumulate, the
 * event-loop delay p99 with all of them up, and the cost of a broadcast to
 * all; then the same figures for a Rust tentacle node (tentacle-peer from
 * test/interop, `--echo`) against the same dialers.
 *
 *   node --conditions=source --import tsx test/endurance/scale/run.ts [--quick] [--sessions N]
 *        [--procs P] [--no-rust]
 *
 * Default 10 000 sessions; --quick 1 000. File descriptors: the node needs
 * one per session; the script raises its soft limit to the hard limit (by
 * re-running itself under `ulimit -n`) and says so in the output; with fewer
 * than N + 512 it stops. Targets (issue 12): ≤ 64 KiB RSS per idle session and
 * event-loop delay p99 < 50 ms at 10 000.
 * One JSON line per figure: {bench, value, unit, target, ok}; exit 1 when a
 * target is missed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import v8 from 'node:v8'
import vm from 'node:vm'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service } from '@tentacle-ts/tentacle'
import { binPath, startServer, killAll } from '../../interop/lib/index.js'
import { figure, flag, option } from '../lib/figures.js'

const args = process.argv.slice(2)
const quick = flag(args, '--quick')
const N = Number(option(args, '--sessions') ?? (quick ? 1000 : 10_000))
const PROCS = Number(option(args, '--procs') ?? 2)
const withRust = !flag(args, '--no-rust')
const self = fileURLToPath(import.meta.url)
const DIALERS = fileURLToPath(new URL('./dialers.ts', import.meta.url))
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function fdLimits(): { soft: number; hard: number } {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'))!
  const [soft, hard] = line
    .trim()
    .split(/\s+/)
    .slice(3, 5)
    .map((v) => (v === 'unlimited' ? Infinity : Number(v)))
  return { soft: soft!, hard: hard! }
}

// ---------------------------------------------------------------- fd limit
const need = N + 512
const lim = fdLimits()
if (lim.soft < need && process.env.SCALE_FD_RAISED === undefined) {
  if (lim.hard < need) {
    console.error(`scale: needs ${need} file descriptors, the hard limit is ${lim.hard}; run with fewer --sessions`)
    process.exit(1)
  }
  // Re-run under a raised soft limit (node has no setrlimit).
  const quoted = [process.execPath, ...process.execArgv, self, ...args]
    .map((a) => `'${a.replace(/'/g, `'\\''`)}'`)
    .join(' ')
  const r = spawnSync('bash', ['-c', `ulimit -n ${lim.hard} && exec ${quoted}`], {
    stdio: 'inherit',
    env: { ...process.env, SCALE_FD_RAISED: String(lim.soft) },
  })
  process.exit(r.status ?? 1)
}
if (process.env.SCALE_FD_RAISED !== undefined)
  console.error(
    `scale: file descriptor soft limit raised from ${process.env.SCALE_FD_RAISED} to ${fdLimits().soft} (ulimit -n)`,
  )

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

let ok = true
const put = (bench: string, value: number, unit: string, target: number | string | null, pass: boolean): void => {
  figure({ bench, value, unit, target, ok: pass })
  ok &&= pass
}
put('scale.fd_limit', fdLimits().soft, 'fds', need, fdLimits().soft >= need)

// ---------------------------------------------------------------- dialers

interface Dialers {
  procs: ChildProcess[]
  /** Resolves with the time all were READY, the count and the setup-rate windows. */
  ready: Promise<{ ms: number; sessions: number; failed: number; progress: [number, number][] }>
  broadcastReceipt(): Promise<void>
  expect(marker: number): void
  close(): Promise<void>
}

function startDialers(port: number): Dialers {
  const per = Math.ceil(N / PROCS)
  const progress: [number, number][] = []
  const counts = new Array<number>(PROCS).fill(0)
  // Setup time runs from the first dialer process being loaded (not from spawn).
  let t0 = Infinity
  let readyLeft = PROCS
  let total = 0
  let failed = 0
  let readyResolve!: (v: { ms: number; sessions: number; failed: number; progress: [number, number][] }) => void
  const ready = new Promise<{ ms: number; sessions: number; failed: number; progress: [number, number][] }>(
    (r) => (readyResolve = r),
  )
  let receipts = 0
  let receiptResolve: (() => void) | undefined
  const procs = Array.from({ length: PROCS }, (_, i) => {
    const c = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        DIALERS,
        String(port),
        String(i === PROCS - 1 ? N - per * (PROCS - 1) : per),
        '16',
        '10000',
        String(Math.max(10, Math.floor(per / 50))),
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    )
    let buf = ''
    c.stdout!.setEncoding('utf8')
    c.stdout!.on('data', (d: string) => {
      buf += d
      for (let k = buf.indexOf('\n'); k >= 0; k = buf.indexOf('\n')) {
        const line = buf.slice(0, k)
        buf = buf.slice(k + 1)
        const [what, a, , f] = line.split(' ')
        if (what === 'STARTED') t0 = Math.min(t0, performance.now())
        else if (what === 'PROGRESS') {
          counts[i] = Number(a)
          progress.push([counts.reduce((x, y) => x + y, 0), performance.now() - t0])
        } else if (what === 'READY') {
          counts[i] = Number(a)
          total += Number(a)
          failed += Number(f)
          progress.push([counts.reduce((x, y) => x + y, 0), performance.now() - t0])
          if (--readyLeft === 0) readyResolve({ ms: performance.now() - t0, sessions: total, failed, progress })
        } else if (what === 'RECEIVED') {
          if (++receipts === PROCS) receiptResolve?.()
        }
      }
    })
    return c
  })
  return {
    procs,
    ready,
    expect(marker) {
      receipts = 0
      for (const c of procs) c.stdin!.write(`EXPECT ${marker}\n`)
    },
    broadcastReceipt() {
      return new Promise((r) => {
        if (receipts === PROCS) return r()
        receiptResolve = r
      })
    },
    async close() {
      await Promise.all(
        procs.map(
          (c) =>
            new Promise<void>((r) => {
              if (c.exitCode !== null || c.signalCode !== null) return r()
              c.once('exit', () => r())
              c.kill('SIGKILL')
            }),
        ),
      )
    },
  }
}

/** Sessions per second between the first progress point past `from` and the first past `to` (fractions of N). */
function rateBetween(progress: [number, number][], from: number, to: number): number {
  const points: [number, number][] = [[0, 0], ...progress]
  const a = [...points].reverse().find(([n]) => n <= from * N) ?? [0, 0]
  const b = points.find(([n]) => n >= to * N) ?? points[points.length - 1]!
  return b[1] === a[1] ? 0 : (b[0] - a[0]) / ((b[1] - a[1]) / 1000)
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`scale: ${what} not within ${ms} ms`)), ms))),
    ])
  } finally {
    clearTimeout(t)
  }
}

// ---------------------------------------------------------------- the TS node
const BROADCAST = Buffer.concat([Buffer.from([0xbb]), Buffer.alloc(99, 7)])
{
  const service = new Service({
    key: SecioKeyPair.generate(),
    config: { maxConnections: N + 1000 },
    protocols: [{ id: 1, handler: { received: (ctx, data) => ctx.send(data) } }],
  })
  const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
  const port = Number(addr.toString().split('/')[4])
  for (let i = 0; i < 3; i++) gc()
  const m0 = process.memoryUsage()
  const d = startDialers(port)
  try {
    const r = await withTimeout(d.ready, 60_000 + N * 20, 'sessions')
    put('scale.sessions', service.sessions().length, 'sessions', N, service.sessions().length >= N)
    put('scale.setup_rate.first_10pct', rateBetween(r.progress, 0, 0.1), 'sessions/s', null, true)
    put('scale.setup_rate.middle_10pct', rateBetween(r.progress, 0.45, 0.55), 'sessions/s', null, true)
    put('scale.setup_rate.last_10pct', rateBetween(r.progress, 0.9, 1), 'sessions/s', null, true)
    put('scale.setup_rate.overall', r.sessions / (r.ms / 1000), 'sessions/s', null, true)
    // Idle with pings: event-loop delay over a window, then memory.
    const eld = monitorEventLoopDelay({ resolution: 10 })
    eld.enable()
    await sleep(quick ? 5000 : 15_000)
    eld.disable()
    put('scale.event_loop_delay_p99', eld.percentile(99) / 1e6, 'ms', 50, eld.percentile(99) / 1e6 < 50)
    for (let i = 0; i < 3; i++) {
      gc()
      await sleep(50)
    }
    const m1 = process.memoryUsage()
    const n = service.sessions().length
    put('scale.rss_per_idle_session', (m1.rss - m0.rss) / n / 1024, 'KiB', 64, (m1.rss - m0.rss) / n <= 64 * 1024)
    put(
      'scale.heap_per_idle_session',
      (m1.heapUsed + m1.arrayBuffers - m0.heapUsed - m0.arrayBuffers) / n / 1024,
      'KiB',
      null,
      true,
    )
    // Broadcast to all: the call itself, and until every session received it.
    d.expect(0xbb)
    await sleep(200)
    const tb = performance.now()
    service.broadcast({ kind: 'all' }, 1, BROADCAST)
    const call = performance.now() - tb
    await withTimeout(d.broadcastReceipt(), 60_000, 'broadcast receipt')
    put('scale.broadcast_call', call, 'ms', null, true)
    put('scale.broadcast_all_received', performance.now() - tb, 'ms', null, true)
  } finally {
    await d.close()
    await service.shutdown()
  }
}

// ---------------------------------------------------------------- the Rust node, for scale
if (withRust && existsSync(binPath('tentacle-peer'))) {
  const rss = (pid: number): number =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
  // It inherits this process's (raised) file descriptor limit.
  const server = await startServer(binPath('tentacle-peer'), ['--listen', '/ip4/127.0.0.1/tcp/0', '--echo'])
  const pid = server.peer.pid!
  await sleep(500)
  const r0 = rss(pid)
  const d = startDialers(server.port)
  try {
    const r = await withTimeout(d.ready, 60_000 + N * 20, 'Rust sessions')
    put('scale.rust.sessions', r.sessions, 'sessions', null, true)
    put('scale.rust.setup_rate.overall', r.sessions / (r.ms / 1000), 'sessions/s', null, true)
    await sleep(quick ? 5000 : 15_000)
    put('scale.rust.rss_per_idle_session', (rss(pid) - r0) / r.sessions / 1024, 'KiB', null, true)
    d.expect(0xbb)
    await sleep(200)
    const tb = performance.now()
    server.peer.send({ cmd: 'broadcast', proto: 1, hex: BROADCAST.toString('hex') })
    await withTimeout(d.broadcastReceipt(), 60_000, 'Rust broadcast receipt')
    put('scale.rust.broadcast_all_received', performance.now() - tb, 'ms', null, true)
  } finally {
    await d.close()
    await killAll(server.peer)
  }
}
process.exit(ok ? 0 : 1)
