// Shared helpers for benchmarks: one JSON line per figure, always beside a
// baseline measured in the same run.
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
