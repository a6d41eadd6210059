// The test harness's own hostile case: a child that prints two lines in one
// write and exits at once. The CI run of 2026-11 lost the second line
// (waitForLine kept its buffer per call), failing the EMFILE test.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { reap, waitForLine } from './helpers.js'

test('two lines in one chunk just before exit are both seen by consecutive waitForLine calls', async () => {
  const child = spawn(process.execPath, ['-e', "process.stdout.write('HONEST ok\\nSTATS {}\\n')"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  try {
    const [, reply] = await waitForLine(child, /^HONEST (.*)$/, 10_000)
    assert.equal(reply, 'ok')
    // Give the child time to exit before the second call is made.
    await new Promise((resolve) => child.once('close', resolve))
    const [, stats] = await waitForLine(child, /^STATS (.*)$/, 1_000)
    assert.equal(stats, '{}')
    await assert.rejects(waitForLine(child, /^NEVER$/, 1_000), /child exited \(0\) before printing/)
  } finally {
    await reap(child)
  }
})
