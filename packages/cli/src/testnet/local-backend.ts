import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { createWriteStream, mkdirSync, readFileSync, rmSync, type WriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { TestNet } from './backend.js'
import type { NetSpec, ServiceSpec } from './compose.js'
import { TestnetError } from './errors.js'
import { socketStates } from './sockets.js'
import { EventStatus, fetchNodeStatus, type NodeStatus } from './status.js'

/** Options of the local back end. */
export interface LocalOptions {
  /**
   * The first three octets of the nodes' loopback addresses; node i (0-based,
   * compose order) gets `${prefix}.${11 + i}`. Default `127.0.0`; tests pick a
   * random one so runs never collide. Its ports are the compose file's plus i (node1 8115
   * and 9100, node2 8116 and 9101, …), so per-port tools tell the nodes apart.
   */
  loopbackPrefix?: string
  /** Services to leave out (e.g. those with a profile); default: every service without a profile. */
  only?: readonly string[]
  /** How long a node may take to print its ready line (default 20 s). */
  readyTimeoutMs?: number
  /** Keep the logs directory after `down` (default false). */
  keepLogs?: boolean
  /** Extra arguments appended to every node's command. */
  extraArgs?: readonly string[]
}

interface LocalNode {
  spec: ServiceSpec
  host: string
  /** Its ports: the compose ones + its index, so per-port tools (doctor --port, ss) tell nodes apart. */
  p2pPort: number
  metricsPort: number | undefined
  args: string[]
  /** For a node without /status (the Rust node): what its events said. */
  events?: EventStatus
  child?: ChildProcess
  exited?: Promise<unknown>
  log?: WriteStream
  frozen: boolean
}

const BIN = fileURLToPath(new URL('../../bin/tentacle.js', import.meta.url))
// A driver running from the TypeScript sources runs its nodes from the sources too: the bin
// would otherwise pick a dist/ built before the workspace packages' latest edits.
const FROM_SOURCE = import.meta.url.endsWith('.ts') ? { TENTACLE_CLI_SOURCE: '1' } : {}

/**
 * The test net as processes: each compose service runs `tentacle node` on its
 * own 127.0.0.x address (Linux routes all of 127.0.0.0/8 to loopback), with
 * the compose command rewritten for it. No Docker and no root.
 */
export class LocalTestNet implements TestNet {
  readonly backend = 'local' as const
  readonly spec: NetSpec
  readonly nodes: readonly string[]
  /** Logs and the nodes' named volumes; made by `up`, removed by `down` unless keepLogs. */
  readonly #runDir: string
  readonly #places: ReadonlyMap<string, { host: string; offset: number }>
  #runDirMade = false
  readonly #byName = new Map<string, LocalNode>()
  readonly #readyTimeoutMs: number
  readonly #keepLogs: boolean
  #closed = false

  constructor(spec: NetSpec, opts: LocalOptions = {}) {
    this.spec = spec
    const prefix = opts.loopbackPrefix ?? '127.0.0'
    if (!/^127\.\d{1,3}\.\d{1,3}$/.test(prefix)) {
      throw new TestnetError('CLI_ERR_TESTNET_USAGE', `loopback prefix must be 127.X.Y, got ${prefix}`)
    }
    const services = spec.services.filter((s) =>
      opts.only === undefined ? s.profiles.length === 0 : opts.only.includes(s.name),
    )
    if (services.length === 0) throw new TestnetError('CLI_ERR_TESTNET_COMPOSE', `${spec.file}: no services to run`)
    if (services.length > 240)
      throw new TestnetError('CLI_ERR_TESTNET_COMPOSE', 'at most 240 nodes on one loopback /24')
    this.#runDir = join(tmpdir(), `tentacle-testnet-${process.pid}-${randomBytes(4).toString('hex')}`)
    const places = new Map(services.map((s, i) => [s.name, { host: `${prefix}.${11 + i}`, offset: i }]))
    this.#places = places
    for (const s of services) {
      const { host, offset } = places.get(s.name)!
      const args = [
        ...rewriteArgs(s.command, s, places, this.#runDir),
        ...(s.entrypoint === undefined ? (opts.extraArgs ?? []) : []),
      ]
      this.#byName.set(s.name, {
        spec: s,
        host,
        p2pPort: s.p2pPort + offset,
        metricsPort: s.metricsPort === undefined ? undefined : s.metricsPort + offset,
        args,
        frozen: false,
      })
    }
    this.nodes = services.map((s) => s.name)
    this.#readyTimeoutMs = opts.readyTimeoutMs ?? 20_000
    this.#keepLogs = opts.keepLogs ?? false
  }

  /** Where the nodes' logs (and named volumes) go: a temp dir made by `up`, removed by `down` unless keepLogs. */
  get logDir(): string {
    return this.#runDir
  }

  #makeRunDir(): void {
    if (this.#runDirMade) return
    mkdirSync(this.#runDir, { recursive: true, mode: 0o700 })
    for (const n of this.#byName.values()) {
      for (const vol of n.spec.volumes.values()) mkdirSync(join(this.#runDir, n.spec.name, vol), { recursive: true })
    }
    this.#runDirMade = true
  }

  #logFile(n: LocalNode): string {
    return join(this.logDir, `${n.spec.name}.log`)
  }

  /** The node's loopback address. */
  host(name: string): string {
    return this.#node(name).host
  }

  /** The arguments `tentacle` runs with for `name`. */
  args(name: string): readonly string[] {
    return this.#node(name).args
  }

  /** The node's p2p and metrics ports. */
  ports(name: string): { p2p: number; metrics: number | undefined } {
    const n = this.#node(name)
    return { p2p: n.p2pPort, metrics: n.metricsPort }
  }

  /** The node's process id, while it runs. */
  pid(name: string): number | undefined {
    return this.#node(name).child?.pid
  }

  async up(): Promise<void> {
    // The bootnodes first: the others dial them at start.
    const order = [...this.#byName.values()].sort((a, b) => Number(b.spec.bootnode) - Number(a.spec.bootnode))
    const boot = order.filter((n) => n.spec.bootnode)
    await Promise.all(boot.map((n) => this.#start(n)))
    await Promise.all(order.filter((n) => !n.spec.bootnode).map((n) => this.#start(n)))
  }

  async #start(n: LocalNode): Promise<void> {
    if (this.#closed) throw new TestnetError('CLI_ERR_TESTNET_STATE', 'the test net is down')
    if (n.child !== undefined) throw new TestnetError('CLI_ERR_TESTNET_STATE', `${n.spec.name} is already running`)
    this.#makeRunDir()
    const log = (n.log ??= createWriteStream(this.#logFile(n), { flags: 'a' }))
    const [cmd, ...cmdArgs] =
      n.spec.entrypoint === undefined
        ? [process.execPath, BIN]
        : rewriteArgs(n.spec.entrypoint, n.spec, this.#places, this.#runDir)
    if (n.spec.entrypoint !== undefined) n.events = new EventStatus()
    const events = n.events
    const child = spawn(cmd, [...cmdArgs, ...n.args], {
      env: { ...process.env, ...FROM_SOURCE, ...n.spec.environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    n.child = child
    n.frozen = false
    n.exited = once(child, 'exit').catch(() => undefined)
    void n.exited.then(() => {
      if (n.child === child) n.child = undefined
    })
    child.stderr!.pipe(log, { end: false })
    const lines = createInterface({ input: child.stdout! })
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new TestnetError(
            'CLI_ERR_TESTNET_NODE_START',
            `${n.spec.name}: no ready line within ${this.#readyTimeoutMs} ms (log: ${this.#logFile(n)})`,
          ),
        )
      }, this.#readyTimeoutMs)
      lines.on('line', (line) => {
        log.write(line + '\n')
        events?.feed(line)
        if (line.startsWith('{') && line.includes('"ready"')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(
          new TestnetError(
            'CLI_ERR_TESTNET_NODE_START',
            `${n.spec.name} exited (${signal ?? code}) before it was ready: ${tail(this.#logFile(n))}`,
          ),
        )
      })
    })
    try {
      await ready
    } catch (err) {
      child.kill('SIGKILL')
      throw err
    }
  }

  async down(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const running = [...this.#byName.values()].filter((n) => n.child !== undefined)
    for (const n of running) {
      // A frozen process cannot act on SIGTERM: wake it first.
      if (n.frozen) n.child!.kill('SIGCONT')
      n.child!.kill('SIGTERM')
    }
    const grace = new Promise<'late'>((r) => setTimeout(r, 8000, 'late').unref())
    const late = await Promise.race([Promise.all(running.map((n) => n.exited)).then(() => 'ok' as const), grace])
    if (late === 'late') for (const n of running) n.child?.kill('SIGKILL')
    await Promise.all(running.map((n) => n.exited))
    await Promise.all(
      [...this.#byName.values()].map((n) => new Promise<void>((r) => (n.log === undefined ? r() : n.log.end(r)))),
    )
    if (!this.#keepLogs && this.#runDirMade) rmSync(this.#runDir, { recursive: true, force: true })
  }

  async status(names: readonly string[] = this.nodes): Promise<NodeStatus[]> {
    let tcp = ''
    try {
      tcp = (await readFile('/proc/net/tcp', 'utf8')) + (await readFile('/proc/net/tcp6', 'utf8').catch(() => ''))
    } catch {
      // not Linux: no socket counts
    }
    return Promise.all(
      names.map(async (name) => {
        const n = this.#node(name)
        if (n.child === undefined)
          return { name, up: false, error: 'not running', peers: [], sessions: 0, handshakeFailures: {} }
        const st =
          n.events !== undefined ? n.events.row(name) : await fetchNodeStatus(name, `http://${n.host}:${n.metricsPort}`)
        if (n.frozen) st.error = 'frozen'
        if (tcp !== '') st.closeWait = socketStates(tcp, n.p2pPort, n.host).get('CLOSE_WAIT') ?? 0
        return st
      }),
    )
  }

  async kill(name: string): Promise<void> {
    const n = this.#node(name)
    if (n.child === undefined) throw new TestnetError('CLI_ERR_TESTNET_STATE', `${name} is not running`)
    n.child.kill('SIGKILL')
    await n.exited
  }

  async restart(name: string): Promise<void> {
    const n = this.#node(name)
    if (n.child !== undefined) await this.kill(name)
    await this.#start(n)
  }

  async freeze(name: string): Promise<void> {
    const n = this.#running(name)
    n.child!.kill('SIGSTOP')
    n.frozen = true
  }

  async thaw(name: string): Promise<void> {
    const n = this.#running(name)
    n.child!.kill('SIGCONT')
    n.frozen = false
  }

  cut(): Promise<void> {
    return Promise.reject(
      new TestnetError(
        'CLI_ERR_TESTNET_USAGE',
        'cut needs the docker back end (the local nodes share the loopback interface)',
      ),
    )
  }

  heal(): Promise<void> {
    return Promise.reject(new TestnetError('CLI_ERR_TESTNET_USAGE', 'heal needs the docker back end'))
  }

  slow(): Promise<void> {
    return Promise.reject(
      new TestnetError('CLI_ERR_TESTNET_USAGE', 'slow needs the docker back end (tc on a container interface)'),
    )
  }

  unslow(): Promise<void> {
    return Promise.reject(new TestnetError('CLI_ERR_TESTNET_USAGE', 'unslow needs the docker back end'))
  }

  async p2pAddress(name: string): Promise<string> {
    const n = this.#node(name)
    return `/ip4/${n.host}/tcp/${n.p2pPort}`
  }

  async socketStates(name: string): Promise<Map<string, number>> {
    const n = this.#node(name)
    const tcp = (await readFile('/proc/net/tcp', 'utf8')) + (await readFile('/proc/net/tcp6', 'utf8').catch(() => ''))
    return socketStates(tcp, n.p2pPort, n.host)
  }

  async logs(name: string): Promise<string> {
    return !this.#runDirMade ? '' : readFile(this.#logFile(this.#node(name)), 'utf8').catch(() => '')
  }

  #node(name: string): LocalNode {
    const n = this.#byName.get(name)
    if (n === undefined)
      throw new TestnetError('CLI_ERR_TESTNET_UNKNOWN_NODE', `no node ${name} (nodes: ${this.nodes.join(', ')})`)
    return n
  }

  #running(name: string): LocalNode {
    const n = this.#node(name)
    if (n.child === undefined) throw new TestnetError('CLI_ERR_TESTNET_STATE', `${name} is not running`)
    return n
  }
}

/**
 * The compose command with container-only names replaced by the node's loopback world:
 * 0.0.0.0 and /dns4/<service> become the service's 127.x address, a port P of service i
 * becomes P + i, a path under a bind mount the host path, under a named volume a directory of
 * the node's own in the run directory.
 */
function rewriteArgs(
  args: readonly string[],
  s: ServiceSpec,
  places: ReadonlyMap<string, { host: string; offset: number }>,
  runDir: string,
): string[] {
  const mounts = new Map(s.mounts)
  for (const [target, vol] of s.volumes) mounts.set(target, join(runDir, s.name, vol))
  const own = places.get(s.name)!
  const at = (p: { host: string; offset: number }, port: string): string => `${p.host}/tcp/${Number(port) + p.offset}`
  return args.map((a) => {
    let out = a
      .replace(/\/ip4\/0\.0\.0\.0\/tcp\/(\d+)/g, (_m, port: string) => `/ip4/${at(own, port)}`)
      .replace(/^0\.0\.0\.0:(\d+)$/, (_m, port: string) => `${own.host}:${Number(port) + own.offset}`)
      .replace(/\/dns4\/([^/]+)\/tcp\/(\d+)/g, (m, svc: string, port: string) => {
        const p = places.get(svc)
        return p === undefined ? m : `/ip4/${at(p, port)}`
      })
    for (const [target, hostPath] of mounts) {
      if (out === target || out.startsWith(target + '/')) out = hostPath + out.slice(target.length)
    }
    return out
  })
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ')
  } catch {
    return '(no log)'
  }
}
