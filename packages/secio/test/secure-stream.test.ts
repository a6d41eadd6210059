// SecureStream (§4): chaotic chunking of the handshake and the stream,
// backpressure both ways, write coalescing, frame size limits, close semantics.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import { LengthDelimitedDecoder } from '@tentacle-ts/codec'
import {
  createNodeCryptoProvider,
  handshake,
  nobleCryptoProvider,
  nodeCryptoProvider,
  SecioKeyPair,
  type CryptoProvider,
  type HandshakeOptions,
} from '../src/index.js'
import { closed, pattern, readBytes, tcpPair, within } from './helpers.js'
import { chaoticPair, scriptedPeer } from './peers.js'

const keyA = SecioKeyPair.generate()
const keyB = SecioKeyPair.generate()

async function securePair(opts: Partial<HandshakeOptions> = {}, optsB: Partial<HandshakeOptions> = opts) {
  const { client, server, close } = await tcpPair()
  const [a, b] = await within(
    10_000,
    Promise.all([handshake(client, { key: keyA, ...opts }), handshake(server, { key: keyB, ...optsB })]),
  )
  return {
    a: a.stream,
    b: b.stream,
    client,
    server,
    close: () => {
      a.stream.destroy()
      b.stream.destroy()
      close()
    },
  }
}

/** Deterministic PRNG for chunk sizes (fast-check provides the seed). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('chaotic chunking', () => {
  test('handshake and stream survive delivery in 1..50-byte pieces (property, both providers)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 12 }),
        async (seed, noble, writes) => {
          const [x, y] = chaoticPair(mulberry32(seed))
          try {
            const crypto = noble ? nobleCryptoProvider : nodeCryptoProvider
            const [a, b] = await within(
              10_000,
              Promise.all([handshake(x, { key: keyA, crypto }), handshake(y, { key: keyB })]),
            )
            const total = writes.reduce((s, n) => s + n, 0)
            const expected = pattern(total)
            const got = readBytes(b.stream, total)
            let at = 0
            for (const n of writes) {
              a.stream.write(expected.subarray(at, at + n))
              at += n
              if (n % 3 === 0) await sleep(0)
            }
            const back = await within(10_000, got)
            assert.ok(back.subarray(0, total).equals(expected))
            a.stream.destroy()
            b.stream.destroy()
          } finally {
            x.destroy()
            y.destroy()
          }
        },
      ),
      { numRuns: 25 },
    )
  })

  test('the first stream bytes may share the frame or TCP chunk with the nonce echo (§3.11)', async () => {
    const { a, b, close } = await securePair()
    try {
      // Writes right after the handshake usually coalesce with the echo at the peer.
      a.write('early')
      assert.equal((await within(5000, readBytes(b, 5))).toString(), 'early')
    } finally {
      close()
    }
  })
})

describe('end of stream right after the handshake', () => {
  // With signatures verified on the thread pool, the FIN can arrive while the handshake still verifies.
  const asyncOpenssl = createNodeCryptoProvider({ secp256k1: 'openssl', asyncSignatures: true })
  // Verification that takes 100 ms: the FIN and the socket's close surely come before it ends.
  const n = nodeCryptoProvider
  const slowVerify: CryptoProvider = {
    name: 'slow-verify',
    randomBytes: (l) => n.randomBytes(l),
    sha256: (...p) => n.sha256(...p),
    hmac: (d, k, ...p) => n.hmac(d, k, ...p),
    generateEphemeral: (a, s) => n.generateEphemeral(a, s),
    createAead: (c, k) => n.createAead(c, k),
    createSigner: (s) => n.createSigner(s),
    isValidPublicKey: (k) => n.isValidPublicKey(k),
    verify: (k, m, sig) => sleep(100).then(() => n.verify(k, m, sig)), // the slow verification is the test
  }
  for (const [name, crypto] of [
    ['default provider', nodeCryptoProvider],
    ['async OpenSSL signatures', asyncOpenssl],
    ['verification slower than the FIN and the close', slowVerify],
  ] as const) {
    test(`a peer that sends its echo, data and FIN back to back: the data arrives, then EOF (${name})`, async () => {
      const { client, server, close } = await tcpPair()
      try {
        const data = [Buffer.from('first'), pattern(100_000)]
        void scriptedPeer(client, keyA, { thenSend: data, thenEnd: true }).catch(() => {})
        const r = await within(5000, handshake(server, { key: keyB, allowHalfOpen: true, crypto }))
        const parts: Buffer[] = []
        r.stream.on('data', (c: Buffer) => parts.push(c))
        await within(5000, r.stream.readableEnded ? Promise.resolve() : once(r.stream, 'end').then(() => undefined))
        assert.ok(Buffer.concat(parts).equals(Buffer.concat(data)))
        r.stream.destroy()
      } finally {
        close()
      }
    })
  }
})

describe('backpressure', () => {
  test('a reader that stops reading stops socket reads; the writer is held back; nothing is lost', async () => {
    const { a, b, server, close } = await securePair()
    try {
      const chunk = pattern(64 * 1024)
      const total = 64 * 1024 * 1024
      let written = 0
      let accepted = 0
      let writing = true
      let progress = (): void => {}
      // The writer writes as fast as the stream lets it.
      const writer = (async () => {
        while (writing && written < total) {
          written += chunk.length
          const onWritten = (err?: Error | null): void => {
            if (err) return
            accepted += chunk.length
            progress()
          }
          if (!a.write(chunk, onWritten)) await once(a, 'drain')
        }
      })()
      b.pause() // the reader stops reading
      // Until the pipe is full: each step listens for the next write to be accepted;
      // 300 ms without one means the socket takes no more.
      for (let i = 0; i < total / chunk.length; i++) {
        const moved = await new Promise<boolean>((resolve) => {
          const quiet = setTimeout(() => resolve(false), 300)
          progress = () => {
            clearTimeout(quiet)
            resolve(true)
          }
        })
        if (!moved) break
      }
      const read1 = server.bytesRead
      const accepted1 = accepted
      // Not a synchronization: the test is that nothing more is read or accepted meanwhile.
      await sleep(400)
      // The reader's socket stopped reading: nothing more came in from the kernel.
      assert.equal(server.bytesRead, read1, 'socket kept reading while the reader was paused')
      assert.equal(server.isPaused(), true)
      // Bounded: what was read off the socket is small next to what the writer wanted to send.
      assert.ok(read1 < 16 * 1024 * 1024, `read ${read1} bytes while paused`)
      // Writes resolve only when the socket took the bytes: with the peer stalled, acceptance stops.
      assert.equal(accepted, accepted1, 'writes kept completing with a stalled peer')
      assert.ok(accepted < total, 'all writes completed although nobody read')
      // Resume: everything arrives, in order.
      let got = 0
      let ok = true
      b.on('data', (c: Buffer) => {
        const expect = pattern(c.length, got)
        if (!c.equals(expect)) ok = false
        got += c.length
      })
      b.resume()
      await within(30_000, writer, 'writer')
      while (got < total) await within(30_000, once(b, 'data'), 'data')
      assert.equal(got, total)
      assert.ok(ok, 'bytes arrived out of order or corrupted')
      writing = false
    } finally {
      close()
    }
  })

  test('a write callback fires once the socket accepted the frame (promptly when nothing pushes back)', async () => {
    const { a, b, close } = await securePair()
    try {
      b.resume()
      const t0 = performance.now()
      await within(
        5000,
        new Promise<void>((resolve, reject) =>
          a.write(Buffer.alloc(1000), (e?: Error | null) => (e ? reject(e) : resolve())),
        ),
      )
      assert.ok(performance.now() - t0 < 1000)
    } finally {
      close()
    }
  })

  test('pipeline() through the stream moves 8 MiB both ways at once', async () => {
    const { a, b, close } = await securePair()
    try {
      b.pipe(b) // echo
      const n = 8 * 1024 * 1024
      const data = pattern(n)
      const got = readBytes(a, n)
      await within(
        30_000,
        pipeline(
          async function* () {
            for (let i = 0; i < n; i += 100_000) yield data.subarray(i, i + 100_000)
          },
          a,
          { end: false },
        ),
      )
      assert.ok((await within(30_000, got)).subarray(0, n).equals(data))
    } finally {
      close()
    }
  })
})

describe('framing of writes', () => {
  /** Counts the frames that arrive at the server socket after the handshake. */
  function frameCounter(server: import('node:net').Socket): { frames: number[] } {
    const d = new LengthDelimitedDecoder(0xffffffff)
    const out = { frames: [] as number[] }
    server.prependListener('data', (c: Buffer) => {
      d.push(c)
      for (let f = d.next(); f !== null; f = d.next()) out.frames.push(f.length)
    })
    return out
  }

  test('many small writes in one tick become one frame (auto-cork, _writev)', async () => {
    const { a, b, server, close } = await securePair()
    try {
      const counter = frameCounter(server)
      for (let i = 0; i < 100; i++) a.write(Buffer.alloc(12, i))
      const got = await within(5000, readBytes(b, 1200))
      assert.equal(got.length, 1200)
      assert.deepEqual(counter.frames, [1200 + 16])
    } finally {
      close()
    }
  })

  test('a write larger than maxSendFrameLength is split into frames of at most that size', async () => {
    const { a, b, server, close } = await securePair({ maxSendFrameLength: 64 * 1024 })
    try {
      const counter = frameCounter(server)
      const n = 300 * 1024
      const got = readBytes(b, n)
      a.write(pattern(n))
      assert.ok((await within(5000, got)).equals(pattern(n)))
      assert.ok(
        counter.frames.every((f) => f <= 64 * 1024),
        String(counter.frames),
      )
      assert.equal(
        counter.frames.reduce((s, f) => s + f - 16, 0),
        n,
      )
    } finally {
      close()
    }
  })

  test('the sender never exceeds the max frame length; a peer with a small max accepts everything', async () => {
    const { a, b, close } = await securePair({ maxFrameLength: 4096 })
    try {
      const n = 1024 * 1024
      const got = readBytes(b, n)
      a.write(pattern(n))
      assert.ok((await within(10_000, got)).equals(pattern(n)))
    } finally {
      close()
    }
  })
})

describe('close', () => {
  test('end() sends FIN: the peer reads every byte, then EOF', async () => {
    const { a, b, close } = await securePair()
    try {
      const data = pattern(200_000)
      a.end(data)
      const parts: Buffer[] = []
      b.on('data', (c: Buffer) => parts.push(c))
      await within(5000, once(b, 'end'))
      assert.ok(Buffer.concat(parts).equals(data))
    } finally {
      close()
    }
  })

  test('destroy() destroys the socket; the peer sees the stream end or close', async () => {
    const { a, b, client, close } = await securePair()
    try {
      b.on('error', () => {})
      b.resume()
      a.destroy()
      await within(5000, closed(client))
      await within(5000, closed(b))
      assert.equal(b.destroyed, true)
    } finally {
      close()
    }
  })

  test('a socket reset destroys the stream; a pending write fails rather than hangs', async () => {
    const { a, b, client, close } = await securePair()
    try {
      a.on('error', () => {})
      b.pause()
      const big = Buffer.alloc(8 * 1024 * 1024)
      let settled = false
      const writeDone = new Promise<Error | null | undefined>((resolve) =>
        a.write(big, (e) => {
          settled = true
          resolve(e)
        }),
      )
      // 8 MiB to a paused reader: the write is pending from the start (no wait needed, and
      // waiting would only give the kernel's buffers time to take it all).
      assert.equal(settled, false)
      b.socket.on('error', () => {})
      ;(b.socket as import('node:net').Socket).resetAndDestroy()
      const err = await within(5000, writeDone, 'pending write')
      assert.ok(err instanceof Error)
      await within(5000, closed(a))
      assert.equal(client.destroyed, true)
    } finally {
      close()
    }
  })
})
