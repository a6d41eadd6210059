// Data integrity over secio + yamux in its short form (the long form is
// `npm run integrity`, 1 GiB): every byte of every stream not reset arrives
// in order, every reset stream reports YAMUX_ERR_STREAM_RESET on the other side,
// memory stays within the windows. Plus a check that the judge fails on a
// corrupted or a silently lost stream (a test of the test).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { judge, parseIntegrityArgs, runIntegrity, type IntegrityResult } from './integrity/run.js'

const opts = { ...parseIntegrityArgs(['--quick']), totalBytes: Number(process.env.INTEGRITY_MIB ?? 32) * 2 ** 20 }
let result: IntegrityResult | undefined

test(`${opts.totalBytes / 2 ** 20} MiB over ${opts.streams} streams: whole, in order, resets reported on both sides, memory within the windows`, async () => {
  result = await runIntegrity(opts)
  assert.equal(judge(opts, result), true, 'a figure missed its target (see the JSON lines)')
  assert.ok(
    result.outcomes.some((o) => o.plan === 'reset-by-sender') &&
      result.outcomes.some((o) => o.plan === 'reset-by-receiver'),
  )
})

test('the judge fails on one corrupted stream, one silently truncated stream and one reset not reported', () => {
  assert.ok(result !== undefined)
  const clone = (): IntegrityResult => ({ ...result!, outcomes: result!.outcomes.map((o) => ({ ...o })) })
  const corrupt = clone()
  const w = corrupt.outcomes.find((o) => o.plan === 'whole')!
  w.recvHash = w.recvHash.replace(/^./, (c) => (c === '0' ? '1' : '0'))
  assert.equal(judge(opts, corrupt), false)
  const truncated = clone()
  const t = truncated.outcomes.find((o) => o.plan === 'whole')!
  t.received -= 1
  assert.equal(judge(opts, truncated), false)
  const silent = clone()
  const s = silent.outcomes.find((o) => o.plan === 'reset-by-sender')!
  s.receiverError = undefined
  assert.equal(judge(opts, silent), false)
})
