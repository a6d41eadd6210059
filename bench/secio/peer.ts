// The server half of `npm run bench -- secio`. Runs inside the bench process or
// as a child process (then driven over IPC), so the two setups can be compared.
//   handshake server: raw: read 1 byte, write 1 byte back, close; secio: handshake, then wait for the client's close.
//   sink server:      per connection, [secio handshake], read until `total` bytes, write 1 ack byte.
import type { Duplex } from 'node:stream'
import { handshake, SecioKeyPair, type CipherName } from '@tentacle-ts/secio'
import { listenTcp } from '../lib.ts'
import { serveChildHost } from '../peer-host.ts'

export type PeerMode = 'raw' | 'secio'
export interface ServerSpec {
  kind: 'handshake' | 'sink'
  mode: PeerMode
  cipher?: CipherName
  /** Bytes a sink expects before it acks. */
  total?: number
}

const key = SecioKeyPair.generate()

function serve(stream: Duplex, spec: ServerSpec): void {
  stream.on('error', () => {})
  if (spec.kind === 'handshake') {
    // raw: answer the client's byte; secio: the handshake was the exchange, wait for the close.
    if (spec.mode === 'raw') stream.once('data', () => stream.end(Buffer.of(2)))
    else stream.resume()
    return
  }
  const total = spec.total ?? 0
  let got = 0
  stream.on('data', (c: Buffer) => {
    got += c.length
    if (got === total) stream.write(Buffer.of(1))
  })
}

/** Starts a server on 127.0.0.1; resolves with its port and a close function. */
export function startServer(spec: ServerSpec): Promise<{ port: number; close: () => Promise<void> }> {
  return listenTcp((socket) => {
    if (spec.mode === 'raw') {
      serve(socket, spec)
      return
    }
    const opts = spec.cipher === undefined ? { key } : { key, ciphers: [spec.cipher] }
    handshake(socket, opts).then(
      (r) => serve(r.stream, spec),
      () => {},
    )
  })
}

// Child-process mode (bench/peer-host.ts): {start: ServerSpec} -> {started: port}.
serveChildHost('--bench-secio-child', startServer, (s) => s.port)
