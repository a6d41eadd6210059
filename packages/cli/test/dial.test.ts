import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { handshake, SecioKeyPair } from '@tentacle-ts/secio'
import { Service } from '@tentacle-ts/tentacle'
import { Session as MuxSession } from '@tentacle-ts/yamux'
import { json, runCli, startNode } from './helpers.js'
import type { ProbeResult } from '../src/dial/probe.js'

const SECURE = ['tcp-connect', 'secio-propose', 'secio-exchange', 'secio-nonce-echo', 'yamux']

test('dial --json against a tentacle node: one JSON object, every phase in order with its time, peer id, suite; exit 0', async () => {
  const node = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0'])
  try {
    const r = await runCli(['dial', node.ready.listen[0], '--json'])
    assert.equal(r.code, 0, r.stderr)
    const res = json<ProbeResult>(r)
    assert.equal(res.ok, true)
    assert.equal(res.peerId, node.ready.peerId)
    assert.deepEqual(res.phases.map((p) => p.phase).slice(0, 5), SECURE)
    for (const p of res.phases) assert.ok(p.ms >= 0 && p.ms < 10_000, `${p.phase} ${p.ms}`)
    const sum = res.phases.reduce((n, p) => n + p.ms, 0)
    assert.ok(sum <= res.totalMs + 0.01, `phases ${sum} within total ${res.totalMs}`)
    assert.deepEqual(Object.keys(res.suite ?? {}).sort(), ['agreement', 'cipher', 'digest'])

    const human = await runCli(['dial', node.ready.listen[0]])
    assert.equal(human.code, 0)
    for (const label of ['tcp connect', 'secio propose', 'secio exchange', 'secio nonce echo', 'yamux']) {
      assert.match(human.stdout, new RegExp(`^  ${label} +\\d+\\.\\d+ ms`, 'm'))
    }
    assert.match(human.stdout, new RegExp(`^peer id   ${node.ready.peerId}$`, 'm'))
  } finally {
    await node.stop()
  }
})

test('dial: nothing listening -> exit 1, phase tcp-connect, ECONNREFUSED', async () => {
  const s = net.createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  const r = await runCli(['dial', `/ip4/127.0.0.1/tcp/${port}`, '--json'])
  assert.equal(r.code, 1)
  const res = json<ProbeResult>(r)
  assert.equal(res.ok, false)
  assert.equal(res.failedPhase, 'tcp-connect')
  assert.equal(res.error?.code, 'ECONNREFUSED')
  assert.deepEqual(res.phases, [])
  const human = await runCli(['dial', `/ip4/127.0.0.1/tcp/${port}`])
  assert.equal(human.code, 1)
  assert.match(human.stdout, /^ {2}tcp connect +FAILED {2}ECONNREFUSED: /m)
})

test('dial: a peer that accepts and never answers the handshake -> exit 1 naming secio-propose, SECIO_ERR_HANDSHAKE_TIMEOUT, 0 bytes', async () => {
  const held: net.Socket[] = []
  const silent = net.createServer((sock) => held.push(sock))
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  try {
    const port = (silent.address() as net.AddressInfo).port
    const r = await runCli(['dial', `/ip4/127.0.0.1/tcp/${port}`, '--json', '--timeout', '400'])
    assert.equal(r.code, 1)
    const res = json<ProbeResult>(r)
    assert.deepEqual(
      res.phases.map((p) => p.phase),
      ['tcp-connect'],
    )
    assert.equal(res.failedPhase, 'secio-propose')
    assert.equal(res.error?.code, 'SECIO_ERR_HANDSHAKE_TIMEOUT')
    assert.equal(res.error?.bytesReceived, 0)
  } finally {
    for (const s of held) s.destroy()
    silent.close()
  }
})

test('dial: a /p2p/ id that is not the peer -> exit 1, secio-propose, SECIO_ERR_PEER_ID_MISMATCH', async () => {
  const node = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0'])
  try {
    const other = SecioKeyPair.generate().peerId.toString()
    const r = await runCli(['dial', `/ip4/127.0.0.1/tcp/${node.port}/p2p/${other}`, '--json'])
    assert.equal(r.code, 1)
    const res = json<ProbeResult>(r)
    assert.equal(res.failedPhase, 'secio-propose')
    assert.equal(res.error?.code, 'SECIO_ERR_PEER_ID_MISMATCH')
  } finally {
    await node.stop()
  }
})

test('dial --protocol NAME the peer does not have -> exit 1, phase protocol-select', async () => {
  const node = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0'])
  try {
    const r = await runCli(['dial', node.ready.listen[0], '--protocol', '/no/such/proto', '--json'])
    assert.equal(r.code, 1)
    const res = json<ProbeResult>(r)
    assert.deepEqual(
      res.phases.map((p) => p.phase),
      SECURE,
    )
    assert.equal(res.failedPhase, 'protocol-select')
    assert.equal(res.error?.code, 'CLI_ERR_DIAL_PROTOCOL_SELECT')
    assert.match(res.error?.message ?? '', /does not support \/no\/such\/proto/)
  } finally {
    await node.stop()
  }
})

test("dial pings a tentacle node with either preset: the preset's ping protocol is selected and its RTT reported", async () => {
  for (const preset of ['tentacle', 'ckb'] as const) {
    const node = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--preset', preset, '--log-level', 'warn'])
    try {
      const r = await runCli(['dial', node.ready.listen[0], '--preset', preset, '--json'])
      assert.equal(r.code, 0, r.stderr)
      const res = json<ProbeResult>(r)
      assert.deepEqual(
        res.protocol,
        preset === 'ckb' ? { name: '/ckb/ping', version: '3' } : { name: '/p2p/1', version: '0.0.1' },
      )
      assert.deepEqual(
        res.phases.map((p) => p.phase),
        [...SECURE, 'protocol-select', 'ping'],
      )
      assert.ok(typeof res.pingRttMs === 'number' && res.pingRttMs > 0, preset)
      const human = await runCli(['dial', node.ready.listen[0], '--preset', preset])
      assert.match(human.stdout, /^ping RTT {2}\d+\.\d+ ms$/m)
    } finally {
      await node.stop()
    }
  }
})

test('dial: a peer that opens the stream but never answers the selection -> protocol-select, CLI_ERR_DIAL_PROTOCOL_SELECT_TIMEOUT', async () => {
  const muxes: MuxSession[] = []
  const mute = net.createServer((sock) => {
    sock.on('error', () => {})
    handshake(sock, { key: SecioKeyPair.generate() }).then(
      ({ stream }) => muxes.push(new MuxSession(stream, { role: 'server' })), // accepts streams, reads nothing, says nothing
      () => {},
    )
  })
  mute.listen(0, '127.0.0.1')
  await once(mute, 'listening')
  try {
    const port = (mute.address() as net.AddressInfo).port
    const r = await runCli(['dial', `/ip4/127.0.0.1/tcp/${port}`, '--protocol', '/x/y', '--timeout', '500', '--json'])
    assert.equal(r.code, 1)
    const res = json<ProbeResult>(r)
    assert.deepEqual(
      res.phases.map((p) => p.phase),
      SECURE,
    )
    assert.equal(res.failedPhase, 'protocol-select')
    assert.equal(res.error?.code, 'CLI_ERR_DIAL_PROTOCOL_SELECT_TIMEOUT')
  } finally {
    for (const m of muxes) m.destroy()
    mute.close()
  }
})

test('dial: a peer that takes the ping protocol but never answers: --protocol asked for it -> CLI_ERR_DIAL_PING_TIMEOUT; the default try -> a note, exit 0', async () => {
  // A service with /p2p/1 (tentacle's ping name) that is not a ping: it never sends a Pong.
  const service = new Service({ key: SecioKeyPair.generate(), protocols: [{ id: 1 }] })
  try {
    const addr = (await service.listen('/ip4/127.0.0.1/tcp/0')).toString()
    const asked = await runCli(['dial', addr, '--protocol', '/p2p/1', '--timeout', '500', '--json'])
    assert.equal(asked.code, 1)
    const a = json<ProbeResult>(asked)
    assert.equal(a.failedPhase, 'ping')
    assert.equal(a.error?.code, 'CLI_ERR_DIAL_PING_TIMEOUT')
    const tried = await runCli(['dial', addr, '--timeout', '500', '--json'])
    assert.equal(tried.code, 0)
    const t = json<ProbeResult>(tried)
    assert.equal(t.pingRttMs, undefined)
    assert.match(t.notes.join('\n'), /took \/p2p\/1 but sent no Pong within 500 ms/)
  } finally {
    await service.close()
  }
})
