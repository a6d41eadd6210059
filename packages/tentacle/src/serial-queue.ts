import { Fifo } from '@tentacle-ts/codec'

/** Told, once, that a task queued with {@link SerialQueue.call} is over; `arg` is the one given with it. */
export interface TaskDoneListener {
  taskDone(arg: number): void
}

type TaskFn = (this: unknown, a: unknown, b: unknown) => unknown

/** A task waiting behind a running one (a task run at once is never wrapped in one). */
class Task {
  constructor(
    readonly fn: TaskFn,
    readonly self: unknown,
    readonly a: unknown,
    readonly b: unknown,
    readonly after: (() => void) | undefined,
    readonly listener: TaskDoneListener | undefined,
    readonly arg: number,
  ) {}
}

/**
 * Runs tasks one after another, in order. A task that returns a promise
 * holds the queue until it settles; a synchronous task runs inline when the
 * queue is idle, so the common case costs no promise and no allocation.
 * A task pushed while another runs (even synchronously) waits for it: no two
 * tasks of one queue ever overlap.
 *
 * Each task may come with an `after` callback (or, with {@link call}, a
 * listener told with a number), called exactly once when the task is over
 * however it ended (returned, threw, resolved, rejected) or when it was
 * dropped by close(): whoever waits on a handler call is woken on every
 * path, not only the ones its caller thought of.
 *
 * The queue does not bound itself: its users do (a protocol stream stops
 * reading from the network while its messages wait here, ProtocolStream's
 * maxPendingMessages / maxPendingBytes).
 */
export class SerialQueue {
  readonly #tasks = new Fifo<Task>()
  /** A task's promise is pending. */
  #running = false
  /** A synchronous task is on the stack (tasks pushed now wait for it). */
  #busy = false
  #closed = false
  // What to tell when the pending promise settles (one task runs at a time).
  #pendingAfter: (() => void) | undefined = undefined
  #pendingListener: TaskDoneListener | undefined = undefined
  #pendingArg = 0
  /** Called with any error a task (or an `after`) throws or rejects with. */
  readonly #onError: (err: unknown) => void
  readonly #onFulfilled = (): void => this.#promiseSettled(false, undefined)
  readonly #onRejected = (err: unknown): void => this.#promiseSettled(true, err)

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError
  }

  /** Queues `task()`; `after`, if given, is called once when it is over (or dropped). */
  push(task: () => unknown, after?: () => void): void {
    this.#enqueue(task as TaskFn, undefined, undefined, undefined, after, undefined, 0)
  }

  /**
   * Queues `fn.call(self, a, b)` and tells `listener.taskDone(arg)` once it is
   * over (or dropped): the per-message path, with no closure per call.
   */
  call<S, A, B>(
    fn: (this: S, a: A, b: B) => unknown,
    self: S,
    a: A,
    b: B,
    listener: TaskDoneListener,
    arg: number,
  ): void {
    this.#enqueue(fn as TaskFn, self, a, b, undefined, listener, arg)
  }

  /** Drops queued tasks (their `after` callbacks and listeners are told); a running task finishes on its own. */
  close(): void {
    this.#closed = true
    for (const t of this.#tasks.takeAll()) this.#settle(t.after, t.listener, t.arg)
  }

  #enqueue(
    fn: TaskFn,
    self: unknown,
    a: unknown,
    b: unknown,
    after: (() => void) | undefined,
    listener: TaskDoneListener | undefined,
    arg: number,
  ): void {
    if (this.#closed) {
      this.#settle(after, listener, arg)
      return
    }
    if (this.#running || this.#busy) {
      this.#tasks.push(new Task(fn, self, a, b, after, listener, arg))
      return
    }
    this.#busy = true
    try {
      this.#run(fn, self, a, b, after, listener, arg)
      this.#runQueued()
    } finally {
      this.#busy = false
    }
  }

  /** Runs waiting tasks while none holds the queue. Iterative: a long run of synchronous tasks does not grow the stack. */
  #runQueued(): void {
    while (!this.#running) {
      const t = this.#tasks.shift()
      if (t === undefined) return
      this.#run(t.fn, t.self, t.a, t.b, t.after, t.listener, t.arg)
    }
  }

  #run(
    fn: TaskFn,
    self: unknown,
    a: unknown,
    b: unknown,
    after: (() => void) | undefined,
    listener: TaskDoneListener | undefined,
    arg: number,
  ): void {
    let result: unknown
    try {
      result = fn.call(self, a, b)
    } catch (err) {
      this.#settle(after, listener, arg)
      this.#onError(err)
      return
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      this.#running = true
      this.#pendingAfter = after
      this.#pendingListener = listener
      this.#pendingArg = arg
      ;(result as PromiseLike<unknown>).then(this.#onFulfilled, this.#onRejected)
      return
    }
    this.#settle(after, listener, arg)
  }

  #promiseSettled(failed: boolean, err: unknown): void {
    const after = this.#pendingAfter
    const listener = this.#pendingListener
    this.#pendingAfter = undefined
    this.#pendingListener = undefined
    this.#running = false
    this.#settle(after, listener, this.#pendingArg)
    if (failed) this.#onError(err)
    if (this.#busy) return // settled synchronously by a custom thenable: the loop on the stack goes on
    this.#busy = true
    try {
      this.#runQueued()
    } finally {
      this.#busy = false
    }
  }

  #settle(after: (() => void) | undefined, listener: TaskDoneListener | undefined, arg: number): void {
    try {
      if (after !== undefined) after()
      if (listener !== undefined) listener.taskDone(arg)
    } catch (err) {
      this.#onError(err)
    }
  }
}
