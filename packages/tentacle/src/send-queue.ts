import { Fifo } from '@tentacle-ts/codec'

/** Told whether a queued message was handed to yamux (true) or dropped (false). */
export type SentCallback = (sent: boolean) => void

/**
 * A FIFO of outgoing messages, each with an optional sent-callback: one Fifo
 * holding each message and then its callback (two slots per message, one
 * queue object per SendQueue).
 */
export class SendQueue {
  readonly #slots = new Fifo<Uint8Array | SentCallback | undefined>()
  /** The callback of the message the last {@link shift} took (undefined if none). */
  takenCb: SentCallback | undefined = undefined

  get length(): number {
    return this.#slots.length >>> 1
  }

  push(msg: Uint8Array, cb: SentCallback | undefined): void {
    this.#slots.push(msg)
    this.#slots.push(cb)
  }

  /** The i-th waiting message (0 = head), or undefined. */
  peek(i = 0): Uint8Array | undefined {
    return this.#slots.at(2 * i) as Uint8Array | undefined
  }

  /** Takes the head message; its callback, if any, is left in {@link takenCb}. */
  shift(): Uint8Array | undefined {
    const msg = this.#slots.shift() as Uint8Array | undefined
    this.takenCb = this.#slots.shift() as SentCallback | undefined
    return msg
  }

  /** Empties the queue; the callbacks of the dropped messages are appended to `cbs`. */
  drain(cbs: SentCallback[]): void {
    const all = this.#slots.takeAll()
    for (let i = 1; i < all.length; i += 2) {
      const cb = all[i] as SentCallback | undefined
      if (cb !== undefined) cbs.push(cb)
    }
  }
}
