/**
 * The local test net's nodes live on distinct 127.x addresses. A node that listens on one dials
 * loopback peers from it, so the peer sees the address the node listens at (what discovery
 * shares as remote ip + announced port); from the kernel's default source, 127.0.0.1, nobody
 * could dial it back.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder, tcpTarget, type SessionInfo } from '@tentacle-ts/tentacle'

const base = `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`

test('a dial to loopback leaves from the 127.x address the service listens on', async () => {
  let seen!: (s: SessionInfo) => void
  const inbound = new Promise<SessionInfo>((r) => (seen = r))
  const b = new ServiceBuilder()
    .key(SecioKeyPair.generate())
    .build({ handleEvent: (e) => (e.type === 'session-open' ? seen(e.session) : undefined) })
  const a = new ServiceBuilder().key(SecioKeyPair.generate()).build({})
  const c = new ServiceBuilder().key(SecioKeyPair.generate()).build({})
  try {
    const bAddr = await b.listen(`/ip4/${base}.2/tcp/0`)
    await a.listen(`/ip4/${base}.1/tcp/0`)
    await a.dial(bAddr)
    assert.equal(tcpTarget((await inbound).address).host, `${base}.1`)
    // A service with no loopback listener keeps the kernel's choice.
    const s = await c.dial(bAddr)
    assert.equal(tcpTarget(s.address).host, `${base}.2`)
  } finally {
    await Promise.all([a.close(), b.close(), c.close()])
  }
})
