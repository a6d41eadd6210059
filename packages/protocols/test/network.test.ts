// Two and three TS nodes on loopback: ping RTT and last-seen (API and metrics),
// identify accepted and a foreign network name refused (and banned, as CKB),
// discovery on a line A–B–C where A and C learn each other and connect.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { FAST, TestNode } from './helpers.js'

describe('two nodes', () => {
  test('identify both ways, then pings answered: RTT and last-seen readable from peers() and as metrics', async (t) => {
    const b = await new TestNode(FAST).start()
    const a = await new TestNode({ ...FAST, bootnodes: [b.address] }).start()
    t.after(() => Promise.all([a.stop(), b.stop()]))
    const [ia, ib] = await Promise.all([a.waitFor('identified', (p) => p.peerId === b.peerId), b.waitFor('identified', (p) => p.peerId === a.peerId)])
    assert.equal(ia.direction, 'outbound')
    assert.equal(ib.direction, 'inbound')
    assert.equal(ia.info.name, '/ckb/testnet0')
    assert.equal(ia.info.clientVersion, 'tentacle-ts/0.1.0')
    assert.equal(ia.info.flags, 3n)
    await Promise.all([a.waitFor('ping', (p) => p.peerId === b.peerId), b.waitFor('ping', (p) => p.peerId === a.peerId)])
    const pa = a.net.peers().find((p) => p.peerId === b.peerId)!
    assert.ok(pa.pingRttMs !== undefined && pa.pingRttMs >= 0 && pa.pingRttMs < 1000, `rtt ${pa.pingRttMs}`)
    assert.ok(pa.lastSeenAt >= pa.connectedAt)
    const text = await a.service.metrics.text()
    assert.match(text, new RegExp(`tentacle_peer_ping_rtt_seconds\\{session="\\d+",peer_id="${b.peerId}"\\} [0-9.e-]+`))
    assert.match(text, /tentacle_ping_rtt_seconds_count [1-9]/)
    assert.match(text, new RegExp(`tentacle_peer_last_seen_timestamp_seconds\\{session="\\d+",peer_id="${b.peerId}"\\}`))
  })
})

describe('identify', () => {
  test('a different network name is refused on both sides: misbehaviour network-mismatch, IP banned for 5 min, session dropped, nothing else opened', async (t) => {
    const b = await new TestNode(FAST).start()
    const a = await new TestNode({ ...FAST, networkName: '/ckb/othernet', bootnodes: [b.address] }).start()
    t.after(() => Promise.all([a.stop(), b.stop()]))
    const [ma, mb] = await Promise.all([
      a.waitFor('misbehaviour', (m) => m.report.kind === 'network-mismatch'),
      b.waitFor('misbehaviour', (m) => m.report.kind === 'network-mismatch'),
    ])
    assert.equal(mb.verdict, 'ban')
    assert.equal(mb.report.banMs, 300_000)
    assert.match(mb.report.detail, /othernet/)
    assert.equal(ma.verdict, 'ban')
    await Promise.all([a.waitFor('peer-dropped', (p) => p.reason === 'network-mismatch'), b.waitFor('peer-dropped')])
    assert.deepEqual(
      b.net.addressBook.bans().map((x) => x.ip),
      ['127.0.0.1'],
    )
    assert.equal(a.log.filter((l) => l.event === 'identified').length, 0)
    assert.equal(a.log.filter((l) => l.event === 'ping').length, 0)
    // Banned on loopback means every local peer (as CKB): a fresh dial from the same IP is refused at once.
    const c = await new TestNode({ ...FAST, bootnodes: [b.address] }).start()
    t.after(() => c.stop())
    const dropped = await c.waitFor('peer-dropped', (p) => p.peerId === b.peerId)
    assert.notEqual(dropped.reason, undefined)
    assert.equal(c.identifiedPeers().size, 0)
  })

  test('onMisbehaviour decides: "continue" keeps a peer of another network connected', async (t) => {
    const b = await new TestNode({ ...FAST, onMisbehaviour: () => 'continue' }).start()
    const a = await new TestNode({ ...FAST, networkName: '/ckb/othernet', onMisbehaviour: () => 'continue', bootnodes: [b.address] }).start()
    t.after(() => Promise.all([a.stop(), b.stop()]))
    await Promise.all([a.waitFor('misbehaviour'), b.waitFor('misbehaviour')])
    await a.waitFor('ping', (p) => p.peerId === b.peerId)
    assert.equal(b.net.addressBook.bans().length, 0)
  })
})

describe('discovery', () => {
  test('a line A–B–C: A and C learn each other through B, feel each other first, then open a full session', async (t) => {
    const b = await new TestNode(FAST).start()
    const a = await new TestNode({ ...FAST, bootnodes: [b.address] }).start()
    t.after(() => a.stop())
    await a.waitFor('identified', (p) => p.peerId === b.peerId)
    const c = await new TestNode({ ...FAST, bootnodes: [b.address] }).start()
    t.after(() => Promise.all([b.stop(), c.stop()]))
    const learnt = (n: TestNode, other: TestNode) => n.net.addressBook.entries().some((e) => e.peerId === other.peerId)
    await Promise.all([a.until(() => learnt(a, c), 'A learns C'), c.until(() => learnt(c, a), 'C learns A')])
    // CKB's order: a feeler connection first, and the full dial at least dialIntervalMs (300 ms here) after it.
    await Promise.all([a.until(() => a.identifiedPeers().has(c.peerId), 'A connected to C'), c.until(() => c.identifiedPeers().has(a.peerId), 'C connected to A')])
    const fullDial = (n: TestNode, other: TestNode) =>
      n.log.find((l) => l.event === 'identified' && (l.payload as { peerId: string; direction: string }).peerId === other.peerId && (l.payload as { direction: string }).direction === 'outbound' && n.log.some((f) => f.event === 'feeler' && f.at <= l.at && (f.payload as { peerId: string }).peerId === other.peerId))
    const feelerOf = (n: TestNode, other: TestNode) => n.log.find((l) => l.event === 'feeler' && (l.payload as { peerId: string }).peerId === other.peerId)
    const dialer = [a, c].find((n) => n.net.peers().some((p) => p.peerId === (n === a ? c : a).peerId && p.direction === 'outbound' && !p.feeler))!
    const other = dialer === a ? c : a
    const feeler = feelerOf(dialer, other)
    assert.ok(feeler !== undefined, 'the full dialer felt the other first')
    const full = dialer.log.filter((l) => l.event === 'identified' && (l.payload as { peerId: string }).peerId === other.peerId && (l.payload as { direction: string }).direction === 'outbound').at(-1)!
    assert.ok(full.at - feeler.at >= 300 - 20, `full dial ${full.at - feeler.at} ms after the feeler`)
    assert.ok(fullDial(dialer, other) !== undefined)
    await Promise.all([a.waitFor('ping', (p) => p.peerId === c.peerId), c.waitFor('ping', (p) => p.peerId === a.peerId)])
  })
})
