import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { handshake, SecioKeyPair } from '@tentacle-ts/secio'
import { eventually, runCli, startNode } from './helpers.js'

const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0']

test('node --key --metrics: ready line with peer id, listen address and metrics URL; /metrics and /status serve; SIGTERM stops gracefully, exit 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tentacle-cli-'))
  const key = join(dir, 'k')
  const peerId = (await runCli(['keygen', '--out', key])).stdout.trim()
  const node = await startNode([...LISTEN, '--key', key, '--metrics', '127.0.0.1:0'])
  try {
    const { ready } = node
    assert.equal(ready.peerId, peerId)
    assert.equal(ready.pid, node.child.pid)
    assert.equal(ready.listen.length, 1)
    assert.match(ready.listen[0], new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${peerId}$`))
    assert.match(ready.metrics ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    const text = await (await fetch(ready.metrics!)).text()
    for (const name of [
      'tentacle_connections_accepted_total',
      'tentacle_handshakes_total',
      'tentacle_sessions_open',
      'tentacle_streams_open',
      'tentacle_event_loop_delay_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'))
    }
    // A dial makes a session, seen in /status and in the log.
    const dial = await runCli(['dial', ready.listen[0]])
    assert.equal(dial.code, 0, dial.stderr)
    await node.waitLog(/"msg":"session-open"/)
    const status = (await (await fetch(ready.status!)).json()) as Record<string, unknown>
    assert.equal(status.peerId, peerId)
    assert.equal(status.pid, node.child.pid)
    assert.deepEqual(status.listen, ready.listen)
    assert.deepEqual(status.handshakeFailures, {})
    assert.ok(Array.isArray(status.peers))

    node.child.kill('SIGTERM')
    const exit = await node.exited
    assert.deepEqual(exit, { code: 0, signal: null })
    assert.deepEqual(JSON.parse(node.stdout[node.stdout.length - 1]), { event: 'stopped', signal: 'SIGTERM' })
    // Logs are JSON lines on stderr; stdout carried only the two machine lines.
    assert.equal(node.stdout.length, 2)
    for (const l of node.stderr().trim().split('\n')) assert.doesNotThrow(() => JSON.parse(l), l)
  } finally {
    await node.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})

/** A peer that finishes the secio handshake and then ignores everything (never answers GoAway). */
async function stubbornPeer(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const { stream } = await handshake(socket, { key: SecioKeyPair.generate() })
  stream.pause()
  return socket
}

test('node: a graceful close that a peer holds up is cut short after --shutdown-timeout; exit 0', async () => {
  const node = await startNode([...LISTEN, '--shutdown-timeout', '300', '--handshake-timeout', '60000'])
  let peer: net.Socket | undefined
  try {
    peer = await stubbornPeer(node.port)
    await node.waitLog(/"msg":"session-open"/)
    const t0 = Date.now()
    node.child.kill('SIGTERM')
    const exit = await node.exited
    assert.deepEqual(exit, { code: 0, signal: null })
    assert.ok(Date.now() - t0 < 5_000, `stopped in ${Date.now() - t0} ms (the peer alone would hold it 10 s)`)
    assert.match(node.stderr(), /graceful close took too long/)
  } finally {
    peer?.destroy()
    await node.stop()
  }
})

test('node: a second signal during the graceful close exits at once (128 + signal number)', async () => {
  const node = await startNode([...LISTEN, '--shutdown-timeout', '60000', '--handshake-timeout', '60000'])
  let peer: net.Socket | undefined
  try {
    peer = await stubbornPeer(node.port)
    await node.waitLog(/"msg":"session-open"/)
    node.child.kill('SIGINT')
    await node.waitLog(/shutting down/)
    const t0 = Date.now()
    node.child.kill('SIGTERM')
    const exit = await node.exited
    assert.deepEqual(exit, { code: 128 + 15, signal: null })
    // "At once" against the 60 s graceful close it cuts short; usually ~50 ms, and 10 s
    // leaves room for a loaded machine.
    assert.ok(Date.now() - t0 < 10_000, `exited ${Date.now() - t0} ms after the second signal`)
    assert.match(node.stderr(), /second signal: exiting now/)
  } finally {
    peer?.destroy()
    await node.stop()
  }
})

test('node: a port in use is a one-line error, exit 1', async () => {
  const busy = net.createServer()
  busy.listen(0, '127.0.0.1')
  await once(busy, 'listening')
  const port = (busy.address() as net.AddressInfo).port
  try {
    const r = await runCli(['node', '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--log-level', 'silent'])
    assert.equal(r.code, 1)
    assert.match(
      r.stderr,
      new RegExp(`^tentacle node: cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${port}: .*EADDRINUSE`),
    )
    assert.equal(r.stderr.trim().split('\n').length, 1)
    assert.equal(r.stdout, '')
  } finally {
    busy.close()
  }
})

test('node --bootnode: the second node connects to the first; both /status list the other with its ping RTT', async () => {
  const opts = ['--log-level', 'warn', '--metrics', '127.0.0.1:0', '--ping-interval', '200', '--allow-local-addresses']
  const a = await startNode([...LISTEN, ...opts])
  let b: Awaited<ReturnType<typeof startNode>> | undefined
  try {
    b = await startNode([...LISTEN, ...opts, '--bootnode', a.ready.listen[0]])
    const peerOf = async (n: typeof a, other: string): Promise<Record<string, unknown> | undefined> => {
      const st = (await (await fetch(n.ready.status!)).json()) as { peers: Array<Record<string, unknown>> }
      return st.peers.find((p) => p.peerId === other && typeof p.pingRttMs === 'number')
    }
    const seenByA = await eventually('a to see b with a ping RTT', () => peerOf(a, b!.ready.peerId))
    assert.equal(seenByA.direction, 'inbound')
    const seenByB = await eventually('b to see a with a ping RTT', () => peerOf(b!, a.ready.peerId))
    assert.equal(seenByB.direction, 'outbound')
    const text = await (await fetch(a.ready.metrics!)).text()
    assert.match(text, /^tentacle_ping_rtt_seconds_count [1-9]\d*$/m)
  } finally {
    await b?.stop()
    await a.stop()
  }
})

test('node: metrics are on by default on a free loopback port; --metrics off turns them off', async () => {
  const on = await startNode([...LISTEN, '--log-level', 'warn'])
  try {
    assert.match(on.ready.metrics ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    assert.equal((await fetch(on.ready.metrics!)).status, 200)
  } finally {
    await on.stop()
  }
  const off = await startNode([...LISTEN, '--log-level', 'warn', '--metrics', 'off'])
  try {
    assert.equal(off.ready.metrics, null)
    assert.equal(off.ready.status, null)
  } finally {
    await off.stop()
  }
})
