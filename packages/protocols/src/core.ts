import type { ServiceControl, SessionId, SessionInfo } from '@tentacle-ts/tentacle'
import type { AddressBook } from './address-book.js'
import type { SessionState } from './session-state.js'
import type {
  MisbehaviourKind,
  MisbehaviourVerdict,
  NetworkProtocolsEvents,
  PeerDropReason,
  ResolvedNetworkOptions,
} from './types.js'

/** What a misbehaving peer's report says about CKB's reaction. */
export interface MisbehaviourInput {
  kind: MisbehaviourKind
  protocol: string
  detail: string
  error?: Error
  ckbVerdict: MisbehaviourVerdict
  banMs?: number
  /** CKB sends this disconnect message when it disconnects for this (none: a plain disconnect). */
  message?: string
}

/** What the protocol handlers share (implemented by the NetworkProtocols object). */
export interface Core {
  readonly opts: ResolvedNetworkOptions
  readonly book: AddressBook
  /** The local peer id once attached (or learnt from a session). */
  localPeerId(): string | undefined
  /** Listen addresses the service reported (listen-started), canonical text. */
  listenAddrs(): string[]
  /** Public addresses: reachable listen addresses + configured ones, each with our /p2p/. */
  publicAddrs(): string[]
  /** The state of a session (made on first use). */
  session(info: SessionInfo): SessionState
  /** The state of a session id, if known. */
  sessionById(id: SessionId): SessionState | undefined
  /** Sessions not dropped. */
  sessions(): Iterable<SessionState>
  /** Reports misbehaviour; applies the verdict (disconnect or ban) and returns it. */
  misbehave(control: ServiceControl, state: SessionState, input: MisbehaviourInput): MisbehaviourVerdict
  /** Marks the peer dropped (once): out of peers(), `peer-dropped` emitted. */
  drop(state: SessionState, reason: PeerDropReason): void
  /** CKB `disconnect_with_message`. */
  disconnectVia(control: ServiceControl, sessionId: SessionId, message: string): void
  /** True when the address may travel through discovery (CKB `is_valid_addr`: reachable, or any with allowLocalAddresses). */
  isValidAddr(address: string): boolean
  emit<E extends keyof NetworkProtocolsEvents>(event: E, ...args: NetworkProtocolsEvents[E]): void
  /** Metrics hooks (no-ops until attached). */
  observeRtt(ms: number): void
  /** Runs the outbound tick (feelers, then full dials). */
  outboundTick(control: ServiceControl): void
}
