// Shared helpers for benchmarks: one JSON line per figure, always beside a
// baseline measured in the same run.
import net from 'node:net'
import { performance } from 'node:perf_hooks'

export interface Figure {
  /** Dotted name of the figure, e.g. "secio.throughput". */
  bench: string
  value: number
  unit: string
  /** The baseline's value, in the same unit, measured in the same run. */
  baseline: number
  /** What the baseline is, e.g. "raw-tcp", "js-libp2p". */
  against: string
}

/** Prints one figure as one JSON line: {bench, value, unit, baseline, ratio, against}. */
export function report(f: Figure): void {
  const ratio = f.baseline === 0 ? null : round(f.value / f.baseline, 3)
  console.log(
    JSON.stringify({
      bench: f.bench,
      value: round(f.value, 2),
      unit: f.unit,
      baseline: round(f.baseline, 2),
      ratio,
      against: f.against,
    }),
  )
}

export function round(x: number, digits: number): number {
  const m = 10 ** digits
  return Math.round(x * m) / m
}

/** Runs `fn` and returns elapsed milliseconds. */
export async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

/** MiB/s for `bytes` moved in `ms` milliseconds. */
export function mibPerSec(bytes: number, ms: number): number {
  return bytes / (1024 * 1024) / (ms / 1000)
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/**
 * Measures every contender once per round, in order, for `rounds` rounds (so load
 * from other processes on the machine hits them alike) and returns each one's
 * median. BENCH_VERBOSE=1 prints every round's figures on stderr.
 */
export async function alternate<K extends string>(
  rounds: number,
  contenders: readonly K[],
  measure: (c: K) => Promise<number>,
): Promise<Record<K, number>> {
  const all = Object.fromEntries(contenders.map((c) => [c, [] as number[]])) as Record<K, number[]>
  for (let r = 0; r < rounds; r++) for (const c of contenders) all[c].push(await measure(c))
  if (process.env.BENCH_VERBOSE) console.error(JSON.stringify(all))
  return Object.fromEntries(contenders.map((c) => [c, median(all[c])])) as Record<K, number>
}

/**
 * A TCP server on 127.0.0.1 (any free port, no Nagle) that hands every
 * connection to `onSocket`; close() also destroys the connections still open.
 */
export async function listenTcp(
  onSocket: (socket: net.Socket) => void,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    onSocket(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
