import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { ProtocolSessionContext } from '../src/index.js'
import { Node, deferred, isType, within, type SessionInfo } from './service-helpers.js'

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

test('dialer opens every protocol, messages flow both ways (small and 1 MiB), disconnect is seen by both', async () => {
  const serverGot = new Map<number, Uint8Array[]>()
  const clientGot = new Map<number, Uint8Array[]>()
  // Each message received re-checks what the test waits for (no polling).
  const onMessage = new Set<() => void>()
  const record = (m: Map<number, Uint8Array[]>) => (ctx: ProtocolSessionContext, data: Uint8Array) => {
    const l = m.get(ctx.protoId) ?? []
    l.push(Uint8Array.from(data))
    m.set(ctx.protoId, l)
    for (const check of [...onMessage]) check()
  }
  const until = (pred: () => boolean, what: string): Promise<void> => {
    const met = new Promise<void>((resolve) => {
      const check = (): void => {
        if (!pred()) return
        onMessage.delete(check)
        resolve()
      }
      onMessage.add(check)
      check()
    })
    return within(met, 10_000, what)
  }
  const bothOpen = deferred()
  let opened = 0
  const server = new Node({
    protocols: [1, 2].map((id) => ({
      id,
      handler: {
        connected: (ctx: ProtocolSessionContext) => ctx.send(new TextEncoder().encode(`hello from server on ${id}`)),
        received: record(serverGot),
      },
    })),
  })
  const client = new Node({
    protocols: [1, 2].map((id) => ({
      id,
      handler: {
        connected: () => {
          if (++opened === 2) bothOpen.resolve()
        },
        received: record(clientGot),
      },
    })),
  })
  try {
    const addr = await server.service.listen('/ip4/127.0.0.1/tcp/0')
    const info = await client.service.dial(addr.encapsulate(`/p2p/${server.service.peerId}`))
    assert.equal(info.direction, 'outbound')
    assert.equal(info.remotePeerId, server.service.peerId)
    await bothOpen.promise
    const big = randomBytes(1024 * 1024)
    client.service.send(info.id, 1, new TextEncoder().encode('small'))
    client.service.send(info.id, 2, big)
    const serverSession = (await server.waitFor(isType('session-open'))) as { session: SessionInfo }
    // The inbound session's address (made when first read) names the dialer's peer id (§5.2), once.
    const remote = serverSession.session.address
    assert.match(remote.toString(), new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${client.service.peerId}$`))
    assert.equal(serverSession.session.address, remote)
    server.service.send(serverSession.session.id, 2, big)
    await until(() => (serverGot.get(1)?.length ?? 0) >= 1 && (serverGot.get(2)?.length ?? 0) >= 1, 'server got both')
    await until(
      () => (clientGot.get(1)?.length ?? 0) >= 1 && (clientGot.get(2)?.length ?? 0) >= 2,
      'client got the hellos and the 1 MiB',
    )
    assert.equal(new TextDecoder().decode(serverGot.get(1)![0]), 'small')
    assert.equal(sha(serverGot.get(2)![0]), sha(big))
    assert.equal(new TextDecoder().decode(clientGot.get(1)![0]), 'hello from server on 1')
    assert.equal(sha(clientGot.get(2)![1]), sha(big))
    assert.deepEqual([...info.openProtocols].sort(), [1, 2])

    // info.closed: false while open, true from disconnect() on (closing), and on the other side once it ended.
    assert.equal(info.closed, false)
    assert.equal(serverSession.session.closed, false)
    client.service.disconnect(info.id)
    assert.equal(info.closed, true)
    await client.waitFor(isType('session-close'))
    await server.waitFor(isType('session-close'))
    assert.equal(serverSession.session.closed, true)
    assert.equal(client.service.sessions().length, 0)
    assert.equal(server.service.sessions().length, 0)
    assert.deepEqual(client.errors(), [])
    assert.deepEqual(server.errors(), [])
  } finally {
    await client.service.shutdown()
    await server.service.shutdown()
  }
})
