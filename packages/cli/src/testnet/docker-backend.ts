import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import type { SlowOptions, TestNet } from './backend.js'
import type { NetSpec, ServiceSpec } from './compose.js'
import { TestnetError } from './errors.js'
import { socketStates } from './sockets.js'
import { EventStatus, fetchNodeStatus, statusFrom, type NodeStatus } from './status.js'

const execFileP = promisify(execFile)

/** Options of the docker back end. */
export interface DockerOptions {
  /** Compose project name (default `tentacle-testnet`); containers are `<project>_<service>_1`. */
  project?: string
  /** Services to run (default: every service without a profile). */
  only?: readonly string[]
  /** Compose profiles to enable (COMPOSE_PROFILES), e.g. `rust`. */
  profiles?: readonly string[]
  /** Build the image before starting (default true). */
  build?: boolean
  /** How long `up` and `restart` wait for a node's /status to answer (default 60 s). */
  readyTimeoutMs?: number
  /** Environment for docker and compose (default process.env; DOCKER_HOST is read from it). */
  env?: NodeJS.ProcessEnv
}

/** Runs a command, resolving with its stdout; a failure is `CLI_ERR_TESTNET_DOCKER` with its stderr. */
async function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const e = err as { stderr?: string; message: string; killed?: boolean }
    const why =
      e.killed === true
        ? `timed out after ${timeoutMs} ms`
        : e.stderr?.trim().split('\n').slice(-3).join(' | ') || e.message
    throw new TestnetError('CLI_ERR_TESTNET_DOCKER', `${cmd} ${args.slice(0, 4).join(' ')}…: ${why}`, { cause: err })
  }
}

/** `docker compose` (v2) when the client has it, else `docker-compose` (v1, Debian's). */
async function composeCommand(env: NodeJS.ProcessEnv): Promise<[string, string[]]> {
  try {
    await execFileP('docker', ['compose', 'version'], { env, timeout: 10_000 })
    return ['docker', ['compose']]
  } catch {
    return ['docker-compose', []]
  }
}

/**
 * The test net on a Docker engine, driven through compose and the docker CLI.
 * Faults act on containers: SIGKILL, docker start, docker pause, network
 * disconnect/connect, and a tbf qdisc set inside the container's network
 * namespace (nsenter; root on the Docker host).
 */
export class DockerTestNet implements TestNet {
  readonly backend = 'docker' as const
  readonly spec: NetSpec
  readonly nodes: readonly string[]
  readonly project: string
  readonly #env: NodeJS.ProcessEnv
  readonly #build: boolean
  readonly #readyTimeoutMs: number
  readonly #services: Map<string, ServiceSpec>
  readonly #ids = new Map<string, string>()
  #compose: [string, string[]] | undefined

  constructor(spec: NetSpec, opts: DockerOptions = {}) {
    this.spec = spec
    this.project = opts.project ?? 'tentacle-testnet'
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(this.project))
      throw new TestnetError('CLI_ERR_TESTNET_USAGE', `bad project name ${this.project}`)
    const profiles = opts.profiles ?? []
    const services = spec.services.filter((s) =>
      opts.only === undefined
        ? s.profiles.length === 0 || s.profiles.some((p) => profiles.includes(p))
        : opts.only.includes(s.name),
    )
    this.#services = new Map(services.map((s) => [s.name, s]))
    this.nodes = services.map((s) => s.name)
    this.#env = {
      ...(opts.env ?? process.env),
      ...(profiles.length > 0 ? { COMPOSE_PROFILES: profiles.join(',') } : {}),
    }
    this.#build = opts.build ?? true
    this.#readyTimeoutMs = opts.readyTimeoutMs ?? 60_000
  }

  async #composeRun(args: readonly string[], timeoutMs?: number): Promise<string> {
    this.#compose ??= await composeCommand(this.#env)
    const [cmd, pre] = this.#compose
    return run(cmd, [...pre, '-p', this.project, '-f', this.spec.file, ...args], this.#env, timeoutMs)
  }

  #docker(args: readonly string[], timeoutMs?: number): Promise<string> {
    return run('docker', args, this.#env, timeoutMs)
  }

  /** The compose network name of `net` in this project. */
  networkName(net = this.spec.networks[0]): string {
    return `${this.project}_${net}`
  }

  async up(): Promise<void> {
    if (this.#build) await this.#composeRun(['build', ...this.nodes.slice(0, 1)], 600_000)
    await this.#composeRun(['up', '-d', '--no-build', ...this.nodes], 300_000)
    for (const name of this.nodes) {
      const id = (await this.#composeRun(['ps', '-q', name])).trim()
      if (id === '') throw new TestnetError('CLI_ERR_TESTNET_DOCKER', `compose started no container for ${name}`)
      this.#ids.set(name, id)
    }
    await Promise.all(this.nodes.map((n) => this.#waitAnswering(n)))
  }

  async #waitAnswering(name: string): Promise<void> {
    const deadline = Date.now() + this.#readyTimeoutMs
    let last: NodeStatus | undefined
    while (Date.now() < deadline) {
      ;[last] = await this.status([name])
      if (last.up) return
      await new Promise((r) => setTimeout(r, 250))
    }
    throw new TestnetError(
      'CLI_ERR_TESTNET_NODE_START',
      `${name}: /status did not answer within ${this.#readyTimeoutMs} ms (${last?.error}); log: ${(await this.logs(name)).slice(-500)}`,
    )
  }

  async down(): Promise<void> {
    await this.#composeRun(['down', '-v', '--remove-orphans', '--timeout', '5'], 120_000)
    this.#ids.clear()
  }

  #id(name: string): string {
    if (!this.#services.has(name))
      throw new TestnetError('CLI_ERR_TESTNET_UNKNOWN_NODE', `no node ${name} (nodes: ${this.nodes.join(', ')})`)
    const id = this.#ids.get(name)
    if (id === undefined) throw new TestnetError('CLI_ERR_TESTNET_STATE', `${name}: the net is not up`)
    return id
  }

  /** Containers of this project (after `up`, or found by compose when attaching to a running net). */
  async attach(): Promise<void> {
    for (const name of this.nodes) {
      const id = (await this.#composeRun(['ps', '-q', name])).trim()
      if (id !== '') this.#ids.set(name, id)
    }
  }

  /** The host pid of the node's main process (its container's init, with `init: true`). */
  async pid(name: string): Promise<number> {
    const pid = Number((await this.#docker(['inspect', '-f', '{{.State.Pid}}', this.#id(name)])).trim())
    if (!(pid > 0)) throw new TestnetError('CLI_ERR_TESTNET_STATE', `${name} is not running`)
    return pid
  }

  /** The host pid of the `tentacle node` process itself (the child of docker-init with `init: true`). */
  async nodePid(name: string): Promise<number> {
    const pid = await this.pid(name)
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => ''))
      .trim()
      .split(/\s+/)
      .filter(Boolean)
    return children.length > 0 ? Number(children[0]) : pid
  }

  /** The container's IPv4 addresses, by network name. */
  async addresses(name: string): Promise<Map<string, string>> {
    const out = await this.#docker([
      'inspect',
      '-f',
      '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}\n{{end}}',
      this.#id(name),
    ])
    const m = new Map<string, string>()
    for (const line of out.split('\n')) {
      const [net, ip] = line.trim().split(' ')
      if (net && ip) m.set(net, ip)
    }
    return m
  }

  async status(names: readonly string[] = this.nodes): Promise<NodeStatus[]> {
    return Promise.all(
      names.map(async (name) => {
        const s = this.#services.get(name)
        if (s === undefined) throw new TestnetError('CLI_ERR_TESTNET_UNKNOWN_NODE', `no node ${name}`)
        let st: NodeStatus
        if (s.metricsPort === undefined) {
          // The Rust node: its status is what its events (the container's whole log) said.
          const events = new EventStatus()
          for (const line of (await this.#fullLog(name)).split('\n')) events.feed(line)
          st = (await this.#running(name))
            ? events.row(name)
            : { name, up: false, error: 'not running', peers: [], sessions: 0, handshakeFailures: {} }
        } else {
          let base: string
          if (s.publishedMetrics !== undefined) base = `http://${s.publishedMetrics.host}:${s.publishedMetrics.port}`
          else {
            const ip = [...(await this.addresses(name)).values()][0]
            if (ip === undefined)
              return { name, up: false, error: 'no address', peers: [], sessions: 0, handshakeFailures: {} }
            base = `http://${ip}:${s.metricsPort}`
          }
          st = await fetchNodeStatus(name, base)
          if (!st.up && (await this.#running(name))) st = await this.#statusInside(name, s.metricsPort, st)
        }
        if (st.address?.includes('/0.0.0.0/') === true) {
          // Bound to every interface: show the address the other nodes reach it on.
          const ip = (await this.addresses(name).catch(() => new Map<string, string>())).get(this.networkName())
          if (ip !== undefined) st.address = st.address.replace('/0.0.0.0/', `/${ip}/`)
        }
        try {
          st.closeWait = (await this.socketStates(name)).get('CLOSE_WAIT') ?? 0
        } catch {
          // not running, or /proc of the container out of reach (not root): no count
        }
        return st
      }),
    )
  }

  async #running(name: string): Promise<boolean> {
    const id = this.#ids.get(name)
    if (id === undefined) return false
    return (
      (await this.#docker(['inspect', '-f', '{{.State.Running}} {{.State.Paused}}', id]).catch(() => '')).trim() ===
      'true false'
    )
  }

  /**
   * Reads /status from inside the container's network namespace: a node cut off its network
   * is out of the host's reach, yet what it sees (nobody) is what a partition test asks.
   */
  async #statusInside(name: string, port: number, outside: NodeStatus): Promise<NodeStatus> {
    const script =
      `const get = (p) => fetch('http://127.0.0.1:${port}' + p, { signal: AbortSignal.timeout(1500) });` +
      `Promise.all([get('/status').then((r) => r.json()), get('/metrics').then((r) => r.text())])` +
      `.then(([status, metrics]) => process.stdout.write(JSON.stringify({ status, metrics })), () => process.exit(1))`
    try {
      const { status, metrics } = JSON.parse(await this.#nsenter(name, [process.execPath, '-e', script])) as {
        status: unknown
        metrics: string
      }
      return statusFrom(name, status, metrics)
    } catch {
      return outside
    }
  }

  async kill(name: string): Promise<void> {
    await this.#docker(['kill', '-s', 'KILL', this.#id(name)])
    await this.#docker(['wait', this.#id(name)], 30_000)
  }

  async restart(name: string): Promise<void> {
    await this.#docker(['start', this.#id(name)])
    await this.#waitAnswering(name)
  }

  async freeze(name: string): Promise<void> {
    await this.#docker(['pause', this.#id(name)])
  }

  async thaw(name: string): Promise<void> {
    await this.#docker(['unpause', this.#id(name)])
  }

  async cut(name: string): Promise<void> {
    await this.#docker(['network', 'disconnect', this.networkName(), this.#id(name)])
  }

  async heal(name: string): Promise<void> {
    await this.#docker(['network', 'connect', '--alias', name, this.networkName(), this.#id(name)])
  }

  async slow(name: string, opts: SlowOptions = {}): Promise<void> {
    const rate = opts.rateKbit ?? 256
    const burst = opts.burstBytes ?? 16 * 1024
    const latency = opts.latencyMs ?? 400
    for (const dev of await this.#interfaces(name)) {
      await this.#nsenter(name, [
        'tc',
        'qdisc',
        'replace',
        'dev',
        dev,
        'root',
        'tbf',
        'rate',
        `${rate}kbit`,
        'burst',
        String(burst),
        'latency',
        `${latency}ms`,
      ])
    }
  }

  async unslow(name: string): Promise<void> {
    for (const dev of await this.#interfaces(name)) {
      await this.#nsenter(name, ['tc', 'qdisc', 'del', 'dev', dev, 'root']).catch(() => undefined)
    }
  }

  /** The qdisc of the node's interfaces (`tc qdisc show`), to check a slowed link. */
  async qdiscs(name: string): Promise<string> {
    return this.#nsenter(name, ['tc', 'qdisc', 'show'])
  }

  async #interfaces(name: string): Promise<string[]> {
    const out = await this.#nsenter(name, ['ip', '-o', 'link', 'show'])
    return out
      .split('\n')
      .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
      .filter((d): d is string => d !== undefined && d !== 'lo')
  }

  async #nsenter(name: string, cmd: readonly string[]): Promise<string> {
    const pid = await this.pid(name)
    return run('nsenter', ['-t', String(pid), '-n', ...cmd], this.#env, 30_000)
  }

  /** The node's p2p address on the net's network, as the host reaches it. */
  async p2pAddress(name: string): Promise<string> {
    const ip = (await this.addresses(name)).get(this.networkName())
    if (ip === undefined) throw new TestnetError('CLI_ERR_TESTNET_STATE', `${name} is not on ${this.networkName()}`)
    return `/ip4/${ip}/tcp/${this.#services.get(name)!.p2pPort}`
  }

  async socketStates(name: string): Promise<Map<string, number>> {
    const pid = await this.pid(name)
    // The container's own view: /proc/PID/net is the network namespace of PID.
    const tcp =
      (await readFile(`/proc/${pid}/net/tcp`, 'utf8')) +
      (await readFile(`/proc/${pid}/net/tcp6`, 'utf8').catch(() => ''))
    return socketStates(tcp, this.#services.get(name)!.p2pPort)
  }

  async #fullLog(name: string): Promise<string> {
    const id = this.#ids.get(name)
    if (id === undefined) return ''
    const { stdout } = await execFileP('docker', ['logs', id], { env: this.#env, maxBuffer: 256 * 1024 * 1024 }).catch(
      () => ({ stdout: '' }),
    )
    return stdout
  }

  async logs(name: string): Promise<string> {
    const id = this.#ids.get(name)
    if (id === undefined) return ''
    const { stdout, stderr } = await execFileP('docker', ['logs', '--tail', '200', id], {
      env: this.#env,
      maxBuffer: 16 * 1024 * 1024,
    }).catch(() => ({ stdout: '', stderr: '' }))
    return stdout + stderr
  }
}
