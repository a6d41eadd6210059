import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import type { ProtocolSessionContext } from '../src/index.js'
import { Node, deferred } from './service-helpers.js'

const DEADLINE = 2000

test('200 silent or trickling connections are closed at the handshake deadline while honest peers connect as usual', async () => {
  const server = new Node({
    protocols: [{ id: 1, handler: { received: (ctx: ProtocolSessionContext, d: Uint8Array) => ctx.send(d) } }],
    config: { timeoutMs: DEADLINE },
  })
  const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
  const port = Number(addr.getComponents()[1]?.value)
  const slow: Array<{ socket: net.Socket; opened: number; closedAt?: number }> = []
  const trickleTimers = new Set<NodeJS.Timeout>()
  const honestNodes: Node[] = []
  try {
    for (let i = 0; i < 200; i++) {
      const socket = net.connect({ host: '127.0.0.1', port })
      const entry: { socket: net.Socket; opened: number; closedAt?: number } = { socket, opened: Date.now() }
      socket.on('error', () => {})
      socket.on('data', () => {}) // the server's Propose
      socket.on('close', () => {
        entry.closedAt = Date.now()
      })
      if (i % 2 === 1) {
        // A byte a second of a plausible frame header: the peer looks alive.
        const bytes = [0x00, 0x00, 0x00, 0xad, 0xad]
        let k = 0
        // Not a synchronization: the slowloris pace is the test.
        const t = setInterval(() => {
          if (socket.destroyed || k >= bytes.length) {
            clearInterval(t)
            trickleTimers.delete(t)
            return
          }
          socket.write(Buffer.from([bytes[k++]]))
        }, 1000)
        trickleTimers.add(t)
      }
      slow.push(entry)
    }
    await Promise.all(slow.map((e) => once(e.socket, 'connect').then(() => (e.opened = Date.now()))))
    // Honest peers, one after another, while the 200 wait.
    for (let i = 0; i < 3; i++) {
      const echoed = deferred<string>()
      const honest = new Node({
        protocols: [
          {
            id: 1,
            handler: {
              connected: (ctx) => ctx.send(new TextEncoder().encode(`hi ${i}`)),
              received: (_c, d) => echoed.resolve(new TextDecoder().decode(d)),
            },
          },
        ],
      })
      honestNodes.push(honest)
      const t0 = Date.now()
      await honest.service.dial(addr)
      assert.equal(await echoed.promise, `hi ${i}`)
      // Served while the 200 wait: well before their 2 s deadline frees anything (usually
      // ~50 ms; 1.5 s leaves room for a loaded machine).
      assert.ok(Date.now() - t0 < 1500, `honest peer ${i} took ${Date.now() - t0} ms`)
    }
    await Promise.all(slow.map((e) => (e.closedAt !== undefined ? undefined : once(e.socket, 'close'))))
    for (const e of slow) {
      const lived = (e.closedAt as number) - e.opened
      assert.ok(lived >= DEADLINE - 100, `closed after ${lived} ms, before the deadline`)
      assert.ok(lived < DEADLINE + 1500, `closed after ${lived} ms, long after the deadline`)
    }
    const timeouts = server
      .errors()
      .filter((e) => e.type === 'handshake-error' && e.error.code === 'TENTACLE_ERR_HANDSHAKE_TIMEOUT')
    assert.equal(timeouts.length, 200)
    const phases = new Set(timeouts.map((e) => e.error.phase))
    assert.deepEqual([...phases], ['awaiting-propose'])
    assert.ok(
      timeouts.some((e) => (e.error.bytesReceived ?? 0) > 0),
      'tricklers reported the bytes they sent',
    )
    assert.equal(server.service.connectionCount, 3)
  } finally {
    for (const t of trickleTimers) clearInterval(t)
    for (const e of slow) e.socket.destroy()
    await Promise.all(honestNodes.map((n) => n.service.shutdown()))
    await server.service.shutdown()
  }
})
