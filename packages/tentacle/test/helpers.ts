import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** Spawns `node --import tsx <script> ...args`; the caller must `reap()` it. */
export function spawnTs(script: string, args: string[], opts: { shellPrefix?: string; stdin?: boolean } = {}): ChildProcess {
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

/** Resolves with the first stdout line of `child` matching `re`, or rejects after `timeoutMs`. */
export function waitForLine(child: ChildProcess, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8')
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const m = line.match(re)
        if (m) {
          cleanup()
          resolve(m)
          return
        }
      }
    }
    const onExit = (code: number | null): void => {
      cleanup()
      reject(new Error(`child exited (${code}) before printing ${re}`))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re}`))
    }, timeoutMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', onData)
    child.once('exit', onExit)
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
export async function eventually(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now()
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await sleep(10)
  }
}
