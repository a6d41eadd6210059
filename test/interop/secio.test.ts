// tentacle-ts secio against the real tentacle-secio 0.6.9 (interop/rust, `secio-peer`):
// TS client -> Rust server and Rust client -> TS server, for every cipher with
// both crypto providers, every agreement × digest, echoing 1 MiB; plus the
// §7.1 peer ids as Rust derives them and a few failure cases. CLI: interop/README.md.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import {
  AGREEMENTS,
  CIPHERS,
  DIGESTS,
  handshake,
  nobleCryptoProvider,
  nodeCryptoProvider,
  PeerId,
  SecioError,
  SecioKeyPair,
  type CryptoProvider,
  type HandshakeOptions,
  type SecureStream,
} from '@tentacle-ts/secio'
import { checkPattern, patternBytes, runToExit, startServer } from './lib/index.js'

const T = { timeout: 120_000 }
const MIB = 1 << 20
const RUST_SECRET = '11'.repeat(32) // §7.1 key A
const TS_KEY = SecioKeyPair.fromSecret(Buffer.from('22'.repeat(32), 'hex')) // §7.1 key B
const providers: CryptoProvider[] = [nodeCryptoProvider, nobleCryptoProvider]

/** Writes n pattern bytes in 64 KiB writes while reading the echo; resolves when all came back intact. */
async function echoThrough(stream: SecureStream, n: number): Promise<void> {
  const data = patternBytes(n)
  let got = 0
  let bad = -1
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      if (bad < 0) {
        const at = checkPattern(c, got)
        if (at >= 0) bad = at
      }
      got += c.length
      if (got >= n) resolve()
    })
    stream.once('error', reject)
    stream.once('close', () => (got >= n ? resolve() : reject(new Error(`closed after ${got} of ${n} echoed bytes`))))
  })
  for (let at = 0; at < n; at += 64 * 1024) {
    if (!stream.write(data.subarray(at, Math.min(n, at + 64 * 1024)))) await once(stream, 'drain')
  }
  await done
  assert.equal(bad, -1, `echo differs at byte ${bad}`)
  assert.equal(got, n)
}

/** TS dials a fresh `secio-peer server` with `serverArgs`, echoes `bytes`, checks both sides' reports. */
async function tsClientRustServer(serverArgs: string[], opts: Partial<HandshakeOptions>, bytes = MIB) {
  const server = await startServer('secio-peer', ['server', '--secret', RUST_SECRET, ...serverArgs])
  try {
    const socket = net.connect({ port: server.port, host: '127.0.0.1' })
    const r = await handshake(socket, {
      key: TS_KEY,
      expectedPeerId: PeerId.parse(server.peerId!),
      timeoutMs: 10_000,
      ...opts,
    })
    try {
      assert.equal(r.remotePeerId.toString(), server.peerId)
      assert.equal(await server.peer.waitFor(/^HANDSHAKE_/), `HANDSHAKE_OK ${TS_KEY.peerId.toString()}`)
      await echoThrough(r.stream, bytes)
      r.stream.end() // secio has no half-close: this closes the connection; Rust sees EOF
      assert.equal(await server.peer.waitFor(/^(ECHOED|ECHO_ERR) /, 30_000), `ECHOED ${bytes}`)
    } finally {
      r.stream.destroy()
    }
    return r
  } finally {
    await server.peer.kill()
  }
}

/** A TS secio echo server; resolves with its port and the results of its handshakes. */
async function tsServer(opts: Partial<HandshakeOptions>) {
  const results: Array<Promise<Awaited<ReturnType<typeof handshake>>>> = []
  const server = net.createServer((socket) => {
    const p = handshake(socket, { key: TS_KEY, timeoutMs: 10_000, ...opts })
    results.push(p)
    p.then(
      (r) => {
        r.stream.on('error', () => {})
        r.stream.pipe(r.stream)
      },
      () => {},
    )
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as net.AddressInfo).port, results, close: () => server.close() }
}

/** `secio-peer client` dials a TS server and echoes `bytes`; returns the client's lines and the TS side's result. */
async function rustClientTsServer(clientArgs: string[], opts: Partial<HandshakeOptions>, bytes = MIB) {
  const ts = await tsServer(opts)
  try {
    const client = await runToExit('secio-peer', [
      'client',
      '--port',
      String(ts.port),
      '--secret',
      RUST_SECRET,
      '--bytes',
      String(bytes),
      ...clientArgs,
    ])
    assert.equal(client.code, 0, client.lines.join('\n') + '\n' + client.proc.stderrTail.join('\n'))
    assert.deepEqual(client.lines, [`HANDSHAKE_OK ${TS_KEY.peerId.toString()}`, `OK ${bytes}`])
    assert.equal(ts.results.length, 1)
    return await ts.results[0]!
  } finally {
    ts.close()
  }
}

describe('peer ids as Rust derives them (§5.1, §7.1)', () => {
  test('secret 32×11 is QmUVWwwx6RD… on both sides', T, async () => {
    const server = await startServer('secio-peer', ['server', '--secret', RUST_SECRET])
    await server.peer.kill()
    assert.equal(server.peerId, 'QmUVWwwx6RDmtMcWWmNEeuxBk5VryScchC431DKRiEac7v')
    assert.equal(SecioKeyPair.fromSecret(Buffer.from(RUST_SECRET, 'hex')).peerId.toString(), server.peerId)
  })
})

describe('every cipher, both providers, both directions, 1 MiB echo', () => {
  for (const cipher of CIPHERS) {
    for (const p of providers) {
      test(`${cipher}: TS client (${p.name}) -> Rust server`, T, async () => {
        const r = await tsClientRustServer(['--ciphers', cipher], { crypto: p })
        assert.equal(r.suite.cipher, cipher)
      })
      test(`${cipher}: Rust client -> TS server (${p.name})`, T, async () => {
        const r = await rustClientTsServer(['--ciphers', cipher], { crypto: p })
        assert.equal(r.suite.cipher, cipher)
        assert.equal(r.remotePeerId.toString(), 'QmUVWwwx6RDmtMcWWmNEeuxBk5VryScchC431DKRiEac7v')
      })
    }
  }
})

describe('every agreement × digest, both directions', () => {
  for (const agreement of AGREEMENTS) {
    for (const digest of DIGESTS) {
      test(`${agreement} ${digest}: TS client -> Rust server`, T, async () => {
        const r = await tsClientRustServer(['--agreements', agreement, '--digests', digest], {}, 256 * 1024)
        assert.deepEqual([r.suite.agreement, r.suite.digest], [agreement, digest])
      })
      test(`${agreement} ${digest}: Rust client -> TS server`, T, async () => {
        const r = await rustClientTsServer(['--agreements', agreement, '--digests', digest], {}, 256 * 1024)
        assert.deepEqual([r.suite.agreement, r.suite.digest], [agreement, digest])
      })
    }
  }
})

describe('negotiation and limits against Rust', () => {
  test('both on defaults: P-256 / AES-128-GCM / SHA256 (§3.7)', T, async () => {
    const r = await tsClientRustServer([], {}, 64 * 1024)
    assert.deepEqual(r.suite, { agreement: 'P-256', cipher: 'AES-128-GCM', digest: 'SHA256' })
  })

  test('TS prefers CHACHA20_POLY1305, Rust prefers AES-256-GCM: both agree on one', T, async () => {
    const r = await tsClientRustServer(
      ['--ciphers', 'AES-256-GCM,CHACHA20_POLY1305'],
      { ciphers: ['CHACHA20_POLY1305', 'AES-256-GCM'] },
      64 * 1024,
    )
    assert.ok(['AES-256-GCM', 'CHACHA20_POLY1305'].includes(r.suite.cipher))
  })

  test('a Rust server with a 64 KiB max frame length accepts our frames when we send at most that', T, async () => {
    await tsClientRustServer(['--max-frame-length', String(64 * 1024 + 16)], { maxFrameLength: 64 * 1024 + 16 }, MIB)
  })

  test('no common cipher: TS gets SECIO_ERR_NO_COMMON_SUITE, Rust reports NoSupportIntersection', T, async () => {
    const server = await startServer('secio-peer', ['server', '--ciphers', 'AES-256-GCM'])
    try {
      const socket = net.connect({ port: server.port, host: '127.0.0.1' })
      await assert.rejects(
        handshake(socket, { key: TS_KEY, ciphers: ['CHACHA20_POLY1305'] }),
        (e: unknown) => e instanceof SecioError && e.code === 'SECIO_ERR_NO_COMMON_SUITE',
      )
      assert.match(await server.peer.waitFor(/^HANDSHAKE_ERR /), /NoSupportIntersection/)
    } finally {
      await server.peer.kill()
    }
  })

  test(
    'wrong expected peer id: SECIO_ERR_PEER_ID_MISMATCH, and the Rust server sees the connection dropped',
    T,
    async () => {
      const server = await startServer('secio-peer', ['server'])
      try {
        const socket = net.connect({ port: server.port, host: '127.0.0.1' })
        await assert.rejects(
          handshake(socket, { key: TS_KEY, expectedPeerId: SecioKeyPair.generate().peerId }),
          (e: unknown) => e instanceof SecioError && e.code === 'SECIO_ERR_PEER_ID_MISMATCH',
        )
        assert.match(await server.peer.waitFor(/^HANDSHAKE_(OK|ERR)/), /^HANDSHAKE_ERR /)
      } finally {
        await server.peer.kill()
      }
    },
  )

  test('a Rust client that expects nothing can connect to a TS server that expects it by peer id', T, async () => {
    const r = await rustClientTsServer(
      [],
      { expectedPeerId: PeerId.parse('QmUVWwwx6RDmtMcWWmNEeuxBk5VryScchC431DKRiEac7v') },
      64 * 1024,
    )
    assert.equal(r.remotePeerId.toString(), 'QmUVWwwx6RDmtMcWWmNEeuxBk5VryScchC431DKRiEac7v')
  })
})
