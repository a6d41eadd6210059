// tentacle-ts yamux against the real tokio-yamux 0.3.20 (yamux-peer) and hashicorp/yamux v0.1.2
// (go-yamux-peer), in both roles: 16 MiB echo on one stream, 200 streams at once, half close,
// RST both ways, GoAway, a 1 MiB window. Driver CLI: interop/README.md.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { Session, type Stream, type SessionOptions } from '@tentacle-ts/yamux'
import { checkPattern, patternBytes, runToExit, startServer } from './lib/index.js'
import { within } from '../../packages/yamux/test/helpers.ts'
import type { PeerRun, ServerPeer } from './lib/index.js'

const T = { timeout: 120_000 }
const MiB = 1 << 20
const PEERS = [
  { name: 'Rust tokio-yamux 0.3.20', bin: 'yamux-peer', rust: true },
  { name: 'Go hashicorp/yamux', bin: 'go-yamux-peer', rust: false },
] as const

async function dial(
  port: number,
  opts: Partial<SessionOptions> = {},
): Promise<{ session: Session; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  socket.setNoDelay(true)
  return { session: new Session(socket, { role: 'client', ...opts }), socket }
}

/** Writes `ECHO` + n pattern bytes; reads the echo concurrently and checks it; FIN after writing or (lateFin) after the echo. */
async function echo(s: Stream, n: number, lateFin: boolean): Promise<void> {
  const reading = (async () => {
    let got = 0
    for (;;) {
      if (lateFin && got === n) {
        await s.close()
        lateFin = false
      }
      const c = await s.read()
      if (c === null) break
      const bad = checkPattern(c, got)
      assert.equal(bad, -1, `echo differs at byte ${bad}`)
      got += c.length
    }
    assert.equal(got, n, 'echo length')
  })()
  await s.write(Buffer.from('ECHO'))
  const data = patternBytes(n)
  for (let off = 0; off < n; off += 64 * 1024) await s.write(data.subarray(off, Math.min(n, off + 64 * 1024)))
  if (!lateFin) await s.close()
  await reading
}

for (const peer of PEERS) {
  describe(`tentacle-ts client -> ${peer.name} server`, () => {
    let server: ServerPeer | undefined
    before(async () => {
      server = await startServer(peer.bin, ['server'])
    })
    after(async () => {
      await server?.peer.kill()
    })

    test('16 MiB echo on one stream, then graceful close', T, async () => {
      assert.ok(server)
      const { session } = await dial(server.port)
      try {
        const s = await session.openStream()
        // tokio-yamux ignores WindowUpdates after it received FIN (README "Known tokio-yamux
        // behaviours" 1), so against it the FIN goes after the whole echo.
        await within(echo(s, 16 * MiB, peer.rust), 60_000, '16 MiB echo')
        assert.match(await server.peer.waitFor(/^STREAM_DONE /), new RegExp(`^STREAM_DONE ${s.id} ${16 * MiB}$`))
        assert.equal(session.streamCount, 0)
        const t0 = Date.now()
        await within(session.close(), 15_000, 'close')
        assert.equal(session.error, undefined)
        // tokio-yamux answers GoAway at once; hashicorp never does, so the 10 s deadline closes it.
        if (peer.rust) assert.ok(Date.now() - t0 < 5000, `close took ${Date.now() - t0} ms`)
        assert.equal(session.endReason, 'local-close')
      } finally {
        session.destroy()
      }
    })

    test('200 streams at once, 64 KiB each, half-closed right after writing', T, async () => {
      assert.ok(server)
      const { session } = await dial(server.port, { connectionWriteTimeoutMs: 2000 })
      try {
        const streams = await Promise.all(Array.from({ length: 200 }, () => session.openStream()))
        await within(Promise.all(streams.map((s) => echo(s, 64 * 1024, false))), 60_000, '200 echoes')
        for (let i = 0; i < 200; i++) await server.peer.waitFor(/^STREAM_DONE \d+ 65536$/)
        assert.equal(session.streamCount, 0)
      } finally {
        await session.close()
      }
    })

    test('half close: after our FIN the server still writes to us; its FIN ends our read', T, async () => {
      assert.ok(server)
      const { session } = await dial(server.port, { connectionWriteTimeoutMs: 2000 })
      try {
        const s = await session.openStream()
        await s.write(Buffer.concat([Buffer.from('ECHO'), patternBytes(1000)]))
        await s.close() // FIN before any echo arrived
        await assert.rejects(s.write(Buffer.from('x')), { code: 'YAMUX_ERR_STREAM_CLOSED' })
        let got = 0
        for (;;) {
          const c = await within(s.read(), 10_000, 'echo after our FIN')
          if (c === null) break
          assert.equal(checkPattern(c, got), -1)
          got += c.length
        }
        assert.equal(got, 1000)
        assert.equal(session.streamCount, 0)
      } finally {
        await session.close()
      }
    })

    test(
      'RST both ways: we reset a SINK stream (the server sees it), the server resets an RSET stream (we see it)',
      T,
      async () => {
        assert.ok(server)
        const { session } = await dial(server.port, { connectionWriteTimeoutMs: 2000 })
        try {
          const sink = await session.openStream()
          await sink.write(Buffer.concat([Buffer.from('SINK'), patternBytes(1000)]))
          // No wait needed: the RST follows the data on the wire, and the peer may report
          // either count (it read the data before the RST, or the RST dropped it).
          sink.reset()
          assert.match(
            await server.peer.waitFor(/^STREAM_RESET_SEEN /),
            new RegExp(`^STREAM_RESET_SEEN ${sink.id} (0|1000)$`),
          )
          const rset = await session.openStream()
          await rset.write(Buffer.from('RSET'))
          await assert.rejects(within(rset.read(), 10_000, 'read of a reset stream'), {
            code: 'YAMUX_ERR_STREAM_RESET',
          })
          await server.peer.waitFor(/^STREAM_RESET_SENT \d+$/)
          await assert.rejects(rset.write(Buffer.from('x')), { code: 'YAMUX_ERR_STREAM_RESET' })
          // The session is still fine.
          await within(echo(await session.openStream(), 4096, false), 10_000, 'echo after resets')
          assert.equal(session.streamCount, 0)
          assert.equal(session.state, 'open')
        } finally {
          await session.close()
        }
      },
    )
  })

  describe(`tentacle-ts client -> ${peer.name} server with a 1 MiB window (CKB)`, () => {
    test('4 MiB echo with 1 MiB windows on both sides', T, async () => {
      const server = await startServer(peer.bin, ['server', '--window', String(MiB)])
      try {
        const { session } = await dial(server.port, { maxStreamWindowSize: MiB, connectionWriteTimeoutMs: 2000 })
        try {
          const s = await session.openStream()
          await within(echo(s, 4 * MiB, peer.rust), 60_000, 'echo')
          assert.ok(s.sendWindow <= MiB)
          await server.peer.waitFor(/^STREAM_DONE \d+ 4194304$/)
        } finally {
          await session.close()
        }
      } finally {
        await server.peer.kill()
      }
    })
  })

  describe(`${peer.name} client -> tentacle-ts server`, () => {
    let listener: net.Server
    let port = 0
    const sessions: Session[] = []
    const events: string[] = []
    const ends: Promise<void>[] = []

    before(async () => {
      listener = net.createServer((socket) => {
        socket.setNoDelay(true)
        const session = new Session(socket, { role: 'server' })
        sessions.push(session)
        ends.push(serve(session, events))
      })
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
      port = (listener.address() as net.AddressInfo).port
    })
    after(async () => {
      for (const s of sessions) s.destroy()
      await Promise.all(sessions.map((s) => s.closed))
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    })

    const runClient = (args: string[]): Promise<PeerRun> =>
      runToExit(peer.bin, ['client', '--port', String(port), ...args], { exitWithinMs: 90_000 })

    test('16 MiB echo on one stream (the client half-closes right after writing)', T, async () => {
      const before = sessions.length
      const c = await runClient(['--streams', '1', '--bytes', String(16 * MiB)])
      assert.equal(c.code, 0, [...c.lines, ...c.proc.stderrTail].join('\n'))
      assert.ok(c.lines.includes(`OK 1 ${16 * MiB}`), c.lines.join('\n'))
      const session = sessions[before]
      await within(session.closed, 15_000, 'server session ends')
      // tokio-yamux closes with GoAway; hashicorp just closes the TCP connection.
      if (peer.rust) {
        assert.equal(session.endReason, 'remote-go-away')
        assert.equal(session.error, undefined)
      } else {
        assert.equal(session.error?.code, 'YAMUX_ERR_CONNECTION_CLOSED')
      }
      assert.ok(events.includes(`ECHO_DONE ${16 * MiB}`), events.join('\n'))
    })

    test('200 streams at once, 64 KiB each', T, async () => {
      const before = events.length
      const c = await runClient(['--streams', '200', '--bytes', '65536'])
      assert.equal(c.code, 0, [...c.lines, ...c.proc.stderrTail].join('\n'))
      assert.ok(c.lines.includes('OK 200 65536'), c.lines.join('\n'))
      assert.equal(events.slice(before).filter((e) => e === 'ECHO_DONE 65536').length, 200)
    })

    test(
      'the client resets a SINK stream: our read fails with YAMUX_ERR_STREAM_RESET; then an echo works',
      T,
      async () => {
        const before = events.length
        const c = await runClient(['--mode', 'reset'])
        assert.equal(c.code, 0, [...c.lines, ...c.proc.stderrTail].join('\n'))
        assert.ok(c.lines.includes('OK reset'), c.lines.join('\n'))
        const seen = events.slice(before).find((e) => e.startsWith('SINK_'))
        assert.match(seen ?? '', /^SINK_RESET (0|1000)$/)
      },
    )

    test('we reset an RSET stream: the client read fails with a reset', T, async () => {
      const c = await runClient(['--mode', 'rset'])
      assert.equal(c.code, 0, [...c.lines, ...c.proc.stderrTail].join('\n'))
      assert.ok(c.lines.includes('OK rset'), c.lines.join('\n'))
    })

    test('every server session ended and released its streams', T, async () => {
      await within(Promise.all(ends), 15_000, 'all sessions served')
      for (const s of sessions) {
        assert.notEqual(s.state, 'open')
        assert.equal(s.streamCount, 0)
      }
    })
  })
}

/** The driver protocol of a server (interop/README.md): ECHO, RSET, SINK. */
async function serve(session: Session, events: string[]): Promise<void> {
  const handlers: Promise<void>[] = []
  for (;;) {
    const s = await session.accept()
    if (s === null) break
    handlers.push(
      handle(s, events).catch((err: { code?: string }) => void events.push(`ERR ${err.code ?? String(err)}`)),
    )
  }
  await Promise.all(handlers)
  await session.closed
}

async function handle(s: Stream, events: string[]): Promise<void> {
  let head = Buffer.alloc(0)
  while (head.length < 4) {
    const c = await s.read(4 - head.length)
    if (c === null) return
    head = Buffer.concat([head, c])
  }
  const cmd = head.toString()
  if (cmd === 'ECHO') {
    let n = 0
    for (;;) {
      const c = await s.read()
      if (c === null) break
      n += c.length
      await s.write(c)
    }
    await s.close()
    events.push(`ECHO_DONE ${n}`)
  } else if (cmd === 'RSET') {
    s.reset()
    events.push('RSET_SENT')
  } else if (cmd === 'SINK') {
    let n = 0
    try {
      for (;;) {
        const c = await s.read()
        if (c === null) break
        n += c.length
      }
      events.push(`SINK_EOF ${n}`)
    } catch (err) {
      events.push(`SINK_${(err as { code?: string }).code === 'YAMUX_ERR_STREAM_RESET' ? 'RESET' : 'ERR'} ${n}`)
    }
  } else {
    s.reset()
    events.push(`BAD ${cmd}`)
  }
}
