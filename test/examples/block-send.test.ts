import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ExampleProcess } from './child.js'

const RATE =
  /^block-send: (\d+) blocks of (\d+) bytes sent and acknowledged in [\d.]+ s: \d+ blocks\/s, [\d.]+ MiB\/s; at most (\d+) blocks unacknowledged$/

test('examples/block-send.ts: 1024 blocks of 4 KiB, each acknowledged, with the sender held back by the window', async () => {
  const run = new ExampleProcess('block-send', [], { deadlineMs: 120_000 })
  try {
    const exit = await run.exited
    assert.deepEqual(exit, { code: 0, signal: null }, run.transcript())
    assert.ok(run.lines.includes('sender: acknowledged 1024/1024'), run.transcript())
    assert.ok(run.lines.includes('receiver: got 1024 blocks, every one in order and intact'), run.transcript())
    const m = run.lines.map((l) => l.match(RATE)).find((x) => x !== null)
    assert.ok(m, run.transcript())
    assert.deepEqual([Number(m[1]), Number(m[2])], [1024, 4096])
    // sendAsync settles only once yamux took the block, and yamux holds it
    // while the receiver's 256 KiB window (64 blocks) is used up: blocks in
    // flight stay near 64 (plus acks on their way back), never all 1024.
    const maxUnacked = Number(m[3])
    assert.ok(maxUnacked >= 1 && maxUnacked <= 256, `at most ${maxUnacked} unacknowledged`)
  } finally {
    await run.kill()
  }
})

test('examples/block-send.ts: plaintext, other sizes', async () => {
  const run = new ExampleProcess('block-send', ['--plaintext', '--count', '300', '--size', '65536'], {
    deadlineMs: 120_000,
  })
  try {
    const exit = await run.exited
    assert.deepEqual(exit, { code: 0, signal: null }, run.transcript())
    assert.ok(run.lines.includes('sender: acknowledged 300/300'), run.transcript())
    const m = run.lines.map((l) => l.match(RATE)).find((x) => x !== null)
    assert.ok(m, run.transcript())
    assert.deepEqual([Number(m[1]), Number(m[2])], [300, 65536])
    assert.ok(Number(m[3]) <= 16, `64 KiB blocks: the 256 KiB window holds 4, got ${m[3]} unacknowledged`)
  } finally {
    await run.kill()
  }
})
