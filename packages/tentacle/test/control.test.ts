// Control calls made from inside handlers only queue work (ckb #3738): none
// of them may deadlock, whatever handler they are called from.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { Node, deferred, isType, within } from './service-helpers.js'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

test('disconnect() called inside received closes the session on both sides', async () => {
  const server = new Node({
    protocols: [{ id: 1, handler: { received: (ctx) => ctx.control.disconnect(ctx.session.id) } }],
  })
  const client = new Node({ protocols: [{ id: 1, handler: { connected: (ctx) => ctx.send(enc('bye')) } }] })
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    await client.service.dial(addr)
    await server.waitFor(isType('session-close'))
    await client.waitFor(isType('session-close'))
  } finally {
    await Promise.all([server, client].map((n) => n.service.shutdown()))
  }
})

test('awaiting close() inside a protocol handler resolves; awaiting dial() inside session-open resolves', async () => {
  const closed = deferred()
  const third = new Node({ protocols: [{ id: 1 }] })
  const thirdAddr = await third.service.listen('/ip4/127.0.0.1/tcp/0')
  const dialedInside = deferred<string | undefined>()
  let dialedOnce = false
  const server = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          received: async (ctx) => {
            await ctx.control.dial(thirdAddr).catch(() => undefined)
            closed.resolve()
          },
        },
      },
    ],
    onEvent: async (e, s) => {
      if (e.type === 'session-open' && !dialedOnce) {
        dialedOnce = true
        const info = await s.dial(thirdAddr)
        dialedInside.resolve(info.remotePeerId)
      }
    },
  })
  const client = new Node({ protocols: [{ id: 1, handler: { connected: (ctx) => ctx.send(enc('x')) } }] })
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    await client.service.dial(addr)
    assert.equal(await dialedInside.promise, third.service.peerId)
    await closed.promise
    const inHandler = deferred()
    const closer = new Node({
      protocols: [
        {
          id: 1,
          handler: {
            received: async (ctx) => {
              await (ctx.control as unknown as { close(): Promise<void> }).close()
              inHandler.resolve()
            },
          },
        },
      ],
    })
    const closerAddr = await closer.service.listen('/ip4/127.0.0.1/tcp/0')
    const c2 = new Node({ protocols: [{ id: 1, handler: { connected: (ctx) => ctx.send(enc('close please')) } }] })
    await c2.service.dial(closerAddr)
    await inHandler.promise
    await c2.waitFor(isType('session-close'))
    await c2.service.shutdown()
  } finally {
    await Promise.all([server, client, third].map((n) => n.service.shutdown()))
  }
})

test('a session with no protocol open is closed at the timeout with TENTACLE_ERR_SESSION_TIMEOUT; one with a protocol open is not', async () => {
  const server = new Node({ protocols: [{ id: 1 }], config: { timeoutMs: 1000 } })
  const idle = new Node({ protocols: [{ id: 1 }], config: { timeoutMs: 60_000 } })
  const busy = new Node({ protocols: [{ id: 1 }], config: { timeoutMs: 60_000 } })
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    const t0 = Date.now()
    await idle.service.dial(addr, { kind: 'filter', filter: () => false })
    const busyInfo = await busy.service.dial(addr)
    const busyAt = Date.now()
    const timeout = await server.waitFor((r) => r.type === 'session-timeout', 5000)
    assert.ok(Date.now() - t0 >= 900)
    assert.equal('error' in timeout && timeout.error?.code, 'TENTACLE_ERR_SESSION_TIMEOUT')
    await idle.waitFor(isType('session-close'), 5000)
    // Not a synchronization: the test is that the busy session is NOT timed out, so wait
    // until its own timeout point (1 s after it opened) is 500 ms past.
    await sleep(Math.max(0, busyAt + 1500 - Date.now()))
    assert.equal(server.errors().filter((e) => e.type === 'session-timeout').length, 1)
    assert.equal(busy.service.session(busyInfo.id)?.closed, false)
  } finally {
    await Promise.all([server, idle, busy].map((n) => n.service.shutdown()))
  }
})

test('an inbound handshake that fails is reported with its code and phase; accepting goes on', async () => {
  const server = new Node({ protocols: [{ id: 1 }], config: { timeoutMs: 1000 } })
  const client = new Node({ protocols: [{ id: 1 }] })
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    const port = Number(addr.getComponents()[1]?.value)
    const garbage = net.connect({ host: '127.0.0.1', port })
    garbage.on('error', () => {})
    await once(garbage, 'connect')
    garbage.write(Buffer.from('00000010' + 'ff'.repeat(16), 'hex'))
    const failed = await server.waitFor((r) => r.type === 'handshake-error', 5000)
    assert.ok('error' in failed && failed.error?.code === 'TENTACLE_ERR_HANDSHAKE_FAILED')
    assert.equal('error' in failed && failed.error?.phase, 'awaiting-propose')
    garbage.destroy()
    await client.service.dial(addr)
    await server.waitFor(isType('session-open'))
  } finally {
    await Promise.all([server, client].map((n) => n.service.shutdown()))
  }
})

test('service notify fires on its interval and stops when removed; session notify stops with the session', async () => {
  let serviceTicks = 0
  let sessionTicks = 0
  const ticked = deferred()
  const server = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          init: (ctx) => ctx.control.setServiceNotify(1, 20, 7),
          notify: (_c, token) => {
            assert.equal(token, 7)
            serviceTicks++
          },
        },
      },
      {
        id: 2,
        sessionHandler: () => ({
          connected: (ctx) => ctx.control.setSessionNotify(ctx.session.id, 2, 20, 9),
          notify: () => {
            if (++sessionTicks === 3) ticked.resolve()
          },
        }),
      },
    ],
  })
  const client = new Node({ protocols: [{ id: 1 }, { id: 2 }] })
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    const info = await client.service.dial(addr)
    await ticked.promise
    assert.ok(serviceTicks >= 1)
    server.service.removeServiceNotify(1, 7)
    const before = serviceTicks
    client.service.disconnect(info.id)
    await server.waitFor(isType('session-close'))
    const sessionBefore = sessionTicks
    // Not a synchronization: the test is that no notify comes any more (5 intervals).
    await sleep(100)
    assert.equal(serviceTicks, before)
    assert.equal(sessionTicks, sessionBefore)
  } finally {
    await Promise.all([server, client].map((n) => n.service.shutdown()))
  }
})

test('30 connections waiting in the handshake at once raise no process warning (listeners on the shared close signal)', async () => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => {
    warnings.push(`${w.name}: ${w.message}`)
  }
  process.on('warning', onWarning)
  const server = new Node({ protocols: [{ id: 1 }], config: { timeoutMs: 2000 } })
  const honest = new Node({ protocols: [{ id: 1 }] })
  const silent: net.Socket[] = []
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    const port = Number(addr.getComponents()[1]?.value)
    for (let i = 0; i < 30; i++) {
      const s = net.connect({ host: '127.0.0.1', port })
      s.on('error', () => {})
      silent.push(s)
    }
    await Promise.all(silent.map((s) => once(s, 'connect')))
    // Barrier: an honest peer connecting after them gets a session. The kernel queues
    // connections in order and the listener accepts them in order, so by then all 30
    // silent ones were accepted and are waiting in the handshake.
    await honest.service.dial(addr)
    await server.waitFor(isType('session-open'), 10_000, 'the honest session')
    assert.equal(server.service.sessions().length, 1)
    assert.equal(server.service.connectionCount, 31)
    await new Promise((r) => setImmediate(r)) // process warnings are emitted on process.nextTick
    assert.deepEqual(warnings, [])
  } finally {
    process.off('warning', onWarning)
    for (const s of silent) s.destroy()
    await Promise.all([server, honest].map((n) => n.service.shutdown()))
  }
})

for (const kind of ['service', 'session'] as const) {
  test(`a ${kind} handler whose disconnected throws synchronously: the session still closes (session-close, slot freed), the throw is reported`, async () => {
    const boom = (): void => {
      throw new Error('boom in disconnected')
    }
    const opened = deferred()
    const handler = { connected: () => opened.resolve(), disconnected: boom }
    const server = new Node({
      protocols: [kind === 'service' ? { id: 1, handler } : { id: 1, sessionHandler: () => handler }],
    })
    const client = new Node({ protocols: [{ id: 1 }] })
    try {
      const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
      const info = await client.service.dial(addr)
      await within(opened.promise, 5000, 'protocol 1 open on the server')
      client.service.disconnect(info.id)
      await server.waitFor(isType('session-close'), 5000, 'session-close after a throwing disconnected')
      assert.equal(server.service.connectionCount, 0)
      const handleError = await server.waitFor(isType('protocol-handle-error'), 5000)
      assert.ok(
        handleError.type === 'protocol-handle-error' && handleError.error.code === 'TENTACLE_ERR_PROTOCOL_HANDLER',
      )
    } finally {
      await Promise.all([server, client].map((n) => n.service.shutdown()))
    }
  })
}
