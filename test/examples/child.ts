// Runs an example as a child process the way a user does
// (`node --conditions=source --import tsx examples/X.ts`), with its stdout
// split into lines that a test can wait for. Every child gets a hard
// deadline and is SIGKILLed by `kill()` or when the deadline passes, so a
// hung example fails its test instead of hanging the suite.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = process.env.TENTACLE_TS_ROOT ?? fileURLToPath(new URL('../..', import.meta.url))

// Children still running when this process exits (a test that timed out and
// never reached its finally) are killed with it. The interactive examples also
// stop by themselves when their stdin, our pipe, closes.
const running = new Set<ChildProcessWithoutNullStreams>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export interface ExampleExit {
  code: number | null
  signal: NodeJS.Signals | null
}

interface LineWaiter {
  pattern: RegExp
  resolve: (match: RegExpMatchArray) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export class ExampleProcess {
  readonly name: string
  readonly lines: string[] = []
  readonly exited: Promise<ExampleExit>
  private readonly child: ChildProcessWithoutNullStreams
  private readonly deadline: NodeJS.Timeout
  private stdoutRest = ''
  private stderr = ''
  private waiters: LineWaiter[] = []
  private exit: ExampleExit | undefined

  constructor(name: string, args: string[] = [], opts: { deadlineMs?: number; env?: NodeJS.ProcessEnv } = {}) {
    this.name = name
    this.child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', `examples/${name}.ts`, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    running.add(this.child)
    this.child.stdout.setEncoding('utf8')
    this.child.stderr.setEncoding('utf8')
    this.child.stdout.on('data', (chunk: string) => this.onStdout(chunk))
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr += chunk
    })
    this.deadline = setTimeout(() => this.kill(), opts.deadlineMs ?? 60_000)
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        running.delete(this.child)
        clearTimeout(this.deadline)
        this.exit = { code, signal }
        for (const w of this.waiters) {
          clearTimeout(w.timer)
          w.reject(
            new Error(`${this.name} exited (${code ?? signal}) before printing ${w.pattern}\n${this.transcript()}`),
          )
        }
        this.waiters = []
        resolve(this.exit)
      })
    })
  }

  /** Resolves with the match of the first line (already printed or to come) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const m = line.match(pattern)
      if (m !== null) return Promise.resolve(m)
    }
    if (this.exit !== undefined) {
      return Promise.reject(
        new Error(
          `${this.name} exited (${this.exit.code ?? this.exit.signal}) without printing ${pattern}\n${this.transcript()}`,
        ),
      )
    }
    return new Promise((resolve, reject) => {
      const waiter: LineWaiter = {
        pattern,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter)
          reject(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms\n${this.transcript()}`))
        }, timeoutMs),
      }
      this.waiters.push(waiter)
    })
  }

  /** Lines matching `pattern` so far. */
  matching(pattern: RegExp): string[] {
    return this.lines.filter((l) => pattern.test(l))
  }

  /** Writes to the child's stdin (a line typed by the user). */
  type(text: string): void {
    this.child.stdin.write(text)
  }

  /** Closes the child's stdin (the user pressed Ctrl-D). */
  endInput(): void {
    this.child.stdin.end()
  }

  /** SIGKILLs the child if it still runs; resolves once it is gone. */
  kill(): Promise<ExampleExit> {
    if (this.exit === undefined) this.child.kill('SIGKILL')
    return this.exited
  }

  /** Everything the child printed, for failure messages. */
  transcript(): string {
    return `--- ${this.name} stdout ---\n${this.lines.join('\n')}${this.stdoutRest}\n--- ${this.name} stderr ---\n${this.stderr}`
  }

  private onStdout(chunk: string): void {
    const parts = (this.stdoutRest + chunk).split('\n')
    this.stdoutRest = parts.pop() ?? ''
    for (const line of parts) {
      this.lines.push(line)
      this.waiters = this.waiters.filter((w) => {
        const m = line.match(w.pattern)
        if (m === null) return true
        clearTimeout(w.timer)
        w.resolve(m)
        return false
      })
    }
  }
}
