/**
 * Summarizes V8 CPU profiles (.cpuprofile, as scale/run.ts `--profile-at` writes them): where the
 * sampled time went, by category (garbage collector, idle, our packages, node internals,
 * dependencies, ...) and the top functions by self time. With two profiles, prints both side by
 * side per 1 000 samples' worth of time normalised to the profile's non-idle time, so that
 * a cost that grows with the number of sessions stands out.
 *
 *   node --import tsx test/endurance/scale/profile-summary.ts A.cpuprofile [B.cpuprofile] [--top 25]
 */
import { readFileSync } from 'node:fs'
import { option } from '../lib/figures.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

interface Summary {
  file: string
  totalMs: number
  busyMs: number
  byCategory: Map<string, number>
  byFunction: Map<string, number>
}

function category(url: string, name: string): string {
  if (name === '(garbage collector)') return 'gc'
  if (name === '(idle)') return 'idle'
  if (name === '(program)') return 'program (native, not JS)'
  if (url.includes('/packages/')) return `ours: ${/\/packages\/([^/]+)\//.exec(url)![1]}`
  if (url.startsWith('node:')) return 'node internals'
  if (url.includes('node_modules')) return `dep: ${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'}`
  if (url === '') return 'native / builtins'
  return 'other JS (tests, harness)'
}

function short(url: string): string {
  const k = url.indexOf('/packages/')
  if (k >= 0) return url.slice(k + 1)
  const m = url.lastIndexOf('node_modules/')
  if (m >= 0) return url.slice(m + 'node_modules/'.length)
  return url.replace(/^file:\/\/.*\/(test|bench)\//, '$1/')
}

function summarize(file: string): Summary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  // Sample i lasted timeDeltas[i + 1] (the delta to the next sample).
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + dt)
  }
  const byCategory = new Map<string, number>()
  const byFunction = new Map<string, number>()
  let total = 0
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const ms = us / 1000
    total += ms
    const c = category(url, functionName)
    byCategory.set(c, (byCategory.get(c) ?? 0) + ms)
    const key = `${functionName || '(anonymous)'} ${short(url)}${url ? `:${lineNumber + 1}` : ''}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms)
  }
  return { file, totalMs: total, busyMs: total - (byCategory.get('idle') ?? 0), byCategory, byFunction }
}

const args = process.argv.slice(2)
const top = Number(option(args, '--top') ?? 25)
const files = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--top')
const sums = files.map(summarize)
const pct = (s: Summary, ms: number | undefined): string =>
  `${(ms ?? 0).toFixed(0).padStart(7)} ms ${(((ms ?? 0) / s.busyMs) * 100).toFixed(1).padStart(5)} %`

for (const s of sums) console.log(`${s.file}: ${s.totalMs.toFixed(0)} ms sampled, ${s.busyMs.toFixed(0)} ms not idle`)
console.log('\nby category (% of non-idle time)')
const cats = [...new Set(sums.flatMap((s) => [...s.byCategory.keys()]))].sort(
  (a, b) => (sums[0]!.byCategory.get(b) ?? 0) - (sums[0]!.byCategory.get(a) ?? 0),
)
for (const c of cats) console.log(`  ${sums.map((s) => pct(s, s.byCategory.get(c))).join('   ')}   ${c}`)
console.log(`\ntop ${top} functions by self time (ordered by the ${sums.length > 1 ? 'last' : ''} profile)`)
const last = sums[sums.length - 1]!
const fns = [...last.byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
for (const [f] of fns) console.log(`  ${sums.map((s) => pct(s, s.byFunction.get(f))).join('   ')}   ${f}`)
