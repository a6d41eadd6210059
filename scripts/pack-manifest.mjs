#!/usr/bin/env node
// The `prepack` / `postpack` step of every package in packages/.
//
//   node ../../scripts/pack-manifest.mjs prepack    (cwd: a package directory)
//   node ../../scripts/pack-manifest.mjs postpack
//
// prepack: builds the package (and what it references) with `tsc -b`, removes
// build output whose source file is gone (a moved module must not ship twice),
// copies the repository's LICENSE when the package has none, and rewrites the
// package.json that goes into the tarball without the `source` export
// condition. In this repository `source` points at `src/*.ts` so tests and
// examples run from source (`node --conditions=source --import tsx`); in a
// published package it would send any consumer that happens to run with
// `--conditions=source` to a `.ts` file Node cannot load
// (ERR_UNKNOWN_FILE_EXTENSION). The original `exports` is kept in
// `.pack-exports.json` beside package.json.
//
// postpack: puts the `source` conditions back. Only the `exports` key is
// restored, from the saved copy, so an edit made to another key of
// package.json while npm was packing survives.
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const pkgDir = process.cwd()
const manifestPath = join(pkgDir, 'package.json')
const savedPath = join(pkgDir, '.pack-exports.json')
const step = process.argv[2]

/** `exports` without any `source` condition (recursively, for nested conditions). */
export function stripSource(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
  const out = {}
  for (const [key, v] of Object.entries(value)) if (key !== 'source') out[key] = stripSource(v)
  return out
}

/** Build output under dist/ whose `src/*.ts` no longer exists. */
function staleOutputs(dist, src, out = []) {
  if (!existsSync(dist)) return out
  for (const name of readdirSync(dist)) {
    const p = join(dist, name)
    if (statSync(p).isDirectory()) {
      staleOutputs(p, join(src, name), out)
      continue
    }
    const base = name.replace(/\.(d\.ts\.map|d\.ts|js\.map|js)$/, '')
    if (base !== name && !existsSync(join(src, `${base}.ts`))) out.push(p)
  }
  return out
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'))
}

function writeJson(path, value) {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n')
}

if (step === 'prepack') {
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
  execFileSync(process.execPath, [tsc, '-b', pkgDir], { stdio: 'inherit' })
  for (const p of staleOutputs(join(pkgDir, 'dist'), join(pkgDir, 'src'))) rmSync(p)
  if (!existsSync(join(pkgDir, 'LICENSE'))) copyFileSync(join(root, 'LICENSE'), join(pkgDir, 'LICENSE'))
  const manifest = readJson(manifestPath)
  if (!existsSync(savedPath)) writeJson(savedPath, manifest.exports)
  manifest.exports = stripSource(manifest.exports)
  writeJson(manifestPath, manifest)
} else if (step === 'postpack') {
  if (existsSync(savedPath)) {
    const manifest = readJson(manifestPath)
    manifest.exports = readJson(savedPath)
    writeJson(manifestPath, manifest)
    rmSync(savedPath)
  }
} else {
  console.error('usage: pack-manifest.mjs prepack|postpack')
  process.exit(2)
}
