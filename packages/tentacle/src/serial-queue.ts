/**
 * Runs tasks one after another, in order. A task that returns a promise
 * holds the queue until it settles; a synchronous task runs inline when the
 * queue is idle, so the common case costs no promise at all.
 *
 * The queue is bounded by its users: `size` says how many tasks wait, and
 * `whenBelow(n)` resolves once fewer than `n` wait (a protocol stream stops
 * reading from the network while its handler's queue is full).
 */
export class SerialQueue {
  private readonly tasks: Array<() => unknown> = []
  private running = false
  private spaceWaiters: Array<{ limit: number; resolve: () => void }> = []
  private closed = false
  /** Called with any error a task throws or rejects with. */
  private readonly onError: (err: unknown) => void

  constructor(onError: (err: unknown) => void) {
    this.onError = onError
  }

  get size(): number {
    return this.tasks.length
  }

  push(task: () => unknown): void {
    if (this.closed) return
    this.tasks.push(task)
    if (!this.running) this.next()
  }

  /** Resolves when fewer than `limit` tasks wait (at once if already so). */
  whenBelow(limit: number): Promise<void> {
    if (this.tasks.length < limit || this.closed) return Promise.resolve()
    return new Promise((resolve) => this.spaceWaiters.push({ limit, resolve }))
  }

  /** Drops queued tasks and wakes every waiter; a running task finishes on its own. */
  close(): void {
    this.closed = true
    this.tasks.length = 0
    this.wakeSpace()
  }

  private next(): void {
    // Iterative, so a long run of synchronous tasks does not grow the stack.
    while (!this.running) {
      const task = this.tasks.shift()
      if (task === undefined) break
      this.wakeSpace()
      let result: unknown
      try {
        result = task()
      } catch (err) {
        this.onError(err)
        continue
      }
      if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
        this.running = true
        ;(result as Promise<unknown>).then(
          () => {
            this.running = false
            this.next()
          },
          (err: unknown) => {
            this.running = false
            this.onError(err)
            this.next()
          },
        )
      }
    }
    this.wakeSpace()
  }

  private wakeSpace(): void {
    if (this.spaceWaiters.length === 0) return
    const keep: typeof this.spaceWaiters = []
    for (const w of this.spaceWaiters) {
      if (this.closed || this.tasks.length < w.limit) w.resolve()
      else keep.push(w)
    }
    this.spaceWaiters = keep
  }
}
