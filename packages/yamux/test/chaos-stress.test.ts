// Chaotic chunking of long random traffic (hash-checked) and the stress matrix
// streams {1, 10, 100, 1000} × messages {1, 10, 100}.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { Session, Stream } from '../src/index.js'
import { hashAll, random, sessionPair, sha256, within, writeInPieces, readN } from './helpers.js'

const KiB = 1024

test('chaotic chunking: 1..50-byte pieces both ways, several streams, long random traffic, checked by hash', async () => {
  const { client, server, cleanup } = await sessionPair('memory', {}, {}, { chaoticMaxPiece: 50 })
  try {
    const n = 4
    const size = 384 * KiB // > one window per stream and direction, so window updates are chopped too
    const echo = (async () => {
      const done: Promise<void>[] = []
      for (let i = 0; i < n; i++) {
        const s = (await server.accept())!
        done.push(
          (async () => {
            // Echo back whatever arrives, in the sizes it arrives in.
            for (;;) {
              const c = await s.read()
              if (c === null) break
              await s.write(c)
            }
            await s.close()
          })(),
        )
      }
      await Promise.all(done)
    })()
    const results = await within(
      Promise.all(
        Array.from({ length: n }, async () => {
          const s = await client.openStream()
          const data = random(size)
          const back = hashAll(s)
          await writeInPieces(s, data, 10 * KiB)
          await s.close()
          const got = await back
          return { sent: sha256(data), got: got.hash, bytes: got.bytes }
        }),
      ),
      60_000,
      'chaotic echo',
    )
    await within(echo, 10_000, 'echo side done')
    for (const r of results) {
      assert.equal(r.bytes, size)
      assert.equal(r.got, r.sent)
    }
    assert.equal(client.streamCount, 0)
    assert.equal(server.streamCount, 0)
  } finally {
    await cleanup()
  }
})

test('chaotic chunking over TCP with odd write sizes (a frame split across reads is never dropped)', async () => {
  const { client, server, cleanup } = await sessionPair('tcp')
  try {
    const data = random(8 * 1024 * KiB)
    const got = server.accept().then((s) => hashAll(s!))
    const s = await client.openStream()
    await writeInPieces(s, data, 70 * KiB + 13)
    await s.close()
    const r = await within(got, 30_000, 'tcp transfer')
    assert.equal(r.bytes, data.length)
    assert.equal(r.hash, sha256(data))
  } finally {
    await cleanup()
  }
})

/** Each client stream sends `messages` length-prefixed messages; the server echoes each; the client checks. */
async function matrix(client: Session, server: Session, streams: number, messages: number): Promise<void> {
  const serverDone = (async () => {
    const handlers: Promise<void>[] = []
    for (let i = 0; i < streams; i++) {
      const s = await server.accept()
      assert.ok(s)
      handlers.push(
        (async () => {
          for (;;) {
            const c = await s.read()
            if (c === null) break
            await s.write(c)
          }
          await s.close()
        })(),
      )
    }
    await Promise.all(handlers)
  })()
  await Promise.all(
    Array.from({ length: streams }, async (_, k) => {
      const s: Stream = await client.openStream()
      const h = createHash('sha256')
      let total = 0
      const reading = (async () => {
        const hh = createHash('sha256')
        let n = 0
        for (;;) {
          const c = await s.read()
          if (c === null) break
          hh.update(c)
          n += c.length
        }
        return { hash: hh.digest('hex'), n }
      })()
      for (let m = 0; m < messages; m++) {
        const msg = random(1 + ((k * 131 + m * 17) % 700))
        h.update(msg)
        total += msg.length
        await s.write(msg)
      }
      await s.close()
      const back = await reading
      assert.equal(back.n, total)
      assert.equal(back.hash, h.digest('hex'))
    }),
  )
  await serverDone
}

for (const streams of [1, 10, 100, 1000]) {
  test(`stress matrix: ${streams} streams × messages {1, 10, 100} (memory)`, async () => {
    for (const messages of [1, 10, 100]) {
      const { client, server, cleanup } = await sessionPair('memory')
      try {
        await within(matrix(client, server, streams, messages), 60_000, `${streams}×${messages}`)
        assert.equal(client.streamCount, 0)
        assert.equal(server.streamCount, 0)
      } finally {
        await cleanup()
      }
    }
  })
}

test('stress matrix over TCP: 100 streams × 10 messages and 1000 streams × 1 message', async () => {
  for (const [streams, messages] of [
    [100, 10],
    [1000, 1],
  ]) {
    const { client, server, cleanup } = await sessionPair('tcp')
    try {
      await within(matrix(client, server, streams, messages), 60_000, `tcp ${streams}×${messages}`)
      assert.equal(client.streamCount, 0)
      assert.equal(server.streamCount, 0)
    } finally {
      await cleanup()
    }
  }
})

test('interleaved large writes on many streams keep every byte in order (64 streams × 512 KiB, TCP)', async () => {
  const { client, server, cleanup } = await sessionPair('tcp')
  try {
    const n = 64
    const size = 512 * KiB
    const received = (async () => {
      const out = new Map<string, string>()
      const all: Promise<void>[] = []
      for (let i = 0; i < n; i++) {
        const s = (await server.accept())!
        all.push(
          (async () => {
            const head = await readN(s, 16)
            const r = await hashAll(s)
            out.set(head.toString('hex'), r.hash)
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
        await s.write(data)
        await s.close()
      }),
    )
    const got = await within(received, 30_000, 'all received')
    assert.deepEqual([...got.entries()].sort(), [...sent.entries()].sort())
  } finally {
    await cleanup()
  }
})
