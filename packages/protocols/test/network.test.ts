// Two and three TS nodes on loopback: ping RTT and last-seen (API and metrics),
// identify accepted and a foreign network name refused (and banned, as CKB),
// discovery on a line A–B–C where A and C learn each other and connect.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type { ProtocolSpec } from '@tentacle-ts/tentacle'
import { FAST, TestNode } from './helpers.js'

describe('two nodes', () => {
  test('identify both ways, then pings answered: RTT and last-seen readable from peers() and as metrics', async (t) => {
    const b = await new TestNode(FAST).start()
    const a = await new TestNode({ ...FAST, bootnodes: [b.address] }).start()
    t.after(() => Promise.all([a.stop(), b.stop()]))
    const [ia, ib] = await Promise.all([
      a.waitFor('identified', (p) => p.peerId === b.peerId),
      b.waitFor('identified', (p) => p.peerId === a.peerId),
    ])
    assert.equal(ia.direction, 'outbound')
    assert.equal(ib.direction, 'inbound')
    assert.equal(ia.info.name, '/ckb/testnet0')
    assert.equal(ia.info.clientVersion, 'tentacle-ts/0.1.0')
    assert.equal(ia.info.flags, 3n)
    await Promise.all([
      a.waitFor('ping', (p) => p.peerId === b.peerId),
      b.waitFor('ping', (p) => p.peerId === a.peerId),
    ])
    const pa = a.net.peers().find((p) => p.peerId === b.peerId)!
    assert.ok(pa.pingRttMs !== undefined && pa.pingRttMs >= 0 && pa.pingRttMs < 1000, `rtt ${pa.pingRttMs}`)
    assert.ok(pa.lastSeenAt >= pa.connectedAt)
    const text = await a.service.metrics.text()
    assert.match(text, new RegExp(`tentacle_peer_ping_rtt_seconds\\{session="\\d+",peer_id="${b.peerId}"\\} [0-9.e-]+`))
    assert.match(text, /tentacle_ping_rtt_seconds_count [1-9]/)
    assert.match(
      text,
      new RegExp(`tentacle_peer_last_seen_timestamp_seconds\\{session="\\d+",peer_id="${b.peerId}"\\}`),
    )
  })
})

describe('application protocols beside the preset', () => {
  test('a /ckb/syn registered beside the ckb preset is opened by the dialer once identify succeeded (a full CKB node closes a session without it after 10 s)', async (t) => {
    const opened = new Map<string, { version: string; at: number }>()
    let bothOpen!: () => void
    const both = new Promise<void>((resolve) => (bothOpen = resolve))
    const sync = (who: string): ProtocolSpec => ({
      id: 100,
      name: '/ckb/syn',
      versions: ['3'],
      maxFrameLength: 2 * 1024 * 1024,
      handler: {
        connected: (_ctx, version) => {
          opened.set(who, { version, at: Date.now() })
          if (opened.size === 2) bothOpen()
        },
      },
    })
    const b = await new TestNode(FAST, [sync('b')]).start()
    const a = await new TestNode({ ...FAST, bootnodes: [b.address] }, [sync('a')]).start()
    t.after(() => Promise.all([a.stop(), b.stop()]))
    await a.waitFor('identified', (p) => p.peerId === b.peerId)
    await both
    const identifiedAt = a.log.find((l) => l.event === 'identified')!.at
    assert.equal(opened.get('a')!.version, '3')
    assert.equal(opened.get('b')!.version, '3')
    assert.ok(opened.get('a')!.at >= identifiedAt, 'the dialer opened /ckb/syn only after identify succeeded')
    const session = a.service.sessions().find((s) => s.remotePeerId === b.peerId)!
    assert.ok(session.openProtocols.has(100))
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
    const a = await new TestNode({
      ...FAST,
      networkName: '/ckb/othernet',
      onMisbehaviour: () => 'continue',
      bootnodes: [b.address],
    }).start()
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
    const fullOut = (n: TestNode, other: TestNode) =>
      n.net
        .peers()
        .some((p) => p.peerId === other.peerId && p.direction === 'outbound' && !p.feeler && p.identified !== undefined)
    await a.until(() => fullOut(a, c) || fullOut(c, a), 'a full outbound session between A and C')
    type Ev = { peerId: string; direction?: string; sessionId: number }
    const feelerOf = (n: TestNode, other: TestNode) =>
      n.log.find((l) => l.event === 'feeler' && (l.payload as Ev).peerId === other.peerId)
    const fullDial = (n: TestNode, other: TestNode) => {
      const f = feelerOf(n, other)
      if (f === undefined) return undefined
      return n.log.find((l) => {
        const p = l.payload as Ev
        return (
          l.event === 'identified' &&
          p.peerId === other.peerId &&
          p.direction === 'outbound' &&
          p.sessionId !== (f.payload as Ev).sessionId &&
          l.at >= f.at
        )
      })
    }
    const dialer = [a, c].find((n) => fullDial(n, n === a ? c : a) !== undefined)
    assert.ok(dialer !== undefined, 'one of them made a full outbound dial after feeling the other')
    const other = dialer === a ? c : a
    const feeler = feelerOf(dialer, other)!
    const full = fullDial(dialer, other)!
    assert.ok(full.at - feeler.at >= 300 - 20, `full dial ${full.at - feeler.at} ms after the feeler`)
    await Promise.all([
      a.waitFor('ping', (p) => p.peerId === c.peerId),
      c.waitFor('ping', (p) => p.peerId === a.peerId),
    ])
  })
})

describe('announcements', () => {
  test('a peer that joined a hub alone is announced to peers that join later (3 recipients, not one tick at which nobody else was there)', async (t) => {
    // A and B never dial anyone but the hub (long outbound ticks), and the hub never dialed A, so
    // its Nodes reply to B cannot carry A: only the hub's announcement can tell B about A.
    const SLOW = { ...FAST, outboundIntervalMs: 600_000 }
    const hub = await new TestNode({ ...FAST, discoveryIntervalMs: 50 }).start()
    const a = await new TestNode({ ...SLOW, bootnodes: [hub.address] }).start()
    t.after(() => Promise.all([hub.stop(), a.stop()]))
    await hub.waitFor('identified', (p) => p.peerId === a.peerId)
    // Let the hub's announce ticks run while A is its only peer (CKB announces A then, to nobody, and not again for a day).
    // Not a synchronization: time passing is the scenario (~8 ticks of 50 ms; no event marks
    // a tick, and fewer ticks under load only make the scenario milder, never a false failure).
    await new Promise((r) => setTimeout(r, 400))
    const b = await new TestNode({ ...SLOW, bootnodes: [hub.address] }).start()
    t.after(() => b.stop())
    const hubSession = (await b.waitFor('identified', (p) => p.peerId === hub.peerId)).sessionId
    const got = await b.waitFor('discovered', (p) => p.addresses.some((x) => x.endsWith(`/p2p/${a.peerId}`)), 5000)
    assert.equal(got.sessionId, hubSession, 'learnt from the hub')
  })
})

describe('convergence', () => {
  test("three nodes started together with equal ticks and CKB's 60 s feeler retry form the full mesh within a few ticks (3 rounds)", async () => {
    // The two that learn each other from the hub at the same tick feeler (or dial) each other at
    // once; a lost crossing would cost a whole feelerRetryMs (60 s) before the next try.
    const EQUAL = { ...FAST, feelerRetryMs: 60_000 }
    for (let round = 0; round < 3; round++) {
      const hub = await new TestNode(EQUAL).start()
      const nodes = await Promise.all([0, 1].map(() => new TestNode({ ...EQUAL, bootnodes: [hub.address] }).start()))
      const all = [hub, ...nodes]
      try {
        const meshed = (n: TestNode) => all.every((o) => o === n || n.identifiedPeers().has(o.peerId))
        await Promise.all(all.map((n) => n.until(() => meshed(n), `round ${round}: full mesh`, 8000)))
      } finally {
        await Promise.all(all.map((n) => n.stop()))
      }
    }
  })
})

describe('CKB rules and options', () => {
  test('without allowLocalAddresses (CKB default) loopback addresses never travel: A and C stay strangers behind B', async (t) => {
    const local = { ...FAST, allowLocalAddresses: false }
    const b = await new TestNode(local).start()
    const a = await new TestNode({ ...local, bootnodes: [b.address] }).start()
    const c = await new TestNode({ ...local, bootnodes: [b.address] }).start()
    t.after(() => Promise.all([a.stop(), b.stop(), c.stop()]))
    // Ten pings from B = ten ping intervals = several discovery and outbound ticks (200 ms each).
    await Promise.all(
      [a, c].map((n) => n.until(() => n.log.filter((l) => l.event === 'ping').length >= 10, 'ten pings', 15_000)),
    )
    for (const n of [a, b, c]) assert.equal(n.log.filter((l) => l.event === 'discovered').length, 0)
    assert.equal(
      a.net.addressBook.entries().some((e) => e.peerId === c.peerId),
      false,
    )
    assert.deepEqual([...a.identifiedPeers()], [b.peerId])
  })

  test('maxOutbound bounds the full outbound sessions discovery keeps', async (t) => {
    const boot = await new TestNode(FAST).start()
    const nodes = [boot]
    t.after(async () => {
      for (const n of nodes) await n.stop()
    })
    for (let i = 0; i < 4; i++)
      nodes.push(await new TestNode({ ...FAST, maxOutbound: 2, bootnodes: [boot.address] }).start())
    let worst = 0
    for (const n of nodes) {
      n.net.on('identified', () => {
        worst = Math.max(worst, n.net.peers().filter((p) => p.direction === 'outbound' && !p.feeler).length)
      })
    }
    // Each node dials until its 2 outbound slots are full or no one is left to dial (every other
    // node connected in one direction or the other: CKB never dials a connected peer), then stays.
    const outbound = (n: TestNode) => n.net.peers().filter((p) => p.direction === 'outbound' && !p.feeler).length
    const saturated = (n: TestNode) => outbound(n) === 2 || n.identifiedPeers().size === nodes.length - 1
    await Promise.all(
      nodes.slice(1).map((n) => n.until(() => saturated(n), 'two outbound sessions or no one left to dial', 20_000)),
    )
    const pings = (n: TestNode) => n.log.filter((l) => l.event === 'ping').length
    const base = nodes.map(pings)
    await Promise.all(nodes.map((n, i) => n.until(() => pings(n) >= base[i]! + 10, 'ten more pings', 15_000)))
    assert.ok(worst <= 2, `a node had ${worst} full outbound sessions`)
    for (const n of nodes.slice(1)) assert.ok(saturated(n) && outbound(n) <= 2)
  })

  test('an address book file: a restarted node with no bootnodes dials the peers it learnt', async (t) => {
    const { mkdtemp, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { join } = await import('node:path')
    const dir = await mkdtemp(join(tmpdir(), 'tentacle-protocols-'))
    const file = join(dir, 'peers.json')
    const b = await new TestNode(FAST).start()
    let again: TestNode | undefined
    t.after(async () => {
      await again?.stop()
      await b.stop()
      await rm(dir, { recursive: true, force: true })
    })
    const a = await new TestNode({ ...FAST, bootnodes: [b.address], addressBookFile: file }).start()
    await a.waitFor('identified', (p) => p.peerId === b.peerId)
    await a.stop()
    again = await new TestNode({ ...FAST, addressBookFile: file }).start()
    const id = await again.waitFor('identified', (p) => p.peerId === b.peerId)
    assert.equal(id.direction, 'outbound')
  })

  test('the tentacle preset: /p2p/<id> names, version 0.0.1; nodes identify, ping and discover in tentacle-discovery form', async (t) => {
    const b = await new TestNode({ ...FAST, preset: 'tentacle' }).start()
    const a = await new TestNode({ ...FAST, preset: 'tentacle', bootnodes: [b.address] }).start()
    t.after(() => Promise.all([a.stop(), b.stop()]))
    assert.deepEqual(
      a.net.protocols.map((p) => [p.id, p.name, p.versions]),
      [
        [1, '/p2p/1', ['0.0.1']],
        [2, '/p2p/2', ['0.0.1']],
        [3, '/p2p/3', ['0.0.1']],
        [4, '/p2p/4', ['0.0.1']],
        [5, '/p2p/5', ['0.0.1']],
      ],
    )
    await a.waitFor('ping', (p) => p.peerId === b.peerId)
    // Discovery in tentacle-discovery's form: a third node learns A through B.
    const c = await new TestNode({ ...FAST, preset: 'tentacle', bootnodes: [b.address] }).start()
    t.after(() => c.stop())
    await c.until(() => c.net.addressBook.entries().some((e) => e.peerId === a.peerId), 'C learns A')
  })

  test('the ckb preset: CKB ids, names, versions and frame limits', async (t) => {
    const n = new TestNode()
    t.after(() => n.stop())
    assert.deepEqual(
      n.net.protocols.map((p) => [p.id, p.name, p.versions, p.maxFrameLength]),
      [
        [0, '/ckb/ping', ['3'], 1024],
        [1, '/ckb/discovery', ['3'], 512 * 1024],
        [2, '/ckb/identify', ['3'], 2048],
        [3, '/ckb/flr', ['3'], 1024],
        [4, '/ckb/disconnectmsg', ['3'], 1024],
      ],
    )
    assert.equal(n.net.options.pingIntervalMs, 120_000)
    assert.equal(n.net.options.pingTimeoutMs, 1_200_000)
    assert.equal(n.net.options.discoveryIntervalMs, 60_000)
    assert.equal(n.net.options.identifyTimeoutMs, 8000)
    assert.equal(n.net.options.dialIntervalMs, 15_000)
  })

  test('bad options are PROTOCOLS_ERR_INVALID_OPTION naming the option', async () => {
    const { createNetworkProtocols, ProtocolsError } = await import('../src/index.js')
    const bad: Array<[Parameters<typeof createNetworkProtocols>[0], string]> = [
      [{ networkName: '' }, 'networkName'],
      [{ networkName: 'x', preset: 'nope' as 'ckb' }, 'preset'],
      [{ networkName: 'x', bootnodes: ['/ip4/127.0.0.1/tcp/1'] }, 'bootnodes[0]'],
      [{ networkName: 'x', publicAddresses: ['/ip4/1.2.3.4/tcp/1', 'garbage'] }, 'publicAddresses[1]'],
      [{ networkName: 'x', bootnodes: ['garbage'] }, 'bootnodes[0]'],
      [{ networkName: 'x', flags: 0n }, 'flags'],
      [{ networkName: 'x', pingIntervalMs: 0 }, 'pingIntervalMs'],
      [{ networkName: 'x', ids: { ping: 1 } }, 'ids'],
    ]
    for (const [o, field] of bad)
      assert.throws(
        () => createNetworkProtocols(o),
        (e: unknown) => e instanceof ProtocolsError && e.code === 'PROTOCOLS_ERR_INVALID_OPTION' && e.field === field,
        JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      )
  })

  test('disconnectWithMessage: the peer receives the message and both drop the session', async (t) => {
    const b = await new TestNode(FAST).start()
    const a = await new TestNode({ ...FAST, bootnodes: [b.address] }).start()
    t.after(() => Promise.all([a.stop(), b.stop()]))
    const id = await a.waitFor('ping', (p) => p.peerId === b.peerId)
    a.net.disconnectWithMessage(id.sessionId, 'going away')
    const m = await b.waitFor('disconnect-message')
    assert.equal(m.message, 'going away')
    await a.until(() => !a.identifiedPeers().has(b.peerId), 'A drops B')
  })
})
