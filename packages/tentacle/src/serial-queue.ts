/**
 * Runs tasks one after another, in order. A task that returns a promise
 * holds the queue until it settles; a synchronous task runs inline when the
 * queue is idle, so the common case costs no promise at all.
 *
 * The queue does not bound itself: its users do (a protocol stream stops
 * reading from the network while its messages wait here, ProtocolStream's
 * maxPendingMessages / maxPendingBytes).
 */
export class SerialQueue {
  private tasks: Array<(() => unknown) | undefined> = []
  private head = 0
  private running = false
  private closed = false
  /** Called with any error a task throws or rejects with. */
  private readonly onError: (err: unknown) => void

  constructor(onError: (err: unknown) => void) {
    this.onError = onError
  }

  push(task: () => unknown): void {
    if (this.closed) return
    this.tasks.push(task)
    if (!this.running) this.next()
  }

  /** Drops queued tasks; a running task finishes on its own. */
  close(): void {
    this.closed = true
    this.tasks = []
    this.head = 0
  }

  private take(): (() => unknown) | undefined {
    if (this.head >= this.tasks.length) return undefined
    const task = this.tasks[this.head]
    this.tasks[this.head++] = undefined
    if (this.head === this.tasks.length) {
      this.tasks.length = 0
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.tasks.length) {
      this.tasks = this.tasks.slice(this.head)
      this.head = 0
    }
    return task
  }

  private next(): void {
    // Iterative, so a long run of synchronous tasks does not grow the stack.
    while (!this.running) {
      const task = this.take()
      if (task === undefined) break
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
  }
}
