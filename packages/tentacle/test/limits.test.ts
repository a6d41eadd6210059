import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { Node, isType } from './service-helpers.js'

function rawConnect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port })
  s.on('error', () => {})
  s.on('data', () => {})
  return once(s, 'connect').then(() => s)
}

/** True if the server closed `s` within `ms` (a limit said no), false if it stayed open. */
function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(true)
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms)
    s.once('close', () => {
      clearTimeout(t)
      resolve(true)
    })
  })
}

const N = 3

test(`maxConnections = N (${N}): sessions number N−1 and N are accepted, connection N+1 is closed at once`, async () => {
  const server = new Node({ protocols: [{ id: 1 }], config: { maxConnections: N } })
  const clients = Array.from({ length: N + 1 }, () => new Node({ protocols: [{ id: 1 }] }))
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    for (let i = 0; i < N; i++) {
      await clients[i].service.dial(addr)
      await server.waitFor(
        (r) => r.type === 'session-open' && server.log.filter((x) => x.type === 'session-open').length === i + 1,
      )
      assert.equal(server.service.connectionCount, i + 1)
    }
    await assert.rejects(clients[N].service.dial(addr))
    assert.equal(server.service.connectionCount, N)
    const stats = [...server.service.listenerStats().values()][0]
    assert.equal(stats.rejected.get('TENTACLE_ERR_TOO_MANY_CONNECTIONS'), 1)
    // Room again once one leaves.
    clients[0].service.disconnect(clients[0].service.sessions()[0].id)
    await server.waitFor(isType('session-close'))
    await clients[N].service.dial(addr)
  } finally {
    await Promise.all([server, ...clients].map((n) => n.service.shutdown()))
  }
})

test(`maxConnections counts connections still in handshake: N (${N}) silent peers fill it and an honest dial is closed at once`, async () => {
  const server = new Node({ protocols: [{ id: 1 }], config: { maxConnections: N, timeoutMs: 3000 } })
  const honest = new Node({ protocols: [{ id: 1 }] })
  const silent: net.Socket[] = []
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    const port = Number(addr.getComponents()[1]?.value)
    for (let i = 0; i < N - 1; i++) silent.push(await rawConnect(port))
    // N−1 in handshake: the Nth connection is still admitted.
    const nth = await rawConnect(port)
    silent.push(nth)
    // N in handshake: the next one is closed at once.
    const t0 = Date.now()
    await assert.rejects(honest.service.dial(addr))
    // "At once" against the 3 s handshake deadline, with room for a loaded machine.
    assert.ok(Date.now() - t0 < 2000, `rejected after ${Date.now() - t0} ms: at once, not at the deadline`)
    // The listener accepts in order, so the refusal means the Nth was accepted before it.
    assert.equal(server.service.connectionCount, N)
    assert.equal(await closedWithin(nth, 300), false, 'the Nth stays admitted') // a negative check
  } finally {
    for (const s of silent) s.destroy()
    await Promise.all([server, honest].map((n) => n.service.shutdown()))
  }
})

test(`maxConcurrentHandshakes = N (${N}): N connections in handshake are kept, connection N+1 is closed at once, sessions do not count`, async () => {
  const server = new Node({ protocols: [{ id: 1 }], config: { maxConcurrentHandshakes: N, timeoutMs: 3000 } })
  const peer = new Node({ protocols: [{ id: 1 }] })
  const raw: net.Socket[] = []
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    const port = Number(addr.getComponents()[1]?.value)
    // A finished session does not hold a handshake slot.
    await peer.service.dial(addr)
    for (let i = 0; i < N; i++) raw.push(await rawConnect(port))
    for (const s of raw) assert.equal(await closedWithin(s, 100), false) // negative checks
    const extra = net.connect({ host: '127.0.0.1', port })
    extra.on('error', () => {})
    raw.push(extra)
    // Closed by the limit, well before the 3 s handshake deadline could close it (and the
    // reason is counted below); 2.5 s leaves room for a loaded machine.
    assert.equal(await closedWithin(extra, 2500), true)
    const stats = [...server.service.listenerStats().values()][0]
    assert.equal(stats.rejected.get('TENTACLE_ERR_TOO_MANY_HANDSHAKES'), 1)
  } finally {
    for (const s of raw) s.destroy()
    await Promise.all([server, peer].map((n) => n.service.shutdown()))
  }
})

test('an outbound dial over maxConnections fails with TENTACLE_ERR_TOO_MANY_CONNECTIONS before connecting', async () => {
  const a = new Node({ protocols: [{ id: 1 }] })
  const b = new Node({ protocols: [{ id: 1 }] })
  const c = new Node({ protocols: [{ id: 1 }], config: { maxConnections: 1 } })
  try {
    const addrA = await a.service.listen('/ip4/127.0.0.1/tcp/0')
    const addrB = await b.service.listen('/ip4/127.0.0.1/tcp/0')
    await c.service.dial(addrA)
    await assert.rejects(
      c.service.dial(addrB),
      (e: { code?: string }) => e.code === 'TENTACLE_ERR_TOO_MANY_CONNECTIONS',
    )
  } finally {
    await Promise.all([a, b, c].map((n) => n.service.shutdown()))
  }
})

test('a dial to an address with a /p2p/ id counts once against maxConnections while it connects', async () => {
  const a = new Node({ protocols: [{ id: 1 }] })
  const b = new Node({ protocols: [{ id: 1 }] })
  const c = new Node({ protocols: [{ id: 1 }], config: { maxConnections: 2 } })
  try {
    const addrA = await a.service.listen('/ip4/127.0.0.1/tcp/0')
    const addrB = await b.service.listen('/ip4/127.0.0.1/tcp/0')
    const first = c.service.dial(`${addrA.toString()}/p2p/${a.service.peerId}`)
    assert.equal(c.service.connectionCount, 1)
    const second = c.service.dial(addrB)
    await Promise.all([first, second])
    assert.equal(c.service.connectionCount, 2)
  } finally {
    await Promise.all([a, b, c].map((n) => n.service.shutdown()))
  }
})
