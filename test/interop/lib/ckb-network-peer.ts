/**
 * `ckb-network-peer` (test/interop/ckb-network): CKB's NetworkService from
 * the crates.io `ckb-network` crate, driven from a test. Starts the driver
 * with a fresh data dir (removed again by `kill`), waits for `ready`, and
 * reads its JSON-lines events with bounded waits. See
 * test/interop/README.md, "ckb-network-peer".
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventsSoFar, waitJsonEvent } from './json-events.js'
import { DEFAULT_WAIT_MS, spawnPeer } from './peer-process.js'
import type { PeerProcess, SpawnPeerOptions } from './peer-process.js'

/** Options of the driver (all optional; CKB's defaults otherwise). */
export interface CkbNetworkPeerOptions {
  /** Identify name, e.g. `/ckb/92b197aa` (the driver's default). */
  networkName?: string
  /** Listen address (default `/ip4/127.0.0.1/tcp/0`). */
  listen?: string
  bootnodes?: string[]
  pingIntervalSecs?: number
  pingTimeoutSecs?: number
  /** Discovery's announce check tick (CKB default 60). */
  discoveryIntervalSecs?: number
  /** OutboundPeerService tick: feelers and outbound dials (CKB default 15). */
  connectOutboundIntervalSecs?: number
  /** CKB's `discovery_local_address` (loopback addresses in discovery). */
  discoveryLocalAddress?: boolean
  /** 32-byte secp256k1 secret in hex. */
  secret?: string
  /** Identify flags announced (default all, as a full CKB node). */
  flags?: number
  /** Flags a peer must announce before this node opens the other protocols on an outbound session. */
  requiredFlags?: number
  /** Protocol ids a peer must have open 10 s after connecting (default 0,1,2,4). */
  requiredProtocols?: number[]
  clientVersion?: string
  maxPeers?: number
  maxOutbound?: number
  /** CKB's `reuse_port_on_linux` (default on: dials leave from the listen port). */
  reusePort?: boolean
  /** How often the driver reads the peer registry (ms, default 50). */
  snapshotMs?: number
  /** Extra raw arguments. */
  args?: string[]
}

export type CkbDirection = 'inbound' | 'outbound'

export interface CkbPeerInfo {
  session: number
  peer_id: string | null
  address: string
  ty: CkbDirection | 'block_relay_only'
  identified: { flags: number; client_version: string } | null
  ping_rtt_ms: number | null
  protocols: number[]
  listened_addrs: string[]
}

/** Events the driver prints (one JSON object per stdout line). */
export type CkbEvent =
  | {
      event: 'ready'
      peer_id: string
      listen: string[]
      network_name: string
      client_version: string
      flags: number
      required_flags: number
      protocols: Array<{ id: number; name: string; versions: string[] }>
      data_dir: string
    }
  | { event: 'session_open'; session: number; address: string; ty: CkbDirection }
  | { event: 'session_close'; session: number; address: string }
  | { event: 'dialing'; address: string }
  | { event: 'feeler_dial'; addresses: string[] }
  | { event: 'identify_dial'; addresses: string[] }
  | { event: 'feeler_session_open'; session: number; address: string }
  | { event: 'feeler_open'; address: string }
  | { event: 'feeler_close'; address: string }
  | { event: 'peer_open'; peer: CkbPeerInfo }
  | { event: 'peer_close'; session: number; peer_id: string | null; address: string }
  | {
      event: 'identify_accepted'
      session: number
      peer_id: string | null
      ty: string
      name: string
      flags: number
      client_version: string
    }
  | { event: 'identify_refused'; reason: 'network_name' | 'flags'; local?: string; remote?: string }
  | { event: 'identify_listen_addrs'; session: number | null; addresses: string[] }
  | { event: 'identify_observed'; session: number | null; address: string | null }
  | { event: 'protocols'; session: number; protocols: number[] }
  | { event: 'ping_sent'; sessions: number[] }
  | { event: 'ping_received'; session: number | null }
  | { event: 'ping_rtt'; session: number; peer_id: string | null; rtt_ms: number }
  | { event: 'ping_timeout'; session: number | null }
  | { event: 'ping_decode_error' }
  | { event: 'discovered'; address: string | null }
  | { event: 'get_nodes_received'; listen_port: string }
  | { event: 'nodes_reply'; addresses: string[] }
  | { event: 'disconnect_message'; session: number | null; message: string }
  | { event: 'disconnect_message_malformed'; session: number | null }
  | { event: 'misbehaviour'; protocol: string; session: number | null; reason: string | null }
  | { event: 'ban'; address: string | null; seconds: number | null; reason: string | null }
  | { event: 'banned'; address: string; ban_until: number; seconds: number; reason: string }
  | { event: 'protocol_type_close'; address: string | null; error: string | null }
  | { event: 'peers'; id: unknown; peers: CkbPeerInfo[] }
  | { event: 'log'; level: string; target: string; message: string }
  | { event: 'ack'; cmd: string; id: string | number }
  | { event: 'command_error'; id: unknown; error: string }
  | { event: 'stopped'; why: string }

export type CkbEventName = CkbEvent['event']
export type CkbEventOf<K extends CkbEventName> = Extract<CkbEvent, { event: K }>

/** Commands read from the driver's stdin. */
export type CkbCommand = { id?: string | number } & (
  | { cmd: 'dial'; address: string }
  | { cmd: 'feeler'; address: string }
  | { cmd: 'disconnect'; session: number; message?: string }
  | { cmd: 'ban'; session: number; secs?: number; reason?: string }
  | { cmd: 'ping' }
  | { cmd: 'send'; session: number; proto: number; hex: string }
  | { cmd: 'peers' }
  | { cmd: 'banned' }
  | { cmd: 'shutdown' }
)

function parseEvent(line: string): CkbEvent | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const v: unknown = JSON.parse(line)
    if (typeof v === 'object' && v !== null && typeof (v as { event?: unknown }).event === 'string')
      return v as CkbEvent
  } catch {
    // not an event line
  }
  return undefined
}

function toArgs(o: CkbNetworkPeerOptions, dataDir: string): string[] {
  const a: string[] = ['--data-dir', dataDir]
  const opt = (flag: string, v: string | number | undefined): void => {
    if (v !== undefined) a.push(flag, String(v))
  }
  opt('--network-name', o.networkName)
  opt('--listen', o.listen)
  for (const b of o.bootnodes ?? []) a.push('--bootnode', b)
  opt('--ping-interval-secs', o.pingIntervalSecs)
  opt('--ping-timeout-secs', o.pingTimeoutSecs)
  opt('--discovery-interval-secs', o.discoveryIntervalSecs)
  opt('--connect-outbound-interval-secs', o.connectOutboundIntervalSecs)
  if (o.discoveryLocalAddress === true) a.push('--discovery-local-address')
  opt('--secret', o.secret)
  opt('--flags', o.flags)
  opt('--required-flags', o.requiredFlags)
  if (o.requiredProtocols !== undefined) a.push('--required-protocols', o.requiredProtocols.join(','))
  opt('--client-version', o.clientVersion)
  opt('--max-peers', o.maxPeers)
  opt('--max-outbound', o.maxOutbound)
  if (o.reusePort === false) a.push('--no-reuse-port')
  opt('--snapshot-ms', o.snapshotMs)
  a.push(...(o.args ?? []))
  return a
}

let callCounter = 0

/** One running `ckb-network-peer`. */
export class CkbNetworkPeer {
  readonly process: PeerProcess
  readonly ready: CkbEventOf<'ready'>
  readonly dataDir: string

  private constructor(process: PeerProcess, ready: CkbEventOf<'ready'>, dataDir: string) {
    this.process = process
    this.ready = ready
    this.dataDir = dataDir
  }

  /** Spawns the driver and waits for its `ready` event. */
  static async start(options: CkbNetworkPeerOptions = {}, spawnOpts: SpawnPeerOptions = {}): Promise<CkbNetworkPeer> {
    const dataDir = await mkdtemp(join(tmpdir(), 'ckb-network-peer-'))
    let proc: PeerProcess | undefined
    try {
      proc = await spawnPeer('ckb-network-peer', toArgs(options, dataDir), { label: 'ckb-network-peer', ...spawnOpts })
      const line = await proc.waitFor((l) => parseEvent(l)?.event === 'ready', spawnOpts.timeoutMs ?? DEFAULT_WAIT_MS)
      return new CkbNetworkPeer(proc, parseEvent(line) as CkbEventOf<'ready'>, dataDir)
    } catch (err) {
      await proc?.kill()
      await rm(dataDir, { recursive: true, force: true })
      throw err
    }
  }

  get peerId(): string {
    return this.ready.peer_id
  }

  /** The first listen address with `/p2p/<peer id>`. */
  get dialAddress(): string {
    const listen = this.ready.listen[0]
    if (listen === undefined) throw new Error('ckb-network-peer reports no listen address')
    return listen.includes('/p2p/') ? listen : `${listen}/p2p/${this.peerId}`
  }

  events(): CkbEvent[] {
    return eventsSoFar(this.process, parseEvent)
  }

  eventsOf<K extends CkbEventName>(name: K): Array<CkbEventOf<K>> {
    return this.events().filter((e): e is CkbEventOf<K> => e.event === name)
  }

  /** Waits for (and consumes) the earliest not yet consumed event `name` that matches. */
  async waitEvent<K extends CkbEventName>(
    name: K,
    match?: Partial<CkbEventOf<K>> | ((e: CkbEventOf<K>) => boolean),
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<CkbEventOf<K>> {
    return waitJsonEvent(this.process, parseEvent, name, match, timeoutMs)
  }

  command(cmd: CkbCommand): void {
    this.process.send(cmd)
  }

  /** Sends a command and waits for its ack (throws on `command_error`). */
  async call(cmd: CkbCommand, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const id = cmd.id ?? `c${++callCounter}`
    this.process.send({ ...cmd, id })
    const line = await this.process.waitFor((l) => {
      const e = parseEvent(l)
      return (e?.event === 'ack' || e?.event === 'command_error') && e.id === id
    }, timeoutMs)
    const e = parseEvent(line)
    if (e?.event === 'command_error') throw this.process.error(`command ${cmd.cmd} failed: ${e.error}`)
  }

  /** The peer registry right now. */
  async peers(timeoutMs = DEFAULT_WAIT_MS): Promise<CkbPeerInfo[]> {
    const id = `p${++callCounter}`
    this.process.send({ cmd: 'peers', id })
    const e = await this.waitEvent('peers', (p) => p.id === id, timeoutMs)
    return e.peers
  }

  /** Kills the driver (SIGTERM, then SIGKILL) and removes its data dir. */
  async kill(): Promise<void> {
    try {
      await this.process.kill()
    } finally {
      await rm(this.dataDir, { recursive: true, force: true })
    }
  }
}
