// scripts/run-tests.mjs: a person at a terminal gets a line per file, every failure in full
// (name, location, error, the file's output) and totals; TAP comes with --tap, TEST_REPORTER=tap
// or CI; node:test's `# tests/# pass/# fail` lines are there in both. scripts/coverage.mjs: the
// per-package figures and the floors.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

const ROOT = process.env.TENTACLE_TS_ROOT ?? fileURLToPath(new URL('../..', import.meta.url))
const RUNNER = join(ROOT, 'scripts', 'run-tests.mjs')

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs scripts/run-tests.mjs on `files` with `env` over a copy of this process's environment. */
function runTests(files: string[], env: Record<string, string | undefined>, flags: string[] = []): Promise<Run> {
  const base: Record<string, string | undefined> = { ...process.env }
  // The nested run must not pick up this run's mode, coverage directory or root.
  for (const k of ['CI', 'TEST_REPORTER', 'NODE_V8_COVERAGE', 'TEST_TIMEOUT_MS', 'NO_COLOR']) delete base[k]
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [RUNNER, ...flags, ...files],
      { cwd: ROOT, env: { ...base, ...env }, timeout: 150_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
        resolve({ code, stdout, stderr })
      },
    )
  })
}

let dir: string
let passing: string
let failing: string
let hanging: string

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'run-tests-test-'))
  passing = join(dir, 'passing.test.ts')
  failing = join(dir, 'failing.test.ts')
  hanging = join(dir, 'hanging.test.ts')
  await writeFile(
    passing,
    [
      "import { test } from 'node:test'",
      "test('first passes', () => {})",
      "test('second passes', () => {})",
      "test('third is skipped', { skip: true }, () => {})",
      '',
    ].join('\n'),
  )
  await writeFile(
    failing,
    [
      "import { test } from 'node:test'",
      "import assert from 'node:assert/strict'",
      "test('this one passes', () => {})",
      "test('this one fails', () => {",
      "  console.error('a line the failing file printed')",
      '  assert.equal(1 + 1, 3)',
      '})',
      '',
    ].join('\n'),
  )
  await writeFile(
    hanging,
    [
      "import { test } from 'node:test'",
      "test('quick', () => {})",
      "test('never ends', () => new Promise(() => { setInterval(() => {}, 1000) }))",
      '',
    ].join('\n'),
  )
})

after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('scripts/run-tests.mjs', () => {
  test('for a person: a line per file, failures in full at the end, totals last; no TAP', async () => {
    const { code, stdout } = await runTests([passing, failing], {})
    assert.equal(code, 1, stdout)
    assert.doesNotMatch(stdout, /TAP version|^not ok|^ok \d/m)
    const lines = stdout.split('\n')
    const fileLines = lines.filter((l) => /^[✔✖] /.test(l))
    assert.equal(fileLines.length, 3, stdout) // two files, then the one failure's title
    assert.match(fileLines[0], /^✖ .*failing\.test\.ts {2}1 failed, 1 passed {2}\d+\.\d s$/)
    assert.match(fileLines[1], /^✔ .*passing\.test\.ts {2}2 passed, 1 skipped {2}\d+\.\d s$/)
    // The failure: file › test name, then the line of the assertion in the .ts source, then the error.
    const at = stdout.indexOf('Failures (1)')
    assert.ok(at > stdout.indexOf(fileLines[1]), 'failures come after the per-file lines')
    const failure = stdout.slice(at)
    assert.match(failure, /✖ .*failing\.test\.ts › this one fails\n {2}at .*failing\.test\.ts:6:\d+\n/)
    assert.match(failure, /AssertionError \[ERR_ASSERTION\]: Expected values to be strictly equal:\n\s*\n\s*2 !== 3/)
    assert.match(failure, /output of .*failing\.test\.ts.*\n {2}a line the failing file printed\n/)
    assert.doesNotMatch(stdout, /\(node:internal/, 'node-internal frames are left out')
    // node:test's counters, as in TAP, then the plain closing line.
    for (const l of ['# tests 5', '# pass 3', '# fail 1', '# skipped 1'])
      assert.ok(lines.includes(l), `${l}\n${stdout}`)
    assert.match(
      stdout,
      /\n2 test files in \d+\.\d s, 1 failed: \S*failing\.test\.ts\ntests: 3 passed, 1 failed, 1 skipped\n$/,
    )
  })

  test('a passing run exits 0 and prints nothing of the passing files but their lines', async () => {
    const { code, stdout } = await runTests([passing], {})
    assert.equal(code, 0, stdout)
    assert.doesNotMatch(stdout, /Failures|output of/)
    assert.match(stdout, /\ntests: 2 passed, 0 failed, 1 skipped\n$/)
  })

  test('a file that hangs past the per-file timeout fails with the timeout named', async () => {
    const { code, stdout } = await runTests([hanging], { TEST_TIMEOUT_MS: '3000' })
    assert.equal(code, 1, stdout)
    assert.match(stdout, /^✖ .*hanging\.test\.ts {2}1 passed {2}\d+\.\d s {2}test timed out after 3000ms$/m)
    // The timed-out file is cancelled in node:test's counts; the closing line counts it as failed.
    assert.match(stdout, /^# cancelled 1$/m)
    assert.match(stdout, /\ntests: 1 passed, 1 failed, 0 skipped\n$/)
  })

  for (const [how, env, flags] of [
    ['CI set', { CI: 'true' }, []],
    ['--tap', {}, ['--tap']],
    ['TEST_REPORTER=tap', { TEST_REPORTER: 'tap' }, []],
  ] as const) {
    test(`TAP with ${how}, with node:test's closing lines`, async () => {
      const { code, stdout } = await runTests([passing, failing], env, [...flags])
      assert.equal(code, 1, stdout)
      assert.match(stdout, /^TAP version 13$/m)
      assert.match(stdout, /^\s*not ok \d+ - this one fails$/m)
      for (const l of ['# tests 5', '# pass 3', '# fail 1']) assert.match(stdout, new RegExp(`^${l}$`, 'm'))
      assert.doesNotMatch(stdout, /^tests: /m)
    })
  }

  test('TEST_REPORTER=human overrides CI', async () => {
    const { stdout } = await runTests([passing], { CI: 'true', TEST_REPORTER: 'human' })
    assert.doesNotMatch(stdout, /TAP version/)
    assert.match(stdout, /\ntests: 2 passed, 0 failed, 1 skipped\n$/)
  })
})

interface Figures {
  covered: number
  total: number
  pct: number
}
interface CoverageModule {
  byPackage(summary: object, root: string): Map<string, { lines: Figures; branches: Figures }>
  belowFloors(
    packages: Map<string, { lines: Figures; branches: Figures }>,
    floors?: Record<string, { lines: number; branches: number }>,
  ): string[]
  FLOORS: Record<string, { lines: number; branches: number }>
  isTypesOnly(typescript: typeof ts, source: string): boolean
}

describe('scripts/coverage.mjs', () => {
  const load = async (): Promise<CoverageModule> =>
    (await import(pathToFileURL(join(ROOT, 'scripts', 'coverage.mjs')).href)) as CoverageModule
  const fig = (covered: number, total: number) => ({ covered, total, pct: (100 * covered) / total })
  const summary = {
    total: { lines: fig(0, 1), branches: fig(0, 1) },
    [join('/r', 'packages', 'a', 'src', 'x.ts')]: { lines: fig(80, 100), branches: fig(9, 10) },
    [join('/r', 'packages', 'a', 'src', 'sub', 'y.ts')]: { lines: fig(20, 100), branches: fig(1, 10) },
    [join('/r', 'packages', 'b', 'src', 'z.ts')]: { lines: fig(50, 50), branches: fig(0, 0) },
    [join('/r', 'packages', 'a', 'test', 'helpers.ts')]: { lines: fig(0, 1000), branches: fig(0, 10) },
    [join('/r', 'test', 'lib.ts')]: { lines: fig(0, 1000), branches: fig(0, 10) },
  }

  test('adds the files of packages/<name>/src up per package, and nothing else', async () => {
    const { byPackage } = await load()
    const pkgs = byPackage(summary, '/r')
    assert.deepEqual([...pkgs.keys()], ['a', 'b'])
    assert.deepEqual(pkgs.get('a'), {
      lines: { covered: 100, total: 200, pct: 50 },
      branches: { covered: 10, total: 20, pct: 50 },
    })
    // A package without branches is not under any branch floor.
    assert.deepEqual(pkgs.get('b')?.branches, { covered: 0, total: 0, pct: 100 })
  })

  test('a package under its floor, a floor without figures, figures without a floor: each is a problem', async () => {
    const { byPackage, belowFloors } = await load()
    const pkgs = byPackage(summary, '/r')
    assert.deepEqual(belowFloors(pkgs, { a: { lines: 50, branches: 50 }, b: { lines: 100, branches: 90 } }), [])
    assert.deepEqual(belowFloors(pkgs, { a: { lines: 51, branches: 50 }, b: { lines: 100, branches: 90 } }), [
      'packages/a: lines 50.0 % is under its floor of 51 %',
    ])
    assert.deepEqual(
      belowFloors(pkgs, { a: { lines: 50, branches: 50.5 }, c: { lines: 1, branches: 1 } }).sort(),
      [
        'packages/a: branches 50.0 % is under its floor of 50.5 %',
        'packages/b: no floor (add one to FLOORS in scripts/coverage.mjs)',
        'packages/c: no coverage figures (its src/ was not found)',
      ].sort(),
    )
  })

  test('a module of types only is told from one with code (it is left out of the figures)', async () => {
    const { isTypesOnly } = await load()
    const typesOnly = [
      '/** doc */\nexport interface A { x: number }\n',
      "import type { B } from './b.js'\nexport type C = B | undefined\nexport type { B }\n",
      '',
    ]
    const code = [
      'export const a = 1\n',
      "export { x } from './x.js'\n",
      "import './side-effect.js'\nexport type T = 1\n",
      'export enum E { A }\n',
      'export function f(): void {}\n',
    ]
    for (const src of typesOnly) assert.equal(isTypesOnly(ts, src), true, src)
    for (const src of code) assert.equal(isTypesOnly(ts, src), false, src)
  })

  test('every package has a floor above zero', async () => {
    const { FLOORS } = await load()
    assert.deepEqual(Object.keys(FLOORS).sort(), (await readdir(join(ROOT, 'packages'))).sort())
    for (const [name, floor] of Object.entries(FLOORS)) {
      assert.ok(floor.lines > 0 && floor.branches > 0, `packages/${name} has no real floor`)
    }
  })
})
