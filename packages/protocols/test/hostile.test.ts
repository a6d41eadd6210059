// Hostile peers against a TS node with the network protocols: every bad
// message is a typed misbehaviour report with CKB's verdict, the peer is
// dropped, and the node goes on (a later honest peer still gets a session).
// The hostile side is a plain tentacle-ts service registering the CKB
// protocol names with handlers that lie.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder, type ProtocolSessionContext, type Service } from '@tentacle-ts/tentacle'
import {
  CKB_PRESET,
  encodeDiscoveryMessage,
  encodeIdentifyBlob,
  encodeIdentifyMessage,
  encodePingMessage,
  type MisbehaviourKind,
  type ProtocolIds,
} from '../src/index.js'
import { FAST, TEST_NETWORK, TestNode } from './helpers.js'

type Key = keyof ProtocolIds
type Script = Partial<
  Record<
    Key,
    {
      connected?: (ctx: ProtocolSessionContext) => void
      received?: (ctx: ProtocolSessionContext, data: Uint8Array) => void
    }
  >
>

const goodIdentify = (observed: string, name = TEST_NETWORK): Uint8Array =>
  encodeIdentifyMessage({
    listenAddrs: [],
    observedAddr: observed,
    identify: encodeIdentifyBlob({ flag: 3n, name, clientVersion: 'hostile' }),
  })

/** A peer speaking the CKB protocol names with scripted handlers; dials `target` and opens `open`. */
async function hostile(target: string, script: Script, open: Key[]): Promise<Service> {
  const builder = new ServiceBuilder().key(SecioKeyPair.generate()).timeout(5000)
  for (const key of Object.keys(CKB_PRESET.ids) as Key[]) {
    const h = script[key]
    builder.protocol({
      id: CKB_PRESET.ids[key],
      name: CKB_PRESET.names[key],
      versions: ['3'],
      handler: { connected: h?.connected, received: h?.received },
    })
  }
  const service = builder.build({})
  const session = await service.dial(target, { kind: 'single', id: CKB_PRESET.ids[open[0]!] })
  for (const k of open.slice(1)) service.openProtocol(session.id, CKB_PRESET.ids[k])
  return service
}

async function expectMisbehaviour(
  script: (victim: TestNode) => Script,
  open: Key[],
  kind: MisbehaviourKind,
  opts: { verdict?: string; victim?: Partial<typeof FAST> & { identifyTimeoutMs?: number } } = {},
): Promise<void> {
  const victim = await new TestNode({ ...FAST, ...opts.victim }).start()
  let peer: Service | undefined
  try {
    peer = await hostile(victim.address, script(victim), open)
    const m = await victim.waitFor('misbehaviour', (x) => x.report.kind === kind)
    assert.equal(m.verdict, opts.verdict ?? 'disconnect')
    assert.equal(m.report.peerId, peer.peerId)
    const dropped = await victim.waitFor('peer-dropped', (p) => p.peerId === peer!.peerId)
    assert.equal(dropped.reason, kind)
    if (kind === 'invalid-data')
      assert.equal((m.report.error as { code?: string }).code, 'PROTOCOLS_ERR_MALFORMED_MESSAGE')
    // The node goes on: an honest peer is identified afterwards (not for bans: on loopback they cover every peer, as in CKB).
    if ((opts.verdict ?? 'disconnect') !== 'ban') {
      const honest = await new TestNode({ ...FAST, bootnodes: [victim.address] }).start()
      try {
        await honest.waitFor('identified', (p) => p.peerId === victim.peerId)
      } finally {
        await honest.stop()
      }
    }
  } finally {
    await peer?.shutdown()
    await victim.stop()
  }
}

const bytes = (...b: number[]) => Uint8Array.from(b)

describe('identify', () => {
  test('garbage → invalid-data, disconnect', () =>
    expectMisbehaviour(
      () => ({ identify: { connected: (ctx) => ctx.send(bytes(1, 2, 3, 4, 5)) } }),
      ['identify'],
      'invalid-data',
    ))

  test('two IdentifyMessages → duplicate-identify', () =>
    expectMisbehaviour(
      () => ({
        identify: {
          connected: (ctx) => {
            ctx.send(goodIdentify('/ip4/127.0.0.1/tcp/1'))
            ctx.send(goodIdentify('/ip4/127.0.0.1/tcp/1'))
          },
        },
      }),
      ['identify'],
      'duplicate-identify',
    ))

  test('11 listen addresses → too-many-addresses', () =>
    expectMisbehaviour(
      () => ({
        identify: {
          connected: (ctx) =>
            ctx.send(
              encodeIdentifyMessage({
                listenAddrs: Array.from({ length: 11 }, (_, i) => `/ip4/8.8.8.${i}/tcp/8115`),
                observedAddr: '/ip4/127.0.0.1/tcp/1',
                identify: encodeIdentifyBlob({ flag: 3n, name: TEST_NETWORK, clientVersion: 'x' }),
              }),
            ),
        },
      }),
      ['identify'],
      'too-many-addresses',
    ))

  test('zero flags → network-mismatch and a ban, as a wrong name', () =>
    expectMisbehaviour(
      () => ({
        identify: {
          connected: (ctx) =>
            ctx.send(
              encodeIdentifyMessage({
                listenAddrs: [],
                observedAddr: '/ip4/127.0.0.1/tcp/1',
                identify: encodeIdentifyBlob({ flag: 0n, name: TEST_NETWORK, clientVersion: 'x' }),
              }),
            ),
        },
      }),
      ['identify'],
      'network-mismatch',
      { verdict: 'ban' },
    ))

  test('silent after opening identify → identify-timeout after identifyTimeoutMs; an honest peer past the same time is kept', async () => {
    const started = Date.now()
    await expectMisbehaviour(() => ({}), ['identify'], 'identify-timeout', { victim: { identifyTimeoutMs: 1200 } })
    assert.ok(Date.now() - started >= 1200)
    // Positive side: identified peers are never timed out.
    const b = await new TestNode({ ...FAST, identifyTimeoutMs: 1200 }).start()
    const a = await new TestNode({ ...FAST, identifyTimeoutMs: 1200, bootnodes: [b.address] }).start()
    try {
      await b.waitFor('identified')
      const identifiedAt = Date.now()
      // Wait for pings that happen after 2 identify timeouts (+ the 1 s check) have passed.
      await b.waitFor('ping', () => Date.now() - identifiedAt > 3500, 10_000)
      assert.equal(b.log.filter((l) => l.event === 'misbehaviour').length, 0)
      assert.equal(b.net.peers().length, 1)
    } finally {
      await a.stop()
      await b.stop()
    }
  })
})

describe('ping', () => {
  test('garbage → invalid-data', () =>
    expectMisbehaviour(() => ({ ping: { connected: (ctx) => ctx.send(bytes(9, 9, 9)) } }), ['ping'], 'invalid-data'))

  test('a Pong with a wrong nonce → unexpected-pong', () =>
    expectMisbehaviour(
      () => ({ ping: { received: (ctx) => ctx.send(encodePingMessage({ type: 'pong', nonce: 0xdeadbeef })) } }),
      ['ping'],
      'unexpected-pong',
    ))

  test('a Pong nobody asked for → unexpected-pong', () =>
    expectMisbehaviour(
      () => ({ ping: { connected: (ctx) => ctx.send(encodePingMessage({ type: 'pong', nonce: 0 })) } }),
      ['ping'],
      'unexpected-pong',
    ))

  test('pings never answered → ping-timeout', () => expectMisbehaviour(() => ({ ping: {} }), ['ping'], 'ping-timeout'))

  test('a message over the protocol max (1 KiB) → protocol-error, banned 5 min as CKB', () =>
    expectMisbehaviour(
      () => ({ ping: { connected: (ctx) => ctx.send(new Uint8Array(2048)) } }),
      ['ping'],
      'protocol-error',
      { verdict: 'ban' },
    ))
})

describe('discovery', () => {
  const getNodes = encodeDiscoveryMessage({
    type: 'get-nodes',
    version: 1,
    count: 1000,
    listenPort: undefined,
    requiredFlags: 14n,
  })
  const nodes = (announce: boolean, n: number, per = 1) =>
    encodeDiscoveryMessage({
      type: 'nodes',
      announce,
      items: Array.from({ length: n }, (_, i) => ({
        addresses: Array.from({ length: per }, (_, j) => `/ip4/8.8.${i}.${j}/tcp/8115`),
        flags: 3n,
      })),
    })

  test('garbage → invalid-data', () =>
    expectMisbehaviour(
      () => ({ discovery: { connected: (ctx) => ctx.send(bytes(0, 0, 0, 0)) } }),
      ['discovery'],
      'invalid-data',
    ))

  test('two GetNodes → duplicate-get-nodes', () =>
    expectMisbehaviour(
      () => ({
        discovery: {
          connected: (ctx) => {
            ctx.send(getNodes)
            ctx.send(getNodes)
          },
        },
      }),
      ['discovery'],
      'duplicate-get-nodes',
    ))

  test('two first (non-announce) Nodes → duplicate-first-nodes', () =>
    expectMisbehaviour(
      () => ({
        discovery: {
          connected: (ctx) => {
            ctx.send(nodes(false, 1))
            ctx.send(nodes(false, 1))
          },
        },
      }),
      ['discovery'],
      'duplicate-first-nodes',
    ))

  test('an announcement of 11 items → too-many-items', () =>
    expectMisbehaviour(
      () => ({ discovery: { connected: (ctx) => ctx.send(nodes(true, 11)) } }),
      ['discovery'],
      'too-many-items',
    ))

  test('an item with 4 addresses → too-many-addresses', () =>
    expectMisbehaviour(
      () => ({ discovery: { connected: (ctx) => ctx.send(nodes(false, 1, 4)) } }),
      ['discovery'],
      'too-many-addresses',
    ))

  test('an announcement of 10 items with 2 addresses each (20 in all) → too-many-addresses', () =>
    expectMisbehaviour(
      () => ({ discovery: { connected: (ctx) => ctx.send(nodes(true, 10, 2)) } }),
      ['discovery'],
      'too-many-addresses',
    ))
})

describe('disconnect message', () => {
  test('a peer that sends one is reported as an event and dropped', async () => {
    const victim = await new TestNode(FAST).start()
    const peer = await hostile(
      victim.address,
      { disconnectMessage: { connected: (ctx) => ctx.send(new TextEncoder().encode('bye now')) } },
      ['disconnectMessage'],
    )
    try {
      const m = await victim.waitFor('disconnect-message')
      assert.equal(m.message, 'bye now')
      assert.equal(m.peerId, peer.peerId)
      assert.equal((await victim.waitFor('peer-dropped')).reason, 'disconnect-message')
    } finally {
      await peer.shutdown()
      await victim.stop()
    }
  })

  test('a TS node dropping a peer sends CKB’s disconnect message first ("ping failed")', async () => {
    let got: (m: string) => void = () => {}
    const message = new Promise<string>((resolve) => (got = resolve))
    const victim = await new TestNode(FAST).start()
    const peer = await hostile(
      victim.address,
      {
        ping: { connected: (ctx) => ctx.send(encodePingMessage({ type: 'pong', nonce: 1 })) },
        disconnectMessage: { received: (_ctx, d) => got(new TextDecoder().decode(d)) },
      },
      ['disconnectMessage', 'ping'],
    )
    try {
      assert.equal((await victim.waitFor('peer-dropped')).reason, 'unexpected-pong')
      assert.equal(await message, 'ping failed')
    } finally {
      await peer.shutdown()
      await victim.stop()
    }
  })
})
