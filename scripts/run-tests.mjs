#!/usr/bin/env node
// Runs the node:test suites through the tsx loader.
//   node scripts/run-tests.mjs             unit + cross-package tests
//   node scripts/run-tests.mjs --interop   builds the interop peers, then runs interop/**/*.test.ts
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
const explicit = args.filter((a) => !a.startsWith('--'))

function walk(dir, out) {
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'target' || name === 'dist' || name.startsWith('.')) continue
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (name.endsWith('.test.ts')) out.push(relative(root, p))
  }
  return out
}

let files
if (explicit.length > 0) files = explicit
else if (interop) files = walk(join(root, 'interop'), [])
else {
  files = []
  for (const pkg of readdirSync(join(root, 'packages'))) walk(join(root, 'packages', pkg, 'test'), files)
  walk(join(root, 'test'), files)
}
files.sort()

if (interop && explicit.length === 0) {
  const build = spawnSync('bash', [join(root, 'interop', 'build.sh')], { stdio: 'inherit', cwd: root })
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
    '--import', 'tsx',
    '--test',
    '--test-timeout=' + (process.env.TEST_TIMEOUT_MS ?? (interop ? '600000' : '180000')),
    '--test-concurrency=' + (process.env.TEST_CONCURRENCY ?? '1'),
    ...files,
  ],
  { stdio: 'inherit', cwd: root, env: { ...process.env, TENTACLE_TS_ROOT: root } },
)
process.exit(res.status ?? 1)
