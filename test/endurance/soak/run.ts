/**
 * Churn soak: a node (a Service in this process) under sessions opening and
 * closing all the time — dials in and out, accepts, half of them ended
 * abruptly (RST, FIN without GoAway, the whole peer process SIGKILLed), some
 * mid-handshake, some mid-transfer (soak/churn.ts drives the peer side). At
 * the end the node's heap (V8 objects + Buffer memory, after GC; compiled
 * code is reported apart), RSS, file descriptors, timers, handles
 * and process listeners must be back to their baseline within 10 %, and
 * every error it reported must be one the churn explains.
 *
 *   node --conditions=source --import tsx test/endurance/soak/run.ts [--quick] [--seconds N]
 *        [--inject-leak heap:BYTES|timer] [--heap-snapshots DIR]
 *
 * Default 1800 s; --quick 120 s. The baseline is taken after a warm-up
 * (a fifth of the run, at most 60 s) with the churn paused and every session
 * gone; the final figures the same way after the run. --inject-leak makes the
 * node leak on purpose (BYTES kept per session, or one interval timer per 20
 * sessions) — a test of the test: the soak must then fail.
 * One JSON line per figure: {bench, value, unit, target, ok}; exit 1 when a
 * target is missed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import v8 from 'node:v8'
import vm from 'node:vm'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, TentacleError } from '@tentacle-ts/tentacle'
import { Rng } from '../fuzz/mutate.js'
import { figure, flag, option } from '../lib/figures.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const args = process.argv.slice(2)
const quick = flag(args, '--quick')
const seconds = Number(option(args, '--seconds') ?? (quick ? 120 : 1800))
const leak = option(args, '--inject-leak')
/** Write a heap snapshot at the baseline and at the end (for a diff by constructor: soak/heap-diff.ts). */
const snapshotDir = option(args, '--heap-snapshots')
const warmupMs = Math.min(60_000, (seconds * 1000) / 5)
const runMs = seconds * 1000 - warmupMs
const KILL_EVERY_MS = 10_000
const CHURN = fileURLToPath(new URL('./churn.ts', import.meta.url))
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The errors churn explains, by event type: what else shows up is a finding. */
const ACCOUNTED: Record<string, Set<string>> = {
  'handshake-error': new Set(['TENTACLE_ERR_HANDSHAKE_FAILED', 'TENTACLE_ERR_HANDSHAKE_TIMEOUT']),
  'dial-error': new Set([
    'TENTACLE_ERR_DIAL_FAILED',
    'TENTACLE_ERR_HANDSHAKE_FAILED',
    'TENTACLE_ERR_HANDSHAKE_TIMEOUT',
  ]),
  'protocol-select-error': new Set(['TENTACLE_ERR_PROTOCOL_SELECT']),
  'muxer-error': new Set(['TENTACLE_ERR_MUXER']),
}
const errors = new Map<string, number>()
const unaccounted: string[] = []
const note = (k: string, ok: boolean): void => {
  errors.set(k, (errors.get(k) ?? 0) + 1)
  if (!ok && unaccounted.length < 20) unaccounted.push(k)
  if (!ok) unaccountedCount++
}
let unaccountedCount = 0
/** Ends the run at once, churn peer included: for an uncaught error, a stall or a harness failure. */
function abort(why: string): never {
  console.error(`soak: ABORTED: ${why}`)
  figure({ bench: 'soak.aborted', value: 1, unit: 'runs', target: 0, ok: false })
  child?.kill('SIGKILL')
  process.exit(1)
}
// An uncaught error in the node under test is a finding, and must not leave a run idling.
process.on('uncaughtException', (err) => abort(`uncaught exception: ${(err as Error)?.stack ?? String(err)}`))
process.on('unhandledRejection', (err) => abort(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`))

/** Resolvers of sessionGone() by session id, called on the session-close event. */
const goneWaiters = new Map<number, () => void>()
/** Re-checks of connectionsEnded(), called on every event that can end a connection. */
const onConnectionEvent = new Set<() => void>()
const leaked: unknown[] = []
const leakedTimers: NodeJS.Timeout[] = []
let opened = 0
const service = new Service({
  key: SecioKeyPair.generate(),
  protocols: [{ id: 1, handler: { received: (ctx, data) => ctx.send(data) } }],
  handler: {
    handleEvent: (e) => {
      if (e.type === 'session-close') {
        goneWaiters.get(e.session.id)?.()
        goneWaiters.delete(e.session.id)
      }
      for (const check of [...onConnectionEvent]) check()
      if (e.type === 'session-open') {
        opened++
        // JS objects on the V8 heap (a double array), as a forgotten per-session record would be.
        if (leak?.startsWith('heap:'))
          leaked.push({
            session: e.session.id,
            payload: Array.from({ length: Number(leak.slice(5)) / 8 }, (_, i) => i + 0.5),
          })
        if (leak === 'timer' && opened % 20 === 0) leakedTimers.push(setInterval(() => {}, 3_600_000))
      }
    },
    handleError: (e) => {
      for (const check of [...onConnectionEvent]) check()
      const code = e.error instanceof TentacleError ? e.error.code : 'untyped'
      note(`${e.type}:${code}`, ACCOUNTED[e.type]?.has(code) === true)
    },
  },
})
const listenAddr = await service.listen('/ip4/127.0.0.1/tcp/0')

/** Resolves once the session is gone (its session-close event; the service forgets it first). */
function sessionGone(id: number): Promise<void> {
  if (service.session(id) === undefined) return Promise.resolve()
  return new Promise((resolve) => goneWaiters.set(id, resolve))
}

/**
 * Resolves once no connection is left, re-checked on each session-close and error event
 * (every connection ends in one), or after `ms` whatever is left (the snapshot reports it).
 */
function connectionsEnded(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      onConnectionEvent.delete(check)
      resolve()
    }
    function check(): void {
      if (service.connectionCount === 0) done()
    }
    onConnectionEvent.add(check)
    check()
  })
}
const port = listenAddr.toString().split('/')[4]!

// ---------------------------------------------------------------- churn control

let child: ChildProcess | undefined
let childAddr: string | undefined
let churning = false
let kills = 0
let seed = 1

async function spawnChurn(): Promise<void> {
  const c = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CHURN, port, service.peerId!, String(seed++)],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  child = c
  c.stdout!.setEncoding('utf8')
  let buf = ''
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      c.kill('SIGKILL')
      reject(new Error('churn peer did not start within 60 s'))
    }, 60_000)
    c.stdout!.on('data', (d: string) => {
      buf += d
      const m = /LISTENING (\d+) (\S+)/.exec(buf)
      if (m !== null && childAddr === undefined) {
        childAddr = `/ip4/127.0.0.1/tcp/${m[1]}/p2p/${m[2]}`
        clearTimeout(t)
        resolve()
      }
      if (buf.length > 4096) buf = buf.slice(-1024)
    })
  })
}

async function killChurn(): Promise<void> {
  const c = child
  child = undefined
  childAddr = undefined
  if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
  const exited = new Promise<void>((r) => c.once('exit', () => r()))
  c.kill('SIGKILL')
  kills++
  await exited
}

/** The node under test dials out too: to the churn peer's listener, briefly. */
async function dialLoop(): Promise<void> {
  const rng = new Rng(99)
  while (churning) {
    const addr = childAddr
    if (addr !== undefined) {
      try {
        const s = await service.dial(addr)
        service.send(s.id, 1, new Uint8Array(1 + rng.below(4000)))
        await sleep(rng.below(50))
        service.disconnect(s.id)
        // One session per peer (§12): the next dial waits for this one to be gone.
        await sessionGone(s.id)
      } catch {
        // A dial to a peer that is being killed fails; the dial-error event accounts for it.
      }
    }
    await sleep(20 + rng.below(80))
  }
}

async function churnFor(ms: number): Promise<void> {
  churning = true
  await spawnChurn()
  const dialing = dialLoop()
  const end = Date.now() + ms
  while (Date.now() < end) {
    await sleep(Math.min(KILL_EVERY_MS, end - Date.now()))
    if (Date.now() < end) {
      await killChurn()
      await spawnChurn()
    }
  }
  churning = false
  await killChurn()
  await dialing
}

// ---------------------------------------------------------------- measurement

interface Snapshot {
  heap: number
  code: number
  rss: number
  fds: number
  timers: number
  handles: number
  listeners: number
}

async function quiescentSnapshot(): Promise<Snapshot> {
  // Every session the churn left must end by itself (no timeout longer than 10 s applies).
  await connectionsEnded(15_000)
  // Sockets close (and free their handles) a few turns after their session ends; no event
  // covers all of them, so this is a generous settling bound on the measurement.
  await sleep(200)
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(20)
  }
  const res = process.getActiveResourcesInfo()
  const mem = process.memoryUsage()
  // V8 heap without compiled code (the JIT keeps compiling for minutes; a heap
  // snapshot diff of a 90 s soak showed code as the only growth), plus the
  // ArrayBuffer/Buffer backing stores: a leaked Buffer lives outside the heap.
  let objects = 0
  let code = 0
  for (const sp of v8.getHeapSpaceStatistics()) {
    if (sp.space_name.startsWith('code')) code += sp.space_used_size
    else objects += sp.space_used_size
  }
  return {
    heap: objects + mem.arrayBuffers,
    code,
    rss: mem.rss,
    fds: readdirSync('/proc/self/fd').length,
    timers: res.filter((r) => r === 'Timeout').length,
    handles: res.filter((r) => r !== 'Timeout' && r !== 'Immediate').length,
    listeners: process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0),
  }
}

// The whole run is bounded: churn, two quiescence waits (≤ 15 s each) and slack.
setTimeout(() => abort(`still running ${seconds + 180} s after the start`), (seconds + 180) * 1000).unref()
console.error(
  `soak: ${seconds} s (warm-up ${warmupMs / 1000} s), churn peer respawned every ${KILL_EVERY_MS / 1000} s${leak ? `, INJECTED LEAK ${leak}` : ''}`,
)
await churnFor(warmupMs)
const base = await quiescentSnapshot()
if (snapshotDir !== undefined)
  console.error(`soak: baseline snapshot ${v8.writeHeapSnapshot(`${snapshotDir}/soak-base.heapsnapshot`)}`)
const openedBefore = opened
const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
const t0 = Date.now()
await churnFor(runMs)
const churnSeconds = (Date.now() - t0) / 1000
delay.disable()
const end = await quiescentSnapshot()
if (snapshotDir !== undefined)
  console.error(`soak: end snapshot ${v8.writeHeapSnapshot(`${snapshotDir}/soak-end.heapsnapshot`)}`)
const lingering = service.connectionCount

let ok = true
const put = (bench: string, value: number, unit: string, target: number | string | null, pass: boolean): void => {
  figure({ bench, value, unit, target, ok: pass })
  ok &&= pass
}
const within = (v: number, b: number): boolean => v <= Math.floor(b * 1.1)
const pct = (v: number, b: number): number => (b === 0 ? 0 : ((v - b) / b) * 100)
put('soak.sessions', opened - openedBefore, 'sessions', null, true)
put('soak.session_rate', (opened - openedBefore) / churnSeconds, 'sessions/s', null, true)
put('soak.peer_kills', kills, 'SIGKILLs', null, true)
put('soak.heap_growth', pct(end.heap, base.heap), '%', 10, end.heap <= base.heap * 1.1)
put('soak.code_growth', pct(end.code, base.code), '%', null, true)
put('soak.rss_growth', pct(end.rss, base.rss), '%', 10, end.rss <= base.rss * 1.1)
put('soak.fds', end.fds, 'fds', `<= ${Math.floor(base.fds * 1.1)} (baseline ${base.fds})`, within(end.fds, base.fds))
put(
  'soak.timers',
  end.timers,
  'timers',
  `<= ${Math.floor(base.timers * 1.1)} (baseline ${base.timers})`,
  within(end.timers, base.timers),
)
put(
  'soak.handles',
  end.handles,
  'handles',
  `<= ${Math.floor(base.handles * 1.1)} (baseline ${base.handles})`,
  within(end.handles, base.handles),
)
put(
  'soak.process_listeners',
  end.listeners,
  'listeners',
  `<= ${Math.floor(base.listeners * 1.1)} (baseline ${base.listeners})`,
  within(end.listeners, base.listeners),
)
put('soak.connections_left', lingering, 'connections', 0, lingering === 0)
put('soak.unaccounted_errors', unaccountedCount, 'errors', 0, unaccountedCount === 0)
put('soak.event_loop_delay_p99', delay.percentile(99) / 1e6, 'ms', null, true)
console.error(
  `soak: heap ${(base.heap / 2 ** 20).toFixed(1)} -> ${(end.heap / 2 ** 20).toFixed(1)} MiB, rss ${(base.rss / 2 ** 20).toFixed(1)} -> ${(end.rss / 2 ** 20).toFixed(1)} MiB; errors ${JSON.stringify(Object.fromEntries(errors))}`,
)
if (unaccounted.length > 0) console.error(`soak: unaccounted: ${unaccounted.join(', ')}`)
for (const t of leakedTimers) clearInterval(t)
leaked.length = 0
await service.shutdown()
process.exit(ok ? 0 : 1)
