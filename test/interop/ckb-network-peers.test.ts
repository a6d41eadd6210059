/**
 * ckb-network-peer against ckb-network-peer: CKB's network layer talking to
 * itself, no TypeScript implementation involved. These pin down what the
 * real crate does (the behaviour the tentacle-ts protocols must match) and
 * prove the driver's log: if these fail, the driver or its build is broken.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CkbNetworkPeer, type CkbNetworkPeerOptions } from './lib/ckb-network-peer.js'

const FAST: CkbNetworkPeerOptions = {
  pingIntervalSecs: 1,
  pingTimeoutSecs: 5,
  discoveryIntervalSecs: 1,
  connectOutboundIntervalSecs: 1,
  discoveryLocalAddress: true,
}

async function withPeers(
  fn: (start: (o?: CkbNetworkPeerOptions) => Promise<CkbNetworkPeer>) => Promise<void>,
): Promise<void> {
  const started: CkbNetworkPeer[] = []
  try {
    await fn(async (o = {}) => {
      const p = await CkbNetworkPeer.start({ ...FAST, ...o })
      started.push(p)
      return p
    })
  } finally {
    await Promise.all(started.map((p) => p.kill()))
  }
}

test('ckb-network-peer ↔ ckb-network-peer: identify accepted both ways, protocols opened by the dialer, pings with RTTs', async () => {
  await withPeers(async (start) => {
    const a = await start()
    assert.deepEqual(
      a.ready.protocols.map((p) => [p.id, p.name, p.versions]).sort((x, y) => Number(x[0]) - Number(y[0])),
      [
        [0, '/ckb/ping', ['3']],
        [1, '/ckb/discovery', ['3']],
        [2, '/ckb/identify', ['3']],
        [3, '/ckb/flr', ['3']],
        [4, '/ckb/disconnectmsg', ['3']],
      ],
    )
    const b = await start({ bootnodes: [a.dialAddress] })
    const accA = await a.waitEvent('identify_accepted', { peer_id: b.peerId }, 10_000)
    const accB = await b.waitEvent('identify_accepted', { peer_id: a.peerId }, 10_000)
    assert.equal(accA.ty, 'inbound')
    assert.equal(accB.ty, 'outbound')
    assert.equal(accA.name, '/ckb/92b197aa')
    assert.equal(accA.flags, 63)
    assert.equal(accB.client_version, a.ready.client_version)
    // The dialer opened identify first, then everything but the feeler.
    await b.waitEvent('protocols', (e) => e.session === accB.session && e.protocols.join() === '0,1,2,4', 10_000)
    await a.waitEvent('protocols', (e) => e.session === accA.session && e.protocols.join() === '0,1,2,4', 10_000)
    const rttA = await a.waitEvent('ping_rtt', { session: accA.session }, 10_000)
    const rttB = await b.waitEvent('ping_rtt', { session: accB.session }, 10_000)
    assert.ok(rttA.rtt_ms >= 0 && rttA.rtt_ms < 1000, `rtt ${rttA.rtt_ms}`)
    assert.ok(rttB.rtt_ms >= 0 && rttB.rtt_ms < 1000, `rtt ${rttB.rtt_ms}`)
    await a.waitEvent('ping_received', { session: accA.session }, 10_000)
  })
})

test('ckb-network-peer: a different network name is refused and the peer IP banned for 5 minutes', async () => {
  await withPeers(async (start) => {
    const a = await start({ networkName: '/ckb/aaaaaaaa' })
    const b = await start({ networkName: '/ckb/bbbbbbbb', bootnodes: [a.dialAddress] })
    // Whoever gets the other's IdentifyMessage first refuses it, bans the IP
    // and disconnects at once; the other's own identify may then never be
    // delivered (tentacle drops what is queued), so it may never refuse.
    await Promise.race([
      a.waitEvent('identify_refused', undefined, 10_000),
      b.waitEvent('identify_refused', undefined, 10_000),
    ])
    await b.waitEvent('session_close', undefined, 10_000)
    const names: Record<string, string> = { [a.peerId]: '/ckb/aaaaaaaa', [b.peerId]: '/ckb/bbbbbbbb' }
    for (const [p, other] of [
      [a, b],
      [b, a],
    ] as const) {
      for (const ref of p.eventsOf('identify_refused')) {
        assert.deepEqual([ref.reason, ref.local, ref.remote], ['network_name', names[p.peerId], names[other.peerId]])
        const ban = await p.waitEvent('ban', undefined, 10_000)
        assert.equal(ban.seconds, 300)
        assert.equal(ban.reason, 'The nodes are not on the same network')
        // The whole IP is banned (a /32), not the address with its port.
        const banned = await p.waitEvent('banned', undefined, 10_000)
        assert.equal(banned.address, '127.0.0.1/32')
        assert.equal(banned.seconds, 300)
      }
    }
    assert.equal(a.eventsOf('identify_accepted').length + b.eventsOf('identify_accepted').length, 0)
  })
})

test('ckb-network-peer: identify with zero flags is refused like a wrong name', async () => {
  await withPeers(async (start) => {
    const a = await start()
    const b = await start({ flags: 0, bootnodes: [a.dialAddress] })
    const ban = await a.waitEvent('ban', undefined, 10_000)
    assert.equal(ban.reason, 'The nodes are not on the same network')
    assert.equal(ban.seconds, 300)
    await b.waitEvent('session_close', undefined, 10_000)
    assert.equal(a.eventsOf('identify_accepted').length, 0)
  })
})

test('ckb-network-peer: three in a line (B – A – C): B and C learn each other from A, feeler first, full dial ≥ 15 s later', async () => {
  await withPeers(async (start) => {
    const a = await start()
    const b = await start({ bootnodes: [a.dialAddress] })
    const c = await start({ bootnodes: [a.dialAddress] })
    const cListen = c.dialAddress
    const bListen = b.dialAddress
    await b.waitEvent('discovered', { address: cListen }, 20_000)
    await c.waitEvent('discovered', { address: bListen }, 20_000)
    // One of them feelers the other first (whichever's tick comes first; the
    // other then sees the peer connected and does not).
    const feeler = await Promise.race([
      b.waitEvent('feeler_open', { address: cListen }, 20_000).then(() => ({ at: Date.now() })),
      c.waitEvent('feeler_open', { address: bListen }, 20_000).then(() => ({ at: Date.now() })),
    ])
    // After the feeler's session closed, the other end may feeler back and
    // either may make the full dial first; the other then sees it connected.
    const full = await Promise.race([
      b
        .waitEvent('identify_accepted', (e) => e.peer_id === c.peerId && e.ty === 'outbound', 40_000)
        .then((e) => ({ e, by: b })),
      c
        .waitEvent('identify_accepted', (e) => e.peer_id === b.peerId && e.ty === 'outbound', 40_000)
        .then((e) => ({ e, by: c })),
    ])
    const after = Date.now() - feeler.at
    assert.ok(after >= 14_000, `full dial ${after} ms after the feeler`)
    const acc = full.e
    const dialer = full.by
    await dialer.waitEvent('ping_rtt', { session: acc.session }, 10_000)
  })
})
