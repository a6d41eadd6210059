import type { Direction, ProtocolId, ProtocolSpec, Service, ServiceHandler, SessionId } from '@tentacle-ts/tentacle'
import type { AddressBook } from './address-book.js'
import type { DiscoveryForm } from './messages/discovery.js'

/** `'ckb'`: CKB's ids 0..4, names, versions `["3"]`, frame limits and timings. `'tentacle'`: tentacle's example defaults. */
export type PresetName = 'ckb' | 'tentacle'

/** Ids, names, versions and frame limits of the five protocols (§11.4). */
export interface ProtocolIds {
  ping: ProtocolId
  discovery: ProtocolId
  identify: ProtocolId
  feeler: ProtocolId
  disconnectMessage: ProtocolId
}

/** What went wrong with a peer; each is reported to {@link NetworkProtocolsOptions.onMisbehaviour}. */
export type MisbehaviourKind =
  /** identify: the peer's network name differs from ours, or its flags are zero (CKB bans its IP for 5 min). */
  | 'network-mismatch'
  /** identify: a second IdentifyMessage on the session. */
  | 'duplicate-identify'
  /** identify: nothing received within the identify timeout (8 s). */
  | 'identify-timeout'
  /** identify: more than 10 listen addresses; discovery: a Nodes item with more than 3 addresses or too many in all. */
  | 'too-many-addresses'
  /** discovery: a Nodes message with more items than allowed (10 announced, 1000 otherwise). */
  | 'too-many-items'
  /** discovery: a second GetNodes on the session. */
  | 'duplicate-get-nodes'
  /** discovery: a second non-announce Nodes on the session. */
  | 'duplicate-first-nodes'
  /** Any of the protocols: a message that does not decode (`error` is the ProtocolsError). */
  | 'invalid-data'
  /** ping: a Pong with the wrong nonce, or with no ping outstanding. */
  | 'unexpected-pong'
  /** ping: no Pong within the ping timeout. */
  | 'ping-timeout'
  /** identify (outbound): the peer's flags do not meet `requiredFlags`. */
  | 'insufficient-flags'
  /** tentacle reported a protocol-error (e.g. a frame over the protocol's max) on this session (CKB bans 5 min). */
  | 'protocol-error'

/** A report of misbehaviour, handed to {@link NetworkProtocolsOptions.onMisbehaviour}. */
export interface MisbehaviourReport {
  kind: MisbehaviourKind
  sessionId: SessionId
  peerId: string | undefined
  /** The session's remote address (text). */
  address: string
  /** Name of the protocol that saw it (e.g. `/ckb/identify`). */
  protocol: string
  /** Human-readable detail (counts, names). */
  detail: string
  /** The decoding error, for `invalid-data`. */
  error?: Error
  /** What CKB does here: `'ban'` (with {@link banMs}), `'disconnect'`, or `'continue'`. */
  ckbVerdict: MisbehaviourVerdict
  /** Ban length CKB uses for this kind, when its verdict is `'ban'`. */
  banMs?: number
}

/**
 * What to do with a misbehaving peer: keep it, disconnect it (with a
 * disconnect message), or ban its IP (CKB's ban: the whole IP, for
 * `banMs`) and disconnect.
 */
export type MisbehaviourVerdict = 'continue' | 'disconnect' | 'ban'

/** What a connected peer looks like through {@link NetworkProtocols.peers}. */
export interface PeerInfo {
  sessionId: SessionId
  peerId: string | undefined
  address: string
  direction: Direction
  /** True for a feeler session (it closes right after identify). */
  feeler: boolean
  /** Set once the peer's IdentifyMessage passed the checks. */
  identified?: IdentifyInfo
  /** Round-trip time of the last answered ping, in milliseconds. */
  pingRttMs?: number
  /** When the last ping-protocol message from this peer arrived (ms since the epoch; CKB's `last_ping_protocol_message_received_at`), else the session's open time. */
  lastSeenAt: number
  /** When the session opened (ms since the epoch). */
  connectedAt: number
}

/** What identify learnt about a peer. */
export interface IdentifyInfo {
  /** The peer's network name (equal to ours, or identify would have refused it). */
  name: string
  clientVersion: string
  /** CKB flags (see {@link Flags}), unknown bits dropped. */
  flags: bigint
  /** The listen addresses it announced (after CKB's filtering). */
  listenAddrs: string[]
  /** The address it sees us at. */
  observedAddr: string
}

/** One learnt address (JSON-safe). */
export interface AddressEntry {
  /** Multiaddr text, always ending in `/p2p/<peer id>`. */
  address: string
  peerId: string
  /** CKB flags, as a decimal string (JSON has no bigint). */
  flags: string
  /** Last successful outbound identify (ms since the epoch), 0 = never. */
  lastConnectedAt: number
  /** Last dial attempt (feeler or full), 0 = never. */
  lastTriedAt: number
  /** Dial attempts since the last success. */
  attempts: number
}

/** Events of {@link NetworkProtocols}. */
export interface NetworkProtocolsEvents {
  /** A peer's identify passed the checks. */
  identified: [{ sessionId: SessionId; peerId: string | undefined; direction: Direction; info: IdentifyInfo }]
  /** A Pong answered our ping. */
  ping: [{ sessionId: SessionId; peerId: string | undefined; rttMs: number }]
  /** A misbehaviour report and the verdict applied. */
  misbehaviour: [{ report: MisbehaviourReport; verdict: MisbehaviourVerdict }]
  /** Addresses newly added to the address book (from discovery or identify). */
  discovered: [{ sessionId: SessionId; addresses: string[] }]
  /** A peer left peers(): when we decided to close it (misbehaviour, feeler done, ban, its disconnect message) or, failing that, when its session closed (`'closed'`). Once per session. */
  'peer-dropped': [{ sessionId: SessionId; peerId: string | undefined; address: string; reason: PeerDropReason }]
  /** The peer sent a disconnect message (CKB's `/ckb/disconnectmsg`). */
  'disconnect-message': [{ sessionId: SessionId; peerId: string | undefined; message: string }]
  /** A feeler connection identified the peer: the address is live; the session is being closed. */
  feeler: [{ sessionId: SessionId; peerId: string | undefined; address: string }]
}

/** Why a peer was dropped: a misbehaviour kind, `'feeler'`, `'banned'` (inbound from a banned IP), or `'closed'` (the session ended otherwise). */
export type PeerDropReason = MisbehaviourKind | 'feeler' | 'banned' | 'disconnect-message' | 'closed'

/** Options of {@link createNetworkProtocols}; every timing has CKB's default in the `ckb` preset. */
export interface NetworkProtocolsOptions {
  /** Default `'ckb'`. */
  preset?: PresetName
  /** Identify network name, CKB's `/{chain id}/{first 8 hex of the genesis hash}` (mainnet `/ckb/92b197aa`). Required. */
  networkName: string
  /** Identify client version. Default `tentacle-ts/<version>`. */
  clientVersion?: string
  /** Our CKB flags in Identify and discovery. Default COMPATIBILITY | DISCOVERY. */
  flags?: bigint
  /** Flags a peer must have for a full outbound session and in GetNodes. Default CKB's SYNC | DISCOVERY | RELAY (a peer with COMPATIBILITY passes). */
  requiredFlags?: bigint
  /** Override the preset's protocol ids. */
  ids?: Partial<ProtocolIds>
  /** Ping interval. ckb: 120 000; tentacle: 5 000. */
  pingIntervalMs?: number
  /** A ping outstanding this long drops the peer. ckb: 1 200 000; tentacle: 15 000. */
  pingTimeoutMs?: number
  /** How often outstanding pings are checked against the timeout. Default = pingTimeoutMs (as CKB). */
  pingCheckIntervalMs?: number
  /** Identify must arrive within this. Default 8 000. */
  identifyTimeoutMs?: number
  /** Discovery's announce check tick (CKB `discovery_announce_check_interval_secs`). ckb: 60 000; tentacle: 3 000. */
  discoveryIntervalMs?: number
  /** A connected peer's listen address is announced again after this. Default 24 h. */
  announceIntervalMs?: number
  /** The outbound tick: feeler dials, then full dials up to maxOutbound (CKB `connect_outbound_interval_secs`). Default 15 000. */
  outboundIntervalMs?: number
  /** A full dial waits at least this long after the address's last connection (its feeler) (CKB `DIAL_INTERVAL`). Default 15 000. */
  dialIntervalMs?: number
  /** An address is not feeler-dialed again within this (CKB: a minute). Default 60 000. */
  feelerRetryMs?: number
  /** Feeler dials per tick. Default 10. */
  feelersPerTick?: number
  /** Outbound (non-feeler) sessions discovery keeps. Default 8. */
  maxOutbound?: number
  /** Bootnodes, each with a `/p2p/<peer id>`. */
  bootnodes?: string[]
  /** Addresses (with or without `/p2p/`) we announce besides reachable listen addresses (CKB `public_addresses`). */
  publicAddresses?: string[]
  /** CKB `discovery_local_address`: let loopback/private addresses through discovery. Default false. */
  allowLocalAddresses?: boolean
  /** Address book capacity. Default 16 384 (CKB `ADDR_COUNT_LIMIT`). */
  maxAddresses?: number
  /** Keep the address book in this JSON file (written atomically). Default: memory only. */
  addressBookFile?: string
  /** Decides what happens on misbehaviour (network-name mismatch included). Default: CKB's verdict (`report.ckbVerdict`). */
  onMisbehaviour?: (report: MisbehaviourReport) => MisbehaviourVerdict
  /** Clock, for tests. Default Date.now. */
  now?: () => number
}

/** What {@link createNetworkProtocols} returns. */
export interface NetworkProtocols {
  /** The five protocols, to register with `ServiceBuilder.protocol()`. */
  readonly protocols: ProtocolSpec[]
  /** Resolved protocol ids. */
  readonly ids: Readonly<ProtocolIds>
  /** The resolved options (preset applied). */
  readonly options: Readonly<ResolvedNetworkOptions>
  /** The service handler to build the service with; chains `user` (its events arrive after ours). */
  serviceHandler(user?: ServiceHandler): ServiceHandler
  /** Binds to the service: registers metrics in `service.metrics.registry`, dials bootnodes, starts the outbound tick. */
  attach(service: Service): void
  /** Connected peers with identify, RTT and last-seen. */
  peers(): PeerInfo[]
  /** One peer by session id. */
  peer(sessionId: SessionId): PeerInfo | undefined
  /** The address book. */
  readonly addressBook: AddressBook
  /** Sends a disconnect message on `/ckb/disconnectmsg` (if open) and disconnects (CKB `disconnect_with_message`). */
  disconnectWithMessage(sessionId: SessionId, message: string): void
  /** Bans an IP for `ms` (CKB bans the peer's whole IP) and disconnects its sessions. */
  ban(address: string, ms: number, reason: string): void
  on<E extends keyof NetworkProtocolsEvents>(event: E, listener: (...args: NetworkProtocolsEvents[E]) => void): this
  off<E extends keyof NetworkProtocolsEvents>(event: E, listener: (...args: NetworkProtocolsEvents[E]) => void): this
  once<E extends keyof NetworkProtocolsEvents>(event: E, listener: (...args: NetworkProtocolsEvents[E]) => void): this
  /** Stops timers and saves the address book; the service's close does it too. */
  close(): Promise<void>
}

/** What a preset fixes: ids, names, versions, frame limits, ping and discovery timings. */
export interface Preset {
  ids: ProtocolIds
  names: Record<keyof ProtocolIds, string>
  versions: string[]
  maxFrameLengths: Record<keyof ProtocolIds, number>
  pingIntervalMs: number
  pingTimeoutMs: number
  discoveryIntervalMs: number
  /** Discovery's wire form: CKB's, or tentacle-discovery's older one (no flags, inner length prefix). */
  discoveryForm: DiscoveryForm
}

/** Options after the preset and defaults are applied. */
export interface ResolvedNetworkOptions extends Preset {
  preset: PresetName
  networkName: string
  clientVersion: string
  flags: bigint
  requiredFlags: bigint
  pingCheckIntervalMs: number
  identifyTimeoutMs: number
  announceIntervalMs: number
  outboundIntervalMs: number
  dialIntervalMs: number
  feelerRetryMs: number
  feelersPerTick: number
  maxOutbound: number
  bootnodes: string[]
  publicAddresses: string[]
  allowLocalAddresses: boolean
  maxAddresses: number
  addressBookFile: string | undefined
  onMisbehaviour: (report: MisbehaviourReport) => MisbehaviourVerdict
  now: () => number
}
