// Hostile peers and resource hygiene: ping flood while our writes are blocked (hashicorp
// PingOfDeath), close before ACK, session shutdown after half close, no leaked sessions,
// timers or listeners (LESSONS #19, #20), no spinning when idle (LESSONS #13).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Session, FLAG_ACK, FLAG_SYN, INITIAL_STREAM_WINDOW, TYPE_PING, TYPE_WINDOW_UPDATE } from '../src/index.js'
import {
  duplexPair,
  RawPeer,
  readAll,
  readN,
  random,
  roundTrip,
  sessionPair,
  sha256,
  sleep,
  within,
} from './helpers.js'

test('ping flood while our writes are blocked: memory stays bounded, reading pauses, all answered later', async () => {
  const [a, b] = duplexPair({ highWaterMark: 16 * 1024 })
  const session = new Session(a, {
    role: 'server',
    enableKeepalive: false,
    maxControlBacklogBytes: 64 * 1024,
    connectionWriteTimeoutMs: 60_000,
  })
  const peer = new RawPeer(b, { read: false }) // does not read our answers (yet)
  const N = 50_000 // 600 KB of pings; answers would be 600 KB
  let sent = 0
  const flood = (async () => {
    while (sent < N) {
      if (!peer.send(TYPE_PING, FLAG_SYN, 0, sent++)) await new Promise((r) => b.once('drain', r))
    }
  })()
  // Not a synchronization: the test is that the flood stays held back while we cannot
  // write our answers, so it waits a while (the whole flood takes ~100 ms when read).
  await sleep(200)
  assert.ok(sent < N, 'the flood is held back: we stopped reading while our answers could not be written')
  assert.ok(session.queuedBytes <= 2 * 64 * 1024 + 16 * 1024 + 4096, `held ${session.queuedBytes} bytes of answers`)
  assert.equal(session.state, 'open')
  peer.startReading()
  await within(flood, 10_000, 'the flood gets through once the peer reads')
  await peer.waitFor((f) => f.type === TYPE_PING && f.length === N - 1, 10_000, 'last answer')
  assert.equal(peer.frames.filter((f) => f.type === TYPE_PING && f.flags === FLAG_ACK).length, N)
  session.destroy()
})

test('streams closed before their ACK arrives do not leak backlog slots (hashicorp CloseBeforeAck)', async () => {
  const { client, server, cleanup } = await sessionPair('memory', { acceptBacklog: 8 }, { acceptBacklog: 8 })
  try {
    for (let i = 0; i < 8; i++) await (await client.openStream()).close()
    for (let i = 0; i < 8; i++) await (await server.accept())!.close()
    const s = await client.openStream()
    await s.write(Buffer.from('after'))
    const t = (await within(server.accept(), 2000, 'a 9th stream'))!
    assert.equal(Buffer.from((await t.read())!).toString(), 'after')
    await roundTrip(client, server) // the client has handled the server's eight FINs
    assert.equal(client.streamCount, 1)
    assert.equal(server.streamCount, 1)
  } finally {
    await cleanup()
  }
})

test('the sender closes its session right after a half close: the receiver still reads every byte, then EOF (hashicorp HalfCloseSessionShutdown)', async () => {
  const { client, server, cleanup } = await sessionPair('memory')
  try {
    const s = await client.openStream()
    const data = random(INITIAL_STREAM_WINDOW) // a full window: fits without any update
    await s.write(data)
    const t = (await server.accept())!
    await s.close()
    await client.close()
    assert.equal(sha256(await within(readAll(t), 2000, 'read after the peer session ended')), sha256(data))
    assert.equal(await t.read(), null)
  } finally {
    await cleanup()
  }
})

test('a session is garbage-collectable after close; no listeners are left on the connection (js-libp2p #2477)', async () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  let collected = 0
  const registry = new FinalizationRegistry(() => collected++)
  const conns: import('node:stream').Duplex[] = []
  const N = 20
  await (async () => {
    for (let i = 0; i < N; i++) {
      const [a, b] = duplexPair()
      const client = new Session(a, { role: 'client', keepaliveIntervalMs: 50 })
      const server = new Session(b, { role: 'server', keepaliveIntervalMs: 50 })
      const s = await client.openStream()
      await s.write(random(1000))
      const t = (await server.accept())!
      await readN(t, 1000)
      await client.close()
      await server.closed
      registry.register(client, 'client')
      registry.register(server, 'server')
      conns.push(a, b)
    }
  })()
  for (const c of conns) {
    assert.equal(c.listenerCount('data'), 0)
    assert.equal(c.listenerCount('drain'), 0)
    assert.equal(c.listenerCount('end'), 0)
    assert.equal(c.listenerCount('close'), 0)
  }
  // Finalizers run in a task of their own after a collection: give them a few turns.
  for (let i = 0; i < 10 && collected < 2 * N; i++) {
    gc()
    await sleep(20)
  }
  assert.equal(collected, 2 * N, 'every session was collected')
})

test('no timer or immediate is left behind by ended sessions', async () => {
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length
  const pairs = []
  for (let i = 0; i < 10; i++)
    pairs.push(
      await sessionPair('memory', { keepaliveIntervalMs: 1000, enableKeepalive: true }, { enableKeepalive: true }),
    )
  for (const p of pairs) {
    const s = await p.client.openStream()
    await s.write(Buffer.from('x'))
  }
  const during = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  assert.ok(during >= 20, 'keepalive timers run while sessions are open')
  await Promise.all(pairs.map((p) => p.client.close()))
  await Promise.all(pairs.flatMap((p) => [p.client.closed, p.server.closed]))
  const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length
  assert.equal(after, before)
})

test('idle sessions with keepalive do not spin (CPU near idle, tentacle test_kill)', async () => {
  const pairs = []
  for (let i = 0; i < 20; i++) {
    pairs.push(
      await sessionPair(
        'memory',
        { enableKeepalive: true, keepaliveIntervalMs: 100 },
        { enableKeepalive: true, keepaliveIntervalMs: 100 },
      ),
    )
  }
  try {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await sleep(1000) // the idle period measured: CPU time (not wall time) is what is bounded
    const c = process.cpuUsage(c0)
    const cpuMs = (c.user + c.system) / 1000
    const wall = performance.now() - t0
    // 40 sessions pinging every 100 ms is ~400 tiny frames per second.
    assert.ok(cpuMs / wall < 0.2, `CPU ${((100 * cpuMs) / wall).toFixed(1)}% while idle`)
    for (const p of pairs) assert.equal(p.client.state, 'open')
  } finally {
    for (const p of pairs) await p.cleanup()
  }
})

test('a write callback that throws while a SYN held back by a full accept backlog is delivered ends the session, not the process', async () => {
  const [a, b] = duplexPair()
  const session = new Session(a, { role: 'server', enableKeepalive: false, acceptBacklog: 1 })
  const peer = new RawPeer(b)
  try {
    peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 0)
    const s = (await within(session.accept(), 2000, 'stream 1'))!
    // Blocked on the send window: 10 bytes wait for a WindowUpdate, and their callback throws.
    s.writeCb(random(INITIAL_STREAM_WINDOW + 10), () => {
      throw new Error('application bug in a write callback')
    })
    peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 3, 0) // fills the backlog (nobody accepts it)
    await peer.waitFor((f) => f.streamId === 3 && (f.flags & FLAG_ACK) !== 0, 2000, 'ACK of stream 3')
    // A SYN for stream 1 (open) while the backlog is full: held one turn, then refused with
    // ACK|RST and delivered to stream 1 — its window grows and the blocked write completes.
    peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, 100)
    await within(session.closed, 2000, 'the session ends')
    assert.equal(session.state, 'ended')
    assert.equal(session.error?.code, 'YAMUX_ERR_SESSION_CLOSED')
    assert.match(String(session.error?.message), /application bug/)
  } finally {
    session.destroy()
  }
})

test('a write callback that throws when the session is destroyed: every other stream is still told, the connection is still closed', async () => {
  const [a, b] = duplexPair()
  const client = new Session(a, { role: 'client', enableKeepalive: false })
  const server = new Session(b, { role: 'server', enableKeepalive: false })
  try {
    const throwing = await client.openStream()
    const other = await client.openStream()
    // The server never reads: the window runs out and this write waits with its callback.
    throwing.writeCb(random(INITIAL_STREAM_WINDOW + 1024), (err) => {
      if (err !== undefined) throw new Error('application callback threw')
    })
    const pendingRead = other.read()
    assert.equal(throwing.sendWindow, 0, 'the write waits for window')
    assert.throws(() => client.destroy(), /application callback threw/)
    await assert.rejects(within(pendingRead, 2000, 'the other stream’s read is settled'), {
      code: 'YAMUX_ERR_SESSION_CLOSED',
    })
    await within(client.closed, 2000, 'the session is closed')
    assert.equal(a.destroyed, true, 'the connection was destroyed')
  } finally {
    client.destroy()
    server.destroy()
  }
})
