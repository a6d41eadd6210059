/**
 * Typed access to the tentacle-peer driver (a Rust tentacle 0.7.x service
 * driven by JSON lines; protocol in interop/README.md "tentacle-peer").
 */
import { eventsSoFar, waitJsonEvent } from './json-events.js'
import { DEFAULT_WAIT_MS, spawnPeer } from './peer-process.js'
import type { PeerProcess, SpawnPeerOptions } from './peer-process.js'

export interface ProtocolInfo {
  id: number
  name: string
  versions: string[]
}

export type SessionTy = 'inbound' | 'outbound'

/** Every event tentacle-peer prints (one JSON object per stdout line). */
export type TentacleEvent =
  | { event: 'ready'; peer_id: string; listen: string[]; protocols: ProtocolInfo[] }
  | { event: 'listen_started'; address: string }
  | { event: 'listen_close'; address: string }
  | { event: 'session_open'; session: number; address: string; peer_id: string | null; ty: SessionTy }
  | { event: 'session_close'; session: number; address: string; peer_id: string | null; ty: SessionTy }
  | { event: 'protocol_open'; session: number; proto: number; name: string; version: string }
  | { event: 'protocol_close'; session: number; proto: number; name: string }
  | { event: 'received'; session: number; proto: number; len: number; sha256: string; hex?: string; text?: string }
  | { event: 'protocol_select_error'; session: number; name: string | null }
  | { event: 'protocol_error'; session: number; proto: number; error: string }
  | { event: 'session_timeout'; session: number }
  | { event: 'session_blocked'; session: number }
  | { event: 'muxer_error'; session: number; error: string }
  | { event: 'protocol_handle_error'; proto: number; error: string }
  | { event: 'dial_error'; address: string; kind: DialErrorKind; error: string }
  | { event: 'listen_error'; address: string; kind: 'io' | 'repeated_connection' | 'transport'; error: string }
  | { event: 'ack'; cmd: string; id: string | number }
  | { event: 'command_error'; cmd: string | null; id?: string | number | null; error: string }
  | { event: 'stopped' }

export type DialErrorKind = 'io' | 'peer_id_not_match' | 'repeated_connection' | 'handshake' | 'transport'

export type TentacleEventName = TentacleEvent['event']
export type EventOf<K extends TentacleEventName> = Extract<TentacleEvent, { event: K }>

/** Message bytes of a send/broadcast: exactly one of hex, text, or size (+fill). */
export type Payload = { hex: string } | { text: string } | { size: number; fill?: number }

/** Commands tentacle-peer reads from stdin. `id`, if given, is echoed in an `ack` event. */
export type TentacleCommand = { id?: string | number } & (
  | ({ cmd: 'send'; session: number; proto: number; quick?: boolean; repeat?: number } & Payload)
  | ({ cmd: 'broadcast'; proto: number; sessions?: 'all' | number[] } & Payload)
  | { cmd: 'disconnect'; session: number }
  | { cmd: 'open_protocol'; session: number; proto?: number | number[] | 'all' }
  | { cmd: 'close_protocol'; session: number; proto: number }
  | { cmd: 'dial'; address: string; protocols?: 'all' | number | number[] }
  | { cmd: 'listen'; address: string }
  | { cmd: 'close' }
  | { cmd: 'shutdown' }
)

function parseEvent(line: string): TentacleEvent | undefined {
  if (!line.startsWith('{')) return undefined
  try {
    const v: unknown = JSON.parse(line)
    if (typeof v === 'object' && v !== null && typeof (v as { event?: unknown }).event === 'string') {
      return v as TentacleEvent
    }
  } catch {
    // not an event line
  }
  return undefined
}

export class TentaclePeer {
  /** The underlying process (raw lines, kill, exit status). */
  readonly process: PeerProcess
  /** The `ready` event: our peer id, bound listen addresses, protocols. */
  readonly ready: EventOf<'ready'>
  /** The TCP port of the first --listen, if any (from the LISTENING line). */
  readonly port: number | undefined

  private constructor(process: PeerProcess, ready: EventOf<'ready'>, port: number | undefined) {
    this.process = process
    this.ready = ready
    this.port = port
  }

  /**
   * Start tentacle-peer with raw CLI args (README), e.g.
   * `['--listen', '/ip4/127.0.0.1/tcp/0', '--protocol', '1', '--echo']`,
   * and wait for its `ready` event.
   */
  static async start(args: string[], opts: SpawnPeerOptions = {}): Promise<TentaclePeer> {
    const proc = await spawnPeer('tentacle-peer', args, { label: 'tentacle-peer', ...opts })
    try {
      const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS
      const readyLine = await proc.waitFor((l) => parseEvent(l)?.event === 'ready', timeoutMs)
      const ready = parseEvent(readyLine) as EventOf<'ready'>
      const listening = proc.stdout.find((l) => l.startsWith('LISTENING '))
      const port = listening === undefined ? undefined : Number(listening.split(' ')[1])
      return new TentaclePeer(proc, ready, port)
    } catch (err) {
      await proc.kill()
      throw err
    }
  }

  get peerId(): string {
    return this.ready.peer_id
  }

  /** `/ip4/127.0.0.1/tcp/<port>/p2p/<peer-id>` of the first listener. */
  get dialAddress(): string {
    if (this.port === undefined) throw new Error('tentacle-peer was started without --listen')
    return `/ip4/127.0.0.1/tcp/${this.port}/p2p/${this.peerId}`
  }

  /** Every event printed so far, in order. */
  events(): TentacleEvent[] {
    return eventsSoFar(this.process, parseEvent)
  }

  /** Events of one kind printed so far. */
  eventsOf<K extends TentacleEventName>(name: K): Array<EventOf<K>> {
    return this.events().filter((e): e is EventOf<K> => e.event === name)
  }

  /**
   * The earliest not-yet-consumed event named `name` (see
   * PeerProcess.waitFor) whose fields equal those of `match` (or for which
   * `match` returns true); consumes it. Rejects after timeoutMs or if the
   * process exits first.
   */
  async waitEvent<K extends TentacleEventName>(
    name: K,
    match?: Partial<EventOf<K>> | ((e: EventOf<K>) => boolean),
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<EventOf<K>> {
    return waitJsonEvent(this.process, parseEvent, name, match, timeoutMs)
  }

  /** Send a command. */
  command(cmd: TentacleCommand): void {
    this.process.send(cmd)
  }

  /** Send a command with an id and wait for its `ack` (or reject on `command_error`). */
  async call(cmd: TentacleCommand, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    const id = cmd.id ?? `c${++callCounter}`
    this.process.send({ ...cmd, id })
    const line = await this.process.waitFor((l) => {
      const e = parseEvent(l)
      return (e?.event === 'ack' || e?.event === 'command_error') && e.id === id
    }, timeoutMs)
    const e = parseEvent(line)
    if (e?.event === 'command_error') throw this.process.error(`command ${cmd.cmd} failed: ${e.error}`)
  }

  /** Ask the service to shut down and wait for the process to exit (kills it if it does not). */
  async shutdown(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (this.process.exit !== undefined) return
    try {
      this.command({ cmd: 'shutdown' })
      await this.process.waitExit(timeoutMs)
    } finally {
      await this.process.kill()
    }
  }

  /** Kill the process (always reaps it). */
  async kill(): Promise<void> {
    await this.process.kill()
  }
}

let callCounter = 0
