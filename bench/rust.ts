// `npm run bench -- rust [--quick]`: tentacle-ts against Rust tentacle 0.7.7
// itself, the same workloads in the same run, contenders alternating, medians.
// Every figure: {"bench": "rust.…", value: tentacle-ts, baseline: Rust tentacle,
// ratio: tentacle-ts / Rust, "against": "rust-tentacle"}.
//
//   rust.service.throughput[.window-1MiB]        MiB/s, one protocol stream, 64 KiB messages
//     .receiver-cpu / .sender-cpu                CPU ms per MiB of each side (lower is better)
//     .receiver-major-gc                         mark-compacts of the TS receiver per 64 MiB (Rust: 0)
//     .ts-to-rust / .rust-to-ts                  across languages (value) vs Rust -> Rust (baseline)
//     .rust-to-ts.receiver-cpu                   a TS receiver fed by Rust vs a Rust receiver
//     .ts-to-rust.sender-cpu                     a TS sender feeding Rust vs a Rust sender
//   rust.secio.throughput.aes-128-gcm[.receiver-cpu|.sender-cpu]   secio alone over TCP
//   rust.service.setup.sequential / .concurrent16     sessions/s vs Rust with TCP_NODELAY
//     .as-shipped                                vs Rust tentacle as shipped (Nagle on)
//     .listener-cpu / .dialer-cpu                CPU ms per session of each side
//
// Every end runs in its own process (two cores, as two nodes): the Rust ends
// are bench/rust/src/main.rs (built by bench/rust/build.sh into
// ~/.cache/tentacle-ts/bin), the tentacle-ts ends live in two long-lived child
// processes (bench/rust/ts-peer.ts), one for listeners and one for dialers.
// CPU is each process's own user+sys time (getrusage / process.cpuUsage) over the
// measured interval. See bench/README.md "## Rust tentacle".
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { report } from './lib.ts'
import type { PhaseSummary } from './rust/phases.ts'
import type { Command } from './rust/ts-peer.ts'

const MiB = 1024 * 1024
const CKB_WINDOW = 1024 * 1024
type Impl = 'ts' | 'rust'
type Event = Record<string, unknown>
/** Longest wait for one result event. */
const TIMEOUT_MS = 60_000

// ------------------------------------------------------------------ jobs

/** One running role (a Rust process, or a command in a tentacle-ts peer); its result events in order. */
class Job {
  private readonly events: Event[] = []
  private readonly waiters: { key: string; resolve: (e: Event) => void; reject: (e: Error) => void }[] = []
  private failed: Error | undefined
  constructor(
    readonly stopFn: () => Promise<void>,
    readonly ask: () => void = () => {},
  ) {}

  push(e: Event): void {
    if (typeof e.error === 'string') return this.fail(new Error(e.error))
    const i = this.waiters.findIndex((w) => w.key in e)
    if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(e)
    else this.events.push(e)
  }

  fail(err: Error): void {
    this.failed ??= err
    for (const w of this.waiters.splice(0)) w.reject(err)
  }

  /** The next event carrying `key` (events are matched in arrival order). */
  next(key: string): Promise<Event> {
    const i = this.events.findIndex((e) => key in e)
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]!)
    if (this.failed) return Promise.reject(this.failed)
    return new Promise((resolve, reject) => {
      // A stuck measurement fails the bench instead of hanging it.
      const timer = setTimeout(() => this.fail(new Error(`no "${key}" within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS)
      const done =
        <T>(f: (v: T) => void) =>
        (v: T) => (clearTimeout(timer), f(v))
      this.waiters.push({ key, resolve: done(resolve), reject: done(reject) })
    })
  }

  /** This process's CPU time now (µs); listeners only. */
  async cpu(): Promise<number> {
    const answer = this.next('cpu')
    this.ask()
    return (await answer).cpu as number
  }

  stop(): Promise<void> {
    return this.stopFn()
  }
}

const RUST_BIN = join(
  process.env.TENTACLE_TS_CACHE ?? join(homedir(), '.cache', 'tentacle-ts'),
  'bin',
  'tentacle-bench',
)

function rustJob(args: string[]): Job {
  const child = spawn(RUST_BIN, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  let exited = false
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())))
  const job = new Job(
    async () => {
      // Listeners exit at stdin EOF, dialers when done; a stuck one is killed.
      child.stdin.end()
      if (exited) return
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(kill)
    },
    () => child.stdin.write('cpu\n'),
  )
  child.once('exit', (code) => job.fail(new Error(`tentacle-bench ${args[0]} exited with code ${code}`)))
  child.on('error', (e) => job.fail(e))
  createInterface({ input: child.stdout }).on('line', (line) => job.push(JSON.parse(line) as Event))
  return job
}

/** A long-lived tentacle-ts peer process (bench/rust/ts-peer.ts). */
class TsPeer {
  private nextId = 1
  private readonly jobs = new Map<number, Job>()
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: Event) => this.jobs.get(m.id as number)?.push(m))
    child.once('exit', (code, signal) => {
      for (const j of this.jobs.values()) j.fail(new Error(`tentacle-ts bench peer exited (${code ?? signal})`))
    })
  }

  static async start(): Promise<TsPeer> {
    const child = fork(fileURLToPath(new URL('./rust/ts-peer.ts', import.meta.url)), ['--bench-rust-ts-peer'], {
      // BENCH_TS_V8='--trace-gc …': Node/V8 flags for the tentacle-ts peers (NODE_OPTIONS refuses most).
      execArgv: [
        '--conditions=source',
        '--import',
        'tsx',
        ...(process.env.BENCH_TS_V8?.split(' ').filter(Boolean) ?? []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve())
      child.once('exit', () => reject(new Error('tentacle-ts bench peer exited before it was ready')))
    })
    return new TsPeer(child)
  }

  run(c: Omit<Command, 'id'>): Job {
    const id = this.nextId++
    const job = new Job(
      async () => {
        const stop = this.run({ cmd: 'stop', job: id })
        await stop.next('stopped')
        this.jobs.delete(id)
      },
      () => this.child.send({ id, cmd: 'cpu' }),
    )
    this.jobs.set(id, job)
    this.child.send({ id, ...c })
    return job
  }

  exit(): void {
    this.child.disconnect()
  }
}

// ------------------------------------------------------------------ workloads

interface Peers {
  /** tentacle-ts listeners and dialers, in two processes. */
  tsListen: TsPeer
  tsDial: TsPeer
}

function start(p: Peers, impl: Impl, side: 'listen' | 'dial', c: Omit<Command, 'id'>, nodelay: boolean): Job {
  if (impl === 'ts') return (side === 'listen' ? p.tsListen : p.tsDial).run(c)
  const args: string[] = [c.cmd]
  for (const k of ['total', 'window', 'dial', 'port', 'lanes', 'ms'] as const)
    if (c[k] !== undefined) args.push(`--${k}`, String(c[k]))
  if (c.echo) args.push('--echo')
  if (nodelay) args.push('--nodelay')
  return rustJob(args)
}

interface Flow {
  mibs: number
  /** CPU ms per MiB. */
  sendCpu: number
  recvCpu: number
  /** Major GCs (mark-compacts) of a tentacle-ts receiver per 64 MiB; 0 for Rust. */
  recvMajorGc: number
  sendMajorGc: number
}

/** One one-way transfer of `total` bytes: a sink on one side, a sender on the other. */
async function flow(
  p: Peers,
  kind: 'service' | 'secio',
  sender: Impl,
  receiver: Impl,
  total: number,
  window?: number,
): Promise<Flow> {
  const sink = start(p, receiver, 'listen', { cmd: `${kind}-sink`, total, ...(window ? { window } : {}) }, true)
  let send: Job | undefined
  try {
    const where = (await sink.next('listening')).listening
    const to = kind === 'service' ? { dial: where as string } : { port: where as number }
    send = start(p, sender, 'dial', { cmd: `${kind}-send`, total, ...to, ...(window ? { window } : {}) }, true)
    const [s, o, d, g] = [
      await send.next('start'),
      await sink.next('open'),
      await send.next('done'),
      await sink.next('got'),
    ]
    const mib = total / MiB
    return {
      mibs: mib / ((d.done as number) / 1000),
      sendCpu: ((d.cpu as number) - (s.start as number)) / 1000 / mib,
      recvCpu: ((g.got as number) - (o.open as number)) / 1000 / mib,
      recvMajorGc: ((((g.gc as number | undefined) ?? 0) - ((o.gc as number | undefined) ?? 0)) * 64) / mib,
      sendMajorGc: ((((d.gc as number | undefined) ?? 0) - ((s.gc as number | undefined) ?? 0)) * 64) / mib,
    }
  } finally {
    await send?.stop().catch(() => {})
    await sink.stop()
  }
}

interface Setup {
  rate: number
  /** CPU ms per session. */
  listenCpu: number
  dialCpu: number
}

async function setupRate(
  p: Peers,
  impl: Impl,
  nodelay: boolean,
  lanes: number,
  ms: number,
  dialer: Impl = impl,
): Promise<Setup> {
  const echo = start(p, impl, 'listen', { cmd: 'service-sink', echo: true }, nodelay)
  let dial: Job | undefined
  try {
    const addr = (await echo.next('listening')).listening as string
    dial = start(p, dialer, 'dial', { cmd: 'setup', dial: addr, lanes, ms }, nodelay)
    const clock = (await dial.next('clock')).clock as number
    const l0 = await echo.cpu()
    const t0 = performance.now()
    const end = await dial.next('rate')
    const l1 = await echo.cpu()
    const sessions = (end.rate as number) * ((performance.now() - t0) / 1000)
    return {
      rate: end.rate as number,
      listenCpu: (l1 - l0) / 1000 / sessions,
      dialCpu: ((end.cpu as number) - clock) / 1000 / sessions,
    }
  } finally {
    await dial?.stop().catch(() => {})
    await echo.stop()
  }
}

/**
 * Runs the tentacle-ts setup path (both peer processes, one lane then 16) for
 * `ms` each before anything is measured. A session runs each of its functions
 * once or twice, so at a few hundred sessions/s V8 optimizes them only after
 * thousands of sessions: without this, the first rounds measure code that is
 * still being compiled (2-3x the CPU per session of a warm process, README
 * "Session setup: where the time goes"). A node runs for days; the Rust peer
 * has no JIT to warm.
 */
/**
 * Runs the tentacle-ts setup path until it is warm: rounds of `roundMs` per lane
 * count until the CPU per session (listener + dialer) has stopped falling — two
 * rounds in a row not 5 % below the best so far — or `budgetMs` is spent. A
 * fresh process needs ~15–20 s of sessions before V8 has optimized a session's
 * code (README, "A session's code is slow to warm up"); Rust has no JIT to warm.
 */
async function warmSetup(p: Peers, roundMs: number, budgetMs: number): Promise<void> {
  for (const lanes of [1, 16]) {
    let best = Infinity
    let flat = 0
    for (let spent = 0; spent < budgetMs && flat < 2; spent += roundMs) {
      const s = await setupRate(p, 'ts', true, lanes, roundMs)
      const cpu = s.listenCpu + s.dialCpu
      flat = cpu < best * 0.95 ? 0 : flat + 1
      best = Math.min(best, cpu)
      if (process.env.BENCH_VERBOSE)
        console.error(
          `setup warm-up, ${lanes} lane(s): ${s.rate.toFixed(0)} sessions/s, ` +
            `listener ${s.listenCpu.toFixed(3)} / dialer ${s.dialCpu.toFixed(3)} ms CPU/session`,
        )
    }
  }
}

/**
 * `BENCH_SETUP_PHASES=1` (`=only`: nothing else): sequential session setups with the tentacle-ts ends'
 * sockets tapped (bench/rust/phases.ts), TS<-TS, then each TS end against a Rust
 * peer (TCP_NODELAY): per step, the TS side's CPU and the time. A TS end's
 * "w… -> r…" step against Rust is the Rust peer's answer time for that step.
 * Printed to stderr; no figures.
 */
async function setupPhases(p: Peers, ms: number): Promise<void> {
  const tsPeer = (side: 'listen' | 'dial'): TsPeer => (side === 'listen' ? p.tsListen : p.tsDial)
  for (const [listener, dialer] of [
    ['ts', 'ts'],
    ['rust', 'ts'],
    ['ts', 'rust'],
  ] as const) {
    const tapped = (['listen', 'dial'] as const).filter((side) => (side === 'listen' ? listener : dialer) === 'ts')
    for (const side of tapped) await tsPeer(side).run({ cmd: 'phases', on: true }).next('phases')
    const s = await setupRate(p, listener, true, 1, ms, dialer)
    const lines = [
      `session setup, sequential, ${dialer} dialer -> ${listener} listener: ${s.rate.toFixed(0)} sessions/s` +
        (listener === 'ts' ? `, listener ${s.listenCpu.toFixed(3)} ms CPU/session` : '') +
        (dialer === 'ts' ? `, dialer ${s.dialCpu.toFixed(3)} ms CPU/session` : ''),
    ]
    for (const side of tapped) {
      const sum = (await tsPeer(side).run({ cmd: 'phases', on: false }).next('phases')).phases as PhaseSummary
      lines.push(
        `  tentacle-ts ${side === 'listen' ? 'listener' : 'dialer'} (${sum.matching} of ${sum.sockets} sockets alike; ` +
          `first to last event: ${sum.cpuUs} µs CPU, ${sum.wallUs.toFixed(0)} µs)`,
      )
      for (const st of sum.steps)
        lines.push(
          `    ${st.from.padStart(8)} -> ${st.to.padEnd(8)} ${String(st.cpuUs).padStart(5)} µs CPU ${st.wallUs.toFixed(0).padStart(6)} µs`,
        )
    }
    console.error(lines.join('\n'))
  }
}

/** Measures every contender once per round, in order; per contender, the median of each field. */
async function alternateAll<K extends string, R extends object>(
  rounds: number,
  contenders: readonly K[],
  measure: (c: K) => Promise<R>,
): Promise<Record<K, R>> {
  const all = Object.fromEntries(contenders.map((c) => [c, [] as R[]])) as Record<K, R[]>
  for (let r = 0; r < rounds; r++) for (const c of contenders) all[c].push(await measure(c))
  if (process.env.BENCH_VERBOSE) console.error(JSON.stringify(all))
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return Object.fromEntries(
    contenders.map((c) => [
      c,
      Object.fromEntries(
        Object.keys(all[c][0]!).map((k) => [k, med(all[c].map((x) => (x as Record<string, number>)[k]!))]),
      ),
    ]),
  ) as Record<K, R>
}

const fig = (bench: string, value: number, baseline: number, unit: string) =>
  report({ bench, value, baseline, unit, against: 'rust-tentacle' })

// ------------------------------------------------------------------ run

export async function run(opts: { quick: boolean }): Promise<void> {
  // Build (or find up to date) the Rust peer: cargo decides, a no-op takes a fraction of a second.
  execFileSync(fileURLToPath(new URL('./rust/build.sh', import.meta.url)), { stdio: ['ignore', 'ignore', 'inherit'] })
  const rounds = opts.quick ? 3 : 5
  const total = (opts.quick ? 64 : 256) * MiB
  const setupMs = opts.quick ? 1000 : 4000
  // Warm-up per lane count: rounds of 1 s (quick) / 2 s until flat, within 12 s / 30 s.
  const warmRoundMs = opts.quick ? 1000 : 2000
  const warmBudgetMs = opts.quick ? 12000 : 30000
  const peers: Peers = { tsListen: await TsPeer.start(), tsDial: await TsPeer.start() }
  try {
    if (process.env.BENCH_SETUP_PHASES === 'only') {
      await warmSetup(peers, warmRoundMs, warmBudgetMs)
      return await setupPhases(peers, setupMs)
    }
    // Warm up every code path once.
    for (const [s, r] of [
      ['ts', 'ts'],
      ['rust', 'ts'],
      ['ts', 'rust'],
    ] as const)
      await flow(peers, 'service', s, r, 32 * MiB)
    await flow(peers, 'secio', 'ts', 'ts', 32 * MiB)

    const pairs = {
      ts: ['ts', 'ts'],
      rust: ['rust', 'rust'],
      'ts-to-rust': ['ts', 'rust'],
      'rust-to-ts': ['rust', 'ts'],
    } as const
    for (const [tag, window] of [
      ['', undefined],
      ['.window-1MiB', CKB_WINDOW],
    ] as const) {
      const t = await alternateAll(rounds, Object.keys(pairs) as (keyof typeof pairs)[], (k) =>
        flow(peers, 'service', pairs[k][0], pairs[k][1], total, window),
      )
      const name = `rust.service.throughput${tag}`
      fig(name, t.ts.mibs, t.rust.mibs, 'MiB/s')
      fig(`${name}.receiver-cpu`, t.ts.recvCpu, t.rust.recvCpu, 'cpu-ms/MiB')
      // Explains the receiver's CPU: with Node's defaults a small heap either runs a
      // mark-compact every ~10 MiB or almost none, for a whole process (README "GC").
      fig(`${name}.receiver-major-gc`, t.ts.recvMajorGc, t.rust.recvMajorGc, 'major-gc/64MiB')
      fig(`${name}.sender-major-gc`, t.ts.sendMajorGc, t.rust.sendMajorGc, 'major-gc/64MiB')
      fig(`${name}.sender-cpu`, t.ts.sendCpu, t.rust.sendCpu, 'cpu-ms/MiB')
      fig(`${name}.ts-to-rust`, t['ts-to-rust'].mibs, t.rust.mibs, 'MiB/s')
      fig(`${name}.ts-to-rust.sender-cpu`, t['ts-to-rust'].sendCpu, t.rust.sendCpu, 'cpu-ms/MiB')
      fig(`${name}.rust-to-ts`, t['rust-to-ts'].mibs, t.rust.mibs, 'MiB/s')
      fig(`${name}.rust-to-ts.receiver-cpu`, t['rust-to-ts'].recvCpu, t.rust.recvCpu, 'cpu-ms/MiB')
    }

    const sec = await alternateAll(rounds, ['ts', 'rust'] as const, (k) => flow(peers, 'secio', k, k, total))
    fig('rust.secio.throughput.aes-128-gcm', sec.ts.mibs, sec.rust.mibs, 'MiB/s')
    fig('rust.secio.throughput.aes-128-gcm.receiver-cpu', sec.ts.recvCpu, sec.rust.recvCpu, 'cpu-ms/MiB')
    fig('rust.secio.throughput.aes-128-gcm.sender-cpu', sec.ts.sendCpu, sec.rust.sendCpu, 'cpu-ms/MiB')

    await warmSetup(peers, warmRoundMs, warmBudgetMs)
    if (process.env.BENCH_SETUP_PHASES) await setupPhases(peers, setupMs)

    const setups = { ts: ['ts', true], rust: ['rust', true], 'rust-as-shipped': ['rust', false] } as const
    for (const [tag, lanes] of [
      ['sequential', 1],
      ['concurrent16', 16],
    ] as const) {
      const s = await alternateAll(rounds, Object.keys(setups) as (keyof typeof setups)[], (k) =>
        setupRate(peers, setups[k][0], setups[k][1], lanes, setupMs),
      )
      const name = `rust.service.setup.${tag}`
      fig(name, s.ts.rate, s.rust.rate, 'sessions/s')
      fig(`${name}.as-shipped`, s.ts.rate, s['rust-as-shipped'].rate, 'sessions/s')
      fig(`${name}.listener-cpu`, s.ts.listenCpu, s.rust.listenCpu, 'cpu-ms/session')
      fig(`${name}.dialer-cpu`, s.ts.dialCpu, s.rust.dialCpu, 'cpu-ms/session')
    }
  } finally {
    peers.tsListen.exit()
    peers.tsDial.exit()
  }
}
