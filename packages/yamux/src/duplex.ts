// Node Duplex adapter over a yamux Stream, so stream.pipeline() works.
// Backpressure: the Duplex pulls from the stream only when its reader wants more
// (push() returned true), so an unread Duplex leaves data in the stream's buffer,
// which stops granting window (§8.4); writes complete (callback) only when the
// stream accepted them, so the Writable side buffers at most its highWaterMark.
import { Duplex } from 'node:stream'
import type { Stream } from './stream.js'
import type { YamuxError } from './errors.js'

/** Options passed through to the Node Duplex (highWaterMark etc.). */
export interface DuplexOptions {
  readableHighWaterMark?: number
  writableHighWaterMark?: number
}

export function streamToDuplex(stream: Stream, options: DuplexOptions = {}): Duplex {
  let reading = false

  const pump = (): void => {
    reading = false
    for (;;) {
      let chunk: Uint8Array | null | undefined
      try {
        chunk = stream.readNow()
      } catch (err) {
        duplex.destroy(err as YamuxError)
        return
      }
      if (chunk === undefined) {
        reading = true
        stream.onReadable(pump)
        return
      }
      if (chunk === null) {
        duplex.push(null)
        return
      }
      if (!duplex.push(chunk)) return
    }
  }

  const duplex = new Duplex({
    allowHalfOpen: true,
    readableHighWaterMark: options.readableHighWaterMark,
    writableHighWaterMark: options.writableHighWaterMark,
    read() {
      if (!reading) pump()
    },
    write(chunk: Uint8Array, _enc, cb) {
      stream.writeCb(chunk, cb)
    },
    writev(chunks: { chunk: Uint8Array }[], cb) {
      // Hand every chunk to the stream in order; report once the last one is accepted.
      const last = chunks.length - 1
      for (let i = 0; i < last; i++) stream.writeCb(chunks[i].chunk, noop)
      stream.writeCb(chunks[last].chunk, cb)
    },
    final(cb) {
      stream.closeCb(cb)
    },
    destroy(err, cb) {
      // Destroyed before both directions ended cleanly: tell the peer (RST, like a Rust drop).
      if (!stream.isClosed) stream.reset()
      cb(err)
    },
  })
  return duplex
}

function noop(): void {}
