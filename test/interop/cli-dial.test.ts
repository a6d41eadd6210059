// `tentacle dial` (the real bin) against a Rust tentacle 0.7 node (tentacle-peer).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { TentaclePeer } from './lib/index.js'
import { CkbNetworkPeer } from './lib/ckb-network-peer.js'

const BIN = fileURLToPath(new URL('../../packages/cli/bin/tentacle.js', import.meta.url))

async function tentacle(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TENTACLE_CLI_SOURCE: '1' } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code] = (await once(child, 'close')) as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

interface Result {
  ok: boolean
  peerId?: string
  suite?: { agreement: string; cipher: string; digest: string }
  phases: Array<{ phase: string; ms: number }>
  protocol?: { name: string; version: string }
  pingRttMs?: number
  notes: string[]
  failedPhase?: string
  error?: { code: string }
}

test('cli-dial: tentacle dial --protocol NAME --json against Rust tentacle: every phase timed, its peer id, the suite, the version it chose', async () => {
  const rust = await TentaclePeer.start([
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--protocol',
    '7:/tentacle-ts/dial-test:0.0.1,0.0.2',
  ])
  try {
    const r = await tentacle([
      'dial',
      rust.dialAddress,
      '--protocol',
      '/tentacle-ts/dial-test',
      '--versions',
      '0.0.2,0.0.3',
      '--json',
    ])
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const res = JSON.parse(r.stdout) as Result
    assert.equal(res.ok, true)
    assert.equal(res.peerId, rust.peerId)
    assert.deepEqual(
      res.phases.map((p) => p.phase),
      ['tcp-connect', 'secio-propose', 'secio-exchange', 'secio-nonce-echo', 'yamux', 'protocol-select'],
    )
    assert.deepEqual(res.protocol, { name: '/tentacle-ts/dial-test', version: '0.0.2' })
    assert.equal(res.suite?.cipher, 'AES-128-GCM', 'tentacle-secio 0.6 and we prefer the same suite')
    // Rust saw the session and the protocol open.
    await rust.waitEvent('protocol_open', { proto: 7, version: '0.0.2' })
  } finally {
    await rust.kill()
  }
})

test('cli-dial: against Rust tentacle without ping, the default dial reports that /p2p/1 gave no Pong (exit 0); a wrong /p2p/ id fails in secio-propose', async () => {
  const rust = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0'])
  try {
    const r = await tentacle(['dial', rust.dialAddress, '--json'])
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const res = JSON.parse(r.stdout) as Result
    assert.equal(res.peerId, rust.peerId)
    // tentacle's ping is /p2p/1, which this Rust node has as a plain protocol: taken, but no Pong.
    assert.deepEqual(res.protocol, { name: '/p2p/1', version: '0.0.1' })
    assert.equal(res.phases.at(-1)?.phase, 'protocol-select')
    assert.match(res.notes.join('\n'), /took \/p2p\/1 but sent no Pong .*no ping RTT/)

    const other = SecioKeyPair.generate().peerId.toString()
    const bad = await tentacle(['dial', `/ip4/127.0.0.1/tcp/${rust.port}/p2p/${other}`, '--json'])
    assert.equal(bad.code, 1)
    const b = JSON.parse(bad.stdout) as Result
    assert.equal(b.failedPhase, 'secio-propose')
    assert.equal(b.error?.code, 'SECIO_ERR_PEER_ID_MISMATCH')
  } finally {
    await rust.kill()
  }
})

test("cli-dial: tentacle dial --preset ckb against CKB's own network service: /ckb/ping version 3 and a ping RTT", async () => {
  const ckb = await CkbNetworkPeer.start()
  try {
    const r = await tentacle(['dial', ckb.dialAddress, '--preset', 'ckb', '--json'])
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const res = JSON.parse(r.stdout) as Result
    assert.equal(res.peerId, ckb.peerId)
    assert.deepEqual(res.protocol, { name: '/ckb/ping', version: '3' })
    assert.deepEqual(
      res.phases.map((p) => p.phase),
      ['tcp-connect', 'secio-propose', 'secio-exchange', 'secio-nonce-echo', 'yamux', 'protocol-select', 'ping'],
    )
    assert.ok(typeof res.pingRttMs === 'number' && res.pingRttMs > 0 && res.pingRttMs < 5_000, String(res.pingRttMs))
  } finally {
    await ckb.kill()
  }
})
