/**
 * The first-in first-out queue every tentacle-ts package uses for its internal
 * queues (input chunks of the decoders, a yamux stream's read buffer, writes
 * and readers, the accept backlog, tentacle's handler and send queues).
 *
 * A ring buffer over a plain array whose capacity is a power of two:
 * - `push`, `shift`, `peek` and `at` are O(1) (push amortized: the array
 *   doubles when full); no allocation per item beyond the item itself;
 * - a slot is cleared when its item is taken, so the queue never keeps a
 *   taken item alive;
 * - up to 4× its minimum capacity the array is kept as it is (a queue that
 *   swings between a few and a dozen items does not reallocate on every
 *   swing); above that it shrinks by half when three quarters of it are empty
 *   and is released when the queue empties, so a queue that once held a burst
 *   does not keep its slots;
 * - the array is allocated on the first push, so an unused queue costs one
 *   small object.
 *
 * `array.shift()` is O(n) past V8's small-array fast path, and an array
 * emptied with `length = 0` is regrown on every later push: both cost an
 * allocation per item on a hot path, which is why the packages share this
 * instead.
 */
export class Fifo<T> {
  /** Slots: items from #head (mod capacity) for #length; every other slot undefined. */
  #slots: Array<T | undefined> = EMPTY_SLOTS as Array<T | undefined>
  #head = 0
  #length = 0
  readonly #minCapacity: number
  /** Capacity up to which the array is never shrunk (4 × #minCapacity). */
  readonly #keepCapacity: number

  /**
   * @param minCapacity Slots allocated on the first push (rounded up to a
   *   power of two, at least 2; default 8). Up to 4× as many are kept while
   *   the queue is in use.
   */
  constructor(minCapacity = 8) {
    if (!Number.isInteger(minCapacity) || minCapacity < 1 || minCapacity > 2 ** 30) {
      throw new RangeError(`Fifo: minCapacity must be an integer in [1, 2^30], got ${minCapacity}`)
    }
    let c = 2
    while (c < minCapacity) c *= 2
    this.#minCapacity = c
    this.#keepCapacity = 4 * c
  }

  /** Items in the queue. */
  get length(): number {
    return this.#length
  }

  /** Slots allocated now (for tests and diagnostics). */
  get capacity(): number {
    return this.#slots.length
  }

  /** Appends `item` at the tail. */
  push(item: T): void {
    const slots = this.#slots
    if (this.#length === slots.length) {
      this.#resize(slots.length === 0 ? this.#minCapacity : slots.length * 2)
      this.#slots[this.#length++] = item
      return
    }
    slots[(this.#head + this.#length) & (slots.length - 1)] = item
    this.#length++
  }

  /** Removes and returns the head item, or undefined when the queue is empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined
    const slots = this.#slots
    const head = this.#head
    const item = slots[head]
    slots[head] = undefined
    this.#head = (head + 1) & (slots.length - 1)
    const n = --this.#length
    if (slots.length > this.#keepCapacity) {
      if (n === 0) this.#release()
      else if (n <= slots.length >>> 2) this.#resize(slots.length >>> 1)
    }
    return item
  }

  /** The head item without removing it, or undefined when the queue is empty. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#slots[this.#head]
  }

  /** The i-th item from the head (0 = head), or undefined when `i` is out of range. */
  at(i: number): T | undefined {
    if (!(i >= 0 && i < this.#length)) return undefined
    const slots = this.#slots
    return slots[(this.#head + i) & (slots.length - 1)]
  }

  /**
   * Replaces the head item (e.g. with the rest of a chunk whose start was
   * taken). Throws a RangeError when the queue is empty.
   */
  replaceHead(item: T): void {
    if (this.#length === 0) throw new RangeError('Fifo: replaceHead on an empty queue')
    this.#slots[this.#head] = item
  }

  /** Drops every item and releases the slots. */
  clear(): void {
    this.#release()
  }

  /**
   * Empties the queue and returns its items in order: for teardown, where
   * settling one item may push to (or clear) the queue again.
   */
  takeAll(): T[] {
    const out = new Array<T>(this.#length)
    const slots = this.#slots
    const mask = slots.length - 1
    for (let i = 0; i < out.length; i++) out[i] = slots[(this.#head + i) & mask] as T
    this.#release()
    return out
  }

  /** The items from head to tail, without removing them. Do not change the queue while iterating. */
  *[Symbol.iterator](): IterableIterator<T> {
    const slots = this.#slots
    const mask = slots.length - 1
    for (let i = 0; i < this.#length; i++) yield slots[(this.#head + i) & mask] as T
  }

  #release(): void {
    this.#length = 0
    this.#head = 0
    if (this.#slots.length > this.#minCapacity) this.#slots = EMPTY_SLOTS as Array<T | undefined>
    else this.#slots.fill(undefined)
  }

  /** Moves the items, in order, to a new array of `capacity` slots starting at index 0. */
  #resize(capacity: number): void {
    const old = this.#slots
    const slots = new Array<T | undefined>(capacity).fill(undefined)
    const mask = old.length - 1
    for (let i = 0; i < this.#length; i++) slots[i] = old[(this.#head + i) & mask]
    this.#slots = slots
    this.#head = 0
  }
}

/** Shared by every queue that has no slots yet; never written (push allocates first). */
const EMPTY_SLOTS: readonly unknown[] = Object.freeze([])
