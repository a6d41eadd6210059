import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service } from '../src/service.js'
import { ServiceBuilder } from '../src/builder.js'
import type { ProtocolSessionContext } from '../src/types.js'

test('metrics: message bytes are counted by direction and protocol name', async () => {
  let delivered!: () => void
  const got = new Promise<void>((r) => (delivered = r))
  let seen = 0
  const received = (_ctx: ProtocolSessionContext, d: Uint8Array): void => {
    seen += d.length
    if (seen === 100 + 7) delivered()
  }
  const server = new Service({
    key: SecioKeyPair.generate(),
    protocols: [
      { id: 1, name: '/test/alpha', handler: { received } },
      { id: 2, name: '/test/beta', handler: { received } },
    ],
  })
  let opened = 0
  let bothOpen!: () => void
  const ready = new Promise<void>((r) => (bothOpen = r))
  const connected = (): void => {
    if (++opened === 2) bothOpen()
  }
  const client = new Service({
    key: SecioKeyPair.generate(),
    protocols: [
      { id: 1, name: '/test/alpha', handler: { connected } },
      { id: 2, name: '/test/beta', handler: { connected } },
    ],
  })
  try {
    const addr = await server.listen('/ip4/127.0.0.1/tcp/0')
    const session = await client.dial(addr)
    await ready
    client.send(session.id, 1, new Uint8Array(100))
    client.send(session.id, 2, new Uint8Array(7))
    await got
    const out = await client.metrics.text()
    assert.match(out, /^tentacle_message_bytes_total\{direction="out",protocol="\/test\/alpha"\} 100$/m)
    assert.match(out, /^tentacle_message_bytes_total\{direction="out",protocol="\/test\/beta"\} 7$/m)
    const inn = await server.metrics.text()
    assert.match(inn, /^tentacle_message_bytes_total\{direction="in",protocol="\/test\/alpha"\} 100$/m)
    assert.match(inn, /^tentacle_message_bytes_total\{direction="in",protocol="\/test\/beta"\} 7$/m)
    // Sessions opened and successful handshakes: counted per direction, added at each scrape once.
    const ok = (dir: string) =>
      new RegExp(`^tentacle_handshakes_total\\{direction="${dir}",outcome="ok",phase=""\\} 1$`, 'm')
    const opened1 = (dir: string) => new RegExp(`^tentacle_sessions_opened_total\\{direction="${dir}"\\} 1$`, 'm')
    for (const text of [out, await client.metrics.text()]) {
      assert.match(text, ok('outbound'))
      assert.match(text, opened1('outbound'))
      assert.doesNotMatch(text, /direction="inbound"/)
    }
    assert.match(inn, ok('inbound'))
    assert.match(inn, opened1('inbound'))
    // A second dial to the same peer: its handshake succeeds, the session is refused.
    await assert.rejects(client.dial(addr), { code: 'TENTACLE_ERR_REPEATED_CONNECTION' })
    await client.metrics.text() // counted once, however often scraped
    const after = await client.metrics.text()
    assert.match(after, /^tentacle_sessions_opened_total\{direction="outbound"\} 1$/m)
    assert.match(after, /^tentacle_handshakes_total\{direction="outbound",outcome="ok",phase=""\} 2$/m)
    const viaGet = (await client.metrics.handshakes.get()).values
    assert.deepEqual(
      viaGet.map((v) => [v.labels.direction, v.labels.outcome, v.value]),
      [['outbound', 'ok', 2]],
    )
  } finally {
    await client.close()
    await server.close()
  }
})

test('metrics: a registry of its own by default; a program may pass its registry and a prefix instead', async () => {
  const a = new Service({ protocols: [] })
  const b = new Service({ protocols: [] })
  const mine = new Registry()
  const c = new ServiceBuilder().metrics({ registry: mine, prefix: 'edge_' }).build()
  const d = new Service({ protocols: [], metrics: { registry: mine, prefix: 'core_' } })
  try {
    assert.notEqual(a.metrics.registry, b.metrics.registry)
    assert.equal(a.metrics.prefix, 'tentacle_')
    assert.equal(c.metrics.registry, mine)
    assert.equal(c.metrics.prefix, 'edge_')
    const text = await mine.metrics()
    assert.match(text, /^edge_sessions_open 0$/m)
    assert.match(text, /^core_sessions_open 0$/m)
    assert.doesNotMatch(text, /^tentacle_/m)
    assert.match(await c.metrics.text(), /^core_sessions_open 0$/m, 'text() is the whole registry')
  } finally {
    await Promise.all([a.close(), b.close(), c.close(), d.close()])
  }
})
