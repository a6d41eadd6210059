// Exact wire behaviour against a hand-driven peer (§8.1–§8.6 examples).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  Session,
  encodeHeader,
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  GO_AWAY_NORMAL,
  TYPE_DATA,
  TYPE_GO_AWAY,
  TYPE_PING,
  TYPE_WINDOW_UPDATE,
} from '../src/index.js'
import { duplexPair, RawPeer, within } from './helpers.js'

function setup(role: 'client' | 'server', opts: Record<string, unknown> = {}) {
  const [a, b] = duplexPair()
  const session = new Session(a, { role, enableKeepalive: false, ...opts })
  const peer = new RawPeer(b)
  return { session, peer }
}

test('§8.3 example bytes: SYN, ACK, FIN, RST, Ping and GoAway headers', () => {
  const hex = (h: Parameters<typeof encodeHeader>[0]) => Buffer.from(encodeHeader(h)).toString('hex')
  assert.equal(hex({ type: TYPE_WINDOW_UPDATE, flags: FLAG_SYN, streamId: 1, length: 0 }), '000100010000000100000000')
  assert.equal(
    hex({ type: TYPE_WINDOW_UPDATE, flags: FLAG_SYN, streamId: 1, length: 0xc0000 }),
    '0001000100000001000c0000',
  )
  assert.equal(hex({ type: TYPE_WINDOW_UPDATE, flags: FLAG_ACK, streamId: 1, length: 0 }), '000100020000000100000000')
  assert.equal(hex({ type: TYPE_DATA, flags: 0, streamId: 1, length: 43 }), '00000000000000010000002b')
  assert.equal(hex({ type: TYPE_WINDOW_UPDATE, flags: FLAG_FIN, streamId: 1, length: 0 }), '000100040000000100000000')
  assert.equal(hex({ type: TYPE_WINDOW_UPDATE, flags: FLAG_RST, streamId: 1, length: 0 }), '000100080000000100000000')
  assert.equal(hex({ type: TYPE_PING, flags: FLAG_SYN, streamId: 0, length: 1 }), '000200010000000000000001')
  assert.equal(hex({ type: TYPE_PING, flags: FLAG_ACK, streamId: 0, length: 1 }), '000200020000000000000001')
  assert.equal(hex({ type: TYPE_GO_AWAY, flags: 0, streamId: 0, length: 0 }), '000300000000000000000000')
})

test('client opens odd ids with WindowUpdate+SYN (delta 0 by default), data follows in plain Data frames', async () => {
  const { session, peer } = setup('client')
  const s1 = await session.openStream()
  const s2 = await session.openStream()
  assert.equal(s1.id, 1)
  assert.equal(s2.id, 3)
  await s1.write(Buffer.from('hello'))
  const syn = await peer.waitFor((f) => f.streamId === 1 && f.type === TYPE_WINDOW_UPDATE)
  assert.deepEqual({ ...syn }, { type: TYPE_WINDOW_UPDATE, flags: FLAG_SYN, streamId: 1, length: 0 })
  const data = await peer.waitFor((f) => f.streamId === 1 && f.type === TYPE_DATA)
  assert.equal(data.flags, 0)
  assert.equal(data.body?.toString(), 'hello')
  assert.ok(peer.frames.indexOf(syn) < peer.frames.indexOf(data), 'SYN precedes data (tentacle #297)')
  session.destroy()
})

test('server opens even ids; a 1 MiB max window announces delta 786432 on SYN (CKB, §8.3)', async () => {
  const { session, peer } = setup('server', { maxStreamWindowSize: 1024 * 1024 })
  const s = await session.openStream()
  assert.equal(s.id, 2)
  const syn = await peer.waitFor((f) => f.streamId === 2)
  assert.equal(syn.flags, FLAG_SYN)
  assert.equal(syn.length, 786432)
  session.destroy()
})

test('an inbound SYN is ACKed at once, before accept(), with the same delta rule', async () => {
  const { session, peer } = setup('server', { maxStreamWindowSize: 1024 * 1024 })
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 5, 0)
  const ack = await peer.waitFor((f) => f.streamId === 5)
  assert.deepEqual({ ...ack }, { type: TYPE_WINDOW_UPDATE, flags: FLAG_ACK, streamId: 5, length: 786432 })
  const s = await session.accept()
  assert.equal(s?.id, 5)
  session.destroy()
})

test('SYN on a Data frame opens the stream and delivers its body (Rust accepts it, §8.9)', async () => {
  const { session, peer } = setup('server')
  peer.send(TYPE_DATA, FLAG_SYN, 7, 3, Buffer.from('abc'))
  const s = await session.accept()
  assert.ok(s)
  assert.equal(Buffer.from((await s.read())!).toString(), 'abc')
  session.destroy()
})

test('close sends WindowUpdate+FIN once; reset sends WindowUpdate+RST; nothing after closed both ways', async () => {
  const { session, peer } = setup('client')
  const s = await session.openStream()
  await s.close()
  await s.close() // idempotent: no second FIN (§8.3 "don't send FIN twice")
  const fin = await peer.waitFor((f) => f.streamId === 1 && (f.flags & FLAG_FIN) !== 0)
  assert.deepEqual({ ...fin }, { type: TYPE_WINDOW_UPDATE, flags: FLAG_FIN, streamId: 1, length: 0 })
  // Peer half-closes too: stream is now closed both ways and forgotten.
  peer.send(TYPE_WINDOW_UPDATE, FLAG_ACK | FLAG_FIN, 1, 0)
  assert.equal(await within(s.read(), 2000, 'EOF'), null)
  assert.equal(session.streamCount, 0)
  const before = peer.frames.length
  s.reset() // after both FINs: no RST on the wire (LESSONS #21)
  await peer.ping() // whatever the reset queued has arrived
  assert.deepEqual(peer.frames.slice(before), [])

  const s2 = await session.openStream()
  s2.reset()
  const rst = await peer.waitFor((f) => f.streamId === 3 && (f.flags & FLAG_RST) !== 0)
  assert.equal(rst.flags, FLAG_RST, 'SYN went out at open, so the RST carries no SYN')
  assert.equal(session.streamCount, 0)
  session.destroy()
})

test('no window update is sent after the peer half-closed (LESSONS #21)', async () => {
  const { session, peer } = setup('server')
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
  const s = (await session.accept())!
  const big = Buffer.alloc(200 * 1024, 7)
  peer.send(TYPE_DATA, FLAG_FIN, 1, big.length, big) // data + FIN in one frame
  let got = 0
  for (;;) {
    const c = await within(s.read(), 2000, 'read')
    if (c === null) break
    got += c.length
  }
  assert.equal(got, big.length)
  await peer.ping() // whatever the reads queued has arrived
  assert.equal(peer.frames.filter((f) => f.streamId === 1 && f.type === TYPE_WINDOW_UPDATE && f.length > 0).length, 0)
  session.destroy()
})

test('ping SYN is answered with ACK and the same opaque value; ping without flags is ignored', async () => {
  const { session, peer } = setup('server')
  peer.send(TYPE_PING, FLAG_SYN, 0, 0xdeadbeef)
  peer.send(TYPE_PING, 0, 0, 42)
  peer.send(TYPE_PING, FLAG_SYN, 9, 7) // stream id of Ping is not checked
  const a = await peer.waitFor((f) => f.type === TYPE_PING && f.length === 0xdeadbeef)
  assert.equal(a.flags, FLAG_ACK)
  assert.equal(a.streamId, 0)
  await peer.waitFor((f) => f.type === TYPE_PING && f.length === 7)
  assert.equal(peer.frames.filter((f) => f.type === TYPE_PING && f.length === 42).length, 0)
  session.destroy()
})

test('frames for unknown streams without SYN are dropped silently (§8.2)', async () => {
  const { session, peer } = setup('server')
  peer.send(TYPE_DATA, 0, 11, 4, Buffer.from('lost'))
  peer.send(TYPE_WINDOW_UPDATE, 0, 13, 100)
  peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
  assert.equal((await session.accept())?.id, 1)
  assert.equal(session.state, 'open')
  assert.equal(session.streamCount, 1)
  session.destroy()
})

test('receiving GoAway(0) answers GoAway(0) and ends the session cleanly (§8.6)', async () => {
  const { session, peer } = setup('client')
  const s = await session.openStream()
  const pendingRead = assert.rejects(s.read(), { code: 'YAMUX_ERR_SESSION_CLOSED' })
  peer.send(TYPE_GO_AWAY, 0, 0, GO_AWAY_NORMAL)
  const ga = await peer.waitFor((f) => f.type === TYPE_GO_AWAY)
  assert.equal(ga.length, GO_AWAY_NORMAL)
  await within(session.closed, 3000, 'session end')
  assert.equal(session.error, undefined)
  assert.equal(session.endReason, 'remote-go-away')
  assert.equal(session.remoteGoAwayCode, 0)
  await pendingRead
  await assert.rejects(session.openStream(), { code: 'YAMUX_ERR_GO_AWAY' })
  assert.equal(session.streamCount, 0)
})

test('receiving GoAway(1) ends the session with YAMUX_ERR_GO_AWAY carrying the code', async () => {
  const { session, peer } = setup('server')
  peer.send(TYPE_GO_AWAY, 0, 0, 1)
  await within(session.closed, 3000, 'session end')
  assert.equal(session.error?.code, 'YAMUX_ERR_GO_AWAY')
  assert.equal(session.error?.goAwayCode, 1)
  await peer.waitFor((f) => f.type === TYPE_GO_AWAY && f.length === 0)
})
