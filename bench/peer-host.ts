// Where a benchmark's receiving peer runs: in the bench process, or in a
// child process (its own core, as a real remote node would have). The same
// start/stop/exit protocol serves every bench: parent -> child
// {start: spec} | {stop: true} | {exit: true}; child -> parent {ready: true},
// {started: value}, {stopped: true}, and any bench-specific messages.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export interface PeerHost<Spec, Started> {
  start(spec: Spec): Promise<Started>
  stop(): Promise<void>
  exit(): void
}

interface Running {
  close(): Promise<void>
}

/** The peer runs in this process. */
export function inProcessHost<Spec, R extends Running, Started>(
  start: (spec: Spec) => Promise<R>,
  started: (r: R) => Started,
): PeerHost<Spec, Started> {
  let current: R | undefined
  return {
    async start(spec) {
      current = await start(spec)
      return started(current)
    },
    async stop() {
      await current?.close()
      current = undefined
    },
    exit() {},
  }
}

/**
 * The peer runs in a child process: forks `script` (through tsx) with
 * `flag`; that module calls {@link serveChildHost} with the same flag.
 * Messages other than the protocol's go to `onMessage`.
 */
export async function childHost<Spec, Started>(
  script: URL,
  flag: string,
  onMessage?: (msg: Record<string, unknown>) => void,
): Promise<PeerHost<Spec, Started>> {
  const child = fork(fileURLToPath(script), [flag], {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  type Waiter = { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }
  const waiters = new Map<string, Waiter[]>()
  let gone: Error | undefined
  const next = (key: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      if (gone !== undefined) reject(gone)
      else waiters.set(key, [...(waiters.get(key) ?? []), { resolve, reject }])
    })
  child.on('message', (m: Record<string, unknown>) => {
    for (const key of ['ready', 'started', 'stopped']) {
      if (key in m) {
        const list = waiters.get(key)
        const w = list?.shift()
        if (w) return w.resolve(m)
      }
    }
    onMessage?.(m)
  })
  // A child that dies (e.g. its start() threw) fails the bench instead of hanging it.
  child.once('exit', (code, signal) => {
    gone = new Error(`bench peer ${flag} exited (code ${code}, signal ${signal})`)
    for (const list of waiters.values()) for (const w of list) w.reject(gone)
    waiters.clear()
  })
  await next('ready')
  return {
    async start(spec) {
      const started = next('started')
      child.send({ start: spec })
      return (await started).started as Started
    },
    async stop() {
      const stopped = next('stopped')
      child.send({ stop: true })
      await stopped
    },
    exit() {
      if (child.connected) child.send({ exit: true })
    },
  }
}

/**
 * In the forked child: if this process was started with `flag`, serves
 * start/stop/exit from the parent. `start` also gets a `send` for
 * bench-specific messages.
 */
export function serveChildHost<Spec, R extends Running>(
  flag: string,
  start: (spec: Spec, send: (msg: Record<string, unknown>) => void) => Promise<R>,
  started: (r: R) => unknown,
): void {
  const send = process.send?.bind(process)
  if (send === undefined || !process.argv.includes(flag)) return
  let current: R | undefined
  process.on('message', (msg: { start?: Spec; stop?: boolean; exit?: boolean }) => {
    void (async () => {
      if (msg.start !== undefined) {
        current = await start(msg.start, (m) => send(m))
        send({ started: started(current) })
      } else if (msg.stop) {
        await current?.close()
        current = undefined
        send({ stopped: true })
      } else if (msg.exit) {
        process.exit(0)
      }
    })()
  })
  // The parent is gone (it crashed or was killed): don't outlive it with a listener open.
  process.once('disconnect', () => process.exit(0))
  send({ ready: true })
}
