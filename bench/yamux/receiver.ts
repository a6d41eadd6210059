// The receiving half of `npm run bench -- yamux`: a TCP listener that takes one connection and
// reads everything the sender sends, per contender, then reports how many bytes it got.
// Runs inside the bench process (in-process setup) or in a child process driven over IPC
// (two-process setup), so both setups time exactly the same code.
import net from 'node:net'
import { once } from 'node:events'
import { Session, type Stream } from '@tentacle-ts/yamux'
import { libp2pMuxer } from './libp2p.ts'
import { serveChildHost } from '../peer-host.ts'

export type Mode = 'raw' | 'ceiling' | 'yamux' | 'libp2p'

export interface ReceiverSpec {
  mode: Mode
  /** Streams the sender opens (yamux, libp2p). */
  streams: number
  /** Bytes per stream (raw, ceiling: the total). */
  each: number
  /** yamux maxStreamWindowSize (default 256 KiB). */
  window?: number
  /**
   * yamux only: how the receiving application consumes each stream. 'duplex' (the default):
   * the stream's Node Duplex adapter in flowing mode ('data' events), as the raw TCP and
   * libp2p receivers consume theirs; 'read': a loop of `await stream.read()`.
   */
  reader?: 'duplex' | 'read'
  /**
   * yamux only: each stream starts with a 1-byte hello that the receiver answers with 1 byte,
   * so the sender can open every stream before it starts the clock (the hello is not counted).
   */
  prepared?: boolean
}

/** tokio-yamux's window rule, for the ceiling contender: 256 KiB window, credit per 128 KiB read. */
export const CEILING_WINDOW = 256 * 1024

async function drain(s: Stream, prepared = false, reader: 'duplex' | 'read' = 'duplex'): Promise<number> {
  if (prepared) {
    const hello = await s.read(1)
    if (hello === null) return 0
    await s.write(hello)
  }
  let n = 0
  if (reader === 'duplex') {
    const d = s.toDuplex()
    d.on('data', (c: Buffer) => {
      n += c.length
    })
    await once(d, 'end')
    return n
  }
  for (;;) {
    const c = await s.read()
    if (c === null) return n
    n += c.length
  }
}

function receive(socket: net.Socket, spec: ReceiverSpec, done: (bytes: number) => void): () => void {
  const total = spec.streams * spec.each
  switch (spec.mode) {
    case 'raw': {
      let got = 0
      socket.on('data', (d: Buffer) => {
        got += d.length
        if (got === total) done(got)
      })
      return () => socket.destroy()
    }
    case 'ceiling': {
      let got = 0
      let credited = 0
      const credit = Buffer.alloc(12)
      socket.on('data', (d: Buffer) => {
        got += d.length
        if (got - credited >= CEILING_WINDOW / 2) {
          credited = got
          socket.write(credit)
        }
        if (got === total) done(got)
      })
      return () => socket.destroy()
    }
    case 'yamux': {
      const session = new Session(socket, {
        role: 'server',
        enableKeepalive: false,
        ...(spec.window ? { maxStreamWindowSize: spec.window } : {}),
      })
      void (async () => {
        const all: Promise<number>[] = []
        for (let i = 0; i < spec.streams; i++) {
          const s = await session.accept()
          if (s === null) return
          all.push(drain(s, spec.prepared, spec.reader))
        }
        done((await Promise.all(all)).reduce((a, b) => a + b, 0))
      })()
      return () => session.destroy()
    }
    case 'libp2p': {
      const muxer = libp2pMuxer(socket, 'server')
      let finished = 0
      let bytes = 0
      muxer.addEventListener('stream', (evt) => {
        const st = evt.detail
        st.addEventListener('message', (e) => {
          bytes += e.data.byteLength
        })
        st.addEventListener('remoteCloseWrite', () => {
          if (++finished === spec.streams) done(bytes)
        })
      })
      return () => {
        muxer.abort(new Error('bench done'))
        socket.destroy()
      }
    }
  }
}

/** Listens on 127.0.0.1; the first connection is served per `spec`; `onDone` gets the byte count. */
export async function startReceiver(
  spec: ReceiverSpec,
  onDone: (bytes: number) => void,
): Promise<{ port: number; close: () => Promise<void> }> {
  let teardown: (() => void) | undefined
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => {})
    teardown = receive(socket, spec, onDone)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        teardown?.()
        server.close(() => resolve())
      }),
  }
}

// Child-process entry (two-process setup, bench/peer-host.ts): {start: spec} -> {started: port};
// then {done: bytes} when the receiver has everything.
serveChildHost(
  '--bench-yamux-child',
  (spec: ReceiverSpec, send) => startReceiver(spec, (bytes) => send({ done: bytes })),
  (r) => r.port,
)
