/**
 * Runs a TypeScript program through tsx in a process of its own until it exits,
 * and collects what it printed. `signal` (the test's) kills it with SIGKILL;
 * the promise then settles at its exit with code null.
 */
import { spawn } from 'node:child_process'

export interface TsxExit {
  code: number | null
  out: string
  err: string
}

export function runTsx(
  program: string,
  args: string[],
  opts: { signal: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<TsxExit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', program, ...args], {
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: opts.signal,
      killSignal: 'SIGKILL',
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (err += d.toString()))
    child.on('error', (e) => (e.name === 'AbortError' ? undefined : reject(e)))
    child.on('exit', (code) => resolve({ code, out, err }))
  })
}
