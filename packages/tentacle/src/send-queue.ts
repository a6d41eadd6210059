/** Told whether a queued message was handed to yamux (true) or dropped (false). */
export type SentCallback = (sent: boolean) => void

/** Capacity kept when the queue empties; a longer backlog's arrays are released. */
const KEEP_CAPACITY = 1024

/**
 * A FIFO of outgoing messages, each with an optional sent-callback. Taken
 * from the head by index, so a shift is O(1). The arrays keep their capacity
 * when the queue empties (slots are overwritten, not re-grown per message)
 * unless they grew past KEEP_CAPACITY, and are compacted when the consumed
 * head dominates them.
 */
export class SendQueue {
  #items: Uint8Array[] = []
  #cbs: Array<SentCallback | undefined> = []
  #head = 0
  #tail = 0
  /** The callback of the message the last {@link shift} took (undefined if none). */
  takenCb: SentCallback | undefined = undefined

  get length(): number {
    return this.#tail - this.#head
  }

  push(msg: Uint8Array, cb: SentCallback | undefined): void {
    // tail ≤ items.length: this writes an existing slot or appends (no holes).
    this.#items[this.#tail] = msg
    this.#cbs[this.#tail] = cb
    this.#tail++
  }

  /** The i-th waiting message (0 = head), or undefined. */
  peek(i = 0): Uint8Array | undefined {
    const j = this.#head + i
    return j < this.#tail ? this.#items[j] : undefined
  }

  /** Takes the head message; its callback, if any, is left in {@link takenCb}. */
  shift(): Uint8Array | undefined {
    if (this.#head >= this.#tail) {
      this.takenCb = undefined
      return undefined
    }
    const m = this.#items[this.#head]!
    this.takenCb = this.#cbs[this.#head]
    this.#items[this.#head] = EMPTY
    this.#cbs[this.#head] = undefined
    this.#head++
    if (this.#head === this.#tail) this.#clear()
    else if (this.#head > KEEP_CAPACITY && this.#head * 2 > this.#tail) {
      this.#items = this.#items.slice(this.#head, this.#tail)
      this.#cbs = this.#cbs.slice(this.#head, this.#tail)
      this.#tail -= this.#head
      this.#head = 0
    }
    return m
  }

  /** Empties the queue; the callbacks of the dropped messages are appended to `cbs`. */
  drain(cbs: SentCallback[]): void {
    for (let i = this.#head; i < this.#tail; i++) {
      const cb = this.#cbs[i]
      if (cb !== undefined) cbs.push(cb)
      this.#items[i] = EMPTY
      this.#cbs[i] = undefined
    }
    this.#clear()
  }

  /** Resets an empty queue (every slot already released). */
  #clear(): void {
    this.#head = 0
    this.#tail = 0
    if (this.#items.length > KEEP_CAPACITY) {
      this.#items = []
      this.#cbs = []
    }
  }
}

const EMPTY = new Uint8Array(0)
