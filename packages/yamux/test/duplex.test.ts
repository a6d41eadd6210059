// The Node Duplex adapter: stream.pipeline works, backpressure both ways, destroy ⇒ RST.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pipeline } from 'node:stream/promises'
import { Readable, Writable } from 'node:stream'
import { createHash } from 'node:crypto'
import { INITIAL_STREAM_WINDOW } from '../src/index.js'
import { random, readAll, roundTrip, sessionPair, sha256, within } from './helpers.js'

const KiB = 1024

for (const transport of ['memory', 'tcp'] as const) {
  test(`pipeline: client Readable → duplex, server echoes with pipeline(d, d), client collects (${transport})`, async () => {
    const { client, server, cleanup } = await sessionPair(transport)
    try {
      const echo = (async () => {
        const s = (await server.accept())!
        const d = s.toDuplex()
        await pipeline(d, d)
      })()
      const c = await client.openStream()
      const d = c.toDuplex()
      const data = random(3 * 1024 * KiB)
      const chunks = Array.from({ length: 48 }, (_, i) => data.subarray(i * 64 * KiB, (i + 1) * 64 * KiB))
      const h = createHash('sha256')
      let n = 0
      await within(
        Promise.all([
          pipeline(Readable.from(chunks), d),
          pipeline(
            d,
            new Writable({
              write(chunk: Buffer, _e, cb) {
                h.update(chunk)
                n += chunk.length
                cb()
              },
            }),
          ),
        ]),
        20_000,
        'pipelines',
      )
      await within(echo, 5000, 'echo pipeline')
      assert.equal(n, data.length)
      assert.equal(h.digest('hex'), sha256(data))
      await roundTrip(client, server) // both FINs handled on both sides
      assert.equal(client.streamCount, 0)
      assert.equal(server.streamCount, 0)
    } finally {
      await cleanup()
    }
  })
}

test('backpressure: an unread Duplex stops the remote writer at the window; memory stays bounded', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const c = await client.openStream()
    const writeDone = c.write(random(4 * 1024 * KiB))
    let done = false
    void writeDone.then(() => (done = true))
    const s = (await server.accept())!
    const d = s.toDuplex({ readableHighWaterMark: 16 * KiB })
    d.pause()
    d.on('data', () => {}) // attach, but stay paused
    d.pause()
    // Both sides have handled what the other sent: the window's data, and no window update.
    await roundTrip(client, server)
    assert.equal(done, false)
    assert.ok(s.bufferedBytes + d.readableLength <= INITIAL_STREAM_WINDOW + 64 * KiB, 'held ≈ window')
    d.resume()
    await within(writeDone, 10_000, 'writer continues once the duplex is read')
    d.destroy()
  } finally {
    await cleanup()
  }
})

test('backpressure: writing into a Duplex whose peer does not read makes write() return false and stalls', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const c = await client.openStream()
    const d = c.toDuplex({ writableHighWaterMark: 64 * KiB })
    let refused = 0
    for (let i = 0; i < 64; i++) if (!d.write(random(64 * KiB))) refused++
    // Accepting is not reading. The Duplex feeds the stream a chunk per callback: round
    // trips (each carries what was queued before it) until the peer holds the window.
    const s = (await server.accept())!
    for (let i = 0; i < 100 && s.bufferedBytes < INITIAL_STREAM_WINDOW; i++) await roundTrip(client, server)
    assert.equal(s.bufferedBytes, INITIAL_STREAM_WINDOW)
    assert.ok(refused > 0, 'write() signalled backpressure')
    assert.ok(
      d.writableLength >= 4 * 1024 * KiB - INITIAL_STREAM_WINDOW - 128 * KiB,
      'held in the Writable, not in yamux',
    )
    assert.ok(c.sendWindow === 0)
    const drained = new Promise((resolve) => d.once('drain', resolve))
    const reading = readAll(s)
    await within(drained, 10_000, 'drain once the peer reads')
    const finished = new Promise((resolve) => d.once('finish', resolve))
    d.end()
    await within(finished, 10_000, 'finish')
    assert.equal((await within(reading, 10_000, 'peer reads')).length, 64 * 64 * KiB)
  } finally {
    await cleanup()
  }
})

test('destroying a Duplex mid-stream resets the stream; the peer sees YAMUX_ERR_STREAM_RESET', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const c = await client.openStream()
    const d = c.toDuplex()
    d.write(Buffer.from('partial'))
    const s = (await server.accept())!
    assert.equal(Buffer.from((await s.read())!).toString(), 'partial')
    d.destroy()
    await assert.rejects(s.read(), { code: 'YAMUX_ERR_STREAM_RESET' }) // the RST has arrived
    assert.equal(client.streamCount, 0)
    assert.equal(server.streamCount, 0)
  } finally {
    await cleanup()
  }
})

test('a peer reset surfaces as a Duplex error with code YAMUX_ERR_STREAM_RESET', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const c = await client.openStream()
    await c.write(Buffer.from('x'))
    const s = (await server.accept())!
    const d = s.toDuplex()
    const err = new Promise<{ code?: string }>((resolve) => d.once('error', resolve))
    d.resume()
    c.reset()
    assert.equal((await within(err, 2000, 'error event')).code, 'YAMUX_ERR_STREAM_RESET')
  } finally {
    await cleanup()
  }
})

test('session end surfaces as a Duplex error (YAMUX_ERR_SESSION_CLOSED), not a hang', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const c = await client.openStream()
    const d = c.toDuplex()
    const err = new Promise<{ code?: string }>((resolve) => d.once('error', resolve))
    d.resume()
    server.destroy()
    assert.equal((await within(err, 2000, 'error event')).code, 'YAMUX_ERR_SESSION_CLOSED')
  } finally {
    await cleanup()
  }
})

test('2000 streams read through Duplex adapters at once (the fairness bench’s receivers): every byte of every stream, in order (TCP)', async () => {
  const { client, server, cleanup } = await sessionPair('tcp', {}, { acceptBacklog: 2048 })
  try {
    const n = 2000
    const size = 24 * KiB
    const received = (async () => {
      const out = new Map<string, string>()
      const all: Promise<void>[] = []
      for (let i = 0; i < n; i++) {
        const s = (await server.accept())!
        all.push(
          (async () => {
            const d = s.toDuplex()
            const h = createHash('sha256')
            let id = ''
            for await (const chunk of d as AsyncIterable<Buffer>) {
              // The first 16 bytes name the stream; a chunk may carry them with data or alone.
              let c = chunk
              if (id.length < 32) {
                const take = Math.min(16 - id.length / 2, c.length)
                id += c.subarray(0, take).toString('hex')
                c = c.subarray(take)
              }
              h.update(c)
            }
            out.set(id, h.digest('hex'))
          })(),
        )
      }
      await Promise.all(all)
      return out
    })()
    const sent = new Map<string, string>()
    await Promise.all(
      Array.from({ length: n }, async () => {
        const s = await client.openStream()
        const id = random(16)
        const data = random(size)
        sent.set(id.toString('hex'), sha256(data))
        await s.write(id)
        for (let off = 0; off < size; off += 8 * KiB) await s.write(data.subarray(off, off + 8 * KiB))
        await s.close()
      }),
    )
    const got = await within(received, 30_000, 'all 2000 streams received')
    assert.equal(got.size, n)
    assert.deepEqual([...got.entries()].sort(), [...sent.entries()].sort())
  } finally {
    await cleanup()
  }
})
