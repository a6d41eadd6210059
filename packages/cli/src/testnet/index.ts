import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { loadCompose } from './compose.js'
import { DockerTestNet } from './docker-backend.js'
import { TestnetError } from './errors.js'
import { LocalTestNet } from './local-backend.js'
import { readLocalState, localStatus, removeLocalState, signalLocal, writeLocalState } from './local-state.js'
import { isFullMesh, renderTable, type NodeStatus } from './status.js'
import { waitForMesh } from './wait.js'

export type { TestNet, SlowOptions } from './backend.js'
export { loadCompose, type NetSpec, type ServiceSpec } from './compose.js'
export { DockerTestNet, type DockerOptions } from './docker-backend.js'
export { TestnetError, type TestnetErrorCode } from './errors.js'
export { LocalTestNet, type LocalOptions } from './local-backend.js'
export { isFullMesh, meshReport, renderTable, type NodeStatus } from './status.js'
export { waitForMesh, waitForStatus, type WaitOptions } from './wait.js'

export const USAGE = `Usage: tentacle testnet <command> [options]

The multi-node test net that docker-compose.yml describes, with one of two back ends:
  local   every service as a 'tentacle node' process on its own 127.0.0.x address
          (no Docker, no root); the net lives as long as 'up' runs
  docker  docker compose; faults act on containers

Commands:
  up                       start the net, show the status table until every node sees every
                           other; local: then keep running until Ctrl-C (type 'kill NODE',
                           'restart NODE', 'freeze NODE', 'thaw NODE' or 'status' on stdin)
  down                     stop the net (docker)
  status                   one status table: peer id, address, peers, sessions, last ping
                           RTT, handshake failures by phase, sockets in CLOSE_WAIT
  kill NODE | restart NODE SIGKILL a node | start it again (restart: docker, or stdin of 'up')
  freeze NODE | thaw NODE  SIGSTOP / docker pause a node (the stalled node) | resume it
  cut NODE | heal NODE     take a node off the net's network | put it back (docker)
  slow NODE | unslow NODE  token-bucket filter on the node's link (docker, root)

Options:
  --backend local|docker   (default: local)
  --file FILE              compose file (default: ./docker-compose.yml, else the repo's)
  --project NAME           compose project (docker; default tentacle-testnet)
  --once                   up: exit 0 as soon as the mesh is full (and stop the net), 1 if not
                           within --timeout
  --timeout MS             up: how long to wait for the full mesh (default 60000)
  --loopback PREFIX        local: the nodes' addresses, PREFIX.11, PREFIX.12, ... (default 127.0.0)
  --no-build               docker up: use the image as it is
  --profile NAME           also run the services of a compose profile, e.g. ckb (a Rust node:
                           ckb-network-peer from ~/.cache/tentacle-ts/bin, test/interop/build.sh)
  --rate KBIT              slow: rate in kbit/s (default 256)
  --json                   status: print the rows as JSON`

const OPTIONS = {
  backend: { type: 'string' },
  file: { type: 'string' },
  project: { type: 'string' },
  once: { type: 'boolean' },
  timeout: { type: 'string' },
  loopback: { type: 'string' },
  'no-build': { type: 'boolean' },
  rate: { type: 'string' },
  json: { type: 'boolean' },
  profile: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const

class Usage extends Error {}

/** The compose file: --file, else ./docker-compose.yml, else the one at the repository root. */
function composeFile(given: string | undefined): string {
  if (given !== undefined) return resolve(given)
  const here = resolve('docker-compose.yml')
  if (existsSync(here)) return here
  const repo = fileURLToPath(new URL('../../../../docker-compose.yml', import.meta.url))
  if (existsSync(repo)) return repo
  throw new TestnetError('CLI_ERR_TESTNET_COMPOSE', 'no docker-compose.yml here; name one with --file')
}

const int = (name: string, v: string | undefined, def: number): number => {
  if (v === undefined) return def
  if (!/^\d+$/.test(v)) throw new Usage(`--${name} must be a non-negative integer, got '${v}'`)
  return Number(v)
}

/** `tentacle testnet …`; resolves with the exit code. */
export async function run(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })
  } catch (err) {
    return usage((err as Error).message.split('\n')[0])
  }
  const { values: v, positionals } = parsed
  if (v.help === true) {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  const [cmd, node, ...extra] = positionals
  try {
    if (extra.length > 0) throw new Usage(`unexpected argument '${extra[0]}'`)
    const backend = v.backend ?? 'local'
    if (backend !== 'local' && backend !== 'docker')
      throw new Usage(`--backend must be local or docker, got '${backend}'`)
    const file = composeFile(v.file)
    const timeoutMs = int('timeout', v.timeout, 60_000)
    switch (cmd) {
      case undefined:
        throw new Usage('missing command')
      case 'up':
        if (node !== undefined) throw new Usage(`unexpected argument '${node}'`)
        return backend === 'local'
          ? await upLocal(file, { once: v.once === true, timeoutMs, loopback: v.loopback, profiles: v.profile ?? [] })
          : await upDocker(
              new DockerTestNet(loadCompose(file), {
                project: v.project,
                build: v['no-build'] !== true,
                profiles: v.profile ?? [],
              }),
              v.once === true,
              timeoutMs,
            )
      case 'down':
        if (backend === 'local') throw new Usage("a local net stops with its 'up' process (Ctrl-C)")
        await new DockerTestNet(loadCompose(file), { project: v.project }).down()
        return 0
      case 'status': {
        const rows =
          backend === 'local'
            ? await localStatus(readLocalState(v.loopback))
            : await dockerNet(file, v.project).then((n) => n.status())
        process.stdout.write((v.json === true ? JSON.stringify(rows) : renderTable(rows)) + '\n')
        return 0
      }
      case 'kill':
      case 'restart':
      case 'freeze':
      case 'thaw':
      case 'cut':
      case 'heal':
      case 'slow':
      case 'unslow': {
        if (node === undefined) throw new Usage(`${cmd} needs a NODE`)
        if (backend === 'local') {
          if (cmd !== 'kill' && cmd !== 'freeze' && cmd !== 'thaw') {
            throw new Usage(
              `${cmd} on the local back end: type '${cmd} ${node}' into the running 'up' (restart), or use --backend docker`,
            )
          }
          signalLocal(
            readLocalState(v.loopback),
            node,
            cmd === 'kill' ? 'SIGKILL' : cmd === 'freeze' ? 'SIGSTOP' : 'SIGCONT',
          )
          return 0
        }
        const net = await dockerNet(file, v.project)
        if (cmd === 'slow') await net.slow(node, { rateKbit: int('rate', v.rate, 256) })
        else await net[cmd](node)
        return 0
      }
      default:
        throw new Usage(`unknown command '${cmd}'`)
    }
  } catch (err) {
    if (err instanceof Usage) return usage(err.message)
    if (err instanceof TestnetError) {
      process.stderr.write(`tentacle testnet: ${err.code}: ${err.message}\n`)
      return 1
    }
    throw err
  }
}

function usage(message: string): number {
  process.stderr.write(`tentacle testnet: ${message}\n\n${USAGE}\n`)
  return 2
}

async function dockerNet(file: string, project: string | undefined): Promise<DockerTestNet> {
  const net = new DockerTestNet(loadCompose(file), { project })
  await net.attach()
  return net
}

/** Redraws the table in place on a terminal; elsewhere prints it when what the nodes see changes. */
function tableWriter(): (rows: NodeStatus[]) => void {
  const tty = process.stdout.isTTY === true
  let last = ''
  return (rows) => {
    const table = renderTable(rows)
    if (tty) {
      process.stdout.write(
        `\x1b[H\x1b[2J${new Date().toISOString()}  ${isFullMesh(rows) ? 'full mesh' : 'converging…'}\n${table}\n`,
      )
      return
    }
    const shape = rows.map((r) => `${r.name}:${r.up}:${[...r.peers].sort().join(',')}`).join(' ')
    if (shape !== last) process.stdout.write(table + '\n\n')
    last = shape
  }
}

async function upLocal(
  file: string,
  o: { once: boolean; timeoutMs: number; loopback: string | undefined; profiles: string[] },
): Promise<number> {
  const spec = loadCompose(file)
  const only = spec.services
    .filter((s) => s.profiles.length === 0 || s.profiles.some((p) => o.profiles.includes(p)))
    .map((s) => s.name)
  const net = new LocalTestNet(spec, { loopbackPrefix: o.loopback, only })
  const stop = new AbortController()
  let signals = 0
  const onSignal = (): void => {
    if (++signals > 1) process.exit(130)
    stop.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    process.stdout.write(`starting ${net.nodes.length} nodes (logs in ${net.logDir})\n`)
    await net.up()
    writeLocalState(net, o.loopback)
    const show = tableWriter()
    try {
      const rows = await waitForMesh(net, { timeoutMs: o.timeoutMs, onRows: show, signal: stop.signal })
      process.stdout.write(
        `\n${renderTable(rows)}\nfull mesh: ${rows.length} nodes, each sees the ${rows.length - 1} others\n`,
      )
    } catch (err) {
      if (stop.signal.aborted) return 0
      if (err instanceof TestnetError && err.code === 'CLI_ERR_TESTNET_TIMEOUT') {
        process.stderr.write(`tentacle testnet: ${err.message}\n`)
        if (o.once) return 1
      } else throw err
    }
    if (o.once) return 0
    process.stdout.write(
      'running; Ctrl-C stops the net. Commands: status, kill NODE, restart NODE, freeze NODE, thaw NODE\n',
    )
    await interactive(net, stop.signal)
    return 0
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    removeLocalState(o.loopback)
    await net.down()
  }
}

/** Reads fault commands from stdin until the signal (Ctrl-C) or stdin's end. */
async function interactive(net: LocalTestNet, signal: AbortSignal): Promise<void> {
  const { createInterface } = await import('node:readline')
  const aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }))
  if (process.stdin.isTTY !== true && process.stdin.readableEnded) return aborted
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    const [c, name] = line.trim().split(/\s+/)
    const act = async (): Promise<void> => {
      if (c === 'status' || c === '') process.stdout.write(renderTable(await net.status()) + '\n')
      else if (c === 'kill' || c === 'restart' || c === 'freeze' || c === 'thaw') {
        await net[c](name ?? '')
        if (c === 'restart') writeLocalState(net, undefined)
        process.stdout.write(`${c} ${name}: done\n`)
      } else process.stdout.write(`unknown command '${c}' (status, kill, restart, freeze, thaw NODE)\n`)
    }
    act().catch((err: Error) => process.stdout.write(`${(err as { code?: string }).code ?? 'error'}: ${err.message}\n`))
  })
  await aborted
  rl.close()
}

async function upDocker(net: DockerTestNet, once: boolean, timeoutMs: number): Promise<number> {
  process.stdout.write(`docker: starting ${net.nodes.length} nodes (project ${net.project})\n`)
  await net.up()
  try {
    const rows = await waitForMesh(net, { timeoutMs, onRows: tableWriter() })
    process.stdout.write(`\n${renderTable(rows)}\nfull mesh: ${rows.length} nodes\n`)
    return 0
  } catch (err) {
    if (err instanceof TestnetError && err.code === 'CLI_ERR_TESTNET_TIMEOUT') {
      process.stderr.write(`tentacle testnet: ${err.message}\n`)
      return 1
    }
    throw err
  } finally {
    if (once) await net.down()
  }
}
