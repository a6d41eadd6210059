/**
 * Seed corpora: test/endurance/fuzz/corpus/<target>/<sha1>.bin, small files
 * committed with the repository (captured from real Rust peers by
 * capture.ts, plus hand-made edge cases). Long runs keep what they find in a
 * work directory outside the clone unless told to save into the seed folder.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SEED_DIR = fileURLToPath(new URL('./corpus/', import.meta.url))

export function loadCorpus(dir: string, target: string): Uint8Array[] {
  const d = join(dir, target)
  if (!existsSync(d)) return []
  return readdirSync(d)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => new Uint8Array(readFileSync(join(d, f))))
}

/** Writes `input` as <sha1>.bin under dir/target; returns the path. */
export function saveInput(dir: string, target: string, input: Uint8Array): string {
  const d = join(dir, target)
  mkdirSync(d, { recursive: true })
  const p = join(d, `${createHash('sha1').update(input).digest('hex')}.bin`)
  if (!existsSync(p)) writeFileSync(p, input)
  return p
}
