// The churn soak's test of the test: a short soak of a clean node passes, and
// the same soak of a node that leaks slowly on purpose — 4 KiB kept per
// session, or one interval timer per 20 sessions — fails on the figure that
// leak moves. The soak itself (2 min in CI, 30 min on request) is
// `npm run soak -- --quick` / `npm run soak`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runTsx } from '../lib/run-tsx.js'
import { fileURLToPath } from 'node:url'

const SOAK = fileURLToPath(new URL('./soak/run.ts', import.meta.url))

interface Figure {
  bench: string
  value: number
  ok: boolean
}

/** Runs the soak; the test's own signal kills it if the test times out (its churn peer then sees stdin close and exits). */
async function soak(
  args: string[],
  signal: AbortSignal,
): Promise<{ code: number | null; figures: Map<string, Figure>; stderr: string }> {
  const { code, out, err } = await runTsx(SOAK, args, { signal })
  const figures = new Map<string, Figure>()
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue
    const f = JSON.parse(line) as Figure
    figures.set(f.bench, f)
  }
  return { code, figures, stderr: err }
}

const SECONDS = process.env.SOAK_TEST_SECONDS ?? '20'

// RSS is judged by the full-length soak only: in a 20 s run the allocator and
// the JIT are still growing after the short warm-up, leak or no leak.
const JUDGED_SHORT = [
  'soak.heap_growth',
  'soak.fds',
  'soak.timers',
  'soak.handles',
  'soak.process_listeners',
  'soak.connections_left',
  'soak.unaccounted_errors',
]

test(`a clean node passes a ${SECONDS} s churn soak (all but RSS)`, { timeout: 120_000 }, async (t) => {
  const r = await soak(['--seconds', SECONDS], t.signal)
  const failed = JUDGED_SHORT.map((b) => r.figures.get(b)).filter((f) => f === undefined || !f.ok)
  assert.deepEqual(failed, [], `soak failed: ${JSON.stringify(failed)}\n${r.stderr}`)
  assert.ok((r.figures.get('soak.sessions')?.value ?? 0) > 100, 'too little churn to judge anything')
})

test(`a node leaking 4 KiB per session fails the same soak on heap growth`, { timeout: 120_000 }, async (t) => {
  const r = await soak(['--seconds', SECONDS, '--inject-leak', 'heap:4096'], t.signal)
  assert.equal(r.code, 1, r.stderr)
  assert.equal(r.figures.get('soak.heap_growth')?.ok, false, r.stderr)
})

test('a node leaking one timer per 20 sessions fails a short soak on timers', { timeout: 120_000 }, async (t) => {
  const r = await soak(['--seconds', '10', '--inject-leak', 'timer'], t.signal)
  assert.equal(r.code, 1, r.stderr)
  assert.equal(r.figures.get('soak.timers')?.ok, false, r.stderr)
})
