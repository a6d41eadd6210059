/**
 * Runs tasks one after another, in order. A task that returns a promise
 * holds the queue until it settles; a synchronous task runs inline when the
 * queue is idle, so the common case costs no promise at all.
 *
 * Each task may come with an `after` callback, called exactly once when the
 * task is over however it ended (returned, threw, resolved, rejected) or
 * when it was dropped by close(): whoever waits on a handler call is woken
 * on every path, not only the ones its caller thought of.
 *
 * The queue does not bound itself: its users do (a protocol stream stops
 * reading from the network while its messages wait here, ProtocolStream's
 * maxPendingMessages / maxPendingBytes).
 */
export class SerialQueue {
  #tasks: Array<(() => unknown) | undefined> = []
  #afters: Array<(() => void) | undefined> = []
  #head = 0
  #running = false
  #closed = false
  /** Called with any error a task (or an `after`) throws or rejects with. */
  readonly #onError: (err: unknown) => void

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError
  }

  push(task: () => unknown, after?: () => void): void {
    if (this.#closed) {
      if (after !== undefined) this.#settle(after)
      return
    }
    this.#tasks.push(task)
    this.#afters.push(after)
    if (!this.#running) this.#next()
  }

  /** Drops queued tasks (their `after` callbacks are called); a running task finishes on its own. */
  close(): void {
    this.#closed = true
    const afters = this.#afters
    const head = this.#head
    this.#tasks = []
    this.#afters = []
    this.#head = 0
    for (let i = head; i < afters.length; i++) {
      const after = afters[i]
      if (after !== undefined) this.#settle(after)
    }
  }

  #settle(after: () => void): void {
    try {
      after()
    } catch (err) {
      this.#onError(err)
    }
  }

  #next(): void {
    // Iterative, so a long run of synchronous tasks does not grow the stack.
    while (!this.#running && this.#head < this.#tasks.length) {
      const task = this.#tasks[this.#head] as () => unknown
      const after = this.#afters[this.#head]
      this.#tasks[this.#head] = undefined
      this.#afters[this.#head] = undefined
      this.#head++
      if (this.#head === this.#tasks.length) {
        this.#tasks.length = 0
        this.#afters.length = 0
        this.#head = 0
      } else if (this.#head > 1024 && this.#head * 2 > this.#tasks.length) {
        this.#tasks = this.#tasks.slice(this.#head)
        this.#afters = this.#afters.slice(this.#head)
        this.#head = 0
      }
      let result: unknown
      try {
        result = task()
      } catch (err) {
        if (after !== undefined) this.#settle(after)
        this.#onError(err)
        continue
      }
      if (
        result !== null &&
        typeof result === 'object' &&
        typeof (result as PromiseLike<unknown>).then === 'function'
      ) {
        this.#running = true
        ;(result as PromiseLike<unknown>).then(
          () => {
            this.#running = false
            if (after !== undefined) this.#settle(after)
            this.#next()
          },
          (err: unknown) => {
            this.#running = false
            if (after !== undefined) this.#settle(after)
            this.#onError(err)
            this.#next()
          },
        )
      } else if (after !== undefined) {
        this.#settle(after)
      }
    }
  }
}
