// Session lifecycle: GoAway (§8.6), keepalive (§8.5), limits (§8.3), shutdown while blocked,
// graceful close, write-stall deadline (LESSONS #5, #6, #11, #12, #23, #24, #25).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  Session,
  FLAG_ACK,
  FLAG_RST,
  FLAG_SYN,
  GO_AWAY_NORMAL,
  GO_AWAY_PROTOCOL_ERROR,
  INITIAL_STREAM_WINDOW,
  TYPE_DATA,
  TYPE_GO_AWAY,
  TYPE_PING,
  TYPE_WINDOW_UPDATE,
} from '../src/index.js'
import { setNextStreamIdForTest } from '../src/session.js'
import type { Stream } from '../src/stream.js'
import {
  duplexPair,
  RawPeer,
  readAll,
  readN,
  random,
  roundTrip,
  sessionPair,
  sha256,
  sleep,
  within,
} from './helpers.js'

const KiB = 1024
const MiB = 1024 * 1024

function rawSetup(role: 'client' | 'server', opts: Record<string, unknown> = {}, peerOpts: { read?: boolean } = {}) {
  const [a, b] = duplexPair()
  const session = new Session(a, { role, enableKeepalive: false, ...opts })
  const peer = new RawPeer(b, peerOpts)
  return { session, peer, a, b }
}

// ------------------------------------------------------------------ GoAway

test('after our GoAway, new streams are refused: peer SYN gets RST, open rejects, accept resolves null', async () => {
  const { session, peer } = rawSetup('server', { connectionWriteTimeoutMs: 5000 })
  const pendingAccept = session.accept()
  const closing = session.close()
  assert.equal(await pendingAccept, null)
  assert.equal(await session.accept(), null)
  await assert.rejects(session.openStream(), { code: 'YAMUX_ERR_SESSION_CLOSED' })
  await peer.waitFor((f) => f.type === TYPE_GO_AWAY && f.length === GO_AWAY_NORMAL)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
  const rst = await peer.waitFor((f) => f.streamId === 1)
  assert.equal(rst.type, TYPE_WINDOW_UPDATE)
  assert.equal(rst.flags, FLAG_RST, 'after local GoAway: RST without ACK (§8.3)')
  assert.equal(session.streamCount, 0)
  peer.send(TYPE_GO_AWAY, 0, 0, GO_AWAY_NORMAL) // answer: the session ends now
  await within(closing, 2000, 'close after the answer')
  assert.equal(session.endReason, 'local-close')
  assert.equal(session.error, undefined)
})

test('a remote that never answers our GoAway is closed by the connectionWriteTimeout deadline (tentacle #309)', async () => {
  const { session, peer } = rawSetup('client', { connectionWriteTimeoutMs: 300 })
  const t0 = performance.now()
  await within(session.close(), 5000, 'close against a silent peer')
  const elapsed = performance.now() - t0
  assert.ok(elapsed >= 250, `closed after ${elapsed} ms, before the deadline`)
  assert.ok(elapsed < 3000, `closed after ${elapsed} ms`)
  assert.equal(session.endReason, 'local-close')
  await peer.waitEnd(2000) // the connection is really closed
})

test('a peer that answers GoAway at once closes well before the deadline', async () => {
  const { client, server, cleanup } = await sessionPair('memory', { connectionWriteTimeoutMs: 10_000 })
  try {
    const t0 = performance.now()
    await within(client.close(), 3000, 'close')
    assert.ok(performance.now() - t0 < 2000)
    await within(server.closed, 3000, 'peer ends too')
    assert.equal(server.endReason, 'remote-go-away')
    assert.equal(client.endReason, 'local-close')
  } finally {
    await cleanup()
  }
})

test('duplicate SYN for an open stream → GoAway(ProtocolError), YAMUX_ERR_DUPLICATE_STREAM (tokio-yamux test_open_exist_stream)', async () => {
  const { session, peer } = rawSetup('server')
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 3, 0)
  const ack = await peer.waitFor((f) => f.streamId === 3)
  assert.equal(ack.flags, FLAG_ACK)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 3, 0)
  const ga = await peer.waitFor((f) => f.type === TYPE_GO_AWAY)
  assert.equal(ga.length, GO_AWAY_PROTOCOL_ERROR)
  await within(session.closed, 3000, 'session end')
  assert.equal(session.error?.code, 'YAMUX_ERR_DUPLICATE_STREAM')
})

// ------------------------------------------------------------------ keepalive

test('keepalive: a silent peer (never answers pings) ends the session with YAMUX_ERR_KEEPALIVE_TIMEOUT', async () => {
  const { session, peer } = rawSetup('client', { enableKeepalive: true, keepaliveIntervalMs: 50, pingTimeoutMs: 150 })
  const t0 = performance.now()
  await within(session.closed, 5000, 'keepalive timeout')
  const elapsed = performance.now() - t0
  assert.equal(session.error?.code, 'YAMUX_ERR_KEEPALIVE_TIMEOUT')
  assert.ok(elapsed >= 150, `ended after ${elapsed} ms`)
  const pings = peer.frames.filter((f) => f.type === TYPE_PING)
  assert.ok(pings.length >= 2)
  assert.deepEqual(
    pings.map((p) => p.length),
    pings.map((_, i) => i + 1),
    'ping ids 1, 2, 3…',
  )
  for (const p of pings) assert.equal(p.flags, FLAG_SYN)
  assert.ok(pings.length <= 150 / 50 + 2, `unanswered pings are bounded (${pings.length})`)
})

test('keepalive: a peer that answers pings keeps the session up (the negative case)', async () => {
  const opts = { enableKeepalive: true, keepaliveIntervalMs: 40, pingTimeoutMs: 120 }
  const { client, server, cleanup } = await sessionPair('memory', opts, opts)
  try {
    // Not a synchronization: the test is that nothing happens. 600 ms is 15 keepalive
    // intervals and 5 ping timeouts; pings and answers cross in-memory, so a loaded
    // machine delays both alike and cannot make an answered ping look unanswered.
    await sleep(600)
    assert.equal(client.state, 'open')
    assert.equal(server.state, 'open')
    assert.ok(client.unansweredPings <= 1)
  } finally {
    await cleanup()
  }
})

test('keepalive: an ACK forgets that ping id and every smaller one (tentacle #183)', async () => {
  const { session, peer } = rawSetup('client', {
    enableKeepalive: true,
    keepaliveIntervalMs: 30,
    pingTimeoutMs: 10_000,
  })
  await peer.waitFor((f) => f.type === TYPE_PING && f.length === 3, 3000, 'ping 3')
  assert.ok(session.unansweredPings >= 3)
  peer.send(TYPE_PING, FLAG_ACK, 0, 3)
  await peer.ping() // the ACK has been handled
  assert.ok(session.unansweredPings <= 1, `still ${session.unansweredPings} unanswered`)
  session.destroy()
})

// ------------------------------------------------------------------ limits

test('max stream count: a SYN beyond it is answered ACK|RST (tokio-yamux test_open_too_many_stream)', async () => {
  const { session, peer } = rawSetup('server', { maxStreamCount: 1 })
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 3, 0)
  assert.equal((await peer.waitFor((f) => f.streamId === 3)).flags, FLAG_ACK)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 5, 0)
  const rst = await peer.waitFor((f) => f.streamId === 5)
  assert.equal(rst.type, TYPE_WINDOW_UPDATE)
  assert.equal(rst.flags, FLAG_ACK | FLAG_RST)
  assert.equal(rst.length, 0)
  assert.equal(session.streamCount, 1)
  assert.equal(session.state, 'open')
  session.destroy()
})

test('accept backlog: beyond it (nobody accepting) SYNs get ACK|RST; accepting makes room again (hashicorp nomad #4604)', async () => {
  const { session, peer } = rawSetup('server', { acceptBacklog: 4 })
  for (let i = 0; i < 7; i++) peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1 + 2 * i, 0)
  await peer.waitFor((f) => f.streamId === 13, 3000, 'answer to the 7th SYN')
  const answers = [1, 3, 5, 7, 9, 11, 13].map((id) => peer.frames.find((f) => f.streamId === id)!.flags)
  assert.deepEqual(answers, [
    FLAG_ACK,
    FLAG_ACK,
    FLAG_ACK,
    FLAG_ACK,
    FLAG_ACK | FLAG_RST,
    FLAG_ACK | FLAG_RST,
    FLAG_ACK | FLAG_RST,
  ])
  assert.equal(session.pendingAcceptCount, 4)
  assert.equal((await session.accept())?.id, 1)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 15, 0)
  assert.equal((await peer.waitFor((f) => f.streamId === 15)).flags, FLAG_ACK)
  session.destroy()
})

test('a burst of 1000 SYNs is accepted by an accept loop (the backlog counts only streams nobody took)', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    let accepted = 0
    let allAccepted!: () => void
    const thousand = new Promise<void>((resolve) => (allAccepted = resolve))
    const loop = (async () => {
      for (;;) {
        const s = await server.accept()
        if (s === null) return
        if (++accepted === 1000) allAccepted()
      }
    })()
    const streams = await Promise.all(Array.from({ length: 1000 }, () => client.openStream()))
    await Promise.all(streams.map((s) => s.write(Buffer.from('hi'))))
    await within(thousand, 10_000, `1000 accepted (${accepted} so far)`)
    await roundTrip(server, client) // any refusal (RST) the server sent has reached the client
    for (const s of streams) assert.equal(s.sendState, 'open', 'none was refused')
    await client.close()
    await loop
  } finally {
    await cleanup()
  }
})

test('stream ids: client odd from 1, server even from 2; exhausted ids → YAMUX_ERR_STREAMS_EXHAUSTED', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    assert.deepEqual([(await client.openStream()).id, (await client.openStream()).id], [1, 3])
    assert.deepEqual([(await server.openStream()).id, (await server.openStream()).id], [2, 4])
    // tokio-yamux: checked_add(2) on the next id must not overflow u32.
    setNextStreamIdForTest(client, 0xfffffffd)
    assert.equal((await client.openStream()).id, 0xfffffffd)
    await assert.rejects(client.openStream(), { code: 'YAMUX_ERR_STREAMS_EXHAUSTED' })
    await assert.rejects(client.openStream(), { code: 'YAMUX_ERR_STREAMS_EXHAUSTED' })
  } finally {
    await cleanup()
  }
})

// ------------------------------------------------------------------ shutdown while blocked

for (const how of ['close', 'destroy', 'peer-vanishes'] as const) {
  test(`session ${how} settles every blocked read, write, open and accept (hashicorp #45/#127/#176, tentacle #259)`, async () => {
    const { client, server, cleanup } = await sessionPair('memory', { connectionWriteTimeoutMs: 2000 })
    try {
      const c = await client.openStream()
      await c.write(Buffer.from('x'))
      const s = (await server.accept())!
      await readN(s, 1)
      // Blocked write: fill the window (the server does not read).
      const blockedWrite = c.write(random(INITIAL_STREAM_WINDOW + 64 * KiB))
      const blockedRead = c.read()
      const blockedAccept = client.accept()
      const outcomes = Promise.allSettled([blockedWrite, blockedRead, blockedAccept])
      await roundTrip(client, server) // the server holds the whole window: the write is blocked
      assert.equal(c.sendWindow, 0)
      if (how === 'close') void client.close()
      else if (how === 'destroy') client.destroy()
      else server.destroy() // the connection vanishes under the client
      const [w, r, acc] = await within(outcomes, 5000, 'every waiter settles')
      assert.equal(w.status, 'rejected')
      assert.equal((w as PromiseRejectedResult).reason.code, 'YAMUX_ERR_SESSION_CLOSED')
      assert.equal(r.status, 'rejected')
      assert.equal((r as PromiseRejectedResult).reason.code, 'YAMUX_ERR_SESSION_CLOSED')
      assert.equal(acc.status, 'fulfilled')
      assert.equal((acc as PromiseFulfilledResult<unknown>).value, null)
      await within(client.closed, 5000, 'client session over')
      await assert.rejects(client.openStream(), (e: { code: string }) =>
        ['YAMUX_ERR_SESSION_CLOSED', 'YAMUX_ERR_GO_AWAY'].includes(e.code),
      )
      await assert.rejects(c.write(Buffer.from('late')), { code: 'YAMUX_ERR_SESSION_CLOSED' })
      assert.equal(client.streamCount, 0)
      if (how === 'peer-vanishes') assert.equal(client.error?.code, 'YAMUX_ERR_CONNECTION_CLOSED')
    } finally {
      await cleanup()
    }
  })
}

test('a pending close() of a stream is settled when the session ends', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const c = await client.openStream()
    const w = c.write(random(INITIAL_STREAM_WINDOW + 1))
    const closing = c.close() // waits behind the blocked write
    assert.equal(c.sendWindow, 0, 'the write waits for window')
    server.destroy()
    await assert.rejects(w, { code: 'YAMUX_ERR_SESSION_CLOSED' })
    await assert.rejects(closing, { code: 'YAMUX_ERR_SESSION_CLOSED' })
  } finally {
    await cleanup()
  }
})

// ------------------------------------------------------------------ graceful close

for (const transport of ['memory', 'tcp'] as const) {
  test(`graceful close delivers every byte written before it (hashicorp #86) (${transport})`, async () => {
    const { client, server, cleanup } = await sessionPair(transport, {}, {}, { highWaterMark: 4 * KiB })
    try {
      const payloads = Array.from({ length: 5 }, (_, i) => random(100 * KiB + i))
      const received = (async () => {
        const out: string[] = []
        for (;;) {
          const s = await server.accept()
          if (s === null) return out
          out.push(sha256(await readAll(s)))
        }
      })()
      const streams = await Promise.all(payloads.map(() => client.openStream()))
      await Promise.all(streams.map((s, i) => s.write(payloads[i]).then(() => s.close())))
      // Everything is queued (resolved writes), much still in our queue: close right away.
      await within(client.close(), 10_000, 'graceful close')
      const got = await within(received, 10_000, 'server received')
      assert.deepEqual(got.sort(), payloads.map(sha256).sort())
      assert.equal(client.error, undefined)
    } finally {
      await cleanup()
    }
  })
}

// ------------------------------------------------------------------ write stall

test('write-stall: the deadline fires while the peer keeps sending control frames (tentacle #445)', async () => {
  const { session, peer } = rawSetup('client', { connectionWriteTimeoutMs: 300 }, { read: false })
  const s = await session.openStream()
  peer.send(TYPE_WINDOW_UPDATE, FLAG_ACK, 1, 64 * MiB)
  const w = s.write(random(4 * MiB))
  const outcome = w.then(
    () => 'resolved',
    (e: { code: string }) => e.code,
  )
  let pingId = 0
  // Not a synchronization: the peer's steady control traffic during the stall is the test.
  const pinger = setInterval(() => peer.send(TYPE_PING, FLAG_SYN, 0, ++pingId), 20)
  try {
    const t0 = performance.now()
    await within(session.closed, 5000, 'write-stall deadline')
    const elapsed = performance.now() - t0
    assert.equal(session.error?.code, 'YAMUX_ERR_WRITE_TIMEOUT')
    assert.ok(elapsed >= 250, `fired after ${elapsed} ms`)
    assert.ok(pingId >= 5, 'control frames kept arriving during the stall')
    assert.equal(await outcome, 'YAMUX_ERR_SESSION_CLOSED')
  } finally {
    clearInterval(pinger)
  }
})

test('write-stall: a slow reader that keeps making progress is not a stall (the negative case)', async () => {
  const { client, server, cleanup } = await sessionPair(
    'memory',
    { connectionWriteTimeoutMs: 300 },
    {},
    { highWaterMark: 16 * KiB },
  )
  try {
    const c = await client.openStream()
    const data = random(1 * MiB)
    const w = c.write(data).then(() => c.close())
    const s = (await server.accept())!
    const parts: Uint8Array[] = []
    for (;;) {
      const chunk = await s.read(32 * KiB)
      if (chunk === null) break
      parts.push(chunk)
      await sleep(25) // ~1.3 MiB/s: slower than the writer, never stalled 300 ms
    }
    await w
    assert.equal(sha256(Buffer.concat(parts)), sha256(data))
    assert.equal(client.state, 'open')
  } finally {
    await cleanup()
  }
})

// ------------------------------------------------------------------ acceptCb

test('acceptCb: streams in order, a waiting one at once, a new one while its SYN is decoded (before its data), null at the end', async () => {
  const { session, peer } = rawSetup('server')
  const got: Array<{ id: number | null; buffered: unknown }> = []
  const record = (s: Stream | null): void => {
    // What the stream holds when it is handed over: nothing yet for a stream opened by a SYN with data.
    got.push({ id: s === null ? null : s.id, buffered: s?.readNow() })
  }
  session.acceptCb(record)
  // Compared through a call: assert.deepEqual(got, []) would narrow `got` to never[] for tsc.
  const seen = (): typeof got => got
  assert.deepEqual(seen(), [], 'nothing to accept yet: cb waits')
  peer.send(TYPE_DATA, FLAG_SYN, 1, 2, Buffer.from('hi'))
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 3, 0)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 5, 0)
  await peer.ping()
  assert.deepEqual(seen(), [{ id: 1, buffered: undefined }], 'handed over while its SYN was decoded, before the data')
  assert.equal(session.pendingAcceptCount, 2)
  session.acceptCb(record)
  assert.deepEqual(got[1], { id: 3, buffered: undefined }, 'a waiting stream: cb runs before acceptCb returns')
  session.acceptCb(record)
  assert.equal(got[2]?.id, 5)
  assert.equal(session.pendingAcceptCount, 0)
  session.acceptCb(record)
  assert.equal(got.length, 3)
  session.destroy()
  await session.closed
  assert.deepEqual(got[3], { id: null, buffered: undefined }, 'the waiting cb gets null at the end')
  session.acceptCb(record)
  assert.deepEqual(got[4], { id: null, buffered: undefined }, 'after the end: null at once')
  assert.equal(got.length, 5)
})

test('sessions made in a row each get their own options: the last resolved config is reused only for the same values', () => {
  const make = (opts: Record<string, unknown>) => rawSetup('client', opts).session
  const a = make({ acceptBacklog: 7 })
  const b = make({ acceptBacklog: 7 })
  assert.equal(b.config.acceptBacklog, 7)
  assert.equal(b.config, a.config, 'same values: the same frozen config')
  const c = make({ acceptBacklog: 9 })
  assert.equal(c.config.acceptBacklog, 9)
  const d = make({})
  assert.equal(d.config.acceptBacklog, 256)
  assert.throws(() => make({ acceptBacklog: 0 }), { code: 'YAMUX_ERR_INVALID_OPTION' })
  assert.throws(() => make({ acceptBacklog: 0 }), { code: 'YAMUX_ERR_INVALID_OPTION' }, 'a bad value is never cached')
  assert.ok(Object.isFrozen(c.config))
  for (const s of [a, b, c, d]) s.destroy()
})
