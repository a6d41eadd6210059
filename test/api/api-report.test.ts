// The public API of every package matches its committed report in api/
// (`npm run api:check`; `npm run api:update` rewrites the reports after a
// deliberate change). Runs against the built declarations: `npm test` builds
// first (tsc -b).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = process.env.TENTACLE_TS_ROOT ?? fileURLToPath(new URL('../..', import.meta.url))

test('every package exports exactly what api/<package>.api.md records', { timeout: 170_000 }, async () => {
  const result = await run(process.execPath, [join(ROOT, 'scripts', 'api-report.mjs')], { cwd: ROOT, timeout: 160_000 }).then(
    () => '',
    (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
  )
  assert.equal(result, '', result)
})
