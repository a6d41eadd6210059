/**
 * The address book (CKB's peer store, `ckb: network/src/peer_store/`): learnt
 * addresses with their flags and dial history, and a ban list keyed by IP.
 * Bounded (`maxAddresses`); addresses that failed too often or were banned age
 * out; kept in memory, and in a JSON file when one is named (written to a
 * temporary file, then renamed over the old one, so a crash never leaves half
 * a file).
 */
import { readFileSync } from 'node:fs'
import { rename, writeFile } from 'node:fs/promises'
import { ProtocolsError } from './errors.js'
import { requiredFlagsFilter } from './flags.js'
import { MA, parseMultiaddr } from './multiaddr-binary.js'
import type { AddressEntry } from './types.js'

/** A never-connected address is dropped after this many failed tries (CKB `ADDR_MAX_RETRIES`). */
export const ADDR_MAX_RETRIES = 3
/** An address not connected for {@link ADDR_TIMEOUT_MS} is dropped after this many failures (CKB `ADDR_MAX_FAILURES`). */
export const ADDR_MAX_FAILURES = 10
/** Seven days (CKB `ADDR_TIMEOUT_MS`): addresses connected within it are shared in discovery. */
export const ADDR_TIMEOUT_MS = 7 * 24 * 3600 * 1000
/** Three days (CKB `ADDR_TRY_TIMEOUT_MS`): connected within it → full dial; not → feeler. */
export const ADDR_TRY_TIMEOUT_MS = 3 * 24 * 3600 * 1000

/** One ban: an IP (CKB bans the whole IP of the peer) until a time. */
export interface BanEntry {
  ip: string
  until: number
  reason: string
}

interface StoredBook {
  version: 1
  addresses: AddressEntry[]
  bans: BanEntry[]
}

export interface AddressBookOptions {
  maxAddresses: number
  file: string | undefined
  now: () => number
}

/** The IP of a multiaddr text (ip4/ip6 component), or undefined (dns, onion, …). */
export function addressIp(address: string): string | undefined {
  for (const c of parseMultiaddr(address)?.components ?? []) if (c.code === MA.IP4 || c.code === MA.IP6) return c.value
  return undefined
}

/** The `/p2p/` peer id of a multiaddr text, or undefined. */
export function addressPeerId(address: string): string | undefined {
  for (const c of parseMultiaddr(address)?.components ?? []) if (c.code === MA.P2P) return c.value
  return undefined
}

/** Learnt addresses and bans (see the module comment). */
export class AddressBook {
  readonly #byAddress = new Map<string, AddressEntry>()
  /** The IP of each stored address, parsed once. */
  readonly #ipOf = new Map<string, string | undefined>()
  readonly #bans = new Map<string, BanEntry>()
  readonly #opts: AddressBookOptions
  #dirty = false
  #saving: Promise<void> = Promise.resolve()

  constructor(opts: AddressBookOptions) {
    this.#opts = opts
    if (opts.file !== undefined) this.#load(opts.file)
  }

  /** Number of addresses held. */
  get size(): number {
    return this.#byAddress.size
  }

  /** Every address held (copies). */
  entries(): AddressEntry[] {
    return [...this.#byAddress.values()].map((e) => ({ ...e }))
  }

  /** One address (a copy), by its canonical text. */
  get(address: string): AddressEntry | undefined {
    const e = this.#byAddress.get(address)
    return e === undefined ? undefined : { ...e }
  }

  /** Bans in force. */
  bans(): BanEntry[] {
    this.#expireBans()
    return [...this.#bans.values()].map((b) => ({ ...b }))
  }

  /**
   * Adds a discovered address (CKB `add_addr`): never connected. A known
   * address that never connected starts over (flags, no tries: CKB replaces
   * the entry), so a peer that was down and announces itself again is
   * feelered at once instead of being purged for the tries that failed while
   * it was down; a connected one only gets the new flags. Ignored when its IP
   * is banned or it has no `/p2p/`. Returns true when it was new.
   */
  add(address: string, flags: bigint): boolean {
    const peerId = addressPeerId(address)
    if (peerId === undefined || this.isBanned(address)) return false
    const known = this.#byAddress.get(address)
    if (known !== undefined) {
      known.flags = flags.toString()
      if (known.lastConnectedAt === 0) {
        known.attempts = 0
        known.lastTriedAt = 0
      }
      this.#dirty = true
      return false
    }
    if (!this.#makeRoom()) return false
    this.#put({ address, peerId, flags: flags.toString(), lastConnectedAt: 0, lastTriedAt: 0, attempts: 0 })
    this.#dirty = true
    return true
  }

  /** Records a successful outbound identify (CKB `add_outbound_addr`): connected now, attempts reset. */
  addOutbound(address: string, flags: bigint): void {
    const peerId = addressPeerId(address)
    if (peerId === undefined || this.isBanned(address)) return
    const known = this.#byAddress.get(address)
    if (known === undefined && !this.#makeRoom()) return
    const lastTriedAt = known?.lastTriedAt ?? 0
    this.#put({ address, peerId, flags: flags.toString(), lastConnectedAt: this.#opts.now(), lastTriedAt, attempts: 0 })
    this.#dirty = true
  }

  /** Refreshes the last-connected time of a known address (CKB `update_outbound_addr_last_connected_ms`). */
  touchConnected(address: string): void {
    const e = this.#byAddress.get(address)
    if (e === undefined || this.isBanned(address)) return
    e.lastConnectedAt = this.#opts.now()
    this.#dirty = true
  }

  /** Marks a dial attempt (CKB `mark_tried`). */
  markTried(address: string): void {
    const e = this.#byAddress.get(address)
    if (e === undefined) return
    e.lastTriedAt = this.#opts.now()
    e.attempts++
    this.#dirty = true
  }

  /** Takes back the last {@link markTried} (a dial lost to a simultaneous cross-dial, not to the address). */
  forgiveTry(address: string): void {
    const e = this.#byAddress.get(address)
    if (e === undefined) return
    e.lastTriedAt = 0
    e.attempts = Math.max(0, e.attempts - 1)
    this.#dirty = true
  }

  /** Removes an address. */
  remove(address: string): void {
    if (this.#remove(address)) this.#dirty = true
  }

  /** Bans `ip` until now + ms and removes its addresses (CKB `ban_addr`). */
  ban(ip: string, ms: number, reason: string): void {
    const until = this.#opts.now() + ms
    const prev = this.#bans.get(ip)
    if (prev === undefined || prev.until < until) this.#bans.set(ip, { ip, until, reason })
    for (const [address] of this.#byAddress) if (this.#ipOf.get(address) === ip) this.#remove(address)
    this.#dirty = true
  }

  /** True when the address's IP is banned now. */
  isBanned(address: string): boolean {
    if (this.#bans.size === 0) return false
    const ip = this.#ipOf.has(address) ? this.#ipOf.get(address) : addressIp(address)
    if (ip === undefined) return false
    const b = this.#bans.get(ip)
    if (b === undefined) return false
    if (b.until > this.#opts.now()) return true
    this.#bans.delete(ip)
    this.#dirty = true
    return false
  }

  /**
   * Addresses for feeler dials (CKB `fetch_addrs_to_feeler`): not connected
   * within 3 days, not tried within `retryMs`, passing `filter`; random order.
   */
  fetchToFeeler(count: number, retryMs: number, filter: (e: AddressEntry) => boolean): AddressEntry[] {
    const now = this.#opts.now()
    return this.#random(
      count,
      (e) =>
        filter(e) &&
        !(e.lastTriedAt > 0 && e.lastTriedAt >= now - retryMs) &&
        !(e.lastConnectedAt > now - ADDR_TRY_TIMEOUT_MS),
    )
  }

  /**
   * Addresses for full dials (CKB `fetch_addrs_to_attempt`): connected within
   * 3 days but at least `dialIntervalMs` ago (so a feeler's address waits),
   * flags passing `requiredFlags`, passing `filter`; random order.
   */
  fetchToAttempt(
    count: number,
    requiredFlags: bigint,
    dialIntervalMs: number,
    filter: (e: AddressEntry) => boolean,
  ): AddressEntry[] {
    const now = this.#opts.now()
    return this.#random(
      count,
      (e) =>
        filter(e) &&
        e.lastConnectedAt > now - ADDR_TRY_TIMEOUT_MS &&
        e.lastConnectedAt <= now - dialIntervalMs &&
        requiredFlagsFilter(requiredFlags, BigInt(e.flags)),
    )
  }

  /** Addresses to share in discovery (CKB `fetch_random_addrs`): connected within 7 days, flags passing `requiredFlags`. */
  fetchRandom(count: number, requiredFlags: bigint): AddressEntry[] {
    const now = this.#opts.now()
    return this.#random(
      count,
      (e) => e.lastConnectedAt > now - ADDR_TIMEOUT_MS && requiredFlagsFilter(requiredFlags, BigInt(e.flags)),
    )
  }

  /** Drops addresses that are no longer worth dialing (CKB `is_connectable`) and expired bans. */
  purge(): number {
    const now = this.#opts.now()
    let removed = 0
    for (const [address, e] of this.#byAddress) {
      if (!isConnectable(e, now)) {
        this.#remove(address)
        removed++
      }
    }
    this.#expireBans()
    if (removed > 0) this.#dirty = true
    return removed
  }

  /** Writes the file (when one is named and something changed), atomically; one write at a time. */
  save(): Promise<void> {
    const file = this.#opts.file
    if (file === undefined || !this.#dirty) return this.#saving
    this.#dirty = false
    const body: StoredBook = { version: 1, addresses: [...this.#byAddress.values()], bans: [...this.#bans.values()] }
    const text = JSON.stringify(body)
    this.#saving = this.#saving.then(async () => {
      const tmp = `${file}.${process.pid}.tmp`
      try {
        await writeFile(tmp, text, { mode: 0o600 })
        await rename(tmp, file)
      } catch (err) {
        this.#dirty = true
        throw new ProtocolsError(
          'PROTOCOLS_ERR_ADDRESS_BOOK_FILE',
          `cannot write the address book ${file}: ${(err as Error).message}`,
          { cause: err },
        )
      }
    })
    const done = this.#saving
    this.#saving = done.catch(() => undefined)
    return done
  }

  #put(e: AddressEntry): void {
    this.#byAddress.set(e.address, e)
    if (!this.#ipOf.has(e.address)) this.#ipOf.set(e.address, addressIp(e.address))
  }

  #remove(address: string): boolean {
    this.#ipOf.delete(address)
    return this.#byAddress.delete(address)
  }

  #random(count: number, keep: (e: AddressEntry) => boolean): AddressEntry[] {
    const picked: AddressEntry[] = []
    for (const e of this.#byAddress.values()) if (keep(e)) picked.push(e)
    // Fisher–Yates over the first `count` positions.
    const n = Math.min(count, picked.length)
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(Math.random() * (picked.length - i))
      const t = picked[i]!
      picked[i] = picked[j]!
      picked[j] = t
    }
    return picked.slice(0, n).map((e) => ({ ...e }))
  }

  /** Frees one slot when full: first the addresses not worth dialing, then the stalest never-connected one, then the stalest. */
  #makeRoom(): boolean {
    if (this.#byAddress.size < this.#opts.maxAddresses) return true
    if (this.purge() > 0 && this.#byAddress.size < this.#opts.maxAddresses) return true
    let victim: AddressEntry | undefined
    for (const e of this.#byAddress.values()) {
      if (victim === undefined) victim = e
      else if ((e.lastConnectedAt === 0) !== (victim.lastConnectedAt === 0)) {
        if (e.lastConnectedAt === 0) victim = e
      } else if (
        e.lastConnectedAt < victim.lastConnectedAt ||
        (e.lastConnectedAt === victim.lastConnectedAt && e.attempts > victim.attempts)
      ) {
        victim = e
      }
    }
    if (victim === undefined) return false
    this.#remove(victim.address)
    this.#dirty = true
    return true
  }

  #expireBans(): void {
    const now = this.#opts.now()
    for (const [ip, b] of this.#bans) {
      if (b.until <= now) {
        this.#bans.delete(ip)
        this.#dirty = true
      }
    }
  }

  #load(file: string): void {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw new ProtocolsError(
        'PROTOCOLS_ERR_ADDRESS_BOOK_FILE',
        `cannot read the address book ${file}: ${(err as Error).message}`,
        { cause: err },
      )
    }
    let body: StoredBook
    try {
      body = JSON.parse(text) as StoredBook
      if (body === null || typeof body !== 'object' || !Array.isArray(body.addresses) || !Array.isArray(body.bans))
        throw new Error('not an address book')
    } catch (err) {
      throw new ProtocolsError(
        'PROTOCOLS_ERR_ADDRESS_BOOK_FILE',
        `the address book ${file} is not valid: ${(err as Error).message}`,
        { cause: err },
      )
    }
    const now = this.#opts.now()
    for (const b of body.bans) {
      if (typeof b?.ip === 'string' && typeof b.until === 'number' && b.until > now)
        this.#bans.set(b.ip, { ip: b.ip, until: b.until, reason: String(b.reason ?? '') })
    }
    for (const e of body.addresses) {
      if (this.#byAddress.size >= this.#opts.maxAddresses) break
      if (typeof e?.address !== 'string') continue
      const address = parseMultiaddr(e.address)?.text
      if (address === undefined || !/^\d+$/.test(String(e.flags))) continue
      const peerId = addressPeerId(address)
      if (peerId === undefined || this.isBanned(address)) continue
      this.#put({
        address,
        peerId,
        flags: String(e.flags),
        lastConnectedAt: Number(e.lastConnectedAt) || 0,
        lastTriedAt: Number(e.lastTriedAt) || 0,
        attempts: Number(e.attempts) || 0,
      })
    }
  }
}

/** CKB `AddrInfo::is_connectable`. */
function isConnectable(e: AddressEntry, now: number): boolean {
  if (e.lastTriedAt > 0 && e.lastTriedAt >= now - 60_000) return true
  if (e.lastConnectedAt === 0 && e.attempts >= ADDR_MAX_RETRIES) return false
  if (now - e.lastConnectedAt > ADDR_TIMEOUT_MS && e.attempts >= ADDR_MAX_FAILURES) return false
  return true
}
