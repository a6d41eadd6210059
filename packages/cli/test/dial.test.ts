import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { SecioKeyPair } from '@tentacle-ts/secio'
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
  assert.match(human.stdout, /^  tcp connect +FAILED  ECONNREFUSED: /m)
})

test('dial: a peer that accepts and never answers the handshake -> exit 1 naming secio-propose, ERR_HANDSHAKE_TIMEOUT, 0 bytes', async () => {
  const held: net.Socket[] = []
  const silent = net.createServer((sock) => held.push(sock))
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  try {
    const port = (silent.address() as net.AddressInfo).port
    const r = await runCli(['dial', `/ip4/127.0.0.1/tcp/${port}`, '--json', '--timeout', '400'])
    assert.equal(r.code, 1)
    const res = json<ProbeResult>(r)
    assert.deepEqual(res.phases.map((p) => p.phase), ['tcp-connect'])
    assert.equal(res.failedPhase, 'secio-propose')
    assert.equal(res.error?.code, 'ERR_HANDSHAKE_TIMEOUT')
    assert.equal(res.error?.bytesReceived, 0)
  } finally {
    for (const s of held) s.destroy()
    silent.close()
  }
})

test('dial: a /p2p/ id that is not the peer -> exit 1, secio-propose, ERR_PEER_ID_MISMATCH', async () => {
  const node = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0'])
  try {
    const other = SecioKeyPair.generate().peerId.toString()
    const r = await runCli(['dial', `/ip4/127.0.0.1/tcp/${node.port}/p2p/${other}`, '--json'])
    assert.equal(r.code, 1)
    const res = json<ProbeResult>(r)
    assert.equal(res.failedPhase, 'secio-propose')
    assert.equal(res.error?.code, 'ERR_PEER_ID_MISMATCH')
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
    assert.deepEqual(res.phases.map((p) => p.phase), SECURE)
    assert.equal(res.failedPhase, 'protocol-select')
    assert.equal(res.error?.code, 'ERR_PROTOCOL_SELECT')
    assert.match(res.error?.message ?? '', /does not support \/no\/such\/proto/)
  } finally {
    await node.stop()
  }
})

test('dial pings a tentacle node with either preset: the preset\'s ping protocol is selected and its RTT reported', async () => {
  for (const preset of ['tentacle', 'ckb'] as const) {
    const node = await startNode(['--listen', '/ip4/127.0.0.1/tcp/0', '--preset', preset, '--log-level', 'warn'])
    try {
      const r = await runCli(['dial', node.ready.listen[0], '--preset', preset, '--json'])
      assert.equal(r.code, 0, r.stderr)
      const res = json<ProbeResult>(r)
      assert.deepEqual(res.protocol, preset === 'ckb' ? { name: '/ckb/ping', version: '3' } : { name: '/p2p/1', version: '0.0.1' })
      assert.deepEqual(res.phases.map((p) => p.phase), [...SECURE, 'protocol-select', 'ping'])
      assert.ok(typeof res.pingRttMs === 'number' && res.pingRttMs > 0, preset)
      const human = await runCli(['dial', node.ready.listen[0], '--preset', preset])
      assert.match(human.stdout, /^ping RTT  \d+\.\d+ ms$/m)
    } finally {
      await node.stop()
    }
  }
})
