/**
 * A driver program (interop/README.md) running as a child process: its
 * stdout read line by line, bounded waits for lines, stdin for commands, and
 * a kill() that always reaps it.
 */
import { spawn } from 'node:child_process'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { StringDecoder } from 'node:string_decoder'
import { binPath } from './paths.js'

/** Default bound of every wait, in ms (generous: the machine may be loaded). */
export const DEFAULT_WAIT_MS = 15_000

/** How many stderr lines are kept for error messages. */
const STDERR_KEEP = 60

/** A line matcher: a RegExp tested against the line, or a predicate. */
export type LineMatcher = RegExp | ((line: string) => boolean)

export interface SpawnPeerOptions {
  /** Extra environment variables for the child. */
  env?: Record<string, string>
  /** Working directory (default: the current one). */
  cwd?: string
  /** Bound for spawnPeer itself (the process must start), default DEFAULT_WAIT_MS. */
  timeoutMs?: number
  /**
   * Name used in error messages (default: the binary's name and first
   * argument, e.g. "yamux-peer server").
   */
  label?: string
}

export interface PeerExit {
  code: number | null
  signal: NodeJS.Signals | null
}

interface Waiter {
  match: (line: string) => boolean
  resolve: (line: string) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
  what: string
}

/** Every live driver process of this test process, killed on exit at the latest. */
const live = new Set<PeerProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Last resort: a test that forgot kill() must not leave drivers running.
  process.once('exit', () => {
    for (const p of live) p.killNow()
  })
}

function describe(m: LineMatcher): string {
  return m instanceof RegExp ? String(m) : m.name !== '' ? `predicate ${m.name}` : 'predicate'
}

function toPredicate(m: LineMatcher): (line: string) => boolean {
  if (m instanceof RegExp) {
    // Never let a global/sticky regex carry lastIndex between lines.
    const re = new RegExp(m.source, m.flags.replace(/[gy]/g, ''))
    return (line) => re.test(line)
  }
  return m
}

export class PeerProcess {
  /** Every stdout line so far, in order (without the newline). */
  readonly stdout: string[] = []
  /** The last stderr lines (logs), for diagnostics. */
  readonly stderrTail: string[] = []
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<PeerExit>
  readonly label: string
  /** The exit status once known. */
  exit: PeerExit | undefined

  private readonly child: ChildProcessWithoutNullStreams
  /** Lines already handed out by waitFor/nextLine/lines (each line is consumed once). */
  private readonly consumed: boolean[] = []
  /** Every line before this index is consumed. */
  private firstFree = 0
  private readonly waiters = new Set<Waiter>()
  private readonly lineListeners = new Set<() => void>()
  private stdoutRest = ''
  private stderrRest = ''

  /** @internal use spawnPeer() */
  constructor(child: ChildProcessWithoutNullStreams, label: string) {
    this.child = child
    this.label = label
    const out = new StringDecoder('utf8')
    const err = new StringDecoder('utf8')
    child.stdout.on('data', (chunk: Buffer) => this.onStdout(out.write(chunk)))
    child.stderr.on('data', (chunk: Buffer) => this.onStderr(err.write(chunk)))
    // A child that exits while we write to its stdin gives EPIPE: not our error.
    child.stdin.on('error', () => {})
    this.exited = new Promise<PeerExit>((resolve) => {
      child.once('close', (code, signal) => {
        this.onStdout(out.end() + (this.stdoutRest !== '' ? '\n' : ''))
        this.onStderr(err.end() + (this.stderrRest !== '' ? '\n' : ''))
        this.exit = { code, signal }
        live.delete(this)
        for (const w of this.waiters) {
          clearTimeout(w.timer)
          w.reject(this.error(`exited (code ${code}, signal ${signal}) while waiting for ${w.what}`))
        }
        this.waiters.clear()
        for (const l of this.lineListeners) l()
        resolve({ code, signal })
      })
    })
    live.add(this)
    installExitHook()
  }

  /** The child's pid. */
  get pid(): number | undefined {
    return this.child.pid
  }

  private onStdout(text: string): void {
    if (text === '') return
    const parts = (this.stdoutRest + text).split('\n')
    this.stdoutRest = parts.pop() ?? ''
    for (const raw of parts) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
      this.stdout.push(line)
      this.consumed.push(false)
      const index = this.stdout.length - 1
      // Waiters in registration order; a line goes to at most one of them.
      for (const w of this.waiters) {
        if (w.match(line)) {
          this.waiters.delete(w)
          clearTimeout(w.timer)
          this.consume(index)
          w.resolve(line)
          break
        }
      }
    }
    if (parts.length > 0) for (const l of this.lineListeners) l()
  }

  private onStderr(text: string): void {
    if (text === '') return
    const parts = (this.stderrRest + text).split('\n')
    this.stderrRest = parts.pop() ?? ''
    for (const line of parts) {
      this.stderrTail.push(line)
      if (this.stderrTail.length > STDERR_KEEP) this.stderrTail.shift()
    }
    if (process.env.INTEROP_VERBOSE === '1') {
      for (const line of parts) process.stderr.write(`[${this.label}] ${line}\n`)
    }
  }

  /** An Error that carries the recent output of the process. */
  error(message: string): Error {
    const out = this.stdout.slice(-15).join('\n  ')
    const err = this.stderrTail.slice(-15).join('\n  ')
    return new Error(`${this.label}: ${message}\n stdout (last lines):\n  ${out}\n stderr (last lines):\n  ${err}`)
  }

  private consume(index: number): void {
    this.consumed[index] = true
    while (this.firstFree < this.consumed.length && this.consumed[this.firstFree]) this.firstFree++
  }

  /**
   * Resolves with the earliest stdout line not yet consumed that matches
   * (already printed or still to come), and consumes it: each line is handed
   * out once, so waiting for one kind of line never loses lines of another
   * kind. Rejects after `timeoutMs`, or at once if the process exits first.
   */
  waitFor(matcher: LineMatcher, timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    const match = toPredicate(matcher)
    const what = describe(matcher)
    for (let i = this.firstFree; i < this.stdout.length; i++) {
      if (this.consumed[i]) continue
      const line = this.stdout[i]
      if (match(line)) {
        this.consume(i)
        return Promise.resolve(line)
      }
    }
    if (this.exit !== undefined) {
      return Promise.reject(this.error(`exited (code ${this.exit.code}) before printing ${what}`))
    }
    return new Promise<string>((resolve, reject) => {
      const w: Waiter = {
        match,
        resolve,
        reject,
        what,
        timer: setTimeout(() => {
          this.waiters.delete(w)
          reject(this.error(`no line matching ${what} within ${timeoutMs} ms`))
        }, timeoutMs),
      }
      this.waiters.add(w)
    })
  }

  /** waitFor with a RegExp, resolving with its match (groups included). */
  async waitForMatch(re: RegExp, timeoutMs = DEFAULT_WAIT_MS): Promise<RegExpExecArray> {
    const line = await this.waitFor(re, timeoutMs)
    const m = new RegExp(re.source, re.flags.replace(/[gy]/g, '')).exec(line)
    if (m === null) throw this.error(`internal: ${String(re)} matched then did not`)
    return m
  }

  /** The earliest line not yet consumed (whatever it is). */
  nextLine(timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    return this.waitFor(() => true, timeoutMs)
  }

  /**
   * Every line not yet consumed, in order, as they arrive (consuming them);
   * ends when the process has exited and all lines were read.
   */
  async *lines(): AsyncGenerator<string, void, undefined> {
    for (;;) {
      let i = this.firstFree
      while (i < this.stdout.length && this.consumed[i]) i++
      if (i < this.stdout.length) {
        this.consume(i)
        yield this.stdout[i]
        continue
      }
      if (this.exit !== undefined) return
      await new Promise<void>((resolve) => {
        const l = (): void => {
          this.lineListeners.delete(l)
          resolve()
        }
        this.lineListeners.add(l)
      })
    }
  }

  /** Write one line to the child's stdin. */
  writeLine(line: string): void {
    if (this.exit !== undefined || this.child.stdin.destroyed) {
      throw this.error(`cannot write to stdin, the process has exited: ${line}`)
    }
    this.child.stdin.write(line + '\n')
  }

  /** Write one JSON value as a line to stdin (tentacle-peer commands). */
  send(value: unknown): void {
    this.writeLine(JSON.stringify(value))
  }

  /** Close the child's stdin (tentacle-peer then shuts down). */
  closeStdin(): void {
    this.child.stdin.end()
  }

  /** Resolves with the exit status; rejects if it has not exited within timeoutMs. */
  waitExit(timeoutMs = DEFAULT_WAIT_MS): Promise<PeerExit> {
    if (this.exit !== undefined) return Promise.resolve(this.exit)
    return new Promise<PeerExit>((resolve, reject) => {
      const timer = setTimeout(() => reject(this.error(`still running after ${timeoutMs} ms`)), timeoutMs)
      void this.exited.then((e) => {
        clearTimeout(timer)
        resolve(e)
      })
    })
  }

  /**
   * Stop the process and wait until it is reaped: SIGTERM, then SIGKILL
   * after `graceMs`. Idempotent; never rejects.
   */
  async kill(graceMs = 2_000): Promise<PeerExit> {
    if (this.exit !== undefined) return this.exit
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    const e = await this.exited
    clearTimeout(timer)
    return e
  }

  /** Synchronous SIGKILL (for process exit hooks). */
  killNow(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL')
  }
}

/**
 * Start a driver: `bin` is a name in the drivers' bin directory
 * (`secio-peer`, `yamux-peer`, `go-yamux-peer`, `tentacle-peer`) or a path.
 * Resolves once the process has started (rejects if it cannot).
 */
export async function spawnPeer(bin: string, args: string[], opts: SpawnPeerOptions = {}): Promise<PeerProcess> {
  const file = bin.includes('/') ? bin : binPath(bin)
  const label = opts.label ?? `${bin.split('/').pop() ?? bin} ${args[0] ?? ''}`.trim()
  const child = spawn(file, args, {
    cwd: opts.cwd,
    // The drivers exit when their stdin closes if this is set, so they die
    // with this process even if it is SIGKILLed (README "Conventions").
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', TENTACLE_TS_EXIT_ON_STDIN_EOF: '1', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${label}: did not start within ${timeoutMs} ms`))
    }, timeoutMs)
    child.once('spawn', () => {
      clearTimeout(timer)
      child.removeAllListeners('error')
      child.on('error', () => {})
      resolve()
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(new Error(`${label}: cannot start ${file}: ${err.message} (did interop/build.sh run?)`))
    })
  })
  return new PeerProcess(child, label)
}

/** A started server: the process, its port and (if printed) its peer id. */
export interface ServerPeer {
  peer: PeerProcess
  port: number
  peerId: string | undefined
}

/**
 * Spawn a driver and wait for its `LISTENING <port> [<peer-id>]` line.
 * The process is killed if the line does not come within timeoutMs.
 */
export async function startServer(bin: string, args: string[], opts: SpawnPeerOptions = {}): Promise<ServerPeer> {
  const peer = await spawnPeer(bin, args, opts)
  try {
    const m = await peer.waitForMatch(/^LISTENING (\d+)(?: (\S+))?/, opts.timeoutMs ?? DEFAULT_WAIT_MS)
    return { peer, port: Number(m[1]), peerId: m[2] }
  } catch (err) {
    await peer.kill()
    throw err
  }
}

/** A driver run to its end: its stdout lines, exit code, and the process (for stderrTail). */
export interface PeerRun {
  lines: string[]
  code: number | null
  proc: PeerProcess
}

/**
 * Run a driver (a client) until it exits by itself; rejects if it has not
 * within `exitWithinMs` (default 60 s). The process is reaped either way.
 */
export async function runToExit(
  bin: string,
  args: string[],
  opts: SpawnPeerOptions & { exitWithinMs?: number } = {},
): Promise<PeerRun> {
  const proc = await spawnPeer(bin, args, opts)
  try {
    const exit = await proc.waitExit(opts.exitWithinMs ?? 60_000)
    return { lines: proc.stdout, code: exit.code, proc }
  } finally {
    await proc.kill()
  }
}

/** Kill every given process (undefined entries ignored) and wait for all of them. */
export async function killAll(...peers: Array<PeerProcess | undefined>): Promise<void> {
  await Promise.all(peers.map((p) => p?.kill()))
}
