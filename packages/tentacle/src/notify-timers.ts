import type { SerialQueue } from './serial-queue.js'
import type { ProtocolId } from './types.js'

/** Where a notify tick goes: the handler queue and the call to queue there. */
export interface NotifyTarget {
  queue: SerialQueue
  call: () => unknown
}

/**
 * Notify timers by (protocol, token) (§12.3 `set_service_notify`,
 * `set_session_notify`). A tick is queued on the handler's queue only when
 * the previous one has started running, so a slow handler makes ticks
 * coalesce rather than pile up.
 */
export class NotifyTimers {
  readonly #timers = new Map<string, NodeJS.Timeout>()

  /** Every `intervalMs`, queues `target()`'s call (skipped while `target()` is undefined); replaces a timer with the same key. */
  set(proto: ProtocolId, token: number, intervalMs: number, target: () => NotifyTarget | undefined): void {
    this.remove(proto, token)
    let queued = false
    const timer = setInterval(() => {
      if (queued) return // never more than one waiting
      const t = target()
      if (t === undefined) return
      queued = true
      t.queue.push(() => {
        queued = false
        return t.call()
      })
    }, intervalMs)
    this.#timers.set(`${proto}:${token}`, timer)
  }

  remove(proto: ProtocolId, token: number): void {
    const key = `${proto}:${token}`
    clearInterval(this.#timers.get(key))
    this.#timers.delete(key)
  }

  clear(): void {
    for (const t of this.#timers.values()) clearInterval(t)
    this.#timers.clear()
  }
}
