import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestnetError } from './errors.js'
import type { LocalTestNet } from './local-backend.js'
import { socketStates } from './sockets.js'
import { fetchNodeStatus, type NodeStatus } from './status.js'

/**
 * What a running local net tells other `tentacle testnet` commands (status,
 * kill, freeze, thaw from another shell): a JSON file in the temp dir, one per
 * loopback prefix, written by `up` and removed when it stops.
 */
export interface LocalState {
  upPid: number
  nodes: { name: string; host: string; p2pPort: number; metricsPort: number | undefined; pid: number | undefined }[]
}

function stateFile(prefix: string | undefined): string {
  return join(tmpdir(), `tentacle-testnet-${prefix ?? '127.0.0'}.json`)
}

export function writeLocalState(net: LocalTestNet, prefix: string | undefined): void {
  const state: LocalState = {
    upPid: process.pid,
    nodes: net.nodes.map((name) => {
      const ports = net.ports(name)
      return { name, host: net.host(name), p2pPort: ports.p2p, metricsPort: ports.metrics, pid: net.pid(name) }
    }),
  }
  const file = stateFile(prefix)
  writeFileSync(file + '.tmp', JSON.stringify(state, null, 2))
  renameSync(file + '.tmp', file)
}

export function removeLocalState(prefix: string | undefined): void {
  rmSync(stateFile(prefix), { force: true })
}

export function readLocalState(prefix: string | undefined): LocalState {
  const file = stateFile(prefix)
  let state: LocalState
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as LocalState
  } catch {
    throw new TestnetError(
      'CLI_ERR_TESTNET_STATE',
      `no local test net is running (no ${file}); start one with 'tentacle testnet up'`,
    )
  }
  try {
    process.kill(state.upPid, 0)
  } catch {
    throw new TestnetError(
      'CLI_ERR_TESTNET_STATE',
      `the local test net's 'up' (pid ${state.upPid}) is gone; ${file} is stale`,
    )
  }
  return state
}

export async function localStatus(state: LocalState): Promise<NodeStatus[]> {
  const tcp = await readFile('/proc/net/tcp', 'utf8').catch(() => '')
  return Promise.all(
    state.nodes.map(async (n) => {
      if (n.metricsPort === undefined)
        return {
          name: n.name,
          up: false,
          error: "no /status (ask the 'up' process: status)",
          peers: [],
          sessions: 0,
          handshakeFailures: {},
        }
      const st = await fetchNodeStatus(n.name, `http://${n.host}:${n.metricsPort}`)
      if (tcp !== '') st.closeWait = socketStates(tcp, n.p2pPort, n.host).get('CLOSE_WAIT') ?? 0
      return st
    }),
  )
}

export function signalLocal(state: LocalState, name: string, signal: NodeJS.Signals): void {
  const n = state.nodes.find((x) => x.name === name)
  if (n === undefined)
    throw new TestnetError(
      'CLI_ERR_TESTNET_UNKNOWN_NODE',
      `no node ${name} (nodes: ${state.nodes.map((x) => x.name).join(', ')})`,
    )
  if (n.pid === undefined) throw new TestnetError('CLI_ERR_TESTNET_STATE', `${name} is not running`)
  try {
    process.kill(n.pid, signal)
  } catch (err) {
    throw new TestnetError('CLI_ERR_TESTNET_STATE', `${name} (pid ${n.pid}): ${(err as NodeJS.ErrnoException).code}`)
  }
}
