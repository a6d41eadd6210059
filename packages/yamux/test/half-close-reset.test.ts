// Half close (§8.3), RST, and the one cleanup path (LESSONS #8: counts return to zero).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  Session,
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  INITIAL_STREAM_WINDOW,
  TYPE_DATA,
  TYPE_WINDOW_UPDATE,
  type Stream,
} from '../src/index.js'
import { duplexPair, RawPeer, readAll, readN, random, roundTrip, sessionPair, sha256, within } from './helpers.js'

for (const transport of ['memory', 'tcp'] as const) {
  test(`half close in both directions: each side keeps writing after the other's FIN (${transport})`, async () => {
    const { client, server, cleanup } = await sessionPair(transport)
    try {
      const c = await client.openStream()
      const up = random(300 * 1024)
      const serverReads = server.accept().then((s) => readAll(s!).then((data) => ({ s: s!, data })))
      await within(c.write(up), 5000, 'client write')
      await c.close()
      await assert.rejects(c.write(Buffer.from('no')), { code: 'YAMUX_ERR_STREAM_CLOSED' })
      const { s, data } = await within(serverReads, 5000, 'server reads to EOF')
      assert.equal(sha256(data), sha256(up))
      assert.equal(await s.read(), null, 'EOF is sticky')
      assert.equal(server.streamCount, 1, 'half-closed: still counted')
      const down = random(300 * 1024)
      const clientReads = readAll(c) // the client reads after its own FIN
      await within(s.write(down), 5000, 'the server writes after the client FIN')
      await s.close()
      assert.equal(sha256(await within(clientReads, 5000, 'client reads')), sha256(down))
      // The client saw the server's FIN (its EOF) after sending its own: closed both ways.
      assert.equal(client.streamCount, 0)
      assert.equal(server.streamCount, 0)
    } finally {
      await cleanup()
    }
  })

  test(`RST is seen by a blocked reader and a blocked writer (${transport})`, async () => {
    const { client, server, cleanup } = await sessionPair(transport)
    try {
      const c = await client.openStream()
      await c.write(Buffer.from('x'))
      const s = (await server.accept())!
      await readN(s, 1)
      const blockedWrite = c.write(random(INITIAL_STREAM_WINDOW * 2)) // blocks on window
      const blockedRead = c.read()
      const outcomes = Promise.allSettled([blockedWrite, blockedRead])
      await roundTrip(client, server) // the server holds the whole window: the write is blocked
      assert.equal(c.sendWindow, 0)
      s.reset()
      const [w, r] = await within(outcomes, 3000, 'both settle on RST')
      assert.equal(w.status, 'rejected')
      assert.equal((w as PromiseRejectedResult).reason.code, 'YAMUX_ERR_STREAM_RESET')
      assert.equal(r.status, 'rejected')
      assert.equal((r as PromiseRejectedResult).reason.code, 'YAMUX_ERR_STREAM_RESET')
      await assert.rejects(s.read(), { code: 'YAMUX_ERR_STREAM_RESET' })
      await assert.rejects(s.write(Buffer.from('x')), { code: 'YAMUX_ERR_STREAM_RESET' })
      // The client's read failing was the RST arriving; the server reset locally.
      assert.equal(client.streamCount, 0)
      assert.equal(server.streamCount, 0)
      assert.equal(client.state, 'open', 'a reset ends the stream, not the session')
    } finally {
      await cleanup()
    }
  })
}

test('data buffered before a RST is still readable, then the reset is reported (tokio-yamux order)', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const c = await client.openStream()
    await c.write(Buffer.from('before-reset'))
    const s = (await server.accept())!
    c.reset()
    await roundTrip(client, server) // the server has handled the data and then the RST
    assert.equal(Buffer.from((await s.read())!).toString(), 'before-reset')
    await assert.rejects(s.read(), { code: 'YAMUX_ERR_STREAM_RESET' })
  } finally {
    await cleanup()
  }
})

test('readError (and readFailed) say, without a throw, what readNow will throw once the buffered data is read: nothing while open or after FIN, the reset, the session end', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  /** readNow until it has nothing more: the error it throws, or undefined (no data yet / EOF). */
  const drain = (st: Stream): { code?: string } | undefined => {
    try {
      while (st.readNow() != null);
      return undefined
    } catch (err) {
      return err as { code?: string }
    }
  }
  try {
    // Open, then FIN: reads give data, then EOF; nothing to throw.
    const a = await client.openStream()
    await a.write(Buffer.from('x'))
    const sa = (await server.accept())!
    assert.equal(sa.readError, undefined)
    assert.equal(sa.readFailed, false)
    await a.close()
    await roundTrip(client, server)
    assert.equal(sa.bufferedBytes, 1)
    assert.equal(sa.readError, undefined)
    assert.equal(sa.readFailed, false)
    assert.equal(drain(sa), undefined)
    assert.equal(sa.readNow(), null)
    // The peer resets: the data before the RST is still there; readError tells what comes after it.
    const b = await client.openStream()
    await b.write(Buffer.from('before-reset'))
    const sb = (await server.accept())!
    b.reset()
    await roundTrip(client, server)
    assert.equal(sb.readError?.code, 'YAMUX_ERR_STREAM_RESET')
    assert.equal(sb.readFailed, true)
    assert.equal(sb.bufferedBytes, 12)
    assert.equal(drain(sb)?.code, 'YAMUX_ERR_STREAM_RESET')
    assert.equal(sb.readError?.code, 'YAMUX_ERR_STREAM_RESET')
    assert.equal(sb.readFailed, true)
    // The session ends before the peer's FIN: the session's error, the very one readNow throws.
    const c = await client.openStream()
    await c.write(Buffer.from('y'))
    const sc = (await server.accept())!
    assert.equal(sc.readError, undefined)
    assert.equal(sc.readFailed, false)
    client.destroy()
    await server.closed
    const err = sc.readError
    assert.ok(err !== undefined)
    assert.equal(sc.readFailed, true)
    assert.equal(sc.bufferedBytes, 1, 'the data that arrived is still readable')
    assert.equal(drain(sc), err)
    assert.equal(sc.readError, err, 'the same error each time (made once per session)')
    assert.equal(sc.readFailed, true)
  } finally {
    await cleanup()
  }
})

test('a local reset fails our own pending read and write with YAMUX_ERR_STREAM_RESET', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const c = await client.openStream()
    const w = c.write(random(INITIAL_STREAM_WINDOW + 1))
    const r = c.read()
    const outcomes = Promise.allSettled([w, r])
    assert.equal(c.sendWindow, 0, 'the write waits for window')
    c.reset()
    const res = await outcomes
    for (const o of res) assert.equal((o as PromiseRejectedResult).reason.code, 'YAMUX_ERR_STREAM_RESET')
    const s = (await server.accept())!
    await assert.rejects(readAll(s), { code: 'YAMUX_ERR_STREAM_RESET' })
  } finally {
    await cleanup()
  }
})

test('a stream refused by the peer (ACK|RST) fails writes with YAMUX_ERR_STREAM_RESET and is forgotten', async () => {
  const { client, server, cleanup } = await sessionPair('memory', {}, { maxStreamCount: 1 })
  try {
    const first = await client.openStream()
    await first.write(Buffer.from('1'))
    const second = await client.openStream()
    await second.write(Buffer.from('2')) // sends the SYN; the server answers ACK|RST
    await within(assert.rejects(second.read(), { code: 'YAMUX_ERR_STREAM_RESET' }), 5000, 'the refusal')
    await assert.rejects(second.write(Buffer.from('2')), { code: 'YAMUX_ERR_STREAM_RESET' })
    assert.equal(client.streamCount, 1)
    assert.equal(server.streamCount, 1)
  } finally {
    await cleanup()
  }
})

test('FIN after a local close frees the slot for max_stream_count (tentacle #458)', async () => {
  const { client, server, cleanup } = await sessionPair('memory', {}, { maxStreamCount: 1 })
  try {
    for (let round = 0; round < 3; round++) {
      const c = await client.openStream()
      await c.write(Buffer.from(`round ${round}`))
      await c.close() // local FIN first
      const s = (await server.accept())!
      assert.equal(Buffer.from(await readAll(s)).toString(), `round ${round}`)
      await s.close() // then the peer's FIN
      assert.equal(await c.read(), null) // the peer's FIN: closed both ways on both sides
      assert.equal(server.streamCount, 0, `round ${round}: the slot is free`)
      assert.equal(client.streamCount, 0)
    }
  } finally {
    await cleanup()
  }
})

type Path = (c: Stream, s: Stream) => Promise<void>
const closePaths: Record<string, Path> = {
  'both FIN, opener first': async (c, s) => {
    await c.close()
    await readAll(s)
    await s.close()
    await readAll(c)
  },
  'both FIN, acceptor first': async (c, s) => {
    await s.close()
    await readAll(c)
    await c.close()
    await readAll(s)
  },
  'opener resets': async (c, s) => {
    c.reset()
    await assert.rejects(readAll(s), { code: 'YAMUX_ERR_STREAM_RESET' })
  },
  'acceptor resets': async (c, s) => {
    s.reset()
    await assert.rejects(readAll(c), { code: 'YAMUX_ERR_STREAM_RESET' })
  },
  'reset after a half close': async (c, s) => {
    await c.close()
    await readAll(s)
    s.reset()
    await assert.rejects(c.read(), { code: 'YAMUX_ERR_STREAM_RESET' })
  },
  'both reset at once': async (c, s) => {
    c.reset()
    s.reset()
  },
}

for (const [name, path] of Object.entries(closePaths)) {
  test(`stream counts return to zero: ${name}`, async () => {
    const { client, server, cleanup } = await sessionPair('memory')
    try {
      const pairs: [Stream, Stream][] = []
      for (let i = 0; i < 20; i++) {
        const c = await client.openStream()
        await c.write(Buffer.from('hi'))
        const s = (await server.accept())!
        await readN(s, 2)
        pairs.push([c, s])
      }
      assert.equal(client.streamCount, 20)
      await Promise.all(pairs.map(([c, s]) => path(c, s)))
      // Both sides have handled every frame of the 20 streams (e.g. an RST for a stream
      // they had already forgotten).
      await roundTrip(client, server)
      assert.equal(client.streamCount, 0)
      assert.equal(server.streamCount, 0)
      assert.equal(client.state, 'open')
    } finally {
      await cleanup()
    }
  })
}

test('no frame for a stream after it is closed both ways, whatever the application does next', async () => {
  const [a, b] = duplexPair()
  const session = new Session(a, { role: 'server', enableKeepalive: false })
  const peer = new RawPeer(b)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
  const s = (await session.accept())!
  const body = random(200 * 1024)
  peer.send(TYPE_DATA, 0, 1, body.length, body)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_FIN, 1, 0)
  await s.close()
  await peer.waitFor((f) => f.streamId === 1 && (f.flags & FLAG_FIN) !== 0)
  const mark = peer.frames.length
  assert.equal(session.streamCount, 0)
  await readAll(s) // consuming after both FINs must not send a window update
  s.reset() // nor an RST
  await s.close()
  await peer.ping()
  assert.deepEqual(peer.frames.slice(mark), [])
  // And an inbound frame for the forgotten id is ignored.
  peer.send(TYPE_WINDOW_UPDATE, FLAG_FIN | FLAG_ACK, 1, 10)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_RST, 1, 0)
  await peer.ping()
  assert.equal(session.state, 'open')
  assert.deepEqual(peer.frames.slice(mark), [])
  session.destroy()
})

test('a second FIN, or data after FIN, from the peer is ignored (tokio-yamux stops reading the stream)', async () => {
  const [a, b] = duplexPair()
  const session = new Session(a, { role: 'server', enableKeepalive: false })
  const peer = new RawPeer(b)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
  const s = (await session.accept())!
  peer.send(TYPE_DATA, FLAG_FIN, 1, 3, Buffer.from('end'))
  peer.send(TYPE_WINDOW_UPDATE, FLAG_FIN, 1, 0)
  peer.send(TYPE_DATA, 0, 1, 5, Buffer.from('extra'))
  assert.equal(Buffer.from(await readAll(s)).toString(), 'end')
  await s.write(Buffer.from('still writable'))
  assert.equal(session.state, 'open')
  const d = await peer.waitFor((f) => f.type === TYPE_DATA && f.streamId === 1)
  assert.equal(d.body?.toString(), 'still writable')
  assert.equal(d.flags & FLAG_ACK, 0, 'ACK went out with the window update at accept')
  session.destroy()
})

test('close() waits for pending writes, then sends FIN after the data', async () => {
  const [a, b] = duplexPair()
  const session = new Session(a, { role: 'client', enableKeepalive: false })
  const peer = new RawPeer(b)
  const s = await session.openStream()
  const data = random(INITIAL_STREAM_WINDOW + 1000)
  const w = s.write(data)
  const closing = s.close()
  await assert.rejects(s.write(Buffer.from('late')), { code: 'YAMUX_ERR_STREAM_CLOSED' })
  await peer.ping() // everything the session queued so far has arrived
  assert.ok(
    peer.frames.some((f) => f.type === TYPE_DATA),
    'the first window went out',
  )
  assert.equal(peer.frames.filter((f) => f.flags & FLAG_FIN).length, 0, 'no FIN while data waits for window')
  peer.send(TYPE_WINDOW_UPDATE, FLAG_ACK, 1, 4096)
  await within(Promise.all([w, closing]), 2000, 'write and close complete')
  await peer.waitFor((f) => (f.flags & FLAG_FIN) !== 0, 2000, 'FIN')
  const frames = peer.frames.filter((f) => f.streamId === 1)
  const finAt = frames.findIndex((f) => f.flags & FLAG_FIN)
  const lastData = frames.map((f) => f.type).lastIndexOf(TYPE_DATA)
  assert.ok(finAt > lastData, 'FIN follows the last data frame')
  assert.equal(
    frames.filter((f) => f.type === TYPE_DATA).reduce((n, f) => n + f.length, 0),
    data.length,
  )
  session.destroy()
})

test('FIN+RST flags: RST on a frame wins over FIN for the receiver', async () => {
  const [a, b] = duplexPair()
  const session = new Session(a, { role: 'server', enableKeepalive: false })
  const peer = new RawPeer(b)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
  const s = (await session.accept())!
  peer.send(TYPE_WINDOW_UPDATE, FLAG_FIN | FLAG_RST, 1, 0)
  await peer.ping()
  // FIN arrived first in the flag order, so reads see EOF; writes see the reset.
  assert.equal(await s.read(), null)
  await assert.rejects(s.write(Buffer.from('x')), { code: 'YAMUX_ERR_STREAM_RESET' })
  assert.equal(session.streamCount, 0)
  session.destroy()
})
