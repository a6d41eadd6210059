#!/usr/bin/env node
// The `tentacle` command. Runs the built dist/ when it is there and newer
// than src/; otherwise (a clean clone after `npm install`, or sources edited
// since the last build) it runs src/ through tsx, resolving the workspace
// packages to their sources too, so no build step is needed.
// TENTACLE_CLI_SOURCE=1 forces the sources.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const pkg = fileURLToPath(new URL('..', import.meta.url))
const dist = join(pkg, 'dist', 'main.js')
const src = join(pkg, 'src')

function newestMtime(dir) {
  let newest = 0
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = statSync(p)
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs)
  }
  return newest
}

function useDist() {
  if (process.env.TENTACLE_CLI_SOURCE === '1' || !existsSync(dist)) return false
  return !existsSync(src) || statSync(dist).mtimeMs >= newestMtime(src)
}

let mod
if (useDist()) {
  mod = await import(pathToFileURL(dist).href)
} else {
  const { register } = await import('node:module')
  // Workspace packages export their TypeScript under the "source" condition.
  register(
    'data:text/javascript,' +
      encodeURIComponent(
        'export async function resolve(s, c, n) { return n(s, c.conditions.includes("source") ? c : { ...c, conditions: [...c.conditions, "source"] }) }',
      ),
  )
  let tsx
  try {
    tsx = await import('tsx/esm/api')
  } catch {
    console.error('tentacle: not built and tsx is not installed; run `npm install` (or `npm run build`) first')
    process.exit(1)
  }
  tsx.register()
  mod = await import(pathToFileURL(join(src, 'main.ts')).href)
}
process.exitCode = await mod.main(process.argv.slice(2))
