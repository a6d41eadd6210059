#!/usr/bin/env node
// Runs the node:test suites through the tsx loader.
//   node scripts/run-tests.mjs             unit + cross-package tests (packages/*/test, test/ but
//                                          not test/interop, *.interop.test.ts nor *.docker.test.ts)
//   node scripts/run-tests.mjs --interop   builds the interop peers, then runs test/interop/**/*.test.ts
//                                          and every test/**/*.interop.test.ts (suites that need them)
//   node scripts/run-tests.mjs --docker    the test net on a Docker engine: test/**/*.docker.test.ts
//                                          (test/testnet/docker-engine.sh starts one where none runs)
//   node scripts/run-tests.mjs FILE...     just those files
//   --tap        TAP output (node:test's), also with TEST_REPORTER=tap or when CI is set;
//                otherwise a short summary for a person (scripts/test-reporter.mjs): a line per
//                file, failures in full at the end, node:test's `# tests/# pass/# fail` lines
//                and a plain `tests: N passed, N failed, N skipped` line.
//                TEST_REPORTER=human|spec|dot|<module> picks any node:test reporter.
//   --coverage   V8 coverage of every process the tests start, reported per package
//                (packages/*/src; HTML in coverage/) by c8; the run fails when a package is
//                under its floor (scripts/coverage.mjs).
// Every test file runs in its own process (node:test isolation) with a hard
// per-file timeout, so a hung test fails the run instead of hanging CI.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { belowFloors, c8Report, formatTable, readSummary } from './coverage.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const interop = args.includes('--interop')
const docker = args.includes('--docker')
// TEST_COVERAGE=1 does the same as --coverage, so that `TEST_COVERAGE=1 npm test` (what .ci/run runs) is npm test with coverage.
const coverage = args.includes('--coverage') || ['1', 'true'].includes((process.env.TEST_COVERAGE ?? '').toLowerCase())
const explicit = args.filter((a) => !a.startsWith('--'))

const ci = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI.toLowerCase())
const reporterName = args.includes('--tap') ? 'tap' : (process.env.TEST_REPORTER ?? (ci ? 'tap' : 'human'))
const reporter = reporterName === 'human' ? join(root, 'scripts', 'test-reporter.mjs') : reporterName

const SKIP_DIRS = new Set(['node_modules', 'target', 'dist'])

/** Test files below dir; `keep(path)` decides which (default: every *.test.ts). */
function walk(dir, out, keep = (p) => p.endsWith('.test.ts')) {
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name) || name.startsWith('.')) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out, keep)
    else if (keep(p)) out.push(relative(root, p))
  }
  return out
}

const isDockerTest = (p) => p.endsWith('.docker.test.ts')
const isInteropTest = (p) => p.endsWith('.interop.test.ts')
const interopDir = join(root, 'test', 'interop')

let files
if (explicit.length > 0) files = explicit
else if (interop)
  files = walk(
    interopDir,
    walk(join(root, 'test'), [], (p) => isInteropTest(p) && !p.startsWith(interopDir)),
  )
else if (docker) files = walk(join(root, 'test'), [], isDockerTest)
else {
  files = []
  for (const pkg of readdirSync(join(root, 'packages'))) walk(join(root, 'packages', pkg, 'test'), files)
  walk(
    join(root, 'test'),
    files,
    (p) => p.endsWith('.test.ts') && !isDockerTest(p) && !isInteropTest(p) && !p.startsWith(interopDir),
  )
}
files.sort()

if (interop && explicit.length === 0) {
  const build = spawnSync('bash', [join(root, 'test', 'interop', 'build.sh')], { stdio: 'inherit', cwd: root })
  if (build.status !== 0) {
    console.error(`interop peers failed to build (exit ${build.status})`)
    process.exit(1)
  }
}

if (files.length === 0) {
  console.error('no test files found')
  process.exit(1)
}

const v8Dir = coverage ? mkdtempSync(join(tmpdir(), 'tentacle-ts-v8-coverage-')) : undefined
const runTimeoutMs = Number(process.env.TEST_RUN_TIMEOUT_MS ?? 45 * 60_000)
const res = spawnSync(
  process.execPath,
  [
    '--conditions=source',
    '--import',
    'tsx',
    '--test',
    '--test-reporter=' + reporter,
    '--test-reporter-destination=stdout',
    '--test-timeout=' + (process.env.TEST_TIMEOUT_MS ?? (interop || docker ? '600000' : '180000')),
    '--test-concurrency=' + (process.env.TEST_CONCURRENCY ?? '1'),
    ...files,
  ],
  {
    stdio: 'inherit',
    cwd: root,
    env: testEnv(),
    // node:test waits for a timed-out file's pipes to close; a process that file left behind
    // holding one would keep the whole run waiting forever. The run as a whole is bounded too.
    timeout: runTimeoutMs,
    killSignal: 'SIGKILL',
  },
)
if (res.error?.code === 'ETIMEDOUT')
  console.error(`run-tests: the test run exceeded ${runTimeoutMs / 60_000} min and was killed`)
let status = res.status ?? 1
if (v8Dir) {
  if (!coverageHolds(v8Dir)) status ||= 1
  rmSync(v8Dir, { recursive: true, force: true })
}
process.exit(status)

/** The environment of the run; a run started from inside a test file is a run of its own. */
function testEnv() {
  const env = { ...process.env, TENTACLE_TS_ROOT: root }
  delete env.NODE_TEST_CONTEXT
  // Coverage is this run's (NODE_V8_COVERAGE below); a run started by a test file must not report its own.
  delete env.TEST_COVERAGE
  if (v8Dir) env.NODE_V8_COVERAGE = v8Dir
  return env
}

/** Reports coverage per package; false when a package is under its floor or no report came. */
function coverageHolds(dir) {
  const started = Date.now()
  const report = c8Report(root, dir)
  if (report.status !== 0) {
    console.error(`run-tests: c8 report failed (${report.error?.message ?? `exit ${report.status}`})`)
    return false
  }
  const packages = readSummary(root)
  // Floors hold for the default suite; a subset of files (or another suite) is only reported.
  const problems = explicit.length === 0 && !interop && !docker ? belowFloors(packages) : []
  console.log(
    `\ncoverage of packages/*/src (c8, ${((Date.now() - started) / 1000).toFixed(1)} s; per file: coverage/index.html)`,
  )
  console.log(formatTable(packages))
  for (const p of problems) console.log(`coverage: ${p}`)
  if (problems.length > 0) console.log('coverage: FAILED')
  else if (explicit.length === 0 && !interop && !docker) console.log('coverage: every package is at or above its floor')
  return problems.length === 0
}
