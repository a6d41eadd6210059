// Per-step timeline of session setups, for `BENCH_SETUP_PHASES=1 npm run bench -- rust`.
// Taps every TCP socket this process creates or accepts (node:diagnostics_channel)
// and records, for each socket event, this process's CPU time (process.cpuUsage,
// user+sys, µs) and the time: created/accepted, connect, each write() call, each
// 'data' event, close. A session's steps are the intervals between consecutive
// events: "r… -> w…" is what this side spent answering what it read (its share of
// the critical path), "w… -> r…" is the wait for the peer (wire + the peer's answer,
// whatever language the peer is in). Only for the bench: it patches
// net.Socket.prototype.write while tapping.
import dc from 'node:diagnostics_channel'
import net from 'node:net'

interface Mark {
  what: string
  cpu: number
  t: number
}

export interface PhaseStep {
  from: string
  to: string
  /** Median CPU of this process between the two events (µs). */
  cpuUs: number
  /** Median time between the two events (µs). */
  wallUs: number
}

export interface PhaseSummary {
  /** Sockets recorded, and how many had the most common sequence of events (the ones summarized). */
  sockets: number
  matching: number
  steps: PhaseStep[]
  /** Median CPU per session from the first to the last event (µs). */
  cpuUs: number
  /** Median time from the first to the last event (µs). */
  wallUs: number
}

const cpu = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}

const MAX_SOCKETS = 5000
let tapping = false
const done: Mark[][] = []
const marks = new WeakMap<net.Socket, Mark[]>()
const originalWrite = net.Socket.prototype.write

function record(socket: net.Socket, what: string): void {
  marks.get(socket)?.push({ what, cpu: cpu(), t: performance.now() })
}

function tap(socket: net.Socket, first: string): void {
  if (!tapping) return
  const list: Mark[] = []
  marks.set(socket, list)
  record(socket, first)
  socket.prependListener('data', (b: Buffer) => record(socket, `r${b.length}`))
  socket.once('connect', () => record(socket, 'connect'))
  socket.once('close', () => {
    record(socket, 'close')
    marks.delete(socket)
    if (tapping && done.length < MAX_SOCKETS) done.push(list)
  })
}

const onClient = (m: unknown): void => tap((m as { socket: net.Socket }).socket, 'create')
const onServer = (m: unknown): void => tap((m as { socket: net.Socket }).socket, 'accept')

/** Starts recording (idempotent); forgets what was recorded before. */
export function startPhases(): void {
  done.length = 0
  if (tapping) return
  tapping = true
  dc.subscribe('net.client.socket', onClient)
  dc.subscribe('net.server.socket', onServer)
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    const chunk = args[0] as { length?: number } | undefined
    record(this, `w${chunk?.length ?? '?'}`)
    return (originalWrite as (...a: unknown[]) => boolean).apply(this, args)
  } as typeof originalWrite
}

/** Stops recording and summarizes the sockets closed meanwhile. */
export function stopPhases(): PhaseSummary {
  if (tapping) {
    tapping = false
    dc.unsubscribe('net.client.socket', onClient)
    dc.unsubscribe('net.server.socket', onServer)
    net.Socket.prototype.write = originalWrite
  }
  const shape = (l: Mark[]): string => l.map((m) => m.what).join(' ')
  const counts = new Map<string, number>()
  for (const l of done) counts.set(shape(l), (counts.get(shape(l)) ?? 0) + 1)
  const best = [...counts].sort((a, b) => b[1] - a[1])[0]
  const same = best === undefined ? [] : done.filter((l) => shape(l) === best[0])
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  const steps: PhaseStep[] = []
  const first = same[0] ?? []
  for (let i = 1; i < first.length; i++) {
    steps.push({
      from: first[i - 1]!.what,
      to: first[i]!.what,
      cpuUs: med(same.map((l) => l[i]!.cpu - l[i - 1]!.cpu)),
      wallUs: 1000 * med(same.map((l) => l[i]!.t - l[i - 1]!.t)),
    })
  }
  const summary = {
    sockets: done.length,
    matching: same.length,
    steps,
    cpuUs: med(same.map((l) => l.at(-1)!.cpu - l[0]!.cpu)),
    wallUs: 1000 * med(same.map((l) => l.at(-1)!.t - l[0]!.t)),
  }
  done.length = 0
  return summary
}
