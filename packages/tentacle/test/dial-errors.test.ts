// Failed dials and listens: the error the caller catches carries the specific
// code (the lower layer's error kept as `cause`), and every failure both
// rejects and reaches handleError with that same error. A service without a
// key cannot verify a /p2p/ id and refuses to dial one.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { isSecioError, SecioKeyPair } from '@tentacle-ts/secio'
import { isTentacleError, TentacleError, type TentacleErrorCode } from '../src/index.js'
import { Node, within } from './service-helpers.js'

const code = (c: TentacleErrorCode) => (e: unknown) => {
  assert.ok(e instanceof TentacleError, String(e))
  assert.equal(e.code, c, e.message)
  return true
}

/**
 * `call` rejects with a TentacleError `c`, and `node`'s handleError receives
 * that very error in a `type` event. Returns the error.
 */
async function failsAndReports(
  node: Node,
  type: 'dial-error' | 'listen-error',
  call: Promise<unknown>,
  c: TentacleErrorCode,
): Promise<TentacleError> {
  let caught: unknown
  await assert.rejects(call, (e: unknown) => {
    caught = e
    return code(c)(e)
  })
  const ev = await node.waitFor((r) => r.type === type && r.error === caught, 5_000, `${type} ${c}`)
  assert.ok(ev.type === type && isTentacleError(ev.error, c))
  return caught as TentacleError
}

/** A TCP server that accepts and never says a word (a peer stuck before its Propose). */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

/** A loopback port nobody listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

describe('dial and listen failures', () => {
  test('dialing yourself rejects with TENTACLE_ERR_CONNECT_SELF on the error itself (secio error as cause) and reaches handleError', async () => {
    const key = SecioKeyPair.generate()
    const a = new Node({ protocols: [{ id: 1, handler: {} }], key })
    try {
      const addr = await a.service.listen('/ip4/127.0.0.1/tcp/0')
      const dialed = addr.encapsulate(`/p2p/${key.peerId.toString()}`)
      const e = await failsAndReports(a, 'dial-error', a.service.dial(dialed), 'TENTACLE_ERR_CONNECT_SELF')
      assert.ok(isSecioError(e.cause, 'SECIO_ERR_CONNECT_SELF'), String(e.cause))
    } finally {
      await a.service.close()
    }
  })

  test('a service without a key refuses a /p2p/ address with TENTACLE_ERR_UNVERIFIABLE_PEER_ID, and reports it', async () => {
    const plain = new Node({ protocols: [{ id: 1, handler: {} }], secio: false })
    const other = new Node({ protocols: [{ id: 1, handler: {} }], secio: false })
    try {
      const addr = await other.service.listen('/ip4/127.0.0.1/tcp/0')
      const id = SecioKeyPair.generate().peerId.toString()
      await failsAndReports(
        plain,
        'dial-error',
        plain.service.dial(addr.encapsulate(`/p2p/${id}`)),
        'TENTACLE_ERR_UNVERIFIABLE_PEER_ID',
      )
      // Without the /p2p/ part the same plaintext dial works: the refusal is about the id alone.
      await plain.service.dial(addr)
      assert.equal(
        plain.log.filter((r) => r.type === 'session-open').length,
        1,
        'only the dial without an id opened a session',
      )
    } finally {
      await Promise.all([plain.service.close(), other.service.close()])
    }
  })

  test('an unparseable address rejects with TENTACLE_ERR_INVALID_MULTIADDR and reaches handleError, for dial and for listen', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }] })
    try {
      await failsAndReports(a, 'dial-error', a.service.dial('not a multiaddr'), 'TENTACLE_ERR_INVALID_MULTIADDR')
      const d = a.errors().find((e) => e.type === 'dial-error')
      assert.equal(String(d?.address), 'not a multiaddr')
      await failsAndReports(a, 'listen-error', a.service.listen('/garbage'), 'TENTACLE_ERR_INVALID_MULTIADDR')
    } finally {
      await a.service.close()
    }
  })

  test('an address no transport handles is TENTACLE_ERR_UNSUPPORTED_MULTIADDR, for dial and for listen', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }] })
    try {
      await failsAndReports(
        a,
        'dial-error',
        a.service.dial('/ip4/127.0.0.1/udp/1'),
        'TENTACLE_ERR_UNSUPPORTED_MULTIADDR',
      )
      await failsAndReports(
        a,
        'listen-error',
        a.service.listen('/ip4/127.0.0.1/udp/1'),
        'TENTACLE_ERR_UNSUPPORTED_MULTIADDR',
      )
    } finally {
      await a.service.close()
    }
  })

  test('a refused connect is TENTACLE_ERR_DIAL_FAILED in phase connecting, the socket error as cause', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }] })
    try {
      const port = await closedPort()
      const e = await failsAndReports(
        a,
        'dial-error',
        a.service.dial(`/ip4/127.0.0.1/tcp/${port}`),
        'TENTACLE_ERR_DIAL_FAILED',
      )
      assert.equal(e.phase, 'connecting')
      assert.equal((e.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED')
    } finally {
      await a.service.close()
    }
  })

  test('a port in use is TENTACLE_ERR_LISTEN_FAILED, the socket error as cause', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }] })
    const taken = net.createServer()
    taken.listen(0, '127.0.0.1')
    await once(taken, 'listening')
    try {
      const { port } = taken.address() as net.AddressInfo
      const e = await failsAndReports(
        a,
        'listen-error',
        a.service.listen(`/ip4/127.0.0.1/tcp/${port}`),
        'TENTACLE_ERR_LISTEN_FAILED',
      )
      assert.equal(errnoOf(e), 'EADDRINUSE')
    } finally {
      taken.close()
      await a.service.close()
    }
  })

  test('the wrong /p2p/ id is TENTACLE_ERR_PEER_ID_MISMATCH at top level, secio error as cause', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }] })
    const b = new Node({ protocols: [{ id: 1, handler: {} }] })
    try {
      const addr = await b.service.listen('/ip4/127.0.0.1/tcp/0')
      const wrong = SecioKeyPair.generate().peerId.toString()
      const e = await failsAndReports(
        a,
        'dial-error',
        a.service.dial(addr.encapsulate(`/p2p/${wrong}`)),
        'TENTACLE_ERR_PEER_ID_MISMATCH',
      )
      assert.ok(isSecioError(e.cause, 'SECIO_ERR_PEER_ID_MISMATCH'), String(e.cause))
    } finally {
      await Promise.all([a.service.close(), b.service.close()])
    }
  })

  test('no common cipher is TENTACLE_ERR_HANDSHAKE_FAILED, secio SECIO_ERR_NO_COMMON_SUITE as cause', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }], config: { secio: { ciphers: ['AES-128-GCM'] } } })
    const b = new Node({ protocols: [{ id: 1, handler: {} }], config: { secio: { ciphers: ['CHACHA20_POLY1305'] } } })
    try {
      const addr = await b.service.listen('/ip4/127.0.0.1/tcp/0')
      const e = await failsAndReports(a, 'dial-error', a.service.dial(addr), 'TENTACLE_ERR_HANDSHAKE_FAILED')
      assert.ok(isSecioError(e.cause, 'SECIO_ERR_NO_COMMON_SUITE'), String(e.cause))
    } finally {
      await Promise.all([a.service.close(), b.service.close()])
    }
  })

  test('a peer that never answers: TENTACLE_ERR_HANDSHAKE_TIMEOUT; a second dial to it while the first connects is TENTACLE_ERR_ALREADY_DIALING, one over maxConnections TENTACLE_ERR_TOO_MANY_CONNECTIONS', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }], config: { timeoutMs: 1_000, maxConnections: 1 } })
    const silent = await silentServer()
    try {
      const addr = `/ip4/127.0.0.1/tcp/${silent.port}`
      // All three in one turn: the first is then still connecting (its address and its socket are counted).
      const calls = [a.service.dial(addr), a.service.dial(addr), a.service.dial('/ip4/127.0.0.1/tcp/1')]
      const [first, again, over] = [
        failsAndReports(a, 'dial-error', calls[0]!, 'TENTACLE_ERR_HANDSHAKE_TIMEOUT'),
        failsAndReports(a, 'dial-error', calls[1]!, 'TENTACLE_ERR_ALREADY_DIALING'),
        failsAndReports(a, 'dial-error', calls[2]!, 'TENTACLE_ERR_TOO_MANY_CONNECTIONS'),
      ]
      await Promise.all([again, over])
      const e = await first
      assert.ok(isSecioError(e.cause, 'SECIO_ERR_HANDSHAKE_TIMEOUT'), String(e.cause))
      assert.equal(e.phase, 'awaiting-propose')
    } finally {
      await a.service.close()
      await silent.close()
    }
  })

  test('a second session to the same peer is TENTACLE_ERR_REPEATED_CONNECTION', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }] })
    const b = new Node({ protocols: [{ id: 1, handler: {} }] })
    try {
      const addr = await b.service.listen('/ip4/127.0.0.1/tcp/0')
      await a.service.dial(addr)
      await failsAndReports(a, 'dial-error', a.service.dial(addr), 'TENTACLE_ERR_REPEATED_CONNECTION')
    } finally {
      await Promise.all([a.service.close(), b.service.close()])
    }
  })

  test('after close, dial and listen reject with TENTACLE_ERR_SERVICE_CLOSED and nothing reaches the (finished) handler', async () => {
    const a = new Node({ protocols: [{ id: 1, handler: {} }] })
    await a.service.close()
    const before = a.errors().length
    await assert.rejects(a.service.dial('/ip4/127.0.0.1/tcp/1'), code('TENTACLE_ERR_SERVICE_CLOSED'))
    await assert.rejects(a.service.listen('/ip4/127.0.0.1/tcp/0'), code('TENTACLE_ERR_SERVICE_CLOSED'))
    assert.equal(a.errors().length, before)
  })

  test('close() during a TCP connect: the dial rejects with TENTACLE_ERR_SERVICE_CLOSED at once, no dial-error, no connection left', async () => {
    const b = new Node({ protocols: [{ id: 1, handler: {} }] })
    const a = new Node({ protocols: [{ id: 1, handler: {} }], config: { timeoutMs: 60_000 } })
    try {
      const addr = await b.service.listen('/ip4/127.0.0.1/tcp/0')
      const before = a.errors().length
      // connect() completes on a later turn of the event loop: close() finds it in flight.
      const dial = a.service.dial(addr)
      const closed = a.service.close()
      await assert.rejects(within(dial, 5000, 'the dial settles'), code('TENTACLE_ERR_SERVICE_CLOSED'))
      await closed
      assert.equal(a.service.connectionCount, 0)
      assert.equal(a.errors().length, before)
    } finally {
      await Promise.all([a.service.close(), b.service.close()])
    }
  })
})

/** The errno code in the cause chain of `e`. */
function errnoOf(e: Error): string | undefined {
  let c: unknown = e.cause
  while (c instanceof Error) {
    const code = (c as NodeJS.ErrnoException).code
    if (typeof code === 'string' && code.startsWith('E')) return code
    c = c.cause
  }
  return undefined
}
