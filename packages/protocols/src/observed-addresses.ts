import type { SessionId } from '@tentacle-ts/tentacle'

/**
 * Our own addresses as peers observed them (identify's `observed_addr`), one
 * per session (CKB `NetworkState::observed_addrs`, a map from session to
 * address). Each distinct address is counted in a Map kept in first-seen
 * order, so announcing the first k costs O(k), whatever the sessions held.
 */
export class ObservedAddresses {
  readonly #bySession = new Map<SessionId, string>()
  /** Distinct addresses → how many sessions observed it; oldest first. */
  readonly #count = new Map<string, number>()

  /** Records the address a session observed (replacing its earlier one). */
  set(session: SessionId, address: string): void {
    const old = this.#bySession.get(session)
    if (old === address) return
    if (old !== undefined) this.#release(old)
    this.#bySession.set(session, address)
    this.#count.set(address, (this.#count.get(address) ?? 0) + 1)
  }

  /** Forgets a session's address (its session ended). */
  delete(session: SessionId): void {
    const old = this.#bySession.get(session)
    if (old === undefined) return
    this.#bySession.delete(session)
    this.#release(old)
  }

  /** The distinct addresses, the longest-observed first. */
  values(): IterableIterator<string> {
    return this.#count.keys()
  }

  /** How many distinct addresses. */
  get size(): number {
    return this.#count.size
  }

  #release(address: string): void {
    const n = this.#count.get(address) ?? 0
    if (n <= 1) this.#count.delete(address)
    else this.#count.set(address, n - 1)
  }
}
