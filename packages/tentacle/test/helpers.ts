import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** Spawns `node --import tsx <script> ...args`; the caller must `reap()` it. */
export function spawnTs(
  script: string,
  args: string[],
  opts: { shellPrefix?: string; stdin?: boolean } = {},
): ChildProcess {
  const nodeArgs = ['--conditions=source', '--import', 'tsx', script, ...args]
  const stdio: ['pipe' | 'ignore', 'pipe', 'inherit'] = [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'inherit']
  if (opts.shellPrefix) {
    const quoted = [process.execPath, ...nodeArgs].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
    return spawn('bash', ['-c', `${opts.shellPrefix}; exec ${quoted}`], { stdio })
  }
  return spawn(process.execPath, nodeArgs, { stdio })
}

/** Kills a child (if still running) and waits for it to exit. */
export async function reap(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

/** Every stdout line a child printed, kept from the moment it is first watched. */
interface LineLog {
  lines: string[]
  /** Index of the first line no waitForLine call has passed over yet. */
  cursor: number
  partial: string
  exitCode: number | null | undefined
  wake: Set<() => void>
}

const logs = new WeakMap<ChildProcess, LineLog>()

function lineLog(child: ChildProcess): LineLog {
  let log = logs.get(child)
  if (log) return log
  const created: LineLog = { lines: [], cursor: 0, partial: '', exitCode: undefined, wake: new Set() }
  log = created
  logs.set(child, created)
  const wakeAll = (): void => {
    for (const w of [...created.wake]) w()
  }
  child.stdout?.on('data', (chunk: Buffer) => {
    created.partial += chunk.toString('utf8')
    let nl: number
    while ((nl = created.partial.indexOf('\n')) >= 0) {
      created.lines.push(created.partial.slice(0, nl))
      created.partial = created.partial.slice(nl + 1)
    }
    wakeAll()
  })
  // 'close' (not 'exit') so every byte of stdout has been read first.
  child.once('close', (code: number | null) => {
    created.exitCode = code
    wakeAll()
  })
  return log
}

/**
 * Resolves with the first stdout line of `child` matching `re` that no
 * earlier call has passed over, or rejects after `timeoutMs` or when the
 * child exits without printing one. Lines are kept per child, so two lines
 * that arrive in one chunk (or just before exit) are both seen.
 */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const log = lineLog(child)
  return new Promise((resolve, reject) => {
    const check = (): void => {
      while (log.cursor < log.lines.length) {
        const m = log.lines[log.cursor++]!.match(re)
        if (m) {
          cleanup()
          resolve(m)
          return
        }
      }
      if (log.exitCode !== undefined) {
        cleanup()
        reject(new Error(`child exited (${log.exitCode}) before printing ${re}`))
      }
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}`))
    }, timeoutMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      log.wake.delete(check)
    }
    log.wake.add(check)
    check()
  })
}

/**
 * Blocks this process's event loop (synchronously) until `file` exists and
 * at least `minMs` have passed, at most `maxMs`. Used to reproduce a busy
 * node: connections arrive and die while nothing is read.
 */
export function blockEventLoopUntil(file: string, minMs: number, maxMs: number): number {
  const cell = new Int32Array(new SharedArrayBuffer(4))
  const t0 = Date.now()
  for (;;) {
    const elapsed = Date.now() - t0
    if (elapsed >= maxMs) return elapsed
    if (elapsed >= minMs && existsSync(file)) return elapsed
    Atomics.wait(cell, 0, 0, 20)
  }
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8')
}

/** Waits (asynchronously, event-driven where possible, else by short sleeps) until `pred()` holds. */
export async function eventually(
  pred: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const t0 = Date.now()
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await sleep(10)
  }
}
