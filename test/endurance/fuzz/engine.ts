/**
 * A small coverage-guided fuzzer driven by V8's own block coverage.
 *
 * Why this and not Jazzer.js: Jazzer.js 4's prebuilt addon needs glibc 2.38
 * (this machine has 2.36) and its package carries no source to rebuild it;
 * older versions download their binary at install, which fails offline. V8's
 * precise coverage (node:inspector, `Profiler.startPreciseCoverage` with
 * `detailed: true` for block ranges and `callCount: true` so every
 * `takePreciseCoverage` returns the counts since the previous one) needs no
 * native code, no instrumentation pass and no dependency, and it sees the
 * TypeScript sources exactly as they run under tsx.
 *
 * The loop is AFL's in miniature: pick a corpus entry, havoc-mutate it
 * (mutate.ts), run it, take the block coverage of the package sources, bucket
 * each block's hit count (0, 1, 2, 3, 4–7, 8–15, 16–31, 32–127, 128+) and keep
 * the input when it produced a (block, bucket) pair never seen before. An
 * input whose run throws something its target does not expect is a crash: it
 * is minimised (delete ranges while the same failure reproduces) and reported.
 */
import { Session } from 'node:inspector'
import { createHash } from 'node:crypto'
import { Rng, mutate } from './mutate.js'

/** One decoder under test. */
export interface FuzzTarget {
  /** Short name: corpus folder, figure names, regression-test names. */
  readonly name: string
  /** Largest input generated. */
  readonly maxLen: number
  /**
   * Runs one input. May throw only what {@link expected} accepts (the package's
   * typed error); an invariant that does not hold throws anything else.
   */
  run(input: Uint8Array): void | Promise<void>
  /** True for the errors a hostile input is allowed to produce. */
  expected(err: unknown): boolean
}

export interface FuzzOptions {
  /** Wall-clock budget for this target. */
  durationMs: number
  /** Stop earlier after this many executions. */
  maxExecs?: number
  /** Go on past the budget until this many mutated inputs ran (a loaded machine still tests something). Default 0. */
  minMutations?: number
  /** PRNG seed (runs are reproducible for a given seed and corpus). */
  seed?: number
  /** Initial corpus (seeds); an empty input is always added. */
  corpus: readonly Uint8Array[]
  /** An async target that has not settled after this long is a hang (a crash). Default 2000 ms. */
  execTimeoutMs?: number
  /** Stop after this many distinct crashes (default 5). */
  maxCrashes?: number
  /** Which scripts' coverage guides the search (default: package sources). */
  coverageUrl?: RegExp
}

export interface Crash {
  /** The minimised input. */
  input: Uint8Array
  /** What it threw (or 'hang'). */
  error: unknown
  /** Stable signature: error class/code plus the first stack frame. */
  signature: string
}

export interface FuzzReport {
  target: string
  execs: number
  ms: number
  /** Corpus entries at the start (seeds, deduplicated, plus the empty input). */
  seeds: number
  /** Inputs kept because they reached new coverage. */
  added: Uint8Array[]
  /** Distinct (block, hit-count bucket) pairs reached. */
  features: number
  /** Distinct blocks reached (ignoring buckets). */
  blocks: number
  crashes: Crash[]
  /** Largest heapUsed seen during the run, in bytes. */
  maxHeapUsed: number
}

/** Package code, as TypeScript sources (the `source` condition) or built JS (when a package resolves to dist). */
const PACKAGE_SOURCES = /\/packages\/[^/]+\/(src|dist)\//

/** The process-wide coverage collector (one inspector session). */
class Coverage {
  readonly #session = new Session()
  readonly #allowed = new Map<string, boolean>()
  #url: RegExp = PACKAGE_SOURCES

  constructor() {
    this.#session.connect()
    this.#post('Profiler.enable')
    this.#post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  }

  set url(re: RegExp) {
    if (re.source !== this.#url.source) this.#allowed.clear()
    this.#url = re
  }

  /** Block features reached since the last call (the counters restart at zero). */
  take(out: Set<string>): void {
    const res = this.#post('Profiler.takePreciseCoverage') as {
      result: {
        scriptId: string
        url: string
        functions: { ranges: { startOffset: number; endOffset: number; count: number }[] }[]
      }[]
    }
    for (const script of res.result) {
      let ok = this.#allowed.get(script.scriptId)
      if (ok === undefined) {
        ok = this.#url.test(script.url) && !script.url.includes('/node_modules/')
        this.#allowed.set(script.scriptId, ok)
      }
      if (!ok) continue
      for (const fn of script.functions) {
        // V8 drops a block whose count equals its parent's and reports the
        // blocks that differ, so a block NOT run inside a function that ran
        // (count 0) is as telling as one that ran: both are features.
        if (fn.ranges.length === 0 || fn.ranges[0]!.count === 0) continue
        for (const r of fn.ranges) out.add(`${script.scriptId}:${r.startOffset}:${r.endOffset}:${bucket(r.count)}`)
      }
    }
  }

  /** In-process inspector sessions answer synchronously. */
  #post(method: string, params?: object): unknown {
    let result: unknown
    let error: Error | null = null
    let done = false
    this.#session.post(method, params as never, (err, res) => {
      error = err
      result = res
      done = true
    })
    if (!done) throw new Error(`inspector ${method} did not answer synchronously`)
    if (error !== null) throw error
    return result
  }
}

function bucket(count: number): number {
  if (count <= 3) return count // 0 = a block skipped inside a function that ran
  if (count < 8) return 4
  if (count < 16) return 5
  if (count < 32) return 6
  if (count < 128) return 7
  return 8
}

let coverage: Coverage | undefined

/**
 * Starts block coverage. Call it BEFORE importing the code under test: V8
 * gives block counts only to functions compiled after it started, so code a
 * module ran at import time would otherwise report whole functions only.
 */
export function startCoverage(): void {
  coverage ??= new Coverage()
}

/** Outcome of one execution: undefined = fine, else the unexpected failure. */
type Outcome = { error: unknown } | undefined

async function execute(target: FuzzTarget, input: Uint8Array, timeoutMs: number): Promise<Outcome> {
  try {
    const r = target.run(input)
    if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
      let timer: NodeJS.Timeout | undefined
      const hang = new Promise<'hang'>((resolve) => {
        timer = setTimeout(() => resolve('hang'), timeoutMs)
      })
      try {
        const settled = await Promise.race([(r as Promise<void>).then(() => 'ok' as const), hang])
        if (settled === 'hang') return { error: new Error(`hang: no answer within ${timeoutMs} ms`) }
      } finally {
        clearTimeout(timer)
      }
    }
    return undefined
  } catch (err) {
    return target.expected(err) ? undefined : { error: err }
  }
}

/** Error class/code plus the first stack frame outside node internals. */
export function signatureOf(err: unknown): string {
  if (!(err instanceof Error)) return `non-error:${typeof err}:${String(err).slice(0, 80)}`
  const code = (err as { code?: unknown }).code
  const frame = (err.stack ?? '').split('\n').find((l) => l.trim().startsWith('at ') && !l.includes('node:')) ?? ''
  return `${err.name}${code === undefined ? '' : `[${String(code)}]`}: ${err.message.split('\n')[0]!.slice(0, 120)} ${frame.trim()}`
}

/** Shrinks a crashing input while the same signature reproduces (bounded tries). */
async function minimise(
  target: FuzzTarget,
  input: Uint8Array,
  signature: string,
  timeoutMs: number,
): Promise<Uint8Array> {
  let best = input
  let tries = 0
  for (let chunk = Math.max(1, best.length >> 1); chunk >= 1 && tries < 2000; chunk >>= 1) {
    for (let at = 0; at < best.length && tries < 2000;) {
      const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + chunk)])
      tries++
      const out = await execute(target, candidate, timeoutMs)
      if (out !== undefined && signatureOf(out.error) === signature) best = candidate
      else at += chunk
    }
  }
  return best
}

/** Fuzzes one target for the given budget; returns what it found. */
export async function fuzz(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzReport> {
  coverage ??= new Coverage()
  const cov = coverage
  cov.url = opts.coverageUrl ?? PACKAGE_SOURCES
  const rng = new Rng(opts.seed ?? 1)
  const timeoutMs = opts.execTimeoutMs ?? 2000
  const maxCrashes = opts.maxCrashes ?? 5
  const seen = new Set<string>()
  const blocks = new Set<string>()
  const crashes: Crash[] = []
  const crashSignatures = new Set<string>()
  const corpus: Uint8Array[] = []
  const added: Uint8Array[] = []
  const hashes = new Set<string>()
  let maxHeapUsed = 0
  let execs = 0
  const scratch = new Set<string>()

  cov.take(new Set()) // drop whatever ran before us

  const runOne = async (input: Uint8Array): Promise<boolean> => {
    const outcome = await execute(target, input, timeoutMs)
    execs++
    scratch.clear()
    cov.take(scratch)
    if ((execs & 63) === 0) maxHeapUsed = Math.max(maxHeapUsed, process.memoryUsage().heapUsed)
    if (outcome !== undefined) {
      const signature = signatureOf(outcome.error)
      if (!crashSignatures.has(signature)) {
        crashSignatures.add(signature)
        const small = await minimise(target, input, signature, timeoutMs)
        crashes.push({ input: small, error: outcome.error, signature })
      }
      return false
    }
    let fresh = false
    for (const f of scratch) {
      if (!seen.has(f)) {
        seen.add(f)
        blocks.add(f.slice(0, f.lastIndexOf(':')))
        fresh = true
      }
    }
    return fresh
  }

  const keep = (input: Uint8Array, isSeed: boolean): void => {
    const h = createHash('sha1').update(input).digest('hex')
    if (hashes.has(h)) return
    hashes.add(h)
    corpus.push(input)
    if (!isSeed) added.push(input)
  }

  const t0 = performance.now()
  for (const s of [new Uint8Array(0), ...opts.corpus]) {
    await runOne(s)
    keep(s, true)
  }
  const seeds = corpus.length
  const deadline = t0 + opts.durationMs
  const maxExecs = opts.maxExecs ?? Infinity
  const minExecs = seeds + 1 + (opts.minMutations ?? 0)
  while (execs < maxExecs && crashes.length < maxCrashes && (performance.now() < deadline || execs < minExecs)) {
    // Favour recent finds a little: they sit at the frontier.
    const base =
      added.length > 0 && rng.oneIn(3)
        ? added[added.length - 1 - rng.below(Math.min(16, added.length))]!
        : corpus[rng.below(corpus.length)]!
    const other = corpus[rng.below(corpus.length)]
    const input = mutate(rng, base, other, target.maxLen)
    if (await runOne(input)) keep(input, false)
  }
  const ms = performance.now() - t0
  maxHeapUsed = Math.max(maxHeapUsed, process.memoryUsage().heapUsed)
  return {
    target: target.name,
    execs,
    ms,
    seeds,
    added,
    features: seen.size,
    blocks: blocks.size,
    crashes,
    maxHeapUsed,
  }
}
