import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { TestnetError } from './errors.js'

/** One `tentacle node` service of the test net, as docker-compose.yml describes it. */
export interface ServiceSpec {
  /** Compose service name (also its host name on the compose network). */
  name: string
  /** Arguments after the `tentacle` entrypoint, e.g. `['node', '--listen', …]`. */
  command: string[]
  /**
   * Set for a service that is not `tentacle node` (a Rust node: ckb-network-peer): the program
   * to run. It serves no /status; the driver follows the JSON events it prints instead.
   */
  entrypoint?: string[]
  environment: Record<string, string>
  /** Bind mounts: container path -> absolute host path. */
  mounts: Map<string, string>
  /** Named volumes: container path -> volume name (the local back end gives each a directory). */
  volumes: Map<string, string>
  /** The p2p port inside the container (first `--listen` /tcp/PORT). */
  p2pPort: number
  /** The metrics/status port inside the container (`--metrics HOST:PORT`); none for a foreign node. */
  metricsPort: number | undefined
  /** Where the host reaches the metrics port with Docker (`ports:` mapping), if published. */
  publishedMetrics?: { host: string; port: number }
  /** Compose networks the service is on. */
  networks: string[]
  /** True when the service's command lists no `--bootnode` (it is one). */
  bootnode: boolean
  /** Compose profiles: a service with any is started only when asked for. */
  profiles: string[]
}

/** The whole net: the one description both back ends read. */
export interface NetSpec {
  file: string
  /** Directory the compose file's relative paths are resolved against. */
  dir: string
  services: ServiceSpec[]
  networks: string[]
}

type Yaml = Record<string, unknown>

const isObj = (v: unknown): v is Yaml => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Reads and checks `docker-compose.yml`. Throws `CLI_ERR_TESTNET_COMPOSE` naming what is wrong. */
export function loadCompose(file: string, env: NodeJS.ProcessEnv = process.env): NetSpec {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new TestnetError('CLI_ERR_TESTNET_COMPOSE', `cannot read ${file}: ${(err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text, { merge: true })
  } catch (err) {
    throw new TestnetError('CLI_ERR_TESTNET_COMPOSE', `${file}: ${(err as Error).message.split('\n')[0]}`)
  }
  if (!isObj(doc) || !isObj(doc.services)) throw new TestnetError('CLI_ERR_TESTNET_COMPOSE', `${file}: no services`)
  const dir = dirname(resolve(file))
  const services: ServiceSpec[] = []
  for (const [name, raw] of Object.entries(doc.services)) {
    if (!isObj(raw)) throw new TestnetError('CLI_ERR_TESTNET_COMPOSE', `${file}: service ${name} is not a mapping`)
    services.push(serviceSpec(file, dir, name, raw, env))
  }
  const networks = isObj(doc.networks) ? Object.keys(doc.networks) : ['default']
  return { file: resolve(file), dir, services, networks }
}

function serviceSpec(file: string, dir: string, name: string, raw: Yaml, env: NodeJS.ProcessEnv): ServiceSpec {
  const bad = (what: string): never => {
    throw new TestnetError('CLI_ERR_TESTNET_COMPOSE', `${file}: service ${name}: ${what}`)
  }
  if (!Array.isArray(raw.command) || !raw.command.every((a) => typeof a === 'string')) {
    bad('command must be a list of strings (the arguments of `tentacle`)')
  }
  const command = (raw.command as string[]).map((a) => interpolate(a, env))
  const entrypoint = Array.isArray(raw.entrypoint) ? raw.entrypoint.map((a) => interpolate(String(a), env)) : undefined
  if (entrypoint === undefined && command[0] !== 'node')
    bad(`command must start with "node" (tentacle node …), got ${command[0]}`)
  const listen = optionValues(command, '--listen')
  const port = /\/tcp\/(\d+)/.exec(listen[0] ?? '')
  if (port === null) bad('needs --listen /ip4/…/tcp/PORT')
  const metrics = optionValues(command, '--metrics')[0]
  const mport = metrics === undefined ? null : /:(\d+)$/.exec(metrics)
  if (mport === null && entrypoint === undefined) bad('needs --metrics HOST:PORT (status and metrics are read there)')
  const environment: Record<string, string> = {}
  if (Array.isArray(raw.environment)) {
    for (const e of raw.environment) {
      const s = String(e)
      const i = s.indexOf('=')
      if (i > 0) environment[s.slice(0, i)] = interpolate(s.slice(i + 1), env)
    }
  } else if (isObj(raw.environment)) {
    for (const [k, v] of Object.entries(raw.environment)) environment[k] = interpolate(String(v ?? ''), env)
  }
  const mounts = new Map<string, string>()
  const volumes = new Map<string, string>()
  for (const v of Array.isArray(raw.volumes) ? raw.volumes : []) {
    if (typeof v !== 'string') continue
    const [host, target] = interpolate(v, env).split(':')
    if (target === undefined) continue
    if (host.startsWith('.') || host.startsWith('/')) mounts.set(target, isAbsolute(host) ? host : resolve(dir, host))
    else volumes.set(target, host)
  }
  const metricsPort = mport === null ? undefined : Number(mport[1])
  let publishedMetrics: ServiceSpec['publishedMetrics']
  for (const p of Array.isArray(raw.ports) ? raw.ports : []) {
    // "HOST_IP:HOST_PORT:CONTAINER_PORT" or "HOST_PORT:CONTAINER_PORT"
    const parts = String(p).split(':')
    if (metricsPort === undefined || Number(parts[parts.length - 1]) !== metricsPort || parts.length < 2) continue
    publishedMetrics = { host: parts.length === 3 ? parts[0] : '127.0.0.1', port: Number(parts[parts.length - 2]) }
  }
  const networks = Array.isArray(raw.networks)
    ? raw.networks.map(String)
    : isObj(raw.networks)
      ? Object.keys(raw.networks)
      : ['default']
  return {
    name,
    command,
    ...(entrypoint !== undefined ? { entrypoint } : {}),
    environment,
    mounts,
    volumes,
    p2pPort: Number(port![1]),
    metricsPort,
    publishedMetrics,
    networks,
    bootnode: optionValues(command, '--bootnode').length === 0,
    profiles: Array.isArray(raw.profiles) ? raw.profiles.map(String) : [],
  }
}

/** Every value given to `--name` (as `--name V` or `--name=V`). */
export function optionValues(args: readonly string[], name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && i + 1 < args.length) out.push(args[++i])
    else if (args[i].startsWith(name + '=')) out.push(args[i].slice(name.length + 1))
  }
  return out
}

/** Compose's `${VAR}` / `${VAR:-default}` interpolation (what the local back end needs of it). */
export function interpolate(s: string, env: NodeJS.ProcessEnv): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, k: string, def?: string) => {
    const v = env[k]
    return v !== undefined && v !== '' ? v : (def ?? '')
  })
}
