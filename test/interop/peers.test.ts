// Smoke tests of the interop drivers talking to each other (no TypeScript
// implementation involved): if these fail, the drivers or the build are
// broken, not tentacle-ts. CLIs: interop/README.md.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { killAll, sha256Hex, patternBytes, RawConn, runToExit, startServer, TentaclePeer } from './lib/index.js'
import type { EventOf, ServerPeer } from './lib/index.js'

const SECRET_A = '01'.repeat(32)
const SECRET_B = '02'.repeat(32)
const T = { timeout: 90_000 }

/** The peer id a driver derives from a secret (read from secio-peer's LISTENING line). */
async function peerIdOf(secret: string): Promise<string> {
  const s = await startServer('secio-peer', ['server', '--secret', secret])
  await s.peer.kill()
  assert.ok(s.peerId !== undefined && /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/.test(s.peerId), `peer id ${s.peerId}`)
  return s.peerId
}

describe('secio-peer client <-> secio-peer server (tentacle-secio)', () => {
  for (const cipher of ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20_POLY1305']) {
    test(`${cipher}: handshake with known peer ids, 1 MiB echoed`, T, async () => {
      const clientId = await peerIdOf(SECRET_B)
      const server = await startServer('secio-peer', ['server', '--secret', SECRET_A, '--ciphers', cipher])
      try {
        const c = await runToExit('secio-peer', [
          'client',
          '--port',
          String(server.port),
          '--secret',
          SECRET_B,
          '--ciphers',
          cipher,
          '--bytes',
          String(1 << 20),
        ])
        assert.equal(c.code, 0, c.lines.join('\n'))
        assert.deepEqual(c.lines, [`HANDSHAKE_OK ${server.peerId}`, `OK ${1 << 20}`])
        assert.equal(await server.peer.waitFor(/^HANDSHAKE_OK /), `HANDSHAKE_OK ${clientId}`)
        assert.equal(await server.peer.waitFor(/^ECHOED /), `ECHOED ${1 << 20}`)
      } finally {
        await server.peer.kill()
      }
    })
  }

  test('--agreements X25519 and --digests SHA512 are what gets negotiated', T, async () => {
    const server = await startServer('secio-peer', ['server', '--agreements', 'X25519', '--digests', 'SHA512'])
    try {
      // The client proposes everything; only X25519 is common.
      const c = await runToExit('secio-peer', ['client', '--port', String(server.port), '--bytes', '1000'], {
        exitWithinMs: 30_000,
        env: { RUST_LOG: 'info' },
      })
      assert.equal(c.code, 0, c.lines.join('\n'))
      assert.ok(
        c.proc.stderrTail.some((l) => l.includes('32 bytes (X25519)')),
        c.proc.stderrTail.join('\n'),
      )
    } finally {
      await server.peer.kill()
    }
  })

  test('no common cipher: HANDSHAKE_ERR on both sides, client exits 1', T, async () => {
    const server = await startServer('secio-peer', ['server', '--ciphers', 'AES-128-GCM'])
    try {
      const c = await runToExit('secio-peer', [
        'client',
        '--port',
        String(server.port),
        '--ciphers',
        'CHACHA20_POLY1305',
        '--bytes',
        '10',
      ])
      assert.equal(c.code, 1)
      assert.match(c.lines[0], /^HANDSHAKE_ERR .*NoSupportIntersection/)
      assert.match(c.lines[1], /^FAIL handshake/)
      assert.match(await server.peer.waitFor(/^HANDSHAKE_/), /^HANDSHAKE_ERR .*NoSupportIntersection/)
    } finally {
      await server.peer.kill()
    }
  })

  test('--max-conns: the server exits 0 after N connections', T, async () => {
    const server = await startServer('secio-peer', ['server', '--max-conns', '2'])
    try {
      for (let i = 0; i < 2; i++) {
        const c = await runToExit('secio-peer', ['client', '--port', String(server.port), '--bytes', '100'])
        assert.equal(c.code, 0)
      }
      assert.equal((await server.peer.waitExit(10_000)).code, 0)
    } finally {
      await server.peer.kill()
    }
  })
})

/** The yamux driver matrix: same CLI for the Rust and Go drivers. */
const YAMUX = [
  { name: 'Rust tokio-yamux', bin: 'yamux-peer' },
  { name: 'Go hashicorp/yamux', bin: 'go-yamux-peer' },
]

for (const srv of YAMUX) {
  for (const cli of YAMUX) {
    describe(`yamux: ${cli.name} client -> ${srv.name} server`, () => {
      // tokio-yamux as the server cannot echo more than its send window after
      // the client's FIN (README "Known tokio-yamux behaviours" 1).
      const lateFin = srv.bin === 'yamux-peer' ? ['--late-fin'] : []
      let server: ServerPeer | undefined
      before(async () => {
        server = await startServer(srv.bin, ['server'])
      })
      after(async () => {
        await server?.peer.kill()
      })

      test('16 MiB echo on one stream', T, async () => {
        assert.ok(server !== undefined)
        const n = 16 << 20
        const c = await runToExit(cli.bin, [
          'client',
          '--port',
          String(server.port),
          '--streams',
          '1',
          '--bytes',
          String(n),
          ...lateFin,
        ])
        assert.equal(c.code, 0, c.lines.join('\n'))
        assert.deepEqual(
          c.lines.filter((l) => !l.startsWith('GOAWAY')),
          [`OK 1 ${n}`],
        )
        assert.match(await server.peer.waitFor(/^STREAM_DONE /), new RegExp(`^STREAM_DONE \\d+ ${n}$`))
      })

      test('200 streams at once, 64 KiB each, half-closed right after writing', T, async () => {
        assert.ok(server !== undefined)
        const c = await runToExit(cli.bin, [
          'client',
          '--port',
          String(server.port),
          '--streams',
          '200',
          '--bytes',
          '65536',
        ])
        assert.equal(c.code, 0, c.lines.join('\n'))
        assert.ok(c.lines.includes('OK 200 65536'), c.lines.join('\n'))
        for (let i = 0; i < 200; i++) await server.peer.waitFor(/^STREAM_DONE \d+ 65536$/)
      })

      test('client resets a SINK stream; the session keeps working', T, async () => {
        assert.ok(server !== undefined)
        const c = await runToExit(cli.bin, ['client', '--port', String(server.port), '--mode', 'reset'])
        assert.equal(c.code, 0, c.lines.join('\n'))
        assert.ok(c.lines.includes('OK reset'), c.lines.join('\n'))
        // tokio-yamux delivers the data buffered before the RST (1000 bytes);
        // hashicorp drops it (0 if the RST came before the command was read).
        const seen = await server.peer.waitFor(/^STREAM_RESET_SEEN /)
        assert.match(
          seen,
          srv.bin === 'yamux-peer' ? /^STREAM_RESET_SEEN \d+ 1000$/ : /^STREAM_RESET_SEEN \d+ (0|1000)$/,
        )
      })

      test('server resets an RSET stream; the client read fails with a reset', T, async () => {
        assert.ok(server !== undefined)
        const c = await runToExit(cli.bin, ['client', '--port', String(server.port), '--mode', 'rset'])
        assert.equal(c.code, 0, c.lines.join('\n'))
        assert.ok(c.lines.includes('OK rset'), c.lines.join('\n'))
        await server.peer.waitFor(/^STREAM_RESET_SENT \d+$/)
      })
    })
  }
}

describe('yamux: GoAway between tokio-yamux and hashicorp', () => {
  test(
    'hashicorp server reports the GoAway of a closing tokio-yamux client and closes with --close-on-goaway',
    T,
    async () => {
      const server = await startServer('go-yamux-peer', ['server', '--close-on-goaway'])
      try {
        const started = Date.now()
        const c = await runToExit('yamux-peer', ['client', '--port', String(server.port), '--bytes', '1000'])
        assert.equal(c.code, 0, c.lines.join('\n'))
        assert.equal(await server.peer.waitFor(/^GOAWAY_RECEIVED /), 'GOAWAY_RECEIVED 0')
        assert.equal(await server.peer.waitFor(/^SESSION_END /), 'SESSION_END ok')
        // Without --close-on-goaway the client would wait out its 10 s GoAway deadline.
        assert.ok(Date.now() - started < 9_000, `took ${Date.now() - started} ms`)
      } finally {
        await server.peer.kill()
      }
    },
  )
})

describe('tentacle-peer <-> tentacle-peer (tentacle 0.7)', () => {
  test(
    'dial, both protocols open, a protocol only the dialer knows fails selection, messages both ways, disconnect seen by both',
    T,
    async () => {
      const a = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0', '--secret', SECRET_A])
      let b: TentaclePeer | undefined
      try {
        assert.equal(a.ready.listen.length, 1)
        await a.waitEvent('listen_started')
        b = await TentaclePeer.start([
          '--dial',
          a.dialAddress,
          '--secret',
          SECRET_B,
          '--protocol',
          '1',
          '--protocol',
          '2',
          '--protocol',
          '3:/only/dialer:1.0',
        ])
        const openB = await b.waitEvent('session_open')
        const openA = await a.waitEvent('session_open')
        assert.equal(openB.ty, 'outbound')
        assert.equal(openA.ty, 'inbound')
        assert.equal(openB.peer_id, a.peerId)
        assert.equal(openA.peer_id, b.peerId)
        assert.equal(openB.address, a.dialAddress)

        for (const [p, s] of [
          [a, openA.session],
          [b, openB.session],
        ] as const) {
          for (const proto of [1, 2]) {
            const ev = await p.waitEvent('protocol_open', { session: s, proto })
            assert.equal(ev.name, `/p2p/${proto}`)
            assert.equal(ev.version, '0.0.1')
          }
        }
        // SessionOpen precedes that session's protocol opens (§10.3).
        for (const p of [a, b]) {
          const kinds = p.events().map((e) => e.event)
          assert.ok(kinds.indexOf('session_open') < kinds.indexOf('protocol_open'), kinds.join(','))
        }
        // §9.4: the dialer sees the empty reply, the listener the unknown name.
        assert.equal((await b.waitEvent('protocol_select_error', { session: openB.session })).name, '/only/dialer')
        assert.equal((await a.waitEvent('protocol_select_error', { session: openA.session })).name, '/only/dialer')

        // Small messages both ways, on both protocols.
        await b.call({ cmd: 'send', session: openB.session, proto: 1, text: 'hello from the dialer' })
        assert.equal((await a.waitEvent('received', { proto: 1 })).text, 'hello from the dialer')
        await a.call({ cmd: 'send', session: openA.session, proto: 2, hex: '00ff10' })
        const small = await b.waitEvent('received', { proto: 2 })
        assert.equal(small.hex, '00ff10')
        assert.equal(small.len, 3)

        // 1 MiB both ways (§10.1: one message = one u32be-framed frame).
        const mib = 1 << 20
        const digest = sha256Hex(patternBytes(mib, 9))
        await a.call({ cmd: 'send', session: openA.session, proto: 1, size: mib, fill: 9 })
        await b.call({ cmd: 'send', session: openB.session, proto: 2, size: mib, fill: 9 })
        for (const [p, proto] of [
          [b, 1],
          [a, 2],
        ] as const) {
          const big = await p.waitEvent('received', { proto, len: mib }, 30_000)
          assert.equal(big.sha256, digest)
          assert.equal(big.hex, undefined)
        }

        // Disconnect from the dialer: both sides see the protocols and the session close.
        await b.call({ cmd: 'disconnect', session: openB.session })
        for (const [p, s] of [
          [a, openA.session],
          [b, openB.session],
        ] as const) {
          await p.waitEvent('protocol_close', { session: s, proto: 1 })
          await p.waitEvent('protocol_close', { session: s, proto: 2 })
          await p.waitEvent('session_close', { session: s })
        }

        // Dial again, then disconnect from the listener side.
        await b.call({ cmd: 'dial', address: a.dialAddress, protocols: [1] })
        const open2B = await b.waitEvent('session_open')
        const open2A = await a.waitEvent('session_open')
        await b.waitEvent('protocol_open', { session: open2B.session, proto: 1 })
        await a.waitEvent('protocol_open', { session: open2A.session, proto: 1 })
        await a.call({ cmd: 'disconnect', session: open2A.session })
        await a.waitEvent('session_close', { session: open2A.session })
        await b.waitEvent('session_close', { session: open2B.session })

        assert.deepEqual(a.eventsOf('command_error'), [])
        assert.deepEqual(b.eventsOf('command_error'), [])
        await b.shutdown()
        assert.equal(b.process.exit?.code, 0)
        assert.ok(b.process.stdout.at(-1)?.includes('"stopped"'))
      } finally {
        await killAll(a.process, b?.process)
      }
    },
  )

  test('--echo sends every message back on the same protocol', T, async () => {
    const a = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0', '--echo'])
    let b: TentaclePeer | undefined
    try {
      b = await TentaclePeer.start(['--dial', a.dialAddress])
      const s = (await b.waitEvent('session_open')).session
      await b.waitEvent('protocol_open', { session: s, proto: 2 })
      await b.call({ cmd: 'send', session: s, proto: 2, size: 100_000, fill: 3, repeat: 3 })
      for (let i = 0; i < 3; i++) {
        const e: EventOf<'received'> = await b.waitEvent('received', { session: s, proto: 2 })
        assert.equal(e.sha256, sha256Hex(patternBytes(100_000, 3)))
      }
    } finally {
      await killAll(a.process, b?.process)
    }
  })

  test('dialing with a wrong /p2p/ peer id gives dial_error peer_id_not_match and no session', T, async () => {
    const a = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0', '--secret', SECRET_A])
    let b: TentaclePeer | undefined
    try {
      const wrong = await peerIdOf(SECRET_B)
      b = await TentaclePeer.start(['--dial', `/ip4/127.0.0.1/tcp/${a.port}/p2p/${wrong}`])
      const err = await b.waitEvent('dial_error')
      assert.equal(err.kind, 'peer_id_not_match')
      assert.deepEqual(b.eventsOf('session_open'), [])
    } finally {
      await killAll(a.process, b?.process)
    }
  })

  test('--plaintext peers (no secio) open protocols and exchange messages', T, async () => {
    const a = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0', '--plaintext'])
    let b: TentaclePeer | undefined
    try {
      b = await TentaclePeer.start(['--dial', `/ip4/127.0.0.1/tcp/${a.port}`, '--plaintext'])
      const open = await b.waitEvent('session_open')
      assert.equal(open.peer_id, null)
      await b.waitEvent('protocol_open', { proto: 1 })
      const sa = (await a.waitEvent('protocol_open', { proto: 1 })).session
      await a.call({ cmd: 'send', session: sa, proto: 1, text: 'plain' })
      assert.equal((await b.waitEvent('received', { proto: 1 })).text, 'plain')
    } finally {
      await killAll(a.process, b?.process)
    }
  })

  test('closing stdin shuts the service down (drivers never outlive their test)', T, async () => {
    const a = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0'])
    try {
      a.process.closeStdin()
      const exit = await a.process.waitExit(15_000)
      assert.equal(exit.code, 0)
      await a.waitEvent('listen_close')
    } finally {
      await a.kill()
    }
  })
})

function frame(type: number, flags: number, id: number, length: number): Buffer {
  const b = Buffer.alloc(12)
  b[1] = type
  b.writeUInt16BE(flags, 2)
  b.writeUInt32BE(id, 4)
  b.writeUInt32BE(length, 8)
  return b
}

/** A secio Propose frame (§2.1, §3.1): u32be length, then a 5-field molecule table. */
function assertPropose(head: Buffer, body: Buffer): void {
  const len = head.readUInt32BE(0)
  assert.equal(body.length, len)
  assert.ok(len >= 120, `Propose of ${len} bytes`)
  assert.equal(body.readUInt32LE(0), len, 'molecule total size = frame length')
  assert.equal(body.readUInt32LE(4), 24, 'first offset of a 5-field table')
}

describe('wire facts of the real peers (raw TCP probes)', () => {
  test(
    'tokio-yamux: ACK right after SYN, Ping ACK, FIN answered, GoAway(0) answered then closed (§8.3, §8.5, §8.6)',
    T,
    async () => {
      const server = await startServer('yamux-peer', ['server'])
      let c: RawConn | undefined
      try {
        c = await RawConn.connect(server.port)
        c.write(frame(1, 0x1, 1, 0))
        assert.equal((await c.read(12)).toString('hex'), '000100020000000100000000')
        c.write(frame(2, 0x1, 0, 7))
        assert.equal((await c.read(12)).toString('hex'), '000200020000000000000007')
        c.write(
          Buffer.concat([
            frame(0, 0, 1, 4),
            Buffer.from('SINK'),
            frame(0, 0, 1, 3),
            Buffer.from('abc'),
            frame(1, 0x4, 1, 0),
          ]),
        )
        assert.equal((await c.read(12)).toString('hex'), '000100040000000100000000')
        assert.equal(await server.peer.waitFor(/^STREAM_EOF /), 'STREAM_EOF 1 3')
        c.write(frame(3, 0, 0, 0))
        assert.equal((await c.read(12)).toString('hex'), '000300000000000000000000')
        await c.waitClosed(15_000)
      } finally {
        c?.close()
        await server.peer.kill()
      }
    },
  )

  test('hashicorp: ACK and Ping ACK, but a GoAway(0) gets no reply and the connection stays open', T, async () => {
    const server = await startServer('go-yamux-peer', ['server'])
    let c: RawConn | undefined
    try {
      c = await RawConn.connect(server.port)
      c.write(frame(1, 0x1, 1, 0))
      assert.equal((await c.read(12)).toString('hex'), '000100020000000100000000')
      c.write(frame(2, 0x1, 0, 7))
      assert.equal((await c.read(12)).toString('hex'), '000200020000000000000007')
      c.write(frame(3, 0, 0, 0))
      assert.equal(await server.peer.waitFor(/^GOAWAY_RECEIVED /), 'GOAWAY_RECEIVED 0')
      assert.equal((await c.collect(500)).length, 0)
      assert.equal(c.closed, false)
    } finally {
      c?.close()
      await server.peer.kill()
    }
  })

  test(
    'a tentacle listener sends nothing before it has 16 bytes, then its Propose (§2.3); bare secio sends its Propose at once',
    T,
    async () => {
      let t: TentaclePeer | undefined
      let s: ServerPeer | undefined
      let ct: RawConn | undefined
      let cs: RawConn | undefined
      try {
        t = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0'])
        s = await startServer('secio-peer', ['server'])
        ct = await RawConn.connect(t.port ?? 0)
        cs = await RawConn.connect(s.port)
        // A frame header announcing 200 bytes, then 11 of them: 15 bytes in all.
        const head = Buffer.alloc(4)
        head.writeUInt32BE(200)
        ct.write(Buffer.concat([head, Buffer.alloc(11, 1)]))
        assert.equal((await ct.collect(1_000)).length, 0, 'tentacle answered before 16 bytes')
        ct.write(Buffer.alloc(1, 1))
        const th = await ct.read(4, 10_000)
        assertPropose(th, await ct.read(th.readUInt32BE(0), 10_000))
        const sh = await cs.read(4, 10_000)
        assertPropose(sh, await cs.read(sh.readUInt32BE(0), 10_000))
      } finally {
        ct?.close()
        cs?.close()
        await killAll(t?.process, s?.peer)
      }
    },
  )
})
