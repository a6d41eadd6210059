/** Told whether a queued message was handed to yamux (true) or dropped (false). */
export type SentCallback = (sent: boolean) => void

/**
 * A FIFO of outgoing messages, each with an optional sent-callback. Taken
 * from the head by index, so a shift is O(1); the array is compacted when
 * it empties or the consumed head dominates it.
 */
export class SendQueue {
  private items: Uint8Array[] = []
  private cbs: Array<SentCallback | undefined> = []
  private head = 0

  get length(): number {
    return this.items.length - this.head
  }

  push(msg: Uint8Array, cb: SentCallback | undefined): void {
    this.items.push(msg)
    this.cbs.push(cb)
  }

  /** The i-th waiting message (0 = head), or undefined. */
  peek(i = 0): Uint8Array | undefined {
    return this.items[this.head + i]
  }

  /** Takes the head message; its callback, if any, is appended to `cbs`. */
  shift(cbs: SentCallback[]): Uint8Array | undefined {
    if (this.head >= this.items.length) return undefined
    const m = this.items[this.head]
    const cb = this.cbs[this.head]
    if (cb !== undefined) cbs.push(cb)
    this.items[this.head] = EMPTY
    this.cbs[this.head] = undefined
    this.head++
    if (this.head === this.items.length) this.clear()
    else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.cbs = this.cbs.slice(this.head)
      this.head = 0
    }
    return m
  }

  /** Empties the queue; the callbacks of the dropped messages are appended to `cbs`. */
  drain(cbs: SentCallback[]): void {
    for (let i = this.head; i < this.cbs.length; i++) {
      const cb = this.cbs[i]
      if (cb !== undefined) cbs.push(cb)
    }
    this.clear()
  }

  private clear(): void {
    this.items.length = 0
    this.cbs.length = 0
    this.head = 0
  }
}

const EMPTY = new Uint8Array(0)
