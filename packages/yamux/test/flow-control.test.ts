// Flow control (§8.4), lost wake-ups (tentacle #398, hashicorp WindowUpdateWriteDuringRead /
// PartialReadWindowUpdate), window overrun, memory bounds, mutual write deadlock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  Session,
  FLAG_ACK,
  FLAG_SYN,
  GO_AWAY_PROTOCOL_ERROR,
  INITIAL_STREAM_WINDOW,
  TYPE_DATA,
  TYPE_GO_AWAY,
  TYPE_WINDOW_UPDATE,
} from '../src/index.js'
import {
  duplexPair,
  RawPeer,
  readN,
  random,
  roundTrip,
  sessionPair,
  sha256,
  sleep,
  within,
  hashAll,
} from './helpers.js'
import { once } from 'node:events'

const KiB = 1024
const MiB = 1024 * 1024

for (const transport of ['memory', 'tcp'] as const) {
  test(`a window update wakes a blocked writer while nothing reads on the writer's side (${transport})`, async () => {
    const { client, server, cleanup } = await sessionPair(transport)
    try {
      const payload = random(3 * MiB) // > 10 windows: the writer must be woken by window updates
      const c = await client.openStream()
      const serverRead = (async () => {
        const s = (await server.accept())!
        return hashAll(s)
      })()
      // The client never calls read() on this stream.
      await within(c.write(payload), 10_000, 'write of 3 MiB with no reader on the writer side')
      await c.close()
      const { hash, bytes } = await within(serverRead, 10_000, 'server read')
      assert.equal(bytes, payload.length)
      assert.equal(hash, sha256(payload))
    } finally {
      await cleanup()
    }
  })

  test(`a writer does not clobber the reader's waiter; a write during a read (${transport})`, async () => {
    const { client, server, cleanup } = await sessionPair(transport)
    try {
      const c = await client.openStream()
      await c.write(Buffer.from('open'))
      const s = (await server.accept())!
      assert.equal(Buffer.from((await s.read())!).toString(), 'open')
      // The server blocks in read(), then writes while the read is pending.
      const pendingRead = s.read()
      await s.write(Buffer.from('while-reading'))
      assert.equal(Buffer.from((await within(c.read(), 2000, 'client read'))!).toString(), 'while-reading')
      // Data for the pending read must still wake it.
      await c.write(Buffer.from('for-the-reader'))
      assert.equal(Buffer.from((await within(pendingRead, 2000, 'pending read'))!).toString(), 'for-the-reader')

      // Now with the writer blocked on a zero window at the same time as a blocked read.
      const blockedWrite = s.write(random(INITIAL_STREAM_WINDOW + 100 * KiB))
      let writeDone = false
      void blockedWrite.then(() => (writeDone = true))
      const blockedRead = s.read()
      await roundTrip(client, server) // the client holds the whole window and granted nothing
      assert.equal(writeDone, false, 'the write waits for window')
      await c.write(Buffer.from('x'))
      assert.equal(Buffer.from((await within(blockedRead, 2000, 'read while write blocked'))!).toString(), 'x')
      assert.equal(writeDone, false)
      await within(readN(c, INITIAL_STREAM_WINDOW + 100 * KiB), 5000, 'client drains')
      await within(blockedWrite, 5000, 'blocked write resumes on window update')
    } finally {
      await cleanup()
    }
  })
}

test('a partial read sends a window update once half the window is consumed (Rust threshold, §8.4)', async () => {
  const [a, b] = duplexPair()
  const session = new Session(a, { role: 'server', enableKeepalive: false })
  const peer = new RawPeer(b)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
  const s = (await session.accept())!
  const full = random(INITIAL_STREAM_WINDOW)
  peer.send(TYPE_DATA, 0, 1, full.length, full)
  await peer.ping() // any update the data caused has arrived
  const wuBefore = peer.frames.filter((f) => f.type === TYPE_WINDOW_UPDATE && f.streamId === 1 && f.length > 0).length
  assert.equal(wuBefore, 0, 'nothing consumed yet: no update')
  await readN(s, 128 * KiB - 1)
  await peer.ping()
  assert.equal(
    peer.frames.filter((f) => f.type === TYPE_WINDOW_UPDATE && f.length > 0).length,
    0,
    'below the threshold',
  )
  await readN(s, 1)
  const wu = await peer.waitFor((f) => f.type === TYPE_WINDOW_UPDATE && f.streamId === 1 && f.length > 0)
  assert.equal(wu.length, 128 * KiB)
  assert.equal(wu.flags, 0)
  // The peer may now send exactly 128 KiB more without overrunning.
  const more = random(128 * KiB)
  peer.send(TYPE_DATA, 0, 1, more.length, more)
  const rest = await readN(s, 128 * KiB + more.length)
  assert.equal(sha256(rest), sha256(Buffer.concat([full.subarray(128 * KiB), more])))
  assert.equal(session.state, 'open')
  session.destroy()
})

test('a peer overrunning the receive window ends the session with GoAway(ProtocolError)', async () => {
  const [a, b] = duplexPair()
  const session = new Session(a, { role: 'server', enableKeepalive: false })
  const peer = new RawPeer(b)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
  const s = (await session.accept())!
  // Nobody reads, so no window is granted beyond the initial 256 KiB.
  peer.send(TYPE_DATA, 0, 1, INITIAL_STREAM_WINDOW, random(INITIAL_STREAM_WINDOW))
  peer.send(TYPE_DATA, 0, 1, 1, Buffer.from('!')) // one byte past the window, never granted
  const ga = await peer.waitFor((f) => f.type === TYPE_GO_AWAY)
  assert.equal(ga.length, GO_AWAY_PROTOCOL_ERROR)
  await within(session.closed, 3000, 'session end')
  assert.equal(session.error?.code, 'YAMUX_ERR_RECV_WINDOW_EXCEEDED')
  assert.equal(session.endReason, 'error')
  // What arrived within the window stays readable; then the stream reports the session's end.
  assert.equal((await readN(s, INITIAL_STREAM_WINDOW)).length, INITIAL_STREAM_WINDOW)
  await assert.rejects(s.read(), { code: 'YAMUX_ERR_SESSION_CLOSED' })
  assert.equal(session.streamCount, 0)
})

test('memory bound: a peer that never reads holds at most the window per stream; the writer waits', async () => {
  for (const window of [INITIAL_STREAM_WINDOW, 1 * MiB]) {
    const { client, server, cleanup } = await sessionPair(
      'memory',
      { maxStreamWindowSize: window },
      { maxStreamWindowSize: window },
    )
    try {
      const streams = await Promise.all(Array.from({ length: 8 }, () => client.openStream()))
      const writes = streams.map((st) => st.write(random(4 * MiB)))
      let settled = 0
      for (const w of writes)
        void w.then(
          () => settled++,
          () => settled++,
        )
      const accepted = []
      for (let i = 0; i < 8; i++) accepted.push((await server.accept())!)
      // Let everything that can flow, flow: round trips (each carries what the writers queued
      // before it; they feed the connection as maxQueuedBytes lets them) until every stream
      // holds a full window, then one more, so that any byte past the window would be here too.
      for (let i = 0; i < 500 && accepted.some((s) => s.bufferedBytes < window); i++) {
        await roundTrip(client, server)
      }
      await roundTrip(client, server)
      for (const s of accepted) {
        assert.ok(s.bufferedBytes <= window, `buffered ${s.bufferedBytes} > window ${window}`)
        assert.ok(s.bufferedBytes > 0)
      }
      assert.equal(settled, 0, 'writes wait for window instead of buffering')
      for (const st of streams) assert.equal(st.sendWindow, 0)
      assert.ok(client.queuedBytes <= client.config.maxQueuedBytes + window)
      // Drain one stream: only its writer proceeds.
      await within(readN(accepted[0], 4 * MiB), 10_000, 'drain one stream')
      await within(writes[0], 5000, 'its write completes')
      assert.equal(settled, 1)
    } finally {
      await cleanup()
    }
  }
})

test('our outgoing queue is bounded when the connection does not drain: writes wait at maxQueuedBytes', async () => {
  const [a, b] = duplexPair({ highWaterMark: 16 * KiB })
  const session = new Session(a, {
    role: 'client',
    enableKeepalive: false,
    maxQueuedBytes: 256 * KiB,
    connectionWriteTimeoutMs: 60_000,
  })
  const peer = new RawPeer(b, { read: false }) // never reads the connection
  const s = await session.openStream()
  // Grant a huge window (as a peer could) so only our queue cap can stop the writer.
  const granted = once(a, 'data') // the session's own 'data' listener runs first
  peer.send(TYPE_WINDOW_UPDATE, FLAG_ACK, 1, 64 * MiB)
  await within(granted, 5000, 'the window update')
  assert.ok(s.sendWindow > 64 * MiB, 'granted')
  let done = false
  const w = s.write(random(8 * MiB)).then(
    () => (done = true),
    () => (done = true),
  )
  // The peer never reads, so nothing can happen: this wait is the negative check itself.
  await sleep(100)
  assert.equal(done, false)
  // Held: our queue + the connection's buffer; a stream write may overshoot by one frame.
  assert.ok(session.queuedBytes <= 256 * KiB + INITIAL_STREAM_WINDOW + 64, `queued ${session.queuedBytes}`)
  session.destroy()
  await w
  assert.equal(done, true)
})

for (const transport of ['memory', 'tcp'] as const) {
  test(`mutual write deadlock: both sides write while neither reads, resolved once one reads (${transport})`, async () => {
    const { client, server, cleanup } = await sessionPair(transport, {}, {}, { highWaterMark: 8 * KiB })
    try {
      const size = 2 * MiB
      const c = await client.openStream()
      await c.write(Buffer.from('x'))
      const s = (await server.accept())!
      await readN(s, 1)
      const dataC = random(size)
      const dataS = random(size)
      const wc = c.write(dataC)
      const ws = s.write(dataS)
      let doneC = false
      let doneS = false
      void wc.then(() => (doneC = true))
      void ws.then(() => (doneS = true))
      // Each side has now handled all the other sent (both windows used up, nothing read).
      await roundTrip(client, server)
      assert.equal(doneC || doneS, false, 'both writers are blocked on window')
      // The server reads everything; that alone must let the client's write finish.
      const gotS = await within(readN(s, size), 10_000, 'server reads client data')
      await within(wc, 5000, 'client write completes')
      assert.equal(sha256(gotS), sha256(dataC))
      const gotC = await within(readN(c, size), 10_000, 'client reads server data')
      await within(ws, 5000, 'server write completes')
      assert.equal(sha256(gotC), sha256(dataS))
    } finally {
      await cleanup()
    }
  })
}

test('a 1 MiB max window lets 1 MiB be in flight before any read (ckb #3629, §8.3 delta)', async () => {
  const cfg = { maxStreamWindowSize: MiB }
  const { client, server, cleanup } = await sessionPair('memory', cfg, cfg)
  try {
    const c = await client.openStream()
    await c.write(Buffer.from('1'))
    const s = (await server.accept())!
    await readN(s, 1)
    assert.equal(s.sendWindow, MiB, 'the client announced 1 MiB with its SYN')
    const big = random(MiB)
    await within(s.write(big), 2000, 'a 1 MiB write fits the window at once')
    await roundTrip(server, client) // all of it has reached the client
    assert.equal(c.bufferedBytes, MiB)
    assert.equal(sha256(await readN(c, MiB)), sha256(big))
  } finally {
    await cleanup()
  }
})

test('window credit overflowing 2^32 is a protocol error (GoAway(1))', async () => {
  const [a, b] = duplexPair()
  const session = new Session(a, { role: 'server', enableKeepalive: false })
  const peer = new RawPeer(b)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0xffffffff)
  await within(session.closed, 3000, 'session end')
  assert.equal(session.error?.code, 'YAMUX_ERR_WINDOW_OVERFLOW')
  await peer.waitFor((f) => f.type === TYPE_GO_AWAY && f.length === GO_AWAY_PROTOCOL_ERROR)
})
