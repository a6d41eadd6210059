// tentacle-ts yamux against the npm package yamux-js 0.2.0, a weak implementation kept only
// as a peer to describe. Each test records exactly what fails with it and shows that our side
// completes or reports a typed error (never hangs); every test is bounded in time.
//
// What yamux-js 0.2.0 does (read from node_modules/yamux-js/lib):
// - Session._transform drops bytes when a header or a Data body is split across chunks, and
//   its decoder then desynchronises.
// - Stream.processFlags tests `flags === SYN` where it means FIN, so a FIN is never delivered
//   (the stream never ends); flags are compared with ===, so combined flags are ignored.
// - Stream._write waits for send window by polling setTimeout(100 ms).
// - Window updates are sent when data *arrives*, and push() results are ignored: no backpressure.
// - GoAway(0) is neither answered nor acted on (only remembered).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import net from 'node:net'
import { Client as JsClient, Server as JsServer } from 'yamux-js'
import { Session } from '@tentacle-ts/yamux'
import { checkPattern, patternBytes } from './lib/index.js'
import { readN, sleep, within } from '../../packages/yamux/test/helpers.ts'

const T = { timeout: 30_000 }
const quiet = (): void => {}

/** An in-memory connection; `piece` > 0 splits every chunk into pieces of that size. */
function pipePair(piece = 0): [Duplex, Duplex] {
  let b!: Duplex
  const make = (peer: () => Duplex) =>
    new Duplex({
      write(chunk: Buffer, _e, cb) {
        const p = peer()
        if (p.destroyed) return cb()
        if (piece > 0) for (let o = 0; o < chunk.length; o += piece) p.push(chunk.subarray(o, o + piece))
        else p.push(chunk)
        cb()
      },
      final(cb) {
        peer().push(null)
        cb()
      },
      read() {},
    })
  const a = make(() => b)
  b = make(() => a)
  return [a, b]
}

/** yamux-js server whose streams echo what they receive (they never end: FIN is never seen). */
function jsEchoServer(conn: Duplex): { server: JsServer; streams: Duplex[]; errors: Error[] } {
  const streams: Duplex[] = []
  const errors: Error[] = []
  const server = new JsServer(
    (s) => {
      streams.push(s)
      s.on('error', (e) => errors.push(e))
      s.on('data', (d: Buffer) => s.write(d))
    },
    { enableKeepAlive: false, logger: quiet },
  )
  server.on('error', (e) => errors.push(e))
  conn.pipe(server).pipe(conn)
  return { server, streams, errors }
}

/**
 * A barrier with a yamux-js echo server: one byte echoed on a fresh stream. yamux-js handles
 * whole-frame chunks in order, so it has handled everything we sent before, and we have
 * handled everything it sent before the echo.
 */
async function echoRoundTrip(session: Session): Promise<void> {
  const probe = await session.openStream()
  await probe.write(Buffer.from('p'))
  await within(readN(probe, 1), 5000, 'echo round trip')
}

test('works: a small echo when every chunk holds whole frames', T, async () => {
  const [ours, theirs] = pipePair()
  const js = jsEchoServer(theirs)
  const session = new Session(ours, { role: 'client', enableKeepalive: false, connectionWriteTimeoutMs: 300 })
  try {
    const s = await session.openStream()
    const data = patternBytes(1000)
    await s.write(data)
    const back = await within(readN(s, 1000), 5000, 'echo')
    assert.equal(checkPattern(back), -1)
    assert.equal(js.errors.length, 0)
  } finally {
    session.destroy()
    js.server.destroy()
  }
})

test(
  'fails: yamux-js never delivers our FIN, so its echo never ends; our pending read settles YAMUX_ERR_SESSION_CLOSED on close',
  T,
  async () => {
    const [ours, theirs] = pipePair()
    const js = jsEchoServer(theirs)
    const session = new Session(ours, { role: 'client', enableKeepalive: false, connectionWriteTimeoutMs: 300 })
    try {
      const s = await session.openStream()
      await s.write(patternBytes(100))
      await s.close() // FIN
      assert.equal((await within(readN(s, 100), 5000, 'echo')).length, 100)
      let jsEnded = false
      js.streams[0].on('end', () => (jsEnded = true))
      const eof = s.read()
      const outcome = eof.then(
        (v) => (v === null ? 'EOF' : 'data'),
        (e: { code?: string }) => e.code,
      )
      await echoRoundTrip(session) // yamux-js has handled our FIN
      await new Promise((r) => setImmediate(r)) // and a Duplex 'end' would have been emitted
      assert.equal(jsEnded, false, 'yamux-js did not see the FIN')
      // yamux-js does not answer our GoAway either: the deadline ends our session.
      const t0 = Date.now()
      await within(session.close(), 5000, 'close against yamux-js')
      assert.ok(Date.now() - t0 >= 250, 'ended by the GoAway deadline')
      assert.equal(await outcome, 'YAMUX_ERR_SESSION_CLOSED')
      assert.equal(session.streamCount, 0)
    } finally {
      session.destroy()
      js.server.destroy()
    }
  },
)

test(
  'fails: frames split across chunks desynchronise yamux-js; our side ends with typed errors, bounded',
  T,
  async () => {
    const [ours, theirs] = pipePair(100) // every chunk cut into 100-byte pieces
    const js = jsEchoServer(theirs)
    const session = new Session(ours, { role: 'client', enableKeepalive: false, connectionWriteTimeoutMs: 300 })
    try {
      const s = await session.openStream() // 12-byte SYN: arrives whole
      const data = patternBytes(10_000)
      await s.write(data) // one 10 012-byte frame, cut into 100-byte pieces
      const reading = readN(s, data.length).then(
        (b) => (b.length === data.length && checkPattern(b) === -1 ? 'echoed' : `short or corrupt (${b.length})`),
        (e: { code?: string }) => e.code,
      )
      // Whatever yamux-js made of it, nothing correct comes back. Its decoder is out of step,
      // so no round trip can serve as a barrier: the 500 ms is a bounded negative check.
      const early = await Promise.race([reading, sleep(500).then(() => 'pending')])
      assert.notEqual(early, 'echoed')
      assert.equal(js.streams[0]?.readableLength ?? 0, 0, 'yamux-js delivered nothing of the split frame')
      await within(session.close(), 5000, 'close')
      assert.equal(await within(reading, 2000, 'settled'), 'YAMUX_ERR_SESSION_CLOSED')
    } finally {
      session.destroy()
      js.server.destroy()
    }
  },
)

test(
  'fails: yamux-js grants window for data nobody reads (no backpressure); our writer is never blocked',
  T,
  async () => {
    const [ours, theirs] = pipePair()
    const streams: Duplex[] = []
    // The first stream is never read; later ones echo (the round-trip barrier).
    const server = new JsServer(
      (s) => {
        streams.push(s)
        if (streams.length > 1) s.on('data', (d: Buffer) => s.write(d))
      },
      { enableKeepAlive: false, logger: quiet },
    )
    server.on('error', quiet)
    theirs.pipe(server).pipe(theirs)
    const session = new Session(ours, { role: 'client', enableKeepalive: false })
    try {
      const s = await session.openStream()
      const size = 4 * 1024 * 1024 // 16 windows; the yamux-js application never reads
      await within(s.write(patternBytes(size)), 10_000, 'write completes')
      await echoRoundTrip(session) // yamux-js has handled all of it
      // yamux-js buffered everything: far more than one window.
      assert.ok((streams[0]?.readableLength ?? 0) >= size - 256 * 1024, `yamux-js holds ${streams[0]?.readableLength}`)
    } finally {
      session.destroy()
      server.destroy()
    }
  },
)

test('fails: yamux-js waits for send window by polling a 100 ms timer; we still receive everything', T, async () => {
  const [ours, theirs] = pipePair()
  const client = new JsClient({ enableKeepAlive: false, logger: quiet })
  client.on('error', quiet)
  theirs.pipe(client).pipe(theirs)
  const session = new Session(ours, { role: 'server', enableKeepalive: false })
  try {
    const accepted = session.accept()
    const js = client.open()
    const size = 1024 * 1024 // 4 windows: at least 3 waits at window 0
    const t0 = Date.now()
    js.write(Buffer.from(patternBytes(size)))
    const s = (await within(accepted, 5000, 'accept'))!
    const got = await within(readN(s, size), 10_000, 'read 1 MiB')
    const ms = Date.now() - t0
    assert.equal(checkPattern(got), -1)
    assert.ok(ms >= 250, `took ${ms} ms: each window refill waited for a 100 ms poll`)
  } finally {
    session.destroy()
    client.destroy()
  }
})

test('yamux-js opening streams to us, and its RST; its GoAway(0) ends our session cleanly', T, async () => {
  const [ours, theirs] = pipePair()
  const client = new JsClient({ enableKeepAlive: false, logger: quiet })
  client.on('error', quiet)
  theirs.pipe(client).pipe(theirs)
  const session = new Session(ours, { role: 'server', enableKeepalive: false })
  try {
    const a = client.open()
    a.write(Buffer.from('hello'))
    const s = (await within(session.accept(), 5000, 'accept'))!
    assert.equal(Buffer.from((await s.read())!).toString(), 'hello')
    // Our RST reaches yamux-js (it forgets the stream) but its Duplex is told nothing.
    s.reset()
    assert.equal(session.streamCount, 0)
    // Barrier: a byte from yamux-js on a new stream, answered by us after the RST; once the
    // answer is there, yamux-js has handled the RST.
    const b = client.open()
    b.write(Buffer.from('?'))
    const t = (await within(session.accept(), 5000, 'accept the probe'))!
    await readN(t, 1)
    const answered = new Promise((resolve) => b.once('data', resolve))
    await t.write(Buffer.from('!'))
    await within(answered, 5000, 'the answer on the probe')
    assert.equal(a.destroyed, false)
    // yamux-js close(): GoAway(0) then end → our session ends without error.
    client.close()
    await within(session.closed, 5000, 'our session ends')
    assert.equal(session.endReason, 'remote-go-away')
    assert.equal(session.error, undefined)
  } finally {
    session.destroy()
    client.destroy()
  }
})

test('yamux-js answers our keepalive pings: the session stays up', T, async () => {
  const [ours, theirs] = pipePair()
  const js = jsEchoServer(theirs)
  const session = new Session(ours, { role: 'client', keepaliveIntervalMs: 40, pingTimeoutMs: 120 })
  try {
    // Not a synchronization: that nothing happens for 10 intervals and 3 ping timeouts is the test.
    await sleep(400)
    assert.equal(session.state, 'open')
    assert.ok(session.unansweredPings <= 1)
  } finally {
    session.destroy()
    js.server.destroy()
  }
})

test(
  'over real TCP: a 1 MiB echo with yamux-js either completes or ends in typed errors, within the bound',
  T,
  async (t) => {
    const listener = net.createServer((socket) => {
      socket.on('error', quiet)
      jsEchoServer(socket)
    })
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
    const socket = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    const session = new Session(socket, { role: 'client', enableKeepalive: false, connectionWriteTimeoutMs: 500 })
    try {
      const s = await session.openStream()
      const size = 1024 * 1024
      const reading = readN(s, size).then(
        (b) => (b.length === size && checkPattern(b) === -1 ? 'echoed' : 'corrupt'),
        (e: { code?: string }) => `error ${e.code}`,
      )
      const writing = s.write(patternBytes(size)).then(
        () => 'written',
        (e: { code?: string }) => `error ${e.code}`,
      )
      // A bounded observation, not a synchronization: how far yamux-js gets within 3 s is recorded.
      const first = await Promise.race([reading, sleep(3000).then(() => 'stalled')])
      // Give up after the bound: every pending operation must settle with a typed code.
      await within(session.close(), 5000, 'close')
      const outcomes = await within(Promise.all([reading, writing]), 3000, 'settled')
      for (const o of outcomes) assert.match(o, /^(echoed|corrupt|written|error YAMUX_ERR_SESSION_CLOSED)$/)
      // TCP decides where reads split our 64 KiB frames, so the yamux-js outcome varies; record it.
      t.diagnostic(`yamux-js over TCP: first outcome ${first}; read → ${outcomes[0]}, write → ${outcomes[1]}`)
    } finally {
      session.destroy()
      socket.destroy()
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    }
  },
)
