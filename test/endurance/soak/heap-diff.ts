/**
 * Diff of two V8 heap snapshots by constructor name: which kinds of objects
 * grew between the soak's baseline and its end (soak/run.ts --heap-snapshots DIR).
 *
 *   node --import tsx test/endurance/soak/heap-diff.ts BASE.heapsnapshot END.heapsnapshot [TOP]
 */
import { readFileSync } from 'node:fs'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
  nodes: number[]
  strings: string[]
}

function byName(file: string): Map<string, { count: number; size: number }> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const f = s.snapshot.meta.node_fields
  const width = f.length
  const iType = f.indexOf('type')
  const iName = f.indexOf('name')
  const iSize = f.indexOf('self_size')
  const types = s.snapshot.meta.node_types[0]
  const out = new Map<string, { count: number; size: number }>()
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!
    const key = type === 'object' || type === 'closure' ? `${type}:${s.strings[s.nodes[i + iName]!]}` : type
    const e = out.get(key) ?? { count: 0, size: 0 }
    e.count++
    e.size += s.nodes[i + iSize]!
    out.set(key, e)
  }
  return out
}

const [a, b, top] = process.argv.slice(2)
const before = byName(a!)
const after = byName(b!)
const rows = [...after].map(([k, v]) => ({
  k,
  dc: v.count - (before.get(k)?.count ?? 0),
  ds: v.size - (before.get(k)?.size ?? 0),
}))
rows.sort((x, y) => y.ds - x.ds)
for (const r of rows.slice(0, Number(top ?? 25)))
  console.log(`${String(r.ds).padStart(10)} B ${String(r.dc).padStart(8)} objs  ${r.k}`)
