// Handshakes over real TCP loopback: every agreement × cipher × digest, each
// provider as dialer and as listener (node↔noble too), then a 1 MiB echo.
// Also suite selection (§3.7), options, the default deadline and result fields.
import { describe, mock, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  createNodeCryptoProvider,
  AGREEMENTS,
  CIPHERS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DIGESTS,
  handshake,
  nobleCryptoProvider,
  nodeCryptoProvider,
  SecioError,
  SecioKeyPair,
  type CryptoProvider,
  type HandshakeOptions,
} from '../src/index.js'
import { selectBest } from '../src/support.js'
import { pattern, readBytes, tcpPair, within } from './helpers.js'

const providers: CryptoProvider[] = [nodeCryptoProvider, nobleCryptoProvider]
const dialerKey = SecioKeyPair.generate()
const listenerKey = SecioKeyPair.generate()

async function pairHandshake(dialer: Partial<HandshakeOptions>, listener: Partial<HandshakeOptions>) {
  const { client, server, close } = await tcpPair()
  try {
    const [d, l] = await within(
      15_000,
      Promise.all([
        handshake(client, { key: dialerKey, ...dialer }),
        handshake(server, { key: listenerKey, ...listener }),
      ]),
      'handshake',
    )
    const closeAll = (): void => {
      d.stream.destroy()
      l.stream.destroy()
      close()
    }
    return { d, l, close: closeAll }
  } catch (e) {
    close()
    throw e
  }
}

/** Client writes `n` pattern bytes, listener echoes them, client checks them. */
async function echo(
  d: Awaited<ReturnType<typeof pairHandshake>>['d'],
  l: Awaited<ReturnType<typeof pairHandshake>>['l'],
  n: number,
) {
  l.stream.pipe(l.stream)
  const data = pattern(n)
  const got = readBytes(d.stream, n)
  d.stream.write(data)
  const back = await within(30_000, got, 'echo')
  assert.equal(back.length, n)
  assert.ok(back.equals(data), 'echoed bytes differ')
}

describe('handshake matrix over TCP loopback, then a 1 MiB echo', () => {
  for (const agreement of AGREEMENTS) {
    for (const cipher of CIPHERS) {
      for (const digest of DIGESTS) {
        for (const pd of providers) {
          for (const pl of providers) {
            test(`${agreement} ${cipher} ${digest}: dialer ${pd.name}, listener ${pl.name}`, async () => {
              const suite = { agreements: [agreement], ciphers: [cipher], digests: [digest] }
              const { d, l, close } = await pairHandshake({ ...suite, crypto: pd }, { ...suite, crypto: pl })
              try {
                assert.deepEqual(d.suite, { agreement, cipher, digest })
                assert.deepEqual(l.suite, { agreement, cipher, digest })
                assert.ok(d.remotePeerId.equals(listenerKey.peerId))
                assert.ok(l.remotePeerId.equals(dialerKey.peerId))
                await echo(d, l, 1024 * 1024)
              } finally {
                close()
              }
            })
          }
        }
      }
    }
  }
})

describe('secp256k1 backends', () => {
  const openssl = createNodeCryptoProvider({ secp256k1: 'openssl' })
  const opensslAsync = createNodeCryptoProvider({ secp256k1: 'openssl', asyncSignatures: true })
  for (const [name, a, b] of [
    ['OpenSSL dialer, default listener', openssl, nodeCryptoProvider],
    ['default dialer, OpenSSL (thread pool) listener', nodeCryptoProvider, opensslAsync],
    ['OpenSSL dialer, noble listener', openssl, nobleCryptoProvider],
  ] as const) {
    test(`${name}: handshake and 256 KiB echo`, async () => {
      const { d, l, close } = await pairHandshake({ crypto: a }, { crypto: b })
      try {
        await echo(d, l, 256 * 1024)
      } finally {
        close()
      }
    })
  }
})

describe('negotiation', () => {
  test('defaults on both sides choose P-256 / AES-128-GCM / SHA256 (§3.7)', async () => {
    const { d, l, close } = await pairHandshake({}, {})
    try {
      assert.deepEqual(d.suite, { agreement: 'P-256', cipher: 'AES-128-GCM', digest: 'SHA256' })
      assert.deepEqual(l.suite, d.suite)
      assert.equal(d.remotePublicKey.length, 33)
      assert.ok(d.durationMs > 0 && d.durationMs < 15_000)
      assert.ok(d.stream.remotePeerId.equals(listenerKey.peerId))
    } finally {
      close()
    }
  })

  test('selection is symmetric: both orderings pick the same name or both find none', () => {
    const list = (names: readonly string[]) => fc.shuffledSubarray([...names], { minLength: 1 })
    fc.assert(
      fc.property(list(CIPHERS), list(CIPHERS), (a, b) => {
        const x = selectBest(1, a.join(','), b.join(','), CIPHERS)
        const y = selectBest(-1, b.join(','), a.join(','), CIPHERS)
        assert.equal(x, y)
        if (x !== undefined)
          assert.equal(
            x,
            a.find((n) => b.includes(n)),
          )
      }),
    )
  })

  test('unknown names in the peer list are skipped (§3.7)', () => {
    assert.equal(selectBest(-1, 'AES-128-GCM', 'AES-512-XYZ,AES-128-GCM', CIPHERS), 'AES-128-GCM')
  })

  test('different preference lists agree on one suite over the wire', async () => {
    const { d, l, close } = await pairHandshake(
      { ciphers: ['CHACHA20_POLY1305', 'AES-256-GCM'], agreements: ['X25519', 'P-256'], digests: ['SHA512', 'SHA256'] },
      { ciphers: ['AES-256-GCM', 'CHACHA20_POLY1305'], agreements: ['P-256', 'X25519'] },
    )
    try {
      assert.deepEqual(d.suite, l.suite)
      await echo(d, l, 64 * 1024)
    } finally {
      close()
    }
  })
})

describe('options', () => {
  test('the default deadline is 10 000 ms (§3.14): a silent peer fails at 10 s, not before', async () => {
    assert.equal(DEFAULT_HANDSHAKE_TIMEOUT_MS, 10_000)
    const { client, close } = await tcpPair()
    mock.timers.enable({ apis: ['setTimeout'] })
    try {
      let settled: unknown
      const p = handshake(client, { key: dialerKey }).then(
        () => (settled = 'resolved'),
        (e: unknown) => (settled = e),
      )
      mock.timers.tick(9_999)
      await new Promise((r) => setImmediate(r))
      assert.equal(settled, undefined, 'failed before the default deadline')
      mock.timers.tick(1)
      for (let i = 0; i < 5 && settled === undefined; i++) await new Promise((r) => setImmediate(r))
      client.destroy() // settles the handshake in any case, so a wrong default cannot hang the test
      await p
      const got = settled as unknown
      assert.ok(got instanceof SecioError && got.code === 'SECIO_ERR_HANDSHAKE_TIMEOUT', String(got))
      assert.equal((got as SecioError).phase, 'awaiting-propose')
      assert.match((got as SecioError).message, /10000 ms/)
    } finally {
      mock.timers.reset()
      close()
    }
  })

  test('an unknown cipher name, an empty list, a bad timeout are SECIO_ERR_INVALID_OPTION naming the option, and the socket is destroyed', async () => {
    const bad: Array<[Partial<HandshakeOptions>, string]> = [
      [{ ciphers: ['AES-512'] }, 'ciphers[0]'],
      [{ ciphers: ['AES-128-GCM', 'AES-128-GCM'] }, 'ciphers[1]'],
      [{ agreements: [] }, 'agreements'],
      [{ timeoutMs: -1 }, 'timeoutMs'],
      [{ maxFrameLength: 10 }, 'maxFrameLength'],
    ]
    for (const [opts, field] of bad) {
      const { client, close } = await tcpPair()
      try {
        await assert.rejects(handshake(client, { key: dialerKey, ...opts }), (e: unknown) => {
          assert.ok(e instanceof SecioError && e.code === 'SECIO_ERR_INVALID_OPTION', String(e))
          assert.equal(e.field, field)
          return true
        })
        assert.equal(client.destroyed, true)
      } finally {
        close()
      }
    }
  })

  test('a maxSendFrameLength no bigger than the tag (or not an integer) is SECIO_ERR_INVALID_OPTION at once, not a handshake that never settles', async () => {
    for (const maxSendFrameLength of [16, Number.NaN, 1000.5]) {
      const { client, close } = await tcpPair()
      try {
        // The peer is silent: the option must be rejected before any byte is awaited.
        await within(
          2000,
          assert.rejects(
            handshake(client, { key: dialerKey, maxSendFrameLength }),
            (e: unknown) =>
              e instanceof SecioError && e.code === 'SECIO_ERR_INVALID_OPTION' && e.field === 'maxSendFrameLength',
          ),
          `handshake with maxSendFrameLength ${maxSendFrameLength}`,
        )
        assert.equal(client.destroyed, true)
      } finally {
        close()
      }
    }
  })

  test('a bad maxSendFrameLength between two live peers settles both handshakes', async () => {
    const { client, server, close } = await tcpPair()
    try {
      const results = await within(
        5000,
        Promise.allSettled([
          handshake(client, { key: dialerKey, maxSendFrameLength: 8 }),
          handshake(server, { key: listenerKey, timeoutMs: 3000 }),
        ]),
        'handshakes',
      )
      assert.equal(results[0].status, 'rejected')
      assert.equal(((results[0] as PromiseRejectedResult).reason as SecioError).code, 'SECIO_ERR_INVALID_OPTION')
      assert.equal(client.destroyed, true)
    } finally {
      close()
    }
  })

  test('a pre-aborted signal rejects with SECIO_ERR_HANDSHAKE_ABORTED', async () => {
    const { client, close } = await tcpPair()
    try {
      await assert.rejects(
        handshake(client, { key: dialerKey, signal: AbortSignal.abort(new Error('stop')) }),
        (e: unknown) => e instanceof SecioError && e.code === 'SECIO_ERR_HANDSHAKE_ABORTED',
      )
      assert.equal(client.destroyed, true)
    } finally {
      close()
    }
  })

  test('waitForPeer: the listener writes nothing until the dialer spoke, then completes', async () => {
    const { client, server, close } = await tcpPair()
    try {
      // Count what the listener writes: nothing may leave before the dialer's first bytes.
      let wrote = 0
      client.on('data', (b: Buffer) => (wrote += b.length))
      const listening = handshake(server, { key: listenerKey, waitForPeer: true })
      // A round trip through the listener's event loop: had it written, the bytes would be here.
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(wrote, 0, `the listener wrote ${wrote} bytes before the dialer said anything`)
      client.removeAllListeners('data')
      const [d, l] = await within(5000, Promise.all([handshake(client, { key: dialerKey }), listening]))
      assert.ok(d.remotePeerId.equals(listenerKey.peerId))
      assert.ok(l.remotePeerId.equals(dialerKey.peerId))
      d.stream.write(Buffer.from('ping'))
      assert.equal((await readBytes(l.stream, 4)).toString(), 'ping')
      d.stream.destroy()
      l.stream.destroy()
    } finally {
      close()
    }
  })

  test('waitForPeer: a dialer that closes without a byte fails the listener in awaiting-propose, 0 bytes, nothing written', async () => {
    const { client, server, close } = await tcpPair()
    try {
      let wrote = 0
      client.on('data', (b: Buffer) => (wrote += b.length))
      const listening = handshake(server, { key: listenerKey, waitForPeer: true })
      client.end()
      const err = await within(5000, listening).then(
        () => assert.fail('the handshake should fail'),
        (e: unknown) => e as SecioError,
      )
      assert.ok(err instanceof SecioError)
      assert.equal(err.code, 'SECIO_ERR_UNEXPECTED_EOF')
      assert.equal(err.phase, 'awaiting-propose')
      assert.equal(err.bytesReceived, 0)
      assert.equal(server.destroyed, true)
      assert.equal(wrote, 0)
    } finally {
      close()
    }
  })

  test('connecting to ourselves is SECIO_ERR_CONNECT_SELF (§3.3)', async () => {
    const { client, server, close } = await tcpPair()
    try {
      const results = await Promise.allSettled([
        handshake(client, { key: dialerKey }),
        handshake(server, { key: dialerKey }),
      ])
      for (const r of results) {
        assert.equal(r.status, 'rejected')
        assert.equal((r.reason as SecioError).code, 'SECIO_ERR_CONNECT_SELF')
      }
    } finally {
      close()
    }
  })
})
