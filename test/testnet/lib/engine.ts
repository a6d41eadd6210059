/**
 * A Docker engine for the docker suites: the one DOCKER_HOST (or TENTACLE_DOCKER=system) names
 * when it answers, else a private one started by test/testnet/docker-engine.sh (root) and torn
 * down again by `stop()`.
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { promisify } from 'node:util'
import { ROOT } from './scenarios.js'

const execFileP = promisify(execFile)
const SCRIPT = `${ROOT}test/testnet/docker-engine.sh`

export interface Engine {
  env: NodeJS.ProcessEnv
  /** True when this process started the engine (and `stop` removes it). */
  ours: boolean
  /** The engine's temp dir (ours only). */
  dir?: string
  /** Host bridges before the net came up. */
  bridgesBefore: Set<string>
  stop(): Promise<void>
}

export function bridges(): Set<string> {
  const out = new Set<string>()
  for (const name of readdirSync('/sys/class/net')) if (existsSync(`/sys/class/net/${name}/bridge`)) out.add(name)
  return out
}

async function answers(env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    await execFileP('docker', ['version', '--format', '{{.Server.Version}}'], { env, timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

export async function startEngine(): Promise<Engine> {
  const bridgesBefore = bridges()
  if (
    process.env.TENTACLE_DOCKER === 'system' ||
    (process.env.DOCKER_HOST !== undefined && (await answers(process.env)))
  ) {
    if (!(await answers(process.env))) throw new Error('TENTACLE_DOCKER=system but no Docker engine answers')
    return { env: { ...process.env }, ours: false, bridgesBefore, stop: async () => {} }
  }
  // Build our own (minutes the first time: packages, debootstrap; seconds with the cache).
  const { stdout } = await execFileP('bash', [SCRIPT, 'up'], { timeout: 900_000, maxBuffer: 16 * 1024 * 1024 })
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const m of stdout.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) env[m[1]] = m[2]
  const sock = env.DOCKER_HOST?.replace(/^unix:\/\//, '')
  const dir = sock?.replace(/\/docker\.sock$/, '')
  return {
    env,
    ours: true,
    dir,
    bridgesBefore,
    stop: async () => {
      await execFileP('bash', [SCRIPT, 'down'], { env, timeout: 120_000 })
    },
  }
}

/** Processes whose command line names `needle` (e.g. the engine's dir), other than this one. */
export function processesNaming(needle: string): string[] {
  const out: string[] = []
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (cmd.includes(needle)) out.push(`${pid} ${cmd.slice(0, 120)}`)
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** Network namespaces a container runtime left mounted (bind mounts of nsfs). */
export function nsMounts(under?: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[2] === 'nsfs' && (under === undefined || l.split(' ')[1].startsWith(under)))
}

export function dockerJson(env: NodeJS.ProcessEnv, args: string[]): string {
  return execFileSync('docker', args, { env, encoding: 'utf8', timeout: 30_000 })
}
