// Peers for hostile tests: a frame-aware man in the middle between two honest
// peers, a scripted peer that runs the handshake by hand (so it can lie), and a
// chaotic in-memory duplex pair that re-chunks every write.
import net from 'node:net'
import { Duplex } from 'node:stream'
import { encodeFrame, LengthDelimitedDecoder } from '@tentacle-ts/codec'
import {
  CIPHERS,
  AGREEMENTS,
  DIGESTS,
  encodePublicKey,
  ExchangeCodec,
  nodeCryptoProvider,
  ProposeCodec,
  type SecioKeyPair,
} from '../src/index.js'
import { deriveSessionKeys } from '../src/stretch.js'
import { compareBytes, selectBest } from '../src/support.js'
import { tcpPair } from './helpers.js'

export type Direction = 'd2l' | 'l2d'
/** Returns the bytes to forward for a frame (header included), or null to drop it. */
export type Tamper = (dir: Direction, index: number, frame: Buffer) => Buffer | null

/**
 * dialer <-> proxy <-> listener, forwarding whole frames (§2.1) through `tamper`.
 * `dialer` and `listener` are the sockets to give the two honest handshakes.
 */
export async function mitm(tamper: Tamper): Promise<{ dialer: net.Socket; listener: net.Socket; close: () => void }> {
  const left = await tcpPair() // left.client = dialer, left.server = proxy's inbound side
  const right = await tcpPair() // right.client = proxy's outbound side, right.server = listener
  const wire = (from: net.Socket, to: net.Socket, dir: Direction): void => {
    const d = new LengthDelimitedDecoder(0xffffffff)
    let index = 0
    from.on('data', (chunk: Buffer) => {
      d.push(chunk)
      for (let f = d.next(); f !== null; f = d.next()) {
        const out = tamper(dir, index++, encodeFrame(f))
        if (out !== null && !to.destroyed) to.write(out)
      }
    })
    from.on('end', () => to.end())
    from.on('error', () => to.destroy())
    from.on('close', () => to.destroy())
  }
  wire(left.server, right.client, 'd2l')
  wire(right.client, left.server, 'l2d')
  return {
    dialer: left.client,
    listener: right.server,
    close: () => {
      left.close()
      right.close()
    },
  }
}

export interface Script {
  /** Replace our ephemeral public key in the Exchange (it is still signed correctly). */
  epubkey?: (real: Uint8Array) => Uint8Array
  /** Replace the nonce we echo (it is still encrypted correctly). */
  echo?: (peerNonce: Uint8Array) => Uint8Array
  /** Plaintext sent as further frames right after the echo. */
  thenSend?: Uint8Array[]
  /** End the connection (FIN) right after the echo (and thenSend). */
  thenEnd?: boolean
}

/**
 * Runs the handshake by hand on `socket` (default propositions, node crypto),
 * letting `script` lie about chosen steps. Resolves when the echo was sent.
 */
export function scriptedPeer(socket: Duplex, key: SecioKeyPair, script: Script): Promise<void> {
  const p = nodeCryptoProvider
  const nonce = p.randomBytes(16)
  const local = ProposeCodec.encode({
    rand: nonce,
    pubkey: encodePublicKey(key.publicKey),
    exchanges: AGREEMENTS.join(','),
    ciphers: CIPHERS.join(','),
    hashes: DIGESTS.join(','),
  })
  socket.write(encodeFrame(local))
  const decoder = new LengthDelimitedDecoder()
  const frames: Buffer[] = []
  let wake: (() => void) | null = null
  socket.on('data', (c: Buffer) => {
    decoder.push(c)
    for (let f = decoder.next(); f !== null; f = decoder.next()) frames.push(Buffer.from(f))
    wake?.()
  })
  const nextFrame = async (): Promise<Buffer> => {
    while (frames.length === 0) await new Promise<void>((r) => (wake = r))
    return frames.shift()!
  }
  return (async () => {
    const remote = await nextFrame()
    const propose = ProposeCodec.decode(remote)
    const remoteKey = propose.pubkey.subarray(8)
    const ordering = compareBytes(p.sha256(remoteKey, nonce), p.sha256(key.publicKey, propose.rand))
    const agreement = selectBest(ordering, AGREEMENTS.join(','), propose.exchanges, AGREEMENTS)!
    const cipher = selectBest(ordering, CIPHERS.join(','), propose.ciphers, CIPHERS)!
    const digest = selectBest(ordering, DIGESTS.join(','), propose.hashes, DIGESTS)!
    const eph = p.generateEphemeral(agreement)
    const epubkey = script.epubkey ? script.epubkey(eph.publicKey) : eph.publicKey
    const signature = await key.signer(p).sign(Buffer.concat([local, remote, epubkey]))
    socket.write(encodeFrame(ExchangeCodec.encode({ epubkey, signature })))
    const exchange = ExchangeCodec.decode(await nextFrame())
    const keys = deriveSessionKeys(p, cipher, digest, eph.deriveSecret(exchange.epubkey), ordering)
    const enc = p.createAead(cipher, keys.localKey)
    const echo = script.echo ? script.echo(propose.rand) : propose.rand
    socket.write(encodeFrame(Buffer.concat(enc.seal([echo], echo.length))))
    for (const m of script.thenSend ?? []) socket.write(encodeFrame(Buffer.concat(enc.seal([m], m.length))))
    if (script.thenEnd) socket.end()
  })()
}

/**
 * Two connected in-memory Duplex ends; every write is delivered to the other end
 * as pieces of 1..maxPiece bytes (sizes from `rand`), each its own 'data' chunk,
 * on a later tick.
 */
export function chaoticPair(rand: () => number, maxPiece = 50): [Duplex, Duplex] {
  class End extends Duplex {
    peer!: End
    override _read(): void {}
    override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
      process.nextTick(() => {
        let at = 0
        while (at < chunk.length) {
          const n = 1 + Math.floor(rand() * maxPiece)
          if (!this.peer.destroyed) this.peer.push(chunk.subarray(at, at + n))
          at += n
        }
        cb()
      })
    }
    override _final(cb: (err?: Error | null) => void): void {
      process.nextTick(() => {
        if (!this.peer.destroyed) this.peer.push(null)
        cb()
      })
    }
    override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
      process.nextTick(() => this.peer.destroy())
      cb(err)
    }
  }
  const a = new End()
  const b = new End()
  a.peer = b
  b.peer = a
  return [a, b]
}
