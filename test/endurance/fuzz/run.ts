/**
 * Coverage-guided fuzzing of every decoder (engine.ts, targets.ts).
 *
 *   node --conditions=source --import tsx test/endurance/fuzz/run.ts [--quick] [--seconds N]
 *        [--target NAME[,NAME]] [--seed N] [--save] [--work DIR]
 *
 * --quick: 4 s per target (the CI form, ~35 s in all); default 600 s per
 * target. New corpus entries go to --work (default
 * ~/.cache/tentacle-ts/fuzz-corpus) and, with --save, also into the committed
 * seed folder. A crash is minimised, written to <work>/crashes/<target>/, and
 * printed with its hex; the exit code is 1 when any target crashed.
 * One JSON line per figure: {bench, value, unit, target, ok}.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fuzz, startCoverage } from './engine.js'
import { SEED_DIR, loadCorpus, saveInput } from './corpus.js'
import { figure, flag, option } from '../lib/figures.js'

startCoverage()
const { TARGETS } = await import('./targets.js')

const args = process.argv.slice(2)
const quick = flag(args, '--quick')
const seconds = Number(option(args, '--seconds') ?? (quick ? 4 : 600))
const only = option(args, '--target')?.split(',')
const seed = Number(option(args, '--seed') ?? Date.now() % 100000)
const save = flag(args, '--save')
const work = option(args, '--work') ?? join(homedir(), '.cache', 'tentacle-ts', 'fuzz-corpus')

const targets = TARGETS.filter((t) => only === undefined || only.includes(t.name))
if (targets.length === 0) {
  console.error(`no target named ${only?.join(',')}; targets: ${TARGETS.map((t) => t.name).join(', ')}`)
  process.exit(2)
}
console.error(`fuzz: ${targets.length} targets, ${seconds} s each, seed ${seed}, work ${work}`)

let failed = false
for (const t of targets) {
  const corpus = [...loadCorpus(SEED_DIR, t.name), ...loadCorpus(work, t.name)]
  const r = await fuzz(t, { durationMs: seconds * 1000, seed, corpus })
  for (const a of r.added) {
    saveInput(work, t.name, a)
    if (save) saveInput(SEED_DIR, t.name, a)
  }
  const execsPerSec = r.execs / (r.ms / 1000)
  figure({ bench: `fuzz.${t.name}.execs`, value: r.execs, unit: 'execs', target: null, ok: true })
  figure({ bench: `fuzz.${t.name}.rate`, value: execsPerSec, unit: 'execs/s', target: null, ok: true })
  figure({ bench: `fuzz.${t.name}.blocks`, value: r.blocks, unit: 'blocks', target: null, ok: true })
  figure({ bench: `fuzz.${t.name}.corpus`, value: r.seeds + r.added.length, unit: 'inputs', target: null, ok: true })
  figure({
    bench: `fuzz.${t.name}.heap_max`,
    value: r.maxHeapUsed / 2 ** 20,
    unit: 'MiB',
    target: 256,
    ok: r.maxHeapUsed < 256 * 2 ** 20,
  })
  figure({
    bench: `fuzz.${t.name}.crashes`,
    value: r.crashes.length,
    unit: 'crashes',
    target: 0,
    ok: r.crashes.length === 0,
  })
  for (const c of r.crashes) {
    failed = true
    const path = saveInput(join(work, 'crashes'), t.name, c.input)
    console.error(
      `CRASH ${t.name}: ${c.signature}\n  input (${c.input.length} bytes): ${Buffer.from(c.input).toString('hex')}\n  saved: ${path}\n  ${String((c.error as Error)?.stack ?? c.error)}`,
    )
  }
  if (r.maxHeapUsed >= 256 * 2 ** 20) failed = true
}
process.exitCode = failed ? 1 : 0
