/**
 * Drivers that print one JSON object per line with an `event` field (tentacle-peer,
 * ckb-network-peer): the events printed so far, and a wait for the next matching one.
 */
import { DEFAULT_WAIT_MS } from './peer-process.js'
import type { PeerProcess } from './peer-process.js'

/** An event a driver printed: `{ "event": NAME, ...fields }`. */
export interface JsonEvent {
  event: string
}

/** Every event `proc` printed so far, in order (lines `parse` does not take are skipped). */
export function eventsSoFar<E extends JsonEvent>(proc: PeerProcess, parse: (line: string) => E | undefined): E[] {
  const out: E[] = []
  for (const l of proc.stdout) {
    const e = parse(l)
    if (e !== undefined) out.push(e)
  }
  return out
}

/**
 * The earliest not-yet-consumed event named `name` (see PeerProcess.waitFor) whose fields equal
 * those of `match` (or for which `match` returns true); consumes it. Rejects after timeoutMs or
 * if the process exits first.
 */
export async function waitJsonEvent<E extends JsonEvent, K extends E['event']>(
  proc: PeerProcess,
  parse: (line: string) => E | undefined,
  name: K,
  match?: Partial<Extract<E, { event: K }>> | ((e: Extract<E, { event: K }>) => boolean),
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<Extract<E, { event: K }>> {
  type Ev = Extract<E, { event: K }>
  const test = (e: Ev): boolean => {
    if (match === undefined) return true
    if (typeof match === 'function') return match(e)
    for (const [k, v] of Object.entries(match)) {
      if ((e as unknown as Record<string, unknown>)[k] !== v) return false
    }
    return true
  }
  const pred = function eventMatches(line: string): boolean {
    const e = parse(line)
    return e !== undefined && e.event === name && test(e as Ev)
  }
  Object.defineProperty(pred, 'name', {
    value: `event ${name} ${typeof match === 'object' ? JSON.stringify(match) : ''}`,
  })
  return parse(await proc.waitFor(pred, timeoutMs)) as Ev
}
