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
 *        [--procs P] [--no-rust] [--window W] [--profile-at N1,N2 [--profile-span S]] [--profile-idle]
 *        [--profile-dir DIR] [--profile-tag TAG]
 *
 * Setup figures come per window of W sessions (default 1 000, or N/10 below 5 000): the rate, and the
 * CPU time per session of the node and of the dialers, which a loaded machine distorts far less than
 * the rate. `--profile-at` writes CPU profiles of the node and of each dialer process over S sessions
 * (default 500) from each count; `--profile-idle` one of the node over the idle window
 * (DIR/TAG-*.cpuprofile; read them with scale/profile-summary.ts or Chrome DevTools).
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
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { Session as Inspector } from 'node:inspector/promises'
import { join } from 'node:path'
import { loadavg } from 'node:os'
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
/** Setup figures per window of this many sessions. */
const WINDOW = Number(option(args, '--window') ?? (N >= 5000 ? 1000 : Math.max(100, Math.round(N / 10))))
/** CPU profiles of the node and the dialers over PROFILE_SPAN sessions from each of these counts (`--profile-at 1000,9000`). */
const PROFILE_AT = (option(args, '--profile-at') ?? '')
  .split(',')
  .filter((v) => v !== '')
  .map(Number)
const PROFILE_SPAN = Number(option(args, '--profile-span') ?? 500)
const PROFILE_DIR = option(args, '--profile-dir') ?? '/tmp/scale-profiles'
const PROFILE_TAG = option(args, '--profile-tag') ?? 'scale'
/** A CPU profile of the node over the idle window (sessions up and pinging) too. */
const PROFILE_IDLE = flag(args, '--profile-idle')
if (PROFILE_AT.length > 0 || PROFILE_IDLE) mkdirSync(PROFILE_DIR, { recursive: true })
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
// The machine's load when the run started (and, at the end, over the run): the figures are only comparable
// between runs on a similarly loaded machine.
put('scale.loadavg_1m_at_start', loadavg()[0]!, 'runnable', null, true)

// ---------------------------------------------------------------- dialers

/** One dialer progress point: sessions up in all dialer processes, ms since start, their CPU µs and GC ms summed. */
type Progress = [sessions: number, ms: number, cpuUs: number, gcMs: number]

interface Dialers {
  procs: ChildProcess[]
  /** Resolves with the time all were READY, the count and the setup-rate windows. */
  ready: Promise<{ ms: number; sessions: number; failed: number; progress: Progress[] }>
  broadcastReceipt(): Promise<void>
  expect(marker: number): void
  /** Starts a CPU profile in every dialer process. */
  profileStart(): void
  /** Stops it; resolves once each process wrote `${prefix}-<i>.cpuprofile`. */
  profileStop(prefix: string): Promise<void>
  close(): Promise<void>
}

function startDialers(port: number): Dialers {
  const per = Math.ceil(N / PROCS)
  const progress: Progress[] = []
  const counts = new Array<number>(PROCS).fill(0)
  const cpus = new Array<number>(PROCS).fill(0)
  const gcs = new Array<number>(PROCS).fill(0)
  const sum = (a: number[]): number => a.reduce((x, y) => x + y, 0)
  // Setup time runs from the first dialer process being loaded (not from spawn).
  let t0 = Infinity
  let readyLeft = PROCS
  let total = 0
  let failed = 0
  let readyResolve!: (v: { ms: number; sessions: number; failed: number; progress: Progress[] }) => void
  const ready = new Promise<{ ms: number; sessions: number; failed: number; progress: Progress[] }>(
    (r) => (readyResolve = r),
  )
  let receipts = 0
  let receiptResolve: (() => void) | undefined
  let profiled = 0
  let profiledResolve: (() => void) | undefined
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
        const w = line.split(' ')
        const what = w[0]
        const point = (n: string, cpu: string, gcMs: string): void => {
          counts[i] = Number(n)
          cpus[i] = Number(cpu)
          gcs[i] = Number(gcMs)
          progress.push([sum(counts), performance.now() - t0, sum(cpus), sum(gcs)])
        }
        if (what === 'STARTED') {
          t0 = Math.min(t0, performance.now())
          point('0', w[1]!, w[2]!)
        } else if (what === 'PROGRESS') point(w[1]!, w[3]!, w[4]!)
        else if (what === 'READY') {
          point(w[1]!, w[4]!, w[5]!)
          total += Number(w[1])
          failed += Number(w[3])
          if (--readyLeft === 0) readyResolve({ ms: performance.now() - t0, sessions: total, failed, progress })
        } else if (what === 'RECEIVED') {
          if (++receipts === PROCS) receiptResolve?.()
        } else if (what === 'PROFILED') {
          if (++profiled === PROCS) profiledResolve?.()
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
    profileStart() {
      for (const c of procs) c.stdin!.write('PROFILE START\n')
    },
    profileStop(prefix) {
      profiled = 0
      const done = new Promise<void>((r) => (profiledResolve = r))
      procs.forEach((c, i) => c.stdin!.write(`PROFILE STOP ${prefix}-${i}.cpuprofile\n`))
      return done
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

/** The dialers' progress point nearest to `n` sessions (the dialers report every ~1 % of N). */
function nearest(progress: Progress[], n: number): Progress {
  let best: Progress = [0, 0, progress[0]?.[2] ?? 0, progress[0]?.[3] ?? 0]
  for (const p of progress) if (Math.abs(p[0] - n) <= Math.abs(best[0] - n)) best = p
  return best
}

/** Sessions per second between the first progress point past `from` and the first past `to` (fractions of N). */
function rateBetween(progress: Progress[], from: number, to: number): number {
  const points: [number, number][] = [
    [0, 0],
    ...progress.filter(([n]) => n > 0).map(([n, ms]): [number, number] => [n, ms]),
  ]
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

/** The node's own counters at a session count (node side: `session-open` events). */
interface Mark {
  sessions: number
  ms: number
  cpuUs: number
  gcMs: number
  majorGcMs: number
  heapUsed: number
  rss: number
  loopP99Ms: number
}

const BROADCAST = Buffer.concat([Buffer.from([0xbb]), Buffer.alloc(99, 7)])
{
  let opened = 0
  const marks: Mark[] = []
  let gcMs = 0
  let majorGcMs = 0
  let gcMaxPause = 0
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration
      gcMaxPause = Math.max(gcMaxPause, e.duration)
      if (((e as { detail?: { kind?: number } }).detail?.kind ?? 0) & constants.NODE_PERFORMANCE_GC_MAJOR)
        majorGcMs += e.duration
    }
  })
  gcObserver.observe({ entryTypes: ['gc'] })
  const setupLoop = monitorEventLoopDelay({ resolution: 10 })
  const mark = (): void => {
    // The GC observer's entries are delivered asynchronously: a window's GC figure may lag by a few ms of GC.
    const c = process.cpuUsage()
    const m = process.memoryUsage()
    marks.push({
      sessions: opened,
      ms: performance.now(),
      cpuUs: c.user + c.system,
      gcMs,
      majorGcMs,
      heapUsed: m.heapUsed + m.arrayBuffers,
      rss: m.rss,
      loopP99Ms: setupLoop.percentile(99) / 1e6,
    })
    setupLoop.reset()
  }
  let d: Dialers | undefined
  /** Profiles (node and dialers) over PROFILE_SPAN sessions from each count in PROFILE_AT. */
  const profiles = new Map<number, () => void>()
  const inspector = new Inspector()
  const startProfile = (at: number): void => {
    const prefix = join(PROFILE_DIR, `${PROFILE_TAG}-${at}`)
    inspector.connect()
    const started = inspector.post('Profiler.enable').then(() => inspector.post('Profiler.start'))
    d?.profileStart()
    profiles.set(at + PROFILE_SPAN, () => {
      const node = started
        .then(() => inspector.post('Profiler.stop'))
        .then(({ profile }) => {
          inspector.disconnect()
          writeFileSync(`${prefix}-node.cpuprofile`, JSON.stringify(profile))
        })
      pendingProfiles.push(node, d!.profileStop(`${prefix}-dialers`))
      console.error(`scale: profiled sessions ${at}..${at + PROFILE_SPAN}: ${prefix}-{node,dialers-*}.cpuprofile`)
    })
  }
  const pendingProfiles: Promise<unknown>[] = []
  const service = new Service({
    key: SecioKeyPair.generate(),
    config: { maxConnections: N + 1000 },
    protocols: [{ id: 1, handler: { received: (ctx, data) => ctx.send(data) } }],
    handler: {
      handleEvent(ev) {
        if (ev.type !== 'session-open') return
        opened++
        if (opened % WINDOW === 0) mark()
        if (PROFILE_AT.includes(opened)) startProfile(opened)
        const stop = profiles.get(opened)
        if (stop !== undefined) {
          profiles.delete(opened)
          stop()
        }
      },
    },
  })
  const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
  const port = Number(addr.toString().split('/')[4])
  for (let i = 0; i < 3; i++) gc()
  const m0 = process.memoryUsage()
  setupLoop.enable()
  mark()
  d = startDialers(port)
  try {
    const r = await withTimeout(d.ready, 60_000 + N * 20, 'sessions')
    setupLoop.disable()
    await Promise.all(pendingProfiles)
    put('scale.sessions', service.sessions().length, 'sessions', N, service.sessions().length >= N)
    put('scale.setup_rate.first_10pct', rateBetween(r.progress, 0, 0.1), 'sessions/s', null, true)
    put('scale.setup_rate.middle_10pct', rateBetween(r.progress, 0.45, 0.55), 'sessions/s', null, true)
    put('scale.setup_rate.last_10pct', rateBetween(r.progress, 0.9, 1), 'sessions/s', null, true)
    put('scale.setup_rate.overall', r.sessions / (r.ms / 1000), 'sessions/s', null, true)
    // Per window of WINDOW sessions (node side): rate, CPU per session in the node and in the dialers, the
    // node's GC, event-loop delay and heap. CPU time is what a loaded machine does not distort much.
    for (let k = 1; k < marks.length; k++) {
      const a = marks[k - 1]!
      const b = marks[k]!
      const n = b.sessions - a.sessions
      const tag = `scale.setup.${b.sessions}`
      const da = nearest(r.progress, a.sessions)
      const db = nearest(r.progress, b.sessions)
      put(`${tag}.rate`, n / ((b.ms - a.ms) / 1000), 'sessions/s', null, true)
      put(`${tag}.node_cpu_per_session`, (b.cpuUs - a.cpuUs) / 1000 / n, 'ms', null, true)
      put(`${tag}.node_gc_per_session`, (b.gcMs - a.gcMs) / n, 'ms', null, true)
      put(`${tag}.node_major_gc_per_session`, (b.majorGcMs - a.majorGcMs) / n, 'ms', null, true)
      put(`${tag}.dialers_cpu_per_session`, (db[2] - da[2]) / 1000 / (db[0] - da[0]), 'ms', null, true)
      put(`${tag}.dialers_gc_per_session`, (db[3] - da[3]) / (db[0] - da[0]), 'ms', null, true)
      put(`${tag}.node_loop_delay_p99`, b.loopP99Ms, 'ms', null, true)
      put(`${tag}.node_heap`, b.heapUsed / 2 ** 20, 'MiB', null, true)
    }
    // Idle with pings: event-loop delay over a window, then memory.
    const eld = monitorEventLoopDelay({ resolution: 10 })
    const idle0 = { cpu: process.cpuUsage(), t: performance.now(), gcMs, majorGcMs }
    gcMaxPause = 0
    if (PROFILE_IDLE) {
      inspector.connect()
      await inspector.post('Profiler.enable')
      await inspector.post('Profiler.start')
    }
    eld.enable()
    await sleep(quick ? 5000 : 15_000)
    eld.disable()
    if (PROFILE_IDLE) {
      const { profile } = await inspector.post('Profiler.stop')
      inspector.disconnect()
      const file = join(PROFILE_DIR, `${PROFILE_TAG}-idle-node.cpuprofile`)
      writeFileSync(file, JSON.stringify(profile))
      console.error(`scale: profiled the idle window: ${file}`)
    }
    put('scale.event_loop_delay_p99', eld.percentile(99) / 1e6, 'ms', 50, eld.percentile(99) / 1e6 < 50)
    // What the loop delay is made of: the node's CPU over the idle window (a busy machine stretches a
    // burst of work into a longer delay; CPU time it does not), and its GC pauses (wall time).
    const idleCpu = process.cpuUsage(idle0.cpu)
    const idleMs = performance.now() - idle0.t
    put('scale.idle.node_cpu', ((idleCpu.user + idleCpu.system) / 1000 / idleMs) * 100, '% of a core', null, true)
    put('scale.idle.node_gc', ((gcMs - idle0.gcMs) / idleMs) * 100, '% of wall time', null, true)
    put('scale.idle.node_major_gc', ((majorGcMs - idle0.majorGcMs) / idleMs) * 100, '% of wall time', null, true)
    put('scale.idle.node_gc_max_pause', gcMaxPause, 'ms', null, true)
    gcObserver.disconnect()
    for (let i = 0; i < 3; i++) {
      gc()
      await sleep(50)
    }
    const m1 = process.memoryUsage()
    const n = service.sessions().length
    // Timers held per idle session (yamux keepalive: one each; Node keeps same-duration timers in one list).
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    put('scale.timers_per_idle_session', timers / n, 'timers', null, true)
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
    const cb = process.cpuUsage()
    service.broadcast({ kind: 'all' }, 1, BROADCAST)
    const callCpu = process.cpuUsage(cb)
    const call = performance.now() - tb
    await withTimeout(d.broadcastReceipt(), 60_000, 'broadcast receipt')
    put('scale.broadcast_call', call, 'ms', null, true)
    // The call's CPU time: its wall time includes whatever the machine's load took from us.
    put('scale.broadcast_call_cpu', (callCpu.user + callCpu.system) / 1000, 'ms', null, true)
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
    // The same windows as for the TS node, from the dialers' side (is a decay in the dialers?).
    for (let n = WINDOW; n <= r.sessions; n += WINDOW) {
      const da = nearest(r.progress, n - WINDOW)
      const db = nearest(r.progress, n)
      put(`scale.rust.setup.${n}.rate`, (db[0] - da[0]) / ((db[1] - da[1]) / 1000), 'sessions/s', null, true)
      put(`scale.rust.setup.${n}.dialers_cpu_per_session`, (db[2] - da[2]) / 1000 / (db[0] - da[0]), 'ms', null, true)
    }
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
put('scale.loadavg_15m_at_end', loadavg()[2]!, 'runnable', null, true)
process.exit(ok ? 0 : 1)
