// A probe for the GC-state analysis in bench/README.md ("Where the time goes",
// Receiver): preloaded into the tentacle-ts bench peers with
//   BENCH_TS_V8='--import ./bench/rust/gc-probe.mjs' npm run bench -- rust --quick
// it prints one stderr line per GC: its kind (SC scavenge, INC incremental
// marking step, MC mark-compact), the peak of process.memoryUsage().arrayBuffers
// (external memory: socket reads, decrypted frames) since the previous GC, the
// value now, and the JS heap in use. Sampling runs on a 1 ms timer, so it
// costs a few per cent of CPU: never use it for a figure.
import { PerformanceObserver, constants } from 'node:perf_hooks'
import { writeSync } from 'node:fs'
import { setInterval } from 'node:timers'

const MB = 1024 * 1024
let peak = 0
setInterval(() => {
  const ab = process.memoryUsage().arrayBuffers
  if (ab > peak) peak = ab
}, 1).unref()

const KIND = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'SC'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'INC'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'MC'],
])
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const m = process.memoryUsage()
    const kind = KIND.get(e.detail?.kind) ?? `kind${e.detail?.kind}`
    writeSync(
      2,
      `gc-probe ${process.pid} ${e.startTime.toFixed(0)}ms ${kind} external-peak=${(peak / MB).toFixed(1)}MB ` +
        `external=${(m.arrayBuffers / MB).toFixed(1)}MB heap=${(m.heapUsed / MB).toFixed(1)}MB\n`,
    )
    peak = 0
  }
}).observe({ entryTypes: ['gc'] })
