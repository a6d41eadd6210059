// ESLint (eslint.config.js: typescript-eslint, with no-floating-promises and
// no-explicit-any) and Prettier (.prettierrc.json) pass over the repository:
// `npm run lint` and `npm run format:check`, run here so that `npm test` fails
// on a finding.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = process.env.TENTACLE_TS_ROOT ?? fileURLToPath(new URL('../..', import.meta.url))

test('eslint finds nothing', { timeout: 170_000 }, async () => {
  const eslint = join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js')
  const out = await run(process.execPath, [eslint, '.'], { cwd: ROOT, timeout: 160_000, maxBuffer: 16 << 20 }).then(
    () => '',
    (e: { stdout?: string; stderr?: string; message?: string }) =>
      `${e.stdout ?? ''}${e.stderr ?? ''}` || String(e.message),
  )
  assert.equal(out, '', out)
})

test('prettier finds nothing to reformat', { timeout: 170_000 }, async () => {
  const prettier = join(ROOT, 'node_modules', 'prettier', 'bin', 'prettier.cjs')
  const out = await run(process.execPath, [prettier, '--check', '--log-level', 'warn', '.'], {
    cwd: ROOT,
    timeout: 160_000,
    maxBuffer: 16 << 20,
  }).then(
    () => '',
    (e: { stdout?: string; stderr?: string; message?: string }) =>
      `${e.stdout ?? ''}${e.stderr ?? ''}` || String(e.message),
  )
  assert.equal(out, '', `run \`npm run format\` to fix:\n${out}`)
})
