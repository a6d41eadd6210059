// The coverage-guided fuzzer (test/endurance/fuzz/) in its short form: first a
// test of the engine (it must find a bug that blind mutation would not), then
// every decoder target for a few seconds from the committed seed corpus,
// which must end without a crash. The long form is `npm run fuzz`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fuzz, startCoverage } from './fuzz/engine.js'
import { SEED_DIR, loadCorpus } from './fuzz/corpus.js'

startCoverage() // before the code under test is imported (see engine.ts)
const { TARGETS } = await import('./fuzz/targets.js')
const { PlantedError, plantedDecode } = await import('./fuzz/fixtures/planted.js')

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 3)

const planted = {
  name: 'planted',
  maxLen: 4,
  expected: (e: unknown) => e instanceof PlantedError,
  run: (b: Uint8Array) => void plantedDecode(b),
}

test('the engine finds a bug behind four nested checks, guided by block coverage, and minimises it', async () => {
  // Bounded by executions, so the result does not depend on the machine's load (seed 42 is deterministic);
  // the time bound is only a backstop under the runner's 180 s per-test timeout. A run at load 17 took 28 s;
  // a 60 s bound failed once at 6297 executions on a machine with eight busy processes per core.
  const r = await fuzz(planted, {
    durationMs: 150_000,
    maxExecs: 100_000,
    maxCrashes: 1,
    seed: 42,
    corpus: [],
    coverageUrl: /\/fixtures\/planted\.ts/,
  })
  assert.equal(r.crashes.length, 1, `no crash found in ${r.execs} executions`)
  assert.deepEqual([...r.crashes[0]!.input], [0x7f, 0x80, 0xff, 0x10])
  assert.match(r.crashes[0]!.signature, /TypeError: planted bug reached/)
  assert.ok(r.added.length >= 3, 'each nested check should have added an input')
  blindBudget = r.execs
})

let blindBudget = 0

test('the same search without coverage feedback (blind mutation of the seeds) does not find it in the same budget', async () => {
  assert.ok(blindBudget > 0)
  const r = await fuzz(planted, {
    durationMs: 150_000,
    maxExecs: blindBudget,
    seed: 42,
    corpus: [],
    coverageUrl: /no-such-script/,
  })
  assert.equal(r.added.length, 0)
  assert.equal(r.crashes.length, 0)
})

for (const target of TARGETS) {
  test(`fuzz ${target.name}: ${SECONDS} s from the seed corpus, no crash`, async () => {
    const corpus = loadCorpus(SEED_DIR, target.name)
    assert.ok(corpus.length > 0, `no seed corpus for ${target.name} (run test/endurance/fuzz/capture.ts)`)
    const r = await fuzz(target, { durationMs: SECONDS * 1000, minMutations: 200, seed: 1, corpus })
    const detail = r.crashes.map((c) => `${c.signature}\n  input: ${Buffer.from(c.input).toString('hex')}`).join('\n')
    assert.equal(r.crashes.length, 0, detail)
    assert.ok(r.execs > r.seeds, 'the target did not run past its seeds')
    assert.ok(r.blocks > 0, 'no coverage collected')
  })
}
