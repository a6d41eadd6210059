import type { SessionInfo } from '@tentacle-ts/tentacle'
import type { IdentifyInfo, PeerDropReason } from './types.js'

/** A bounded set of addresses known to a session's peer, oldest forgotten first (CKB: a stable bloom filter of 5000 buckets). */
export class KnownAddresses {
  readonly #set = new Set<string>()
  readonly #max: number
  constructor(max = 2000) {
    this.#max = max
  }
  add(address: string): void {
    if (this.#set.has(address)) return
    if (this.#set.size >= this.#max) this.#set.delete(this.#set.values().next().value as string)
    this.#set.add(address)
  }
  has(address: string): boolean {
    return this.#set.has(address)
  }
}

/** How many sessions a peer's listen address is announced to per round (CKB: 3). */
export const ANNOUNCE_FANOUT = 3

/** Discovery's per-session state (CKB `SessionState`). */
export interface DiscoveryState {
  /** The peer's address: `init` (inbound, port unknown) or `listen` (announceable). */
  remote: { kind: 'init' | 'listen'; address: string }
  known: KnownAddresses
  /** Addresses (with flags) waiting for the next announce tick (at most 10). */
  announce: Array<[address: string, flags: bigint]>
  /** When this peer's listen address was last due for announcement (its round began). */
  lastAnnounceAt: number | undefined
  /** Sessions this peer's listen address reached in the current round (at most {@link ANNOUNCE_FANOUT}). */
  announcedTo: number
  receivedGetNodes: boolean
  receivedNodes: boolean
}

/** Everything this package keeps about one session; dropped when the session closes. */
export interface SessionState {
  info: SessionInfo
  address: string
  connectedAt: number
  lastSeenAt: number
  /** Opened as a feeler: only identify, then feeler, then closed. */
  feeler: boolean
  identified: IdentifyInfo | undefined
  /** Identify bookkeeping while the protocol is open. */
  identify: { openedAt: number; received: boolean; timeoutReported: boolean } | undefined
  /** Ping bookkeeping while the protocol is open (CKB `PingStatus`). */
  ping: { processing: boolean; sentAt: number; sentAtHr: number; nonce: number; timeoutReported: boolean } | undefined
  pingRttMs: number | undefined
  discovery: DiscoveryState | undefined
  /** Why we dropped it (set once, when we decided to close it or it closed). */
  dropReason: PeerDropReason | undefined
}
