/**
 * One scale-run session, dialer side, without a Service: TCP, secio with a key of its own (so every session
 * has its own peer id), yamux as client, and the selection of protocol 1 (`/p2p/1`, version 0.0.1) done by
 * hand (and `listenPeers`, the same peers as listeners). Used by the dialer processes (scale/dialers.ts) and
 * the per-session cost test.
 */
import net from 'node:net'
import { SecioKeyPair, handshake } from '@tentacle-ts/secio'
import { Session, type Stream } from '@tentacle-ts/yamux'
import { encodeFrame, LengthDelimitedDecoder } from '@tentacle-ts/codec'
import { decodeProtocolInfo, encodeProtocolInfo, readOneFrame } from '@tentacle-ts/tentacle'

const INFO = encodeFrame(encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] }))

export interface DialedSession {
  socket: net.Socket
  mux: Session
  /** Protocol 1's stream, selected. */
  stream: Stream
}

/**
 * Opens a session to 127.0.0.1:`port` and selects protocol 1; resolves once the node answered the
 * selection. Every message that follows on the stream (length-delimited frames) goes to `onMessage`.
 */
export async function dialOne(port: number, onMessage: (m: Uint8Array) => void): Promise<DialedSession> {
  const socket = net.connect(port, '127.0.0.1')
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const { stream } = await handshake(socket, { key: SecioKeyPair.generate(), timeoutMs: 30_000 })
  stream.on('error', () => {})
  const mux = new Session(stream, { role: 'client', enableKeepalive: false })
  const s = await mux.openStream()
  await s.write(INFO)
  const dec = new LengthDelimitedDecoder(1 << 20)
  let selected = false
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      for (;;) {
        let c: Uint8Array | null | undefined
        try {
          c = s.readNow()
        } catch (err) {
          return reject(err as Error)
        }
        if (c === undefined) return s.onReadable(pump)
        if (c === null) return reject(new Error('EOF'))
        dec.push(c)
        for (let f = dec.next(); f !== null; f = dec.next()) {
          if (!selected) {
            selected = true
            resolve()
          } else onMessage(f)
        }
      }
    }
    pump()
  })
  return { socket, mux, stream: s }
}

/**
 * The other way round: a TCP listener on 127.0.0.1 whose every connection is a peer of its own (a fresh
 * key), secio and yamux as listener, answering the selection of any protocol with the first version
 * offered. For a node that dials many peers.
 */
export async function listenPeers(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    void answer(socket).catch(() => socket.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      server.close()
      for (const s of sockets) s.destroy()
    },
  }
}

async function answer(socket: net.Socket): Promise<void> {
  const { stream } = await handshake(socket, { key: SecioKeyPair.generate(), timeoutMs: 30_000 })
  stream.on('error', () => {})
  const mux = new Session(stream, { role: 'server', enableKeepalive: false })
  for (let s = await mux.accept(); s !== null; s = await mux.accept()) {
    const dec = new LengthDelimitedDecoder(1 << 20)
    const info = decodeProtocolInfo(await readOneFrame(s, dec, AbortSignal.timeout(30_000)))
    await s.write(
      encodeFrame(encodeProtocolInfo({ name: info.name, supportVersions: info.supportVersions.slice(0, 1) })),
    )
  }
}
