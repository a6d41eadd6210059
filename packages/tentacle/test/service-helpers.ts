import { SecioKeyPair } from '@tentacle-ts/secio'
import {
  Service,
  type ProtocolSpec,
  type ServiceConfigInput,
  type ServiceErrorEvent,
  type ServiceEvent,
  type SessionInfo,
} from '../src/index.js'

export type Recorded = (ServiceEvent & { at: number }) | (ServiceErrorEvent & { at: number })

/** A service whose events and errors are recorded, with a way to wait for one. */
export class Node {
  readonly service: Service
  readonly log: Recorded[] = []
  #waiters: Array<{ pred: (r: Recorded) => boolean; resolve: (r: Recorded) => void }> = []

  constructor(opts: {
    protocols: ProtocolSpec[]
    config?: ServiceConfigInput
    secio?: boolean
    key?: SecioKeyPair
    onEvent?: (e: ServiceEvent, s: Service) => void | Promise<void>
  }) {
    const key = opts.secio === false ? undefined : (opts.key ?? SecioKeyPair.generate())
    this.service = new Service({
      key,
      protocols: opts.protocols,
      config: { timeoutMs: 5000, ...opts.config },
      handler: {
        handleEvent: (e) => {
          this.#record(e)
          return opts.onEvent?.(e, this.service)
        },
        handleError: (e) => this.#record(e),
      },
    })
  }

  #record(e: ServiceEvent | ServiceErrorEvent): void {
    const r = { ...e, at: Date.now() } as Recorded
    this.log.push(r)
    this.#waiters = this.#waiters.filter((w) => {
      if (w.pred(r)) {
        w.resolve(r)
        return false
      }
      return true
    })
  }

  /** Resolves with the first recorded entry (past or future) matching `pred`. */
  waitFor(pred: (r: Recorded) => boolean, timeoutMs = 10_000, what = 'event'): Promise<Recorded> {
    const found = this.log.find(pred)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter)
        reject(
          new Error(
            `timed out waiting for ${what}; log: ${this.log.map((l) => l.type + ('error' in l ? ':' + l.error?.code : '')).join(', ')}`,
          ),
        )
      }, timeoutMs)
      const waiter = {
        pred,
        resolve: (r: Recorded) => {
          clearTimeout(timer)
          resolve(r)
        },
      }
      this.#waiters.push(waiter)
    })
  }

  types(): string[] {
    return this.log.map((l) => l.type)
  }

  errors(): ServiceErrorEvent[] {
    // session-close may carry an error too (why the session ended): it is an event, not an error event.
    return this.log.filter((l): l is ServiceErrorEvent & { at: number } => 'error' in l && l.type !== 'session-close')
  }
}

export function sessionOpen(r: Recorded): r is Extract<Recorded, { type: 'session-open' }> {
  return r.type === 'session-open'
}

export function isType<T extends Recorded['type']>(t: T) {
  return (r: Recorded): r is Extract<Recorded, { type: T }> => r.type === t
}

/** A deferred value. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

export type { SessionInfo }

/** Resolves as `p` does, or rejects after `ms` naming what was awaited (a bounded wait on an event). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
