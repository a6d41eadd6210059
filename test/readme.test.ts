// The README's "Embedding it" snippet runs as written: the ```ts block under
// that heading is extracted, type-checked (strict, NodeNext) and run against
// the workspace packages. It must print Bob's echo and exit by itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = process.env.TENTACLE_TS_ROOT ?? fileURLToPath(new URL('..', import.meta.url))

/** The first ```ts block after `heading` in a markdown text. */
export function snippetAfter(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}\n`)
  assert.ok(at >= 0, `no "${heading}" heading`)
  const block = /\n```ts\n([\s\S]*?)\n```\n/.exec(markdown.slice(at))
  assert.ok(block, `no ts block after "${heading}"`)
  return block[1]
}

test('snippetAfter finds the block under its heading and fails without one', () => {
  const md = '# a\n```ts\nwrong()\n```\n## Embedding it\ntext\n```ts\nright()\n```\n'
  assert.equal(snippetAfter(md, '## Embedding it'), 'right()')
  assert.throws(() => snippetAfter('## Embedding it\nno code\n', '## Embedding it'))
})

test("README's embedding snippet type-checks and runs as written", { timeout: 120_000 }, async () => {
  const code = snippetAfter(await readFile(join(ROOT, 'README.md'), 'utf8'), '## Embedding it')
  // Under the repository's node_modules so that the @tentacle-ts/* imports resolve to the workspaces.
  const cache = join(ROOT, 'node_modules', '.cache')
  await mkdir(cache, { recursive: true })
  const dir = await mkdtemp(join(cache, 'readme-snippet-'))
  try {
    const file = join(dir, 'snippet.ts')
    await writeFile(file, code)
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const opts = [
      '--noEmit',
      '--strict',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--target',
      'ES2022',
      '--types',
      'node',
      '--customConditions',
      'source',
      '--skipLibCheck',
    ]
    await run(process.execPath, [tsc, ...opts, file], { cwd: dir, timeout: 90_000 }).catch((e: { stdout?: string }) => {
      assert.fail(`the snippet does not type-check:\n${e.stdout ?? ''}`)
    })
    const { stdout, stderr } = await run(process.execPath, ['--conditions=source', '--import', 'tsx', file], {
      cwd: dir,
      timeout: 60_000,
    })
    assert.equal(stdout, 'alice <- bob: hello, bob\n')
    assert.equal(stderr, '')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
