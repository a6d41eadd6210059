import { Fifo } from '@tentacle-ts/codec'

/** Told whether a queued message was handed to yamux (true) or dropped (false). */
export type SentCallback = (sent: boolean) => void

/** A FIFO of outgoing messages, each with an optional sent-callback (two Fifos kept in step). */
export class SendQueue {
  readonly #items = new Fifo<Uint8Array>()
  readonly #cbs = new Fifo<SentCallback | undefined>()
  /** The callback of the message the last {@link shift} took (undefined if none). */
  takenCb: SentCallback | undefined = undefined

  get length(): number {
    return this.#items.length
  }

  push(msg: Uint8Array, cb: SentCallback | undefined): void {
    this.#items.push(msg)
    this.#cbs.push(cb)
  }

  /** The i-th waiting message (0 = head), or undefined. */
  peek(i = 0): Uint8Array | undefined {
    return this.#items.at(i)
  }

  /** Takes the head message; its callback, if any, is left in {@link takenCb}. */
  shift(): Uint8Array | undefined {
    this.takenCb = this.#cbs.shift()
    return this.#items.shift()
  }

  /** Empties the queue; the callbacks of the dropped messages are appended to `cbs`. */
  drain(cbs: SentCallback[]): void {
    for (const cb of this.#cbs.takeAll()) if (cb !== undefined) cbs.push(cb)
    this.#items.clear()
  }
}
