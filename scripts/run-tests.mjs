#!/usr/bin/env node
// Runs the node:test suites through the tsx loader.
//   node scripts/run-tests.mjs             unit + cross-package tests (packages/*/test, test/ but
//                                          not test/interop, *.interop.test.ts nor *.docker.test.ts)
//   node scripts/run-tests.mjs --interop   builds the interop peers, then runs test/interop/**/*.test.ts
//                                          and every test/**/*.interop.test.ts (suites that need them)
//   node scripts/run-tests.mjs --docker    the test net on a Docker engine: test/**/*.docker.test.ts
//                                          (test/testnet/docker-engine.sh starts one where none runs)
//   node scripts/run-tests.mjs FILE...     just those files
// Every test file runs in its own process (node:test isolation) with a hard
// per-file timeout, so a hung test fails the run instead of hanging CI.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const args = process.argv.slice(2)
const interop = args.includes('--interop')
const docker = args.includes('--docker')
const explicit = args.filter((a) => !a.startsWith('--'))

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

const res = spawnSync(
  process.execPath,
  [
    '--conditions=source',
    '--import',
    'tsx',
    '--test',
    '--test-timeout=' + (process.env.TEST_TIMEOUT_MS ?? (interop || docker ? '600000' : '180000')),
    '--test-concurrency=' + (process.env.TEST_CONCURRENCY ?? '1'),
    ...files,
  ],
  {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, TENTACLE_TS_ROOT: root },
    // node:test waits for a timed-out file's pipes to close; a process that file left behind
    // holding one would keep the whole run waiting forever. The run as a whole is bounded too.
    timeout: Number(process.env.TEST_RUN_TIMEOUT_MS ?? 45 * 60_000),
    killSignal: 'SIGKILL',
  },
)
if (res.error?.code === 'ETIMEDOUT')
  console.error(
    `run-tests: the test run exceeded ${Number(process.env.TEST_RUN_TIMEOUT_MS ?? 45 * 60_000) / 60_000} min and was killed`,
  )
process.exit(res.status ?? 1)
