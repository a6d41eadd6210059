// Entry point for `npm run bench -- NAME [--quick]`.
// Each bench/NAME.ts exports `run(opts)` and prints one JSON line per figure
// through `report()` from ./lib.ts. Baselines are measured in the same run.
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const names = args.filter((a) => !a.startsWith('--'))
const dir = fileURLToPath(new URL('.', import.meta.url))
/** Modules beside the benches that are not benches themselves. */
const helpers = ['run.ts', 'lib.ts', 'peer-host.ts', 'with-resolvers.ts']
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !helpers.includes(f) && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))

if (names.length === 0) {
  console.error(`usage: npm run bench -- NAME [--quick]\navailable: ${available.join(', ')}`)
  process.exit(2)
}
for (const name of names) {
  if (!available.includes(name)) {
    console.error(`unknown bench "${name}"; available: ${available.join(', ')}`)
    process.exit(2)
  }
}
for (const name of names) {
  const mod = (await import(`./${name}.ts`)) as { run: (opts: { quick: boolean }) => Promise<void> }
  await mod.run({ quick })
}
