import { kernelSockets, type KernelSocket } from '@tentacle-ts/tentacle'
import {
  fdUsage,
  listenCounters,
  ownerOfInode,
  processInfo,
  socketInodes,
  type FdUsage,
  type ListenCounters,
  type ProcessInfo,
} from './proc.js'
import { scrape, type Sample } from './metrics.js'
import { findingsFor } from './findings.js'

export type Severity = 'info' | 'warn' | 'critical'

/** One thing the doctor noticed: what, what it means, what to do. */
export interface Finding {
  /** Stable id (e.g. `accept-queue-stuck`, `close-wait`), for scripts. */
  id: string
  severity: Severity
  title: string
  /** What it means. */
  detail: string
  /** What to do. */
  action: string
  data?: Record<string, unknown>
}

export interface DoctorOptions {
  /** A listen port of the node (its process is found from the socket's owner). */
  port?: number
  /** The node's pid (its listen ports are found from its sockets). */
  pid?: number
  /** The node's Prometheus endpoint; default: `--metrics` from the node's command line. */
  metricsUrl?: string
  /** How long to watch the kernel counters. Default 1000 ms. */
  sampleMs?: number
}

/** What was measured, for scripts (`--json`). */
export interface Observations {
  pid?: number
  process?: { comm: string; state: string }
  ports: number[]
  metricsUrl?: string
  /** Per listen port: accept-queue depth seen over the samples. */
  acceptQueue: Record<string, { min: number; max: number }>
  listenCounters?: { sinceBoot: ListenCounters; duringSample: ListenCounters }
  /** The node's sockets by TCP state (last sample; LISTEN excluded). */
  socketStates: Record<string, number>
  /** Sockets in CLOSE_WAIT in every sample. */
  closeWaitPersistent: number
  fds?: FdUsage
  metrics?: { ok: true; samples: number } | { ok: false; error: string }
}

export interface DoctorReport {
  healthy: boolean
  findings: Finding[]
  observed: Observations
}

const SAMPLES = 5

/**
 * Diagnoses one node from the outside: /proc and its metrics endpoint.
 * `healthy` is false when a finding is `warn` or worse.
 */
export async function diagnose(opts: DoctorOptions): Promise<DoctorReport> {
  const sampleMs = opts.sampleMs ?? 1_000
  const observed: Observations = { ports: [], acceptQueue: {}, socketStates: {}, closeWaitPersistent: 0 }
  const early: Finding[] = []
  const finish = (findings: Finding[]): DoctorReport => ({
    healthy: !findings.some((f) => f.severity !== 'info'),
    findings,
    observed,
  })

  // Who: the process and its listen ports.
  let pid = opts.pid
  let inodes = new Set<number>()
  const all0 = await kernelSockets()
  if (pid !== undefined) {
    inodes = await socketInodes(pid)
    observed.ports = [
      ...new Set(all0.filter((s) => s.state === 'LISTEN' && inodes.has(s.inode)).map((s) => s.localPort)),
    ].sort((a, b) => a - b)
  } else if (opts.port !== undefined) {
    observed.ports = [opts.port]
    const listen = all0.find((s) => s.state === 'LISTEN' && s.localPort === opts.port)
    if (listen === undefined) {
      return finish([
        {
          id: 'no-listener',
          severity: 'critical',
          title: `nothing listens on port ${opts.port}`,
          detail:
            'No socket is in the LISTEN state on this port: the node is not running, listens on another port, or closed its listener.',
          action: 'Start the node, or check its --listen address (tentacle doctor --pid PID finds its ports).',
        },
      ])
    }
    if (listen.inode !== 0) pid = await ownerOfInode(listen.inode)
    if (pid !== undefined) inodes = await socketInodes(pid)
  }
  let proc: ProcessInfo | undefined
  if (pid !== undefined) {
    proc = await processInfo(pid)
    if (proc === undefined) {
      return finish([
        {
          id: 'process-not-found',
          severity: 'critical',
          title: `no process ${pid}`,
          detail: 'The process does not exist (or /proc is not readable for it).',
          action: 'Check the pid, or run doctor as the same user as the node (or root).',
        },
      ])
    }
    observed.pid = pid
    observed.process = { comm: proc.comm, state: proc.state }
  } else {
    early.push({
      id: 'owner-unknown',
      severity: 'info',
      title: `the process listening on port ${opts.port} was not found`,
      detail:
        'Its socket belongs to a process this user cannot inspect (another user, or another PID namespace), so open files and outbound sockets are not checked.',
      action: "Run doctor as root or as the node's user, or pass --pid.",
    })
  }
  const listening = [
    ...new Set(all0.filter((s) => s.state === 'LISTEN' && inodes.has(s.inode)).map((s) => s.localPort)),
  ]
  observed.metricsUrl = opts.metricsUrl ?? (proc ? metricsFromArgv(proc.argv, listening) : undefined)
  if (observed.metricsUrl !== undefined && opts.port === undefined) {
    // The metrics server is one of the process's listeners, but not a p2p port.
    const mport = Number(new URL(observed.metricsUrl).port)
    observed.ports = observed.ports.filter((p) => p !== mport)
  }

  // Watch the kernel for sampleMs while the metrics are fetched.
  const scraping =
    observed.metricsUrl === undefined
      ? undefined
      : scrape(observed.metricsUrl, Math.max(2_000, sampleMs)).then(
          (s) => ({ ok: true as const, s }),
          (err: Error) => ({ ok: false as const, error: err.message }),
        )
  const ports = new Set(observed.ports)
  const mine = (s: KernelSocket): boolean => ports.has(s.localPort) || (s.inode !== 0 && inodes.has(s.inode))
  const c0 = await listenCounters()
  const samples: KernelSocket[][] = []
  for (let i = 0; i < SAMPLES; i++) {
    if (i > 0) await sleep(sampleMs / (SAMPLES - 1))
    samples.push((i === 0 ? all0 : await kernelSockets()).filter(mine))
  }
  const c1 = await listenCounters()
  if (c0 && c1) {
    observed.listenCounters = {
      sinceBoot: c1,
      duringSample: {
        listenOverflows: c1.listenOverflows - c0.listenOverflows,
        listenDrops: c1.listenDrops - c0.listenDrops,
      },
    }
  }
  for (const port of observed.ports) {
    const depths = samples.map((ss) => ss.find((s) => s.state === 'LISTEN' && s.localPort === port)?.rxQueue ?? 0)
    observed.acceptQueue[port] = { min: Math.min(...depths), max: Math.max(...depths) }
  }
  const last = samples[samples.length - 1]
  for (const s of last)
    if (s.state !== 'LISTEN') observed.socketStates[s.state] = (observed.socketStates[s.state] ?? 0) + 1
  const key = (s: KernelSocket): string => `${s.inode}:${s.localPort}:${s.remotePort}`
  let persistent = new Set(samples[0].filter((s) => s.state === 'CLOSE_WAIT').map(key))
  for (const ss of samples.slice(1)) {
    const now = new Set(ss.filter((s) => s.state === 'CLOSE_WAIT').map(key))
    persistent = new Set([...persistent].filter((k) => now.has(k)))
  }
  observed.closeWaitPersistent = persistent.size
  if (pid !== undefined) observed.fds = await fdUsage(pid)

  let metrics: Sample[] | undefined
  if (scraping !== undefined) {
    const r = await scraping
    if (r.ok) {
      metrics = r.s
      observed.metrics = { ok: true, samples: r.s.length }
    } else observed.metrics = { ok: false, error: r.error }
  }
  return finish([...early, ...findingsFor(observed, metrics)])
}

/**
 * The metrics URL of a `tentacle node` from its command line: `--metrics
 * HOST:PORT`; with port 0 (the default) the port was chosen at bind time, so
 * it is the process's one listening port that no `--listen` names (when every
 * `--listen` names its port).
 */
function metricsFromArgv(argv: string[], listening: number[]): string | undefined {
  const bin = argv.findIndex((a) => /(^|\/)tentacle(\.js)?$/.test(a))
  if (bin < 0 || argv[bin + 1] !== 'node') return undefined
  const values = (flag: string): string[] => {
    const out: string[] = []
    for (let i = bin + 2; i < argv.length; i++) {
      if (argv[i] === flag && i + 1 < argv.length) out.push(argv[++i])
      else if (argv[i].startsWith(flag + '=')) out.push(argv[i].slice(flag.length + 1))
    }
    return out
  }
  const spec = values('--metrics').at(-1) ?? '127.0.0.1:0'
  const m = /^(.*):(\d+)$/.exec(spec)
  if (spec === 'off' || m === null) return undefined
  const host = m[1] === '0.0.0.0' ? '127.0.0.1' : m[1] === '[::]' ? '[::1]' : m[1]
  if (m[2] !== '0') return `http://${host}:${m[2]}/metrics`
  const p2p = new Set<number>()
  for (const l of values('--listen')) {
    const port = Number(/\/tcp\/(\d+)/.exec(l)?.[1] ?? 0)
    if (port === 0) return undefined
    p2p.add(port)
  }
  const rest = listening.filter((p) => !p2p.has(p))
  return rest.length === 1 ? `http://${host}:${rest[0]}/metrics` : undefined
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
