// Failed dials and listens: the error the caller catches carries the specific
// code (the lower layer's error kept as `cause`), and every failure both
// rejects and reaches handleError. A service without a key cannot verify a
// /p2p/ id and refuses to dial one.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { TentacleError } from '../src/index.js'
import { Node } from './service-helpers.js'

const code = (c: string) => (e: unknown) => {
  assert.ok(e instanceof TentacleError, String(e))
  assert.equal(e.code, c, e.message)
  return true
}

describe('dial and listen failures', () => {
  test('dialing yourself rejects with ERR_CONNECT_SELF on the error itself (secio error as cause) and reaches handleError', async () => {
    const key = SecioKeyPair.generate()
    const a = new Node({ protocols: [{ id: 1, handler: {} }], key })
    try {
      const addr = await a.service.listen('/ip4/127.0.0.1/tcp/0')
      await assert.rejects(a.service.dial(addr.encapsulate(`/p2p/${key.peerId.toString()}`)), (e: unknown) => {
        code('ERR_CONNECT_SELF')(e)
        assert.equal(((e as Error).cause as { code?: string }).code, 'ERR_CONNECT_SELF')
        return true
      })
      const ev = await a.waitFor((r) => r.type === 'dial-error', 5_000, 'dial-error')
      assert.ok('error' in ev && ev.error?.code === 'ERR_CONNECT_SELF')
    } finally {
      await a.service.close()
    }
  })

  test('a service without a key refuses a /p2p/ address with ERR_UNVERIFIABLE_PEER_ID, and reports it', async () => {
    const plain = new Node({ protocols: [{ id: 1, handler: {} }], secio: false })
    const other = new Node({ protocols: [{ id: 1, handler: {} }], secio: false })
    try {
      const addr = await other.service.listen('/ip4/127.0.0.1/tcp/0')
      const id = SecioKeyPair.generate().peerId.toString()
      await assert.rejects(plain.service.dial(addr.encapsulate(`/p2p/${id}`)), code('ERR_UNVERIFIABLE_PEER_ID'))
      const ev = await plain.waitFor((r) => r.type === 'dial-error', 5_000, 'dial-error')
      assert.ok('error' in ev && ev.error?.code === 'ERR_UNVERIFIABLE_PEER_ID')
      assert.equal(plain.types().includes('session-open'), false, 'no session with an unverified identity')
      assert.equal(other.types().includes('session-open'), false)
    } finally {
      await Promise.all([plain.service.close(), other.service.close()])
    }
  })

  test('an unparseable address rejects with ERR_INVALID_MULTIADDR and reaches handleError, for dial and for listen', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }] })
    try {
      await assert.rejects(a.service.dial('not a multiaddr'), code('ERR_INVALID_MULTIADDR'))
      const d = await a.waitFor((r) => r.type === 'dial-error', 5_000, 'dial-error')
      assert.ok(d.type === 'dial-error' && d.error.code === 'ERR_INVALID_MULTIADDR')
      assert.equal(String(d.address), 'not a multiaddr')
      await assert.rejects(a.service.listen('/ip4/127.0.0.1/udp/1'), (e: unknown) => e instanceof TentacleError)
      await assert.rejects(a.service.listen('/garbage'), code('ERR_INVALID_MULTIADDR'))
      const listenErrors = a.errors().filter((e) => e.type === 'listen-error')
      assert.equal(listenErrors.length, 2, JSON.stringify(listenErrors.map((e) => e.error.code)))
    } finally {
      await a.service.close()
    }
  })
})
