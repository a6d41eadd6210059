// The work a Service does to take one more session must not grow with the sessions it already holds
// (the scale run's setup rate fell from 224/s to 75/s on the way to 10 000 sessions: every new session
// compared its peer's key with every session's, issue 12). Work is counted, not timed, so that a loaded
// machine cannot make the test pass or fail: V8's precise block coverage counts how many times each block
// of packages/tentacle ran while one session came up (scale/session-work.ts, in a process of its own). A loop
// over all sessions adds at least one count per session held; the median count per new session at 110
// sessions held and at 10 must be within
// a quarter of a loop's growth, for sessions the node accepts and for sessions it dials. A planted loop
// (the handler listing all sessions at each session-open) must be seen.
import { runWorkProgram } from '../../lib/work-count.js'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'

const PROGRAM = fileURLToPath(new URL('./session-work.ts', import.meta.url))
interface Work {
  /** Median block executions per new session with `smallHeld` sessions held, and with `largeHeld`. */
  small: number
  large: number
  smallHeld: number
  largeHeld: number
}

/** Runs session-work.ts without NODE_V8_COVERAGE; its JSON result. */
function sessionWork(mode: string, signal: AbortSignal): Promise<Work> {
  return runWorkProgram<Work>(PROGRAM, mode, signal)
}

for (const direction of ['inbound', 'outbound'] as const) {
  test(
    `taking one more ${direction} session costs the same work with few and with many sessions held`,
    { timeout: 150_000 },
    async (t) => {
      const w = await sessionWork(direction, t.signal)
      t.diagnostic(`block executions per new session: ${w.small} at ${w.smallHeld} held, ${w.large} at ${w.largeHeld}`)
      const held = w.largeHeld - w.smallHeld
      assert.ok(
        w.large - w.small < held / 4,
        `work per new session grew by ${w.large - w.small} block executions (${w.small} -> ${w.large}) ` +
          `while ${held} more sessions were held: something runs once per session held for each new one`,
      )
    },
  )
}

test(
  'the count sees a loop over all sessions run for each new one (the test of the test)',
  { timeout: 150_000 },
  async (t) => {
    const w = await sessionWork('planted', t.signal)
    t.diagnostic(`planted loop: ${w.small} at ${w.smallHeld} held, ${w.large} at ${w.largeHeld}`)
    assert.ok(
      w.large - w.small >= w.largeHeld - w.smallHeld,
      `a planted O(n) moved the work per session only ${w.small} -> ${w.large}`,
    )
  },
)
