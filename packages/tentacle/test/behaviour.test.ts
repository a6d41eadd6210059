// Behaviours of tentacle/tests/*.rs (§13), TS against TS, secio on unless
// the test is about plaintext.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { SecioKeyPair } from '@tentacle-ts/secio'
import type { ProtocolSessionContext, SessionProtocolHandler } from '../src/index.js'
import { Node, deferred, isType, within } from './service-helpers.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

async function pair(server: Node, client: Node, target?: Parameters<Node['service']['dial']>[1]) {
  const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
  const info = await client.service.dial(addr, target)
  return { addr, info }
}

async function stop(...nodes: Node[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.service.shutdown()))
}

test('before_send runs once on the sender and before_receive once on the receiver (test_before_function)', async () => {
  let sends = 0
  let receives = 0
  const got = deferred<Uint8Array>()
  const server = new Node({
    protocols: [
      {
        id: 1,
        beforeReceive: (d) => (receives++, d),
        handler: { received: (_c, d) => got.resolve(Uint8Array.from(d)) },
      },
    ],
  })
  const client = new Node({
    protocols: [
      { id: 1, beforeSend: (d) => (sends++, d), handler: { connected: (ctx) => ctx.send(enc('0123456789')) } },
    ],
  })
  try {
    await pair(server, client)
    assert.equal(dec(await got.promise), '0123456789')
    assert.equal(sends, 1)
    assert.equal(receives, 1)
  } finally {
    await stop(client, server)
  }
})

for (const kind of ['service', 'session'] as const) {
  test(`1024 messages sent back to back on open all arrive in order (${kind} handler; test_block_send${kind === 'session' ? '_session' : ''})`, async () => {
    const all = deferred()
    const got: number[] = []
    const onOpen = (ctx: ProtocolSessionContext): void => {
      for (let i = 0; i < 1024; i++) {
        const m = new Uint8Array(4096)
        new DataView(m.buffer).setUint32(0, i)
        ctx.send(m)
      }
    }
    const onReceived = (_ctx: ProtocolSessionContext, d: Uint8Array): void => {
      got.push(new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0))
      if (got.length === 1024) all.resolve()
    }
    const spec = (h: SessionProtocolHandler) =>
      kind === 'service' ? { id: 1, handler: h } : { id: 1, sessionHandler: () => ({ ...h }) }
    const server = new Node({ protocols: [spec({ connected: onOpen })] })
    const client = new Node({ protocols: [spec({ received: onReceived })] })
    try {
      await pair(server, client)
      await all.promise
      assert.deepEqual(
        got,
        Array.from({ length: 1024 }, (_, i) => i),
      )
    } finally {
      await stop(client, server)
    }
  })
}

for (const how of ['close', 'shutdown'] as const) {
  test(`${how}() ends a busy service: 1 listener, 4 dialers, 3 protocols of endless echo (test_close)`, async () => {
    const echo = { received: (ctx: ProtocolSessionContext, d: Uint8Array) => ctx.send(d) }
    // Busy = every client has had an echo back on every protocol.
    const busy = deferred()
    const echoing = new Set<string>()
    const protocols = (client: number) =>
      [1, 2, 3].map((id) => ({
        id,
        handler: {
          received: (ctx: ProtocolSessionContext, d: Uint8Array) => {
            if (echoing.size < 12 && echoing.add(`${client}/${id}`).size === 12) busy.resolve()
            ctx.send(d)
          },
          connected: (ctx: ProtocolSessionContext) => ctx.send(new Uint8Array(1024)),
        },
      }))
    const server = new Node({ protocols: [1, 2, 3].map((id) => ({ id, handler: echo })) })
    const clients = Array.from({ length: 4 }, (_, i) => new Node({ protocols: protocols(i) }))
    try {
      const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
      await Promise.all(clients.map((c) => c.service.dial(addr)))
      await within(busy.promise, 10_000, `echoes on every protocol of every client (${[...echoing].join(' ')})`)
      const t0 = Date.now()
      await server.service[how]()
      for (const c of clients) await c.waitFor(isType('session-close'), 15_000, 'session-close')
      assert.ok(Date.now() - t0 < 12_000)
      assert.equal(server.service.sessions().length, 0)
      assert.equal(server.service.connectionCount, 0)
    } finally {
      await stop(server, ...clients)
    }
  })
}

test('re-dialing a connected peer gives TENTACLE_ERR_REPEATED_CONNECTION on both sides and keeps one session (test_dial a)', async () => {
  const server = new Node({ protocols: [{ id: 1 }] })
  const client = new Node({ protocols: [{ id: 1 }] })
  try {
    const { addr } = await pair(server, client)
    await server.waitFor(isType('session-open'))
    for (let i = 0; i < 10; i++) {
      await assert.rejects(
        client.service.dial(addr),
        (e: { code?: string }) => e.code === 'TENTACLE_ERR_REPEATED_CONNECTION',
      )
    }
    assert.equal(
      client.errors().filter((e) => e.type === 'dial-error' && e.error.code === 'TENTACLE_ERR_REPEATED_CONNECTION')
        .length,
      10,
    )
    await server.waitFor((r) => r.type === 'listen-error' && r.error.code === 'TENTACLE_ERR_REPEATED_CONNECTION')
    assert.equal(client.service.sessions().length, 1)
    assert.equal(server.service.sessions().length, 1)
  } finally {
    await stop(client, server)
  }
})

test('dialing oneself fails in the handshake with TENTACLE_ERR_CONNECT_SELF (the secio error as cause)', async () => {
  const node = new Node({ protocols: [{ id: 1 }] })
  try {
    const addr = await node.service.listen('/ip4/127.0.0.1/tcp/0')
    await assert.rejects(node.service.dial(addr), (e: { code?: string }) => e.code === 'TENTACLE_ERR_CONNECT_SELF')
    assert.equal(node.service.sessions().length, 0)
  } finally {
    await stop(node)
  }
})

test('without secio there is no dedup: two dials give two sessions (test_dial a, plaintext)', async () => {
  const server = new Node({ protocols: [{ id: 1 }], secio: false })
  const client = new Node({ protocols: [{ id: 1 }], secio: false })
  try {
    const { addr } = await pair(server, client)
    const second = await client.service.dial(addr)
    assert.equal(second.remotePeerId, undefined)
    assert.equal(client.service.sessions().length, 2)
  } finally {
    await stop(client, server)
  }
})

test('dialing closed ports gives TENTACLE_ERR_DIAL_FAILED for each dial (test_dial b)', async () => {
  const node = new Node({ protocols: [{ id: 1 }] })
  try {
    // Bind and release a port so nothing listens on it.
    const tmp = await node.service.listen('/ip4/127.0.0.1/tcp/0')
    await node.service.shutdown()
    const fresh = new Node({ protocols: [{ id: 1 }] })
    try {
      for (let i = 0; i < 3; i++) {
        await assert.rejects(
          fresh.service.dial(tmp),
          (e: { code?: string; phase?: string }) => e.code === 'TENTACLE_ERR_DIAL_FAILED' && e.phase === 'connecting',
        )
      }
      assert.equal(fresh.errors().filter((e) => e.type === 'dial-error').length, 3)
    } finally {
      await stop(fresh)
    }
  } finally {
    await stop(node)
  }
})

test('dials to unsupported addresses each fail in order without hanging (test_dial_unsupported_order)', async () => {
  const node = new Node({ protocols: [{ id: 1 }] })
  try {
    const results = await Promise.allSettled([
      node.service.dial('/ip4/127.0.0.1/tcp/1/ws'),
      node.service.dial('/ip4/127.0.0.1/tcp/2/wss'),
    ])
    for (const r of results) {
      assert.equal(r.status, 'rejected')
      assert.equal((r as PromiseRejectedResult).reason.code, 'TENTACLE_ERR_UNSUPPORTED_MULTIADDR')
    }
    const errs = node.errors().filter((e) => e.type === 'dial-error')
    assert.deepEqual(
      errs.map((e) => (e.type === 'dial-error' ? e.address.toString() : '')),
      ['/ip4/127.0.0.1/tcp/1/ws', '/ip4/127.0.0.1/tcp/2/wss'],
    )
  } finally {
    await stop(node)
  }
})

test('disconnect(session) on the dialer closes the session on both sides (test_disconnect)', async () => {
  const server = new Node({ protocols: [{ id: 1 }] })
  const client = new Node({ protocols: [{ id: 1 }] })
  try {
    const { info } = await pair(server, client)
    await server.waitFor(isType('session-open'))
    client.service.disconnect(info.id)
    await client.waitFor(isType('session-close'))
    await server.waitFor(isType('session-close'))
  } finally {
    await stop(client, server)
  }
})

test('a peer flooding 8 MiB messages at a slow reader with a 1-byte send buffer ends in TENTACLE_ERR_SESSION_BLOCKED only (test_large_pending_messge)', async () => {
  const server = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          connected: (ctx) => {
            const big = new Uint8Array(8 * 1024 * 1024 - 4)
            for (let i = 0; i < 4; i++) ctx.send(big)
          },
        },
      },
    ],
    config: { sendBufferSize: 1 },
  })
  const client = new Node({
    protocols: [{ id: 1, handler: { received: () => sleep(5000) } }], // the slow handler is the test
    config: { sendBufferSize: 1 },
  })
  try {
    await pair(server, client)
    await server.waitFor((r) => r.type === 'session-blocked', 10_000)
    await server.waitFor(isType('session-close'), 10_000)
    assert.deepEqual([...new Set(server.errors().map((e) => e.error.code))], ['TENTACLE_ERR_SESSION_BLOCKED'])
  } finally {
    await stop(client, server)
  }
})

test('dialing with a random /p2p/ id fails with TENTACLE_ERR_PEER_ID_MISMATCH and no session; the right id opens one (test_peer_id)', async () => {
  const server = new Node({ protocols: [{ id: 1 }] })
  const client = new Node({ protocols: [{ id: 1 }] })
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    for (let i = 0; i < 3; i++) {
      const wrong = SecioKeyPair.generate().peerId.toString()
      await assert.rejects(
        client.service.dial(addr.encapsulate(`/p2p/${wrong}`)),
        (e: { code?: string }) => e.code === 'TENTACLE_ERR_PEER_ID_MISMATCH',
      )
    }
    assert.ok(!client.log.some((r) => r.type === 'session-open'))
    const ok = await client.service.dial(addr.encapsulate(`/p2p/${server.service.peerId}`))
    assert.equal(ok.remotePeerId, server.service.peerId)
    await client.waitFor(isType('session-open'))
    assert.equal(client.errors().filter((e) => e.error.code !== 'TENTACLE_ERR_PEER_ID_MISMATCH').length, 0)
  } finally {
    await stop(client, server)
  }
})

test('a high-priority send issued after 254 normal sends arrives within the first 255 messages (test_priority)', async () => {
  const got: string[] = []
  const done = deferred()
  const server = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          connected: (ctx) => {
            for (let i = 0; i < 254; i++) ctx.send(new Uint8Array(16 * 1024))
            ctx.send(enc('quick'), { priority: 'high' })
          },
        },
      },
    ],
  })
  const client = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          received: (_c, d) => {
            got.push(d.length === 5 ? dec(d) : 'normal')
            if (got.length === 255) done.resolve()
          },
        },
      },
    ],
  })
  try {
    await pair(server, client)
    await done.promise
    assert.ok(got.includes('quick'))
  } finally {
    await stop(client, server)
  }
})

test('open_protocol on an open protocol is harmless and the protocol keeps working (test_protocol_open)', async () => {
  const got: string[] = []
  const second = deferred()
  const server = new Node({ protocols: [{ id: 1, handler: { received: (ctx, d) => ctx.send(d) } }] })
  const client = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          connected: (ctx) => {
            ctx.control.openProtocol(ctx.session.id, 1)
            ctx.control.openProtocol(ctx.session.id, 1)
            ctx.send(enc('one'))
          },
          received: (ctx, d) => {
            got.push(dec(d))
            if (got.length === 1) ctx.send(enc('two'))
            else second.resolve()
          },
        },
      },
    ],
  })
  try {
    await pair(server, client)
    await second.promise
    assert.deepEqual(got, ['one', 'two'])
    assert.equal(client.errors().length, 0)
    assert.equal(server.errors().length, 0)
  } finally {
    await stop(client, server)
  }
})

test('a protocol opened from session-open works; a remote disconnecting in connected; 10 re-dials each get a fresh per-session handler (test_session_handle_open)', async () => {
  let created = 0
  let connectedCount = 0
  const server = new Node({
    protocols: [
      {
        id: 1,
        sessionHandler: () => (
          created++,
          {
            connected: (ctx) => {
              connectedCount++
              ctx.control.disconnect(ctx.session.id)
            },
          }
        ),
      },
    ],
  })
  const client = new Node({
    protocols: [{ id: 1, sessionHandler: () => ({}) }],
    onEvent: (e, s) => {
      if (e.type === 'session-open') s.openProtocol(e.session.id, 1)
    },
  })
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    for (let i = 0; i < 10; i++) {
      const closes = client.log.filter((r) => r.type === 'session-close').length
      await client.service.dial(addr, { kind: 'filter', filter: () => false })
      await client.waitFor(
        () => client.log.filter((r) => r.type === 'session-close').length > closes,
        10_000,
        `close #${i + 1}`,
      )
    }
    assert.equal(created, 10)
    assert.equal(connectedCount, 10)
  } finally {
    await stop(client, server)
  }
})

test('a protocol closed right after open and reopened by a timer, 10 cycles: disconnected fires each time (test_session_protocol_open_close)', async () => {
  let connected = 0
  let disconnected = 0
  const done = deferred()
  const server = new Node({ protocols: [{ id: 1, handler: {} }] })
  const client = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          connected: (ctx) => {
            connected++
            ctx.control.closeProtocol(ctx.session.id, 1)
          },
          disconnected: (ctx) => {
            disconnected++
            if (disconnected === 10) done.resolve()
            else setTimeout(() => ctx.control.openProtocol(ctx.session.id, 1), 20) // Rust's test reopens on a timer
          },
        },
      },
    ],
  })
  try {
    await pair(server, client)
    await done.promise
    assert.equal(connected, 10)
    assert.equal(disconnected, 10)
  } finally {
    await stop(client, server)
  }
})

test('session-open is fully handled (a 2 s handler) before any protocol connected, on both sides (test_session_protocol_order)', async () => {
  const order: string[] = []
  const both = deferred()
  let n = 0
  const mk = (side: string) =>
    new Node({
      protocols: [
        {
          id: 1,
          handler: {
            connected: () => {
              order.push(`${side}:connected`)
              if (++n === 2) both.resolve()
            },
          },
        },
      ],
      onEvent: async (e) => {
        if (e.type === 'session-open') {
          order.push(`${side}:open-start`)
          await sleep(2000) // the slow session-open handler is the test
          order.push(`${side}:open-end`)
        }
      },
    })
  const server = mk('server')
  const client = mk('client')
  try {
    await pair(server, client)
    await both.promise
    for (const side of ['server', 'client']) {
      assert.ok(order.indexOf(`${side}:open-end`) < order.indexOf(`${side}:connected`), order.join(' '))
    }
  } finally {
    await stop(client, server)
  }
})

test('two peers dialing each other at once keep exactly one session, the same on both sides (crossing dials, §12.2)', async () => {
  // Rust keeps the first established on each side; when the two sides' firsts differ
  // both connections die. Both sides must keep the connection dialed by the smaller peer id.
  const settled = (n: Node): boolean => {
    const opens = n.log.filter((r) => r.type === 'session-open').length
    const closes = n.log.filter((r) => r.type === 'session-close').length
    const refused = n.errors().filter((e) => e.error.code === 'TENTACLE_ERR_REPEATED_CONNECTION').length
    return opens + refused === 2 && opens - closes === 1
  }
  for (let round = 0; round < 8; round++) {
    // b greets on every session where protocol 1 opens; a echoes; b notes which session got its echo.
    const echoed = new Map<number, ReturnType<typeof deferred<string>>>()
    const echoOn = (id: number) => echoed.get(id) ?? echoed.set(id, deferred<string>()).get(id)!
    const a = new Node({ protocols: [{ id: 1, handler: { received: (ctx, d) => ctx.send(d) } }] })
    const b = new Node({
      protocols: [
        {
          id: 1,
          handler: {
            connected: (ctx) => ctx.send(enc(`round ${round}`)),
            received: (ctx, d) => echoOn(ctx.session.id).resolve(dec(d)),
          },
        },
      ],
    })
    try {
      const [addrA, addrB] = await Promise.all([
        a.service.listen('/ip4/127.0.0.1/tcp/0'),
        b.service.listen('/ip4/127.0.0.1/tcp/0'),
      ])
      await Promise.allSettled([a.service.dial(addrB), b.service.dial(addrA)])
      await Promise.all(
        [a, b].map((n) => n.waitFor(() => settled(n), 5000, `round ${round}: one session left after the crossing`)),
      )
      const [sa] = a.service.sessions()
      const [sb] = b.service.sessions()
      assert.equal(a.service.sessions().length, 1)
      assert.equal(b.service.sessions().length, 1)
      assert.notEqual(sa!.direction, sb!.direction, 'both sides keep the same connection')
      // The kept session works end to end.
      assert.equal(await echoOn(sb!.id).promise, `round ${round}`)
    } finally {
      await stop(a, b)
    }
  }
})
