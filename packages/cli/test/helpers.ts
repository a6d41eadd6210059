/** Spawns the real `tentacle` bin and reads what it prints, with bounded waits; every child is reaped. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../bin/tentacle.js', import.meta.url))

const live = new Set<ChildProcessWithoutNullStreams>()
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL')
})

export interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Environment for the bin: sources (not a possibly stale dist), no colours. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, TENTACLE_CLI_SOURCE: '1', NO_COLOR: '1', ...extra }
}

/** `prefix` runs the bin through another program, e.g. `['prlimit', '--nofile=64:64', '--']`. */
export function spawnCli(
  args: string[],
  opts: { prefix?: string[]; env?: Record<string, string> } = {},
): ChildProcessWithoutNullStreams {
  const argv = [...(opts.prefix ?? []), process.execPath, BIN, ...args]
  const child = spawn(argv[0], argv.slice(1), { env: env(opts.env), stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(child)
  child.once('exit', () => live.delete(child))
  return child
}

/** Runs the bin to its end (killed after `timeoutMs`). */
export async function runCli(args: string[], timeoutMs = 30_000): Promise<Run> {
  const child = spawnCli(args)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null]
  clearTimeout(timer)
  return { code, signal, stdout, stderr }
}

export interface Ready {
  event: 'ready'
  peerId: string
  listen: string[]
  metrics: string | null
  status: string | null
  pid: number
}

/** A running `tentacle node`. */
export interface NodeProc {
  child: ChildProcessWithoutNullStreams
  ready: Ready
  /** The TCP port of the first listen address. */
  port: number
  stdout: string[]
  stderr(): string
  /** Resolves once stderr (the log) has a line matching `re`, old or new. */
  waitLog(re: RegExp, timeoutMs?: number): Promise<string>
  /** Resolves with the exit status. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGTERM then, after graceMs, SIGKILL; resolves once reaped. Idempotent. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/** Starts `tentacle node ARGS` and waits for its ready line. */
export async function startNode(
  args: string[],
  opts: { prefix?: string[]; timeoutMs?: number } = {},
): Promise<NodeProc> {
  const child = spawnCli(['node', '--log-format', 'json', ...args], { prefix: opts.prefix })
  const stdout: string[] = []
  let stderr = ''
  let rest = ''
  const logWaiters = new Set<() => void>()
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-200_000)
    for (const w of [...logWaiters]) w()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  )
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no ready line within ${opts.timeoutMs ?? 20_000} ms; stderr: ${stderr}`))
    }, opts.timeoutMs ?? 20_000)
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      const parts = (rest + d).split('\n')
      rest = parts.pop() ?? ''
      for (const line of parts) {
        stdout.push(line)
        if (line.includes('"ready"')) {
          clearTimeout(timer)
          resolve(JSON.parse(line) as Ready)
        }
      }
    })
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`node exited (${code ?? signal}) before ready; stderr: ${stderr}`))
    })
  })
  const port = Number(/\/tcp\/(\d+)/.exec(ready.listen[0] ?? '')?.[1])
  return {
    child,
    ready,
    port,
    stdout,
    stderr: () => stderr,
    waitLog: (re, timeoutMs = 15_000) =>
      new Promise<string>((resolve, reject) => {
        const check = (): boolean => {
          const line = stderr.split('\n').find((l) => re.test(l))
          if (line === undefined) return false
          clearTimeout(timer)
          logWaiters.delete(w)
          resolve(line)
          return true
        }
        const w = (): void => void check()
        const timer = setTimeout(() => {
          logWaiters.delete(w)
          reject(new Error(`no log line matching ${re} within ${timeoutMs} ms; log: ${stderr.slice(-3000)}`))
        }, timeoutMs)
        if (!check()) logWaiters.add(w)
      }),
    exited,
    async stop(graceMs = 5_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGTERM')
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs)
        const r = await exited
        clearTimeout(t)
        return r
      }
      return exited
    },
  }
}

/** Parses the one JSON object a `--json` run printed. */
export function json<T = Record<string, unknown>>(run: Run): T {
  const lines = run.stdout.trim().split('\n')
  if (lines.length !== 1)
    throw new Error(`expected one JSON line, got ${lines.length}: ${run.stdout}\nstderr: ${run.stderr}`)
  return JSON.parse(lines[0]) as T
}

/** Retries `fn` until it returns a value (not undefined) or `timeoutMs` passes. For states only observable by polling (/proc, HTTP). */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
