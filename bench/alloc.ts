// `npm run bench -- alloc [--quick]`: what the receive and send paths ALLOCATE
// per MiB moved, a figure that does not depend on the machine's load (unlike
// wall clock or CPU time on a shared 2-core box). Each side runs in its own
// process (bench/alloc/peer.ts, --expose-gc): the heap is collected before the
// measured transfer, and v8.GCProfiler's before/after sizes of every GC during
// it give the JS-heap bytes and the external (ArrayBuffer backing store) bytes
// allocated. 64 KiB messages / writes, one connection per round, medians.
//
// Figures, per side (receiver, sender), each against secio alone and raw Node
// TCP measured in the same run:
//   alloc.<kind>.<side>.heap-kib-per-mib       JS heap KiB allocated per MiB (the figure to cut)
//   alloc.<kind>.<side>.scavenges-per-64mib    young-generation GCs (1 MB young generation)
//   alloc.<kind>.<side>.cpu-ms-per-mib         CPU (user+sys) per MiB: load-dependent, for shape only
// The external bytes (Usage.externalBytes, BENCH_VERBOSE=1) are only a lower
// bound (backing stores are freed concurrently with the mutator), so not a figure.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { report } from './lib.ts'
import type { Command, Kind, Usage } from './alloc/peer.ts'

/**
 * A fixed 1 MB young generation (every ~1 MB allocated is one scavenge) and no
 * incremental marking: with it, the receivers run mark-compacts at random points
 * (see README) whose concurrent marking blurs the before/after accounting by
 * ±15 % between runs of the same code; without it a mark-compact comes only at
 * the hard limit, and the figures repeat within ~2 %.
 */
const FIXED_HEAP = [
  '--max-semi-space-size=1',
  '--min-semi-space-size=1',
  '--no-incremental-marking',
  '--single-threaded-gc',
]

class Peer {
  #next = 1
  readonly #waiting = new Map<number, (e: Record<string, unknown>) => void>()
  readonly #results = new Map<number, (u: Usage) => void>()
  private constructor(readonly child: ChildProcess) {
    child.on('message', (e: { id: number; error?: string; result?: Usage }) => {
      if (process.env.BENCH_DEBUG) console.error(JSON.stringify(e))
      if (e.error !== undefined) throw new Error(`alloc peer: ${e.error}`)
      if (e.result !== undefined) {
        // A sink reports every measured connection on the id of the command that created it.
        this.#results.get(e.id)?.(e.result)
        return
      }
      const w = this.#waiting.get(e.id)
      this.#waiting.delete(e.id)
      w?.(e)
    })
  }

  static async start(): Promise<Peer> {
    const child = fork(fileURLToPath(new URL('./alloc/peer.ts', import.meta.url)), ['--bench-alloc-peer'], {
      // BENCH_ALLOC_V8='--trace-gc …': V8 flags for the peers (NODE_OPTIONS refuses most).
      execArgv: [
        '--conditions=source',
        '--import',
        'tsx',
        '--expose-gc',
        ...FIXED_HEAP,
        ...(process.env.BENCH_ALLOC_V8?.split(' ').filter(Boolean) ?? []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve())
      child.once('exit', () => reject(new Error('alloc peer exited before it was ready')))
    })
    return new Peer(child)
  }

  /** Sends a command; resolves its first event; `onResult` gets its result event. */
  ask(c: Omit<Command, 'id'>, onResult?: (u: Usage) => void): Promise<Record<string, unknown>> {
    const id = this.#next++
    if (onResult !== undefined) this.#results.set(id, onResult)
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve)
      this.child.send({ id, ...c })
    })
  }
}

interface Pair {
  receiver: Usage
  sender: Usage
}

/** One measured transfer of `total` bytes: both sides' usage. */
async function transfer(
  sink: Peer,
  sender: Peer,
  kind: Kind,
  dial: string | number,
  total: number,
  sinkResult: () => Promise<Usage>,
): Promise<Pair> {
  let sent!: Promise<Usage>
  await new Promise<void>((resolve) => {
    sent = new Promise((res) => void sender.ask({ cmd: 'connect', kind, dial, total }, res).then(() => resolve()))
  })
  const received = sinkResult()
  await sink.ask({ cmd: 'arm' })
  sender.child.send({ id: 0, cmd: 'go' })
  const [receiver, s] = await Promise.all([received, sent])
  return { receiver, sender: s }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

export async function run(opts: { quick: boolean }): Promise<void> {
  const mib = opts.quick ? 32 : 128
  const total = mib * 1024 * 1024
  const rounds = opts.quick ? 3 : 5
  const [sinkPeer, sendPeer] = await Promise.all([Peer.start(), Peer.start()])
  try {
    const kinds: Kind[] = ['tcp', 'secio', 'service']
    const results = new Map<Kind, Pair[]>()
    const sinks = new Map<Kind, { dial: string | number; next: () => Promise<Usage> }>()
    for (const kind of kinds) {
      // The sink reports a result for every measured connection on the command that created it.
      const queue: Array<(u: Usage) => void> = []
      const early: Usage[] = []
      const ev = await sinkPeer.ask({ cmd: 'sink', kind, total }, (u) => {
        const w = queue.shift()
        if (w !== undefined) w(u)
        else early.push(u)
      })
      sinks.set(kind, {
        dial: ev.listening as string | number,
        next: () => new Promise((resolve) => (early.length > 0 ? resolve(early.shift()!) : queue.push(resolve))),
      })
      results.set(kind, [])
    }
    // Warm-up (JIT, pools), then rounds alternating the kinds.
    for (let r = -1; r < rounds; r++) {
      for (const kind of kinds) {
        const s = sinks.get(kind)!
        const pair = await transfer(sinkPeer, sendPeer, kind, s.dial, total, s.next)
        if (r >= 0) results.get(kind)!.push(pair)
      }
    }
    if (process.env.BENCH_VERBOSE) console.error(JSON.stringify(Object.fromEntries(results)))
    const fig = (kind: Kind, side: 'receiver' | 'sender', f: (u: Usage) => number): number =>
      median(results.get(kind)!.map((p) => f(p[side])))
    const perMib = (bytes: number): number => bytes / 1024 / mib
    const measures = {
      'heap-kib-per-mib': (u: Usage) => perMib(u.heapBytes),
      'scavenges-per-64mib': (u: Usage) => (u.scavenges * 64) / mib,
      'cpu-ms-per-mib': (u: Usage) => u.cpuUs / 1000 / mib,
    } as const
    for (const side of ['receiver', 'sender'] as const) {
      for (const [name, f] of Object.entries(measures)) {
        const unit = name.endsWith('-per-64mib') ? 'GCs/64MiB' : name === 'cpu-ms-per-mib' ? 'ms/MiB' : 'KiB/MiB'
        const service = fig('service', side, f)
        report({
          bench: `alloc.service.${side}.${name}`,
          value: service,
          unit,
          baseline: fig('secio', side, f),
          against: 'secio-alone',
        })
        report({
          bench: `alloc.service.${side}.${name}`,
          value: service,
          unit,
          baseline: fig('tcp', side, f),
          against: 'raw-tcp',
        })
        report({
          bench: `alloc.secio.${side}.${name}`,
          value: fig('secio', side, f),
          unit,
          baseline: fig('tcp', side, f),
          against: 'raw-tcp',
        })
      }
    }
  } finally {
    await sinkPeer.ask({ cmd: 'stop' })
    sinkPeer.child.disconnect()
    sendPeer.child.disconnect()
  }
}
