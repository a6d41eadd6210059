/**
 * tentacle-ts with @tentacle-ts/protocols against CKB's own network layer
 * (ckb-network-peer: crates.io ckb-network 1.2.4, NetworkService with CKB's
 * ping, identify, discovery, feeler and disconnect-message handlers), both
 * ways. Timers are short on both sides (CKB's are whole seconds: ping every
 * 1 s, discovery tick 1 s, outbound tick 1 s); CKB's DIAL_INTERVAL (15 s
 * between a feeler and the full dial) is a constant of the crate, so the
 * discovery tests take ~20 s.
 *
 * A wrong network name makes CKB ban the peer's whole IP for 5 minutes; on
 * loopback that is 127.0.0.1 for every local peer. Every test therefore
 * starts its own driver instances (fresh data dir, fresh ban list) and its
 * own TS nodes.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Flags } from '@tentacle-ts/protocols'
import { CkbNetworkPeer, type CkbNetworkPeerOptions } from './lib/ckb-network-peer.js'
import { CkbNetworkTsNode } from './lib/ckb-network-ts-node.js'
import { RawTap } from './lib/ckb-raw-tap.js'

const CKB_FAST: CkbNetworkPeerOptions = {
  pingIntervalSecs: 1,
  pingTimeoutSecs: 5,
  discoveryIntervalSecs: 1,
  connectOutboundIntervalSecs: 1,
  discoveryLocalAddress: true,
}
const NAME = '/ckb/92b197aa'
const TS_FLAGS = Flags.COMPATIBILITY | Flags.DISCOVERY

interface World {
  ckb(o?: CkbNetworkPeerOptions): Promise<CkbNetworkPeer>
  ts(o?: ConstructorParameters<typeof CkbNetworkTsNode>[0]): Promise<CkbNetworkTsNode>
}

/** Runs `fn` with factories for drivers and TS nodes; stops every one of them. */
async function world(fn: (w: World) => Promise<void>): Promise<void> {
  const drivers: CkbNetworkPeer[] = []
  const nodes: CkbNetworkTsNode[] = []
  try {
    await fn({
      ckb: async (o = {}) => {
        const p = await CkbNetworkPeer.start({ ...CKB_FAST, ...o })
        drivers.push(p)
        return p
      },
      ts: async (o = {}) => {
        const n = new CkbNetworkTsNode(o)
        nodes.push(n)
        return n.start()
      },
    })
  } finally {
    await Promise.allSettled(nodes.map((n) => n.stop()))
    await Promise.allSettled(drivers.map((d) => d.kill()))
  }
}

/** Identify, protocols and pings on one session, checked from both ends. */
async function checkSession(k: CkbNetworkPeer, t: CkbNetworkTsNode, tsDialed: boolean): Promise<void> {
  const ckbTy = tsDialed ? 'inbound' : 'outbound'
  const acc = await k.waitEvent('identify_accepted', { peer_id: t.peerId }, 10_000)
  assert.equal(acc.ty, ckbTy)
  assert.equal(acc.flags, Number(TS_FLAGS))
  assert.equal(acc.client_version, t.net.options.clientVersion)
  const ident = await t.waitFor('identified', (e) => e.peerId === k.peerId, 10_000)
  assert.equal(ident.direction, tsDialed ? 'outbound' : 'inbound')
  assert.equal(ident.info.name, NAME)
  assert.equal(ident.info.flags, 63n)
  assert.equal(ident.info.clientVersion, k.ready.client_version)
  // Every protocol but the feeler is open on the session, as CKB's
  // ProtocolTypeChecker wants ("fully open"), whoever dialed.
  await k.waitEvent('protocols', (e) => e.session === acc.session && e.protocols.join() === '0,1,2,4', 10_000)
  // CKB pings us and records an RTT (so our Pong carried its nonce); we ping
  // CKB and record an RTT (so CKB's Pong carried ours).
  const rtt = await k.waitEvent('ping_rtt', { session: acc.session }, 10_000)
  assert.ok(rtt.rtt_ms >= 0 && rtt.rtt_ms < 2000, `ckb rtt ${rtt.rtt_ms}`)
  await k.waitEvent('ping_received', { session: acc.session }, 10_000)
  const ping = await t.waitFor('ping', (e) => e.peerId === k.peerId, 10_000)
  assert.ok(ping.rttMs >= 0 && ping.rttMs < 2000, `ts rtt ${ping.rttMs}`)
  const peer = t.net.peers().find((p) => p.peerId === k.peerId)
  assert.ok(
    peer !== undefined && peer.pingRttMs !== undefined && peer.identified?.name === NAME,
    JSON.stringify(peer, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  )
  // Nobody misbehaved, nobody was dropped.
  assert.deepEqual(t.eventsOf('misbehaviour'), [])
  assert.equal(k.eventsOf('misbehaviour').length + k.eventsOf('ban').length + k.eventsOf('identify_refused').length, 0)
}

/**
 * The dialer (CKB or us) opens /ckb/identify alone, the others only after
 * identify passed, and never /ckb/flr on a full session.
 */
function checkOpenOrder(t: CkbNetworkTsNode, peerId: string): void {
  const session = t.net.peers().find((p) => p.peerId === peerId)?.sessionId
  assert.ok(session !== undefined)
  const opens = t.opens.filter((o) => o.session === session)
  assert.equal(opens[0]?.proto, 2, `first open: ${JSON.stringify(opens)}`)
  assert.deepEqual(opens.map((o) => o.proto).sort(), [0, 1, 2, 4])
  const identified = t.eventsOf('identified').find((e) => e.peerId === peerId)
  assert.ok(identified !== undefined)
}

test('ckb-network: TS dials ckb-network — identify accepted on both sides, all but feeler open, pings answered with RTTs both ways', async () => {
  await world(async (w) => {
    const k = await w.ckb()
    const t = await w.ts({ bootnodes: [k.dialAddress] })
    await checkSession(k, t, true)
    checkOpenOrder(t, k.peerId)
  })
})

test('ckb-network: ckb-network dials TS — identify accepted on both sides, CKB opens the rest after identify, pings answered with RTTs both ways', async () => {
  await world(async (w) => {
    const t = await w.ts()
    const k = await w.ckb({ bootnodes: [t.address] })
    await checkSession(k, t, false)
    checkOpenOrder(t, k.peerId)
  })
})

test('ckb-network: TS dials ckb-network with another network name — TS refuses and bans 127.0.0.1 for 5 min as CKB does; CKB never accepts it', async () => {
  await world(async (w) => {
    const k = await w.ckb()
    const t = await w.ts({ networkName: '/ckb/deadbeef', bootnodes: [k.dialAddress] })
    // We get CKB's IdentifyMessage (CKB, the listener, sends it as soon as
    // identify opens) and refuse it as CKB would: a 5-minute ban of its IP.
    const mis = await t.waitFor('misbehaviour', (e) => e.report.kind === 'network-mismatch', 10_000)
    assert.equal(mis.verdict, 'ban')
    assert.equal(mis.report.banMs, 300_000)
    assert.equal(mis.report.peerId, k.peerId)
    await t.waitFor('peer-dropped', (e) => e.peerId === k.peerId, 10_000)
    await k.waitEvent('session_close', undefined, 10_000)
    // CKB refuses ours the same way when it gets it in time; our ban closes
    // the session at once, so it often does not (the same race as below).
    for (const ref of k.eventsOf('identify_refused')) {
      assert.deepEqual([ref.reason, ref.local, ref.remote], ['network_name', NAME, '/ckb/deadbeef'])
      const ban = await k.waitEvent('banned', undefined, 10_000)
      assert.deepEqual(
        [ban.address, ban.seconds, ban.reason],
        ['127.0.0.1/32', 300, 'The nodes are not on the same network'],
      )
    }
    assert.equal(t.eventsOf('identified').length, 0)
    assert.equal(k.eventsOf('identify_accepted').length, 0)
    assert.ok(t.net.addressBook.isBanned(k.dialAddress), "TS banned the ckb-network node's IP")
  })
})

test('ckb-network: ckb-network dials TS with another network name — refused on both sides as CKB refuses it', async () => {
  await world(async (w) => {
    const t = await w.ts({ networkName: '/ckb/deadbeef' })
    const k = await w.ckb({ bootnodes: [t.address] })
    const ref = await k.waitEvent('identify_refused', undefined, 10_000)
    assert.deepEqual([ref.reason, ref.local, ref.remote], ['network_name', NAME, '/ckb/deadbeef'])
    await k.waitEvent('banned', { address: '127.0.0.1/32' }, 10_000)
    await k.waitEvent('session_close', undefined, 10_000)
    await t.waitFor('peer-dropped', (e) => e.peerId === k.peerId, 10_000)
    // CKB's own IdentifyMessage, quick-sent when its identify opened, mostly
    // does not reach us: our identify arrives first, CKB bans and disconnects
    // at once, and tentacle drops what was still queued (the same race loses
    // disconnect messages, also between two ckb-network nodes). When it does
    // arrive, we refuse it as CKB does.
    for (const m of t.eventsOf('misbehaviour')) {
      assert.equal(m.report.kind, 'network-mismatch')
      assert.equal(m.verdict, 'ban')
    }
    await k.waitEvent('session_close', undefined, 10_000)
    assert.equal(t.eventsOf('identified').length, 0)
    assert.equal(k.eventsOf('identify_accepted').length, 0)
  })
})

test('ckb-network: discovery TS – ckb-network – TS — each end learns the other from the middle, feelers it, then dials it', async () => {
  await world(async (w) => {
    const k = await w.ckb()
    const t1 = await w.ts({ bootnodes: [k.dialAddress] })
    const t2 = await w.ts({ bootnodes: [k.dialAddress] })
    await k.waitEvent('identify_accepted', { peer_id: t1.peerId }, 10_000)
    await k.waitEvent('identify_accepted', { peer_id: t2.peerId }, 10_000)
    // Both ends learn the other's listen address from the ckb-network node
    // (its announce; CKB knows them from our GetNodes' listen_port).
    const d1 = await t1.waitFor('discovered', (e) => e.addresses.includes(t2.address), 20_000)
    const d2 = await t2.waitFor('discovered', (e) => e.addresses.includes(t1.address), 20_000)
    assert.equal(t1.net.peer(d1.sessionId)?.peerId, k.peerId)
    assert.equal(t2.net.peer(d2.sessionId)?.peerId, k.peerId)
    // One of them (or both) feelers the other, whichever's tick comes first;
    // seen as a 'feeler' drop on the inbound end (the dialer's own /ckb/flr
    // open may never complete: the inbound end closes the session as soon as
    // its side opens, as CKB does).
    const feelerDrop = (a: CkbNetworkTsNode, b: CkbNetworkTsNode): { at: number } | undefined =>
      a.log.find(
        (l) =>
          l.event === 'peer-dropped' &&
          (l.payload as { peerId?: string; reason: string }).peerId === b.peerId &&
          (l.payload as { reason: string }).reason === 'feeler',
      )
    await t1
      .until(
        () => feelerDrop(t1, t2) !== undefined || feelerDrop(t2, t1) !== undefined,
        'a feeler between t1 and t2',
        20_000,
      )
      .catch((e: Error) => {
        throw new Error(
          `${e.message}\nt2 ${t2.peerId}: ${t2.describe()}\nckb: ${k.process.stdout
            .filter((l) => !/ping_/.test(l))
            .slice(-30)
            .join('\n')}`,
        )
      })
    const feelerAt = Math.min(feelerDrop(t1, t2)?.at ?? Infinity, feelerDrop(t2, t1)?.at ?? Infinity)
    // Then a full session, dialed no sooner than CKB's DIAL_INTERVAL (15 s)
    // after the feeler.
    const fullBy = (a: CkbNetworkTsNode, b: CkbNetworkTsNode): { at: number } | undefined =>
      a.log.find((l) => {
        const p = l.payload as { peerId?: string; direction?: string; sessionId: number }
        return (
          l.event === 'identified' &&
          p.peerId === b.peerId &&
          p.direction === 'outbound' &&
          a.net.peer(p.sessionId)?.feeler === false
        )
      })
    await t1.until(
      () => fullBy(t1, t2) !== undefined || fullBy(t2, t1) !== undefined,
      'a full session between t1 and t2',
      40_000,
    )
    const f =
      fullBy(t1, t2) !== undefined
        ? { by: t1, to: t2, at: fullBy(t1, t2)!.at }
        : { by: t2, to: t1, at: fullBy(t2, t1)!.at }
    assert.ok(f.at - feelerAt >= 14_000, `full dial ${f.at - feelerAt} ms after the feeler`)
    await f.by.waitFor('ping', (e) => e.peerId === f.to.peerId, 10_000)
  })
})

test('ckb-network: discovery ckb-network – TS – ckb-network — each end learns the other from the TS node, feelers it, then dials it', async () => {
  await world(async (w) => {
    const t = await w.ts()
    const k1 = await w.ckb({ bootnodes: [t.address] })
    const k2 = await w.ckb({ bootnodes: [t.address] })
    await t.waitFor('identified', (e) => e.peerId === k1.peerId, 10_000)
    await t.waitFor('identified', (e) => e.peerId === k2.peerId, 10_000)
    await k1.waitEvent('discovered', { address: k2.dialAddress }, 20_000)
    await k2.waitEvent('discovered', { address: k1.dialAddress }, 20_000)
    // CKB logs FeelerProtocol.connected on whichever end gets there first;
    // the other end may not (it is closed right away).
    const f = await Promise.race([
      k1.waitEvent('feeler_open', (e) => e.address.includes(k2.peerId), 20_000).then(() => Date.now()),
      k2.waitEvent('feeler_open', (e) => e.address.includes(k1.peerId), 20_000).then(() => Date.now()),
    ])
    const full = await Promise.race([
      k1
        .waitEvent('identify_accepted', (e) => e.peer_id === k2.peerId && e.ty === 'outbound', 40_000)
        .then((e) => ({ e, by: k1 })),
      k2
        .waitEvent('identify_accepted', (e) => e.peer_id === k1.peerId && e.ty === 'outbound', 40_000)
        .then((e) => ({ e, by: k2 })),
    ])
    assert.ok(Date.now() - f >= 14_000, `full dial ${Date.now() - f} ms after the feeler`)
    const acc = full.e
    const by = full.by
    await by.waitEvent('ping_rtt', { session: acc.session }, 10_000)
  })
})

test('ckb-network: TS feelers a ckb-network node it learnt about — CKB sees identify then /ckb/flr and closes; the full dial follows ≥ 15 s later', async () => {
  await world(async (w) => {
    const k1 = await w.ckb()
    // k2 never dials on its own (no outbound tick within the test), so the
    // first connection between t and k2 is t's feeler.
    const k2 = await w.ckb({ bootnodes: [k1.dialAddress], connectOutboundIntervalSecs: 600 })
    await k1.waitEvent('identify_accepted', { peer_id: k2.peerId }, 10_000)
    const t = await w.ts({ bootnodes: [k1.dialAddress] })
    await t.waitFor('discovered', (e) => e.addresses.includes(k2.dialAddress), 20_000)
    const fo = await k2.waitEvent('feeler_open', (e) => e.address.includes(t.peerId), 20_000)
    const feelerAt = Date.now()
    assert.ok(fo.address.includes(t.peerId))
    await k2.waitEvent('session_close', (e) => e.address.includes(t.peerId), 10_000)
    // The feeler opened identify, then /ckb/flr alone (no ping, discovery).
    const feelerSession = k2.eventsOf('session_open').find((e) => e.address.includes(t.peerId))
    assert.ok(feelerSession !== undefined)
    const acc = await k2.waitEvent('identify_accepted', { peer_id: t.peerId }, 40_000)
    assert.notEqual(acc.session, feelerSession.session)
    assert.equal(acc.ty, 'inbound')
    const gap = Date.now() - feelerAt
    assert.ok(gap >= 14_000, `full dial ${gap} ms after the feeler`)
  })
})

test('ckb-network: ckb-network feelers TS — identify, then /ckb/flr, then both sides close; TS records a feeler drop', async () => {
  await world(async (w) => {
    const t = await w.ts()
    const k = await w.ckb()
    await k.call({ cmd: 'feeler', address: t.address })
    await k.waitEvent('feeler_session_open', { address: t.address }, 10_000)
    // We (inbound) close on /ckb/flr open, as CKB's inbound side does; CKB's
    // own FeelerProtocol.connected then may or may not run before the close.
    const drop = await t.waitFor('peer-dropped', (e) => e.peerId === k.peerId, 10_000)
    assert.equal(drop.reason, 'feeler')
    const opens = t.opens.filter((o) => o.session === drop.sessionId).map((o) => o.proto)
    assert.deepEqual(opens, [2, 3])
    await k.waitEvent('session_close', { address: t.address }, 10_000)
    // A feeler is not a peer: CKB never put it in its registry.
    assert.equal(k.eventsOf('identify_accepted').filter((e) => e.peer_id === t.peerId).length, 0)
  })
})

test('ckb-network: disconnect message TS → ckb-network — CKB logs the text and closes the session', async () => {
  await world(async (w) => {
    const k = await w.ckb()
    const t = await w.ts({ bootnodes: [k.dialAddress] })
    const acc = await k.waitEvent('identify_accepted', { peer_id: t.peerId }, 10_000)
    await k.waitEvent('protocols', (e) => e.session === acc.session && e.protocols.includes(4), 10_000)
    const peer = t.net.peers().find((p) => p.peerId === k.peerId)!
    // CKB counts a protocol open when it answers the selection, a moment
    // before our side does; wait for ours.
    await t.until(
      () => t.opens.some((o) => o.session === peer.sessionId && o.proto === 4),
      'disconnectmsg open',
      10_000,
    )
    // Our bytes on /ckb/disconnectmsg: CKB's handler logs the text and closes.
    t.service.send(peer.sessionId, 4, new TextEncoder().encode('tentacle-ts says goodbye'))
    const m = await k
      .waitEvent('disconnect_message', { message: 'tentacle-ts says goodbye' }, 10_000)
      .catch((e: Error) => {
        throw new Error(
          `${e.message}\nckb sessions: ${k.process.stdout.filter((l) => /session_|feeler|dialing/.test(l)).join('\n')}\nts: ${t.describe()}`,
        )
      })
    assert.equal(m.session, acc.session)
    await k.waitEvent('session_close', { session: acc.session }, 10_000)

    // disconnectWithMessage (send, then close at once, as CKB's
    // disconnect_with_message): the session closes; CKB handles the text
    // only when it reads it before it handles the close, which on a loaded
    // machine it does not always (the same race as CKB's own).
    const acc2 = await k.waitEvent('identify_accepted', { peer_id: t.peerId }, 30_000)
    const peer2 = await (async () => {
      await t.until(
        () =>
          t.net
            .peers()
            .some((p) => p.peerId === k.peerId && t.opens.some((o) => o.session === p.sessionId && o.proto === 4)),
        'second session with disconnectmsg open',
        10_000,
      )
      return t.net.peers().find((p) => p.peerId === k.peerId)!
    })()
    t.net.disconnectWithMessage(peer2.sessionId, 'tentacle-ts says goodbye again')
    await k.waitEvent('session_close', { session: acc2.session }, 10_000)
    for (const d of k.eventsOf('disconnect_message').filter((e) => e.session === acc2.session))
      assert.equal(d.message, 'tentacle-ts says goodbye again')
  })
})

test('ckb-network: disconnect message ckb-network → TS — TS reports the text and closes as CKB does; a non-UTF-8 one closes too', async () => {
  await world(async (w) => {
    const t = await w.ts()
    const k = await w.ckb({ bootnodes: [t.address] })
    const acc = await k.waitEvent('identify_accepted', { peer_id: t.peerId }, 10_000)
    await k.waitEvent('protocols', (e) => e.session === acc.session && e.protocols.includes(4), 10_000)
    // The bytes CKB's disconnect_with_message sends, without CKB's own
    // disconnect right behind them (which mostly loses them): the receiver
    // must close the session itself.
    await k.call({
      cmd: 'send',
      session: acc.session,
      proto: 4,
      hex: Buffer.from('evict because accepted better peer').toString('hex'),
    })
    const m = await t.waitFor('disconnect-message', (e) => e.peerId === k.peerId, 10_000)
    assert.equal(m.message, 'evict because accepted better peer')
    await k.waitEvent('session_close', { session: acc.session }, 10_000)

    // The outbound tick of CKB redials its bootnode; then a malformed one.
    const acc2 = await k.waitEvent('identify_accepted', { peer_id: t.peerId }, 20_000)
    await k.waitEvent('protocols', (e) => e.session === acc2.session && e.protocols.includes(4), 10_000)
    await k.call({ cmd: 'send', session: acc2.session, proto: 4, hex: 'fffe00c3' })
    await t.waitFor('peer-dropped', (e) => e.peerId === k.peerId && e.sessionId !== m.sessionId, 10_000)
    await k.waitEvent('session_close', { session: acc2.session }, 10_000)
  })
})

test('ckb-network: ping timeout — a frozen ckb-network node is dropped by TS within the ping timeout', async () => {
  await world(async (w) => {
    const k = await w.ckb()
    const t = await w.ts({
      bootnodes: [k.dialAddress],
      pingIntervalMs: 500,
      pingTimeoutMs: 3000,
      pingCheckIntervalMs: 250,
    })
    await t.waitFor('ping', (e) => e.peerId === k.peerId, 10_000)
    const pid = k.process.pid!
    process.kill(pid, 'SIGSTOP')
    const frozenAt = Date.now()
    try {
      const drop = await t.waitFor('peer-dropped', (e) => e.peerId === k.peerId, 10_000)
      assert.equal(drop.reason, 'ping-timeout')
      const after = drop.at - frozenAt
      assert.ok(after >= 2500 && after <= 3000 + 500 + 1000, `dropped ${after} ms after the freeze`)
    } finally {
      process.kill(pid, 'SIGCONT')
    }
  })
})

test("ckb-network: ckb-network dialing a TS node whose flags lack what it requires closes the session (no ban) — CKB's required_flags", async () => {
  await world(async (w) => {
    // DISCOVERY alone: neither COMPATIBILITY nor SYNC | DISCOVERY | RELAY.
    const t = await w.ts({ flags: Flags.DISCOVERY })
    const k = await w.ckb({ bootnodes: [t.address] })
    const ref = await k.waitEvent('identify_refused', undefined, 10_000)
    assert.equal(ref.reason, 'flags')
    await k.waitEvent('session_close', undefined, 10_000)
    await t.waitFor('peer-dropped', (e) => e.peerId === k.peerId, 10_000)
    assert.equal(k.eventsOf('ban').length, 0)
    // Only the dialer checks: a ckb-network listener accepts the same node.
    const k2 = await w.ckb()
    const t2 = await w.ts({ flags: Flags.DISCOVERY, bootnodes: [k2.dialAddress] })
    const acc = await k2.waitEvent('identify_accepted', { peer_id: t2.peerId }, 10_000)
    assert.equal(acc.flags, Number(Flags.DISCOVERY))
  })
})

test("ckb-network: a TS session passes CKB's protocol-type check (all but feeler open after 10 s, checked every 30 s); an identify-only session is closed by it", async () => {
  await world(async (w) => {
    const k = await w.ckb()
    const t = await w.ts({ bootnodes: [k.dialAddress] })
    const acc = await k.waitEvent('identify_accepted', { peer_id: t.peerId }, 10_000)
    // A raw session that opens /ckb/identify and nothing else (and answers
    // identify with CKB's own message): "incomplete open protocols".
    const tap = new RawTap()
    try {
      await tap.listen()
      await tap.service.dial(k.dialAddress, { kind: 'single', id: 2 })
      const accTap = await k.waitEvent('identify_accepted', { peer_id: tap.service.peerId }, 10_000)
      const closed = await k.waitEvent('protocol_type_close', undefined, 40_000)
      assert.equal(closed.error, 'incomplete open protocols')
      assert.ok(closed.address?.includes(tap.service.peerId!), JSON.stringify(closed))
      await k.waitEvent('session_close', { session: accTap.session }, 10_000)
      // The TS session went through the same check and is still up.
      assert.ok((await k.peers()).some((p) => p.session === acc.session && p.peer_id === t.peerId))
      assert.equal(k.eventsOf('protocol_type_close').length, 1)
      assert.ok(t.net.peers().some((p) => p.peerId === k.peerId))
    } finally {
      await tap.close()
    }
  })
})
