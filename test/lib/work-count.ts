/**
 * Counting work instead of time: V8's precise block coverage counts how many
 * blocks of a package's sources ran, which does not depend on the machine's
 * load. Used by the tests that prove a new session costs the same work with
 * few and with many sessions held (test/endurance/scale/per-session-cost and
 * packages/protocols/test/observed-addresses).
 *
 * A measuring program calls {@link startBlockCounting} before it imports the
 * code under test, and runs in its own process ({@link runWorkProgram}), so
 * that its counters are not those of the test runner's own coverage.
 */
import { runTsx } from './run-tsx.js'
import { Session as Inspector } from 'node:inspector/promises'

/** What {@link startBlockCounting} returns. */
export interface BlockCounter {
  /** Block executions in the counted sources since the last call (takePreciseCoverage resets the counters). */
  take(): Promise<number>
  /** Stops the coverage and disconnects the inspector session. */
  stop(): Promise<void>
}

/**
 * Starts V8's precise coverage, counting blocks of sources whose URL contains
 * `sourcePath`. Call it before the code under test is compiled: functions
 * compiled earlier have no block counters.
 */
export async function startBlockCounting(sourcePath: string): Promise<BlockCounter> {
  const inspector = new Inspector()
  inspector.connect()
  await inspector.post('Profiler.enable')
  await inspector.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
  return {
    async take() {
      const { result } = await inspector.post('Profiler.takePreciseCoverage')
      let n = 0
      for (const script of result) {
        if (!script.url.includes(sourcePath)) continue
        for (const fn of script.functions) for (const r of fn.ranges) n += r.count
      }
      return n
    },
    async stop() {
      await inspector.post('Profiler.stopPreciseCoverage')
      inspector.disconnect()
    },
  }
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

/** Runs a measuring program (through tsx) with `mode` as its argument; the last line it prints, parsed as JSON. */
export async function runWorkProgram<T>(program: string, mode: string, signal: AbortSignal): Promise<T> {
  // Node copies its own NODE_V8_COVERAGE into a child's env that has none; an empty value turns it off.
  const { code, out, err } = await runTsx(program, [mode], { signal, env: { ...process.env, NODE_V8_COVERAGE: '' } })
  if (code !== 0) throw new Error(`${program} ${mode} exited ${code}: ${err}`)
  return JSON.parse(out.trim().split('\n').pop()!) as T
}
