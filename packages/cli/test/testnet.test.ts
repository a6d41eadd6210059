/** The test-net driver's pure parts: the compose file, the status model, socket counts, the command line. */
import assert from 'node:assert/strict'
import { createServer, type AddressInfo } from 'node:net'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { interpolate, loadCompose, optionValues } from '../src/testnet/compose.js'
import { isFullMesh, LocalTestNet, renderTable, run, TestnetError, type NodeStatus } from '../src/testnet/index.js'
import { socketStates } from '../src/testnet/sockets.js'
import { parsePrometheus } from '../src/doctor/metrics.js'
import { fetchNodeStatus, statusFrom } from '../src/testnet/status.js'

const COMPOSE = fileURLToPath(new URL('../../../docker-compose.yml', import.meta.url))

describe('docker-compose.yml', () => {
  const spec = loadCompose(COMPOSE)
  const tentacleNodes = spec.services.filter((s) => s.profiles.length === 0)
  const raw = parse(readFileSync(COMPOSE, 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>
  }

  test('five tentacle nodes, one bootnode, every other pointing at its peer id', async () => {
    assert.deepEqual(
      tentacleNodes.map((s) => s.name),
      ['node1', 'node2', 'node3', 'node4', 'node5'],
    )
    const boot = tentacleNodes.filter((s) => s.bootnode)
    assert.deepEqual(
      boot.map((s) => s.name),
      ['node1'],
    )
    const keyFile = optionValues(boot[0].command, '--key')[0]
    const hostKey = boot[0].mounts.get('/keys') + keyFile.slice('/keys'.length)
    const bootId = (await SecioKeyPair.load(hostKey)).peerId.toString()
    for (const s of spec.services.filter((x) => !x.bootnode)) {
      assert.deepEqual(optionValues(s.command, '--bootnode'), [`/dns4/node1/tcp/8115/p2p/${bootId}`])
    }
  })

  test('the Rust node (profile ckb) runs ckb-network-peer on the same network name, its data in a volume', () => {
    const ckb = spec.services.find((s) => s.name === 'ckb1')!
    assert.deepEqual(ckb.profiles, ['ckb'])
    assert.deepEqual(ckb.entrypoint, ['/peers/ckb-network-peer'])
    assert.equal(ckb.metricsPort, undefined)
    assert.deepEqual(
      optionValues(ckb.command, '--network-name'),
      optionValues(tentacleNodes[0].command, '--network-name'),
    )
    assert.equal(ckb.volumes.get('/data'), 'ckb1-data')
    assert.ok(ckb.command.includes('--discovery-local-address'))
  })

  test('each node: metrics port published on loopback, a health check, init, short pings', () => {
    const ports = new Set<number>()
    for (const s of tentacleNodes) {
      assert.equal(s.metricsPort, 9100)
      assert.equal(s.publishedMetrics?.host, '127.0.0.1')
      ports.add(s.publishedMetrics!.port)
      const r = raw.services[s.name]
      assert.equal(r.init, true)
      assert.ok((r.healthcheck as { test: string[] }).test.join(' ').includes('/status'))
      assert.ok(Number(optionValues(s.command, '--ping-timeout')[0]) <= 10_000)
      assert.ok(s.command.includes('--allow-local-addresses'))
    }
    assert.equal(ports.size, tentacleNodes.length)
  })

  test('the local back end rewrites container names into loopback addresses and host paths', () => {
    const net = new LocalTestNet(spec, { loopbackPrefix: '127.9.8' })
    try {
      assert.equal(net.host('node1'), '127.9.8.11')
      assert.equal(net.host('node5'), '127.9.8.15')
      const a1 = net.args('node1')
      assert.deepEqual(optionValues(a1, '--listen'), ['/ip4/127.9.8.11/tcp/8115'])
      assert.deepEqual(optionValues(a1, '--metrics'), ['127.9.8.11:9100'])
      assert.equal(
        optionValues(a1, '--key')[0],
        fileURLToPath(new URL('../../../test/testnet/keys/node1.key', import.meta.url)),
      )
      // A named volume is a directory of the node's own.
      assert.equal(optionValues(a1, '--address-book')[0], join(net.logDir, 'node1', 'node1-data', 'address-book.json'))
      // node3 (index 2): its own ports are offset by 2; the bootnode's are node1's.
      const a3 = net.args('node3')
      assert.deepEqual(optionValues(a3, '--listen'), ['/ip4/127.9.8.13/tcp/8117'])
      assert.deepEqual(optionValues(a3, '--metrics'), ['127.9.8.13:9102'])
      assert.deepEqual(net.ports('node3'), { p2p: 8117, metrics: 9102 })
      assert.match(optionValues(a3, '--bootnode')[0], /^\/ip4\/127\.9\.8\.11\/tcp\/8115\/p2p\/Qm/)
    } finally {
      void net.down()
    }
  })
})

describe('compose parsing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'testnet-compose-'))
  const write = (text: string): string => {
    const f = join(dir, `c${Math.random()}.yml`)
    writeFileSync(f, text)
    return f
  }

  test('interpolates ${VAR:-default} like compose', () => {
    assert.equal(interpolate('${A:-x}/${B}', { B: 'b' }), 'x/b')
    assert.equal(interpolate('${A:-x}', { A: 'a' }), 'a')
  })

  test('a service without --metrics, a non-node command or no services is CLI_ERR_TESTNET_COMPOSE', () => {
    const bad = [
      'services:\n  a:\n    command: [node, --listen, /ip4/0.0.0.0/tcp/1]\n',
      'services:\n  a:\n    command: [dial, x]\n',
      'services:\n  a:\n    command: "node --listen x"\n',
      'networks: {}\n',
      'services: [\n',
    ]
    for (const text of bad)
      assert.throws(
        () => loadCompose(write(text)),
        (e: TestnetError) => e.code === 'CLI_ERR_TESTNET_COMPOSE',
      )
    assert.throws(
      () => loadCompose(join(dir, 'missing.yml')),
      (e: TestnetError) => e.code === 'CLI_ERR_TESTNET_COMPOSE',
    )
  })

  test('services with a profile are left out of the local net unless named', () => {
    const f = write(
      'services:\n' +
        '  a:\n    command: [node, --listen, /ip4/0.0.0.0/tcp/1, --metrics, "0.0.0.0:2"]\n' +
        '  r:\n    profiles: [rust]\n    command: [node, --listen, /ip4/0.0.0.0/tcp/1, --metrics, "0.0.0.0:2", --bootnode, /dns4/a/tcp/1]\n',
    )
    assert.deepEqual(new LocalTestNet(loadCompose(f), { loopbackPrefix: '127.9.9' }).nodes, ['a'])
    assert.deepEqual(new LocalTestNet(loadCompose(f), { loopbackPrefix: '127.9.9', only: ['a', 'r'] }).nodes, [
      'a',
      'r',
    ])
  })

  test.after(() => rmSync(dir, { recursive: true, force: true }))
})

describe('status', () => {
  const row = (name: string, peerId: string, peers: string[]): NodeStatus => ({
    name,
    up: true,
    peerId,
    peers,
    sessions: peers.length,
    handshakeFailures: {},
  })

  test('reads /status of tentacle node and the ping RTT and handshake failures', () => {
    const st = statusFrom(
      'n1',
      {
        peerId: 'QmA',
        listen: ['/ip4/127.0.0.11/tcp/8115/p2p/QmA'],
        sessions: 2,
        peers: [
          { peerId: 'QmB', pingRttMs: 1.5, lastSeenAt: 10 },
          { peerId: 'QmC', pingRttMs: 0.7, lastSeenAt: 20 },
        ],
        handshakeFailures: { 'awaiting-propose': 3, '': 1, 'awaiting-exchange': 0 },
      },
      '',
    )
    assert.deepEqual(st.peers, ['QmB', 'QmC'])
    assert.equal(st.lastPingRttMs, 0.7)
    assert.deepEqual(st.handshakeFailures, { 'awaiting-propose': 3, connect: 1 })
    assert.equal(st.address, '/ip4/127.0.0.11/tcp/8115/p2p/QmA')
  })

  test('falls back to the Prometheus metrics for failures by phase', () => {
    const text = [
      '# HELP tentacle_handshakes_total x',
      'tentacle_handshakes_total{direction="in",outcome="ok",phase=""} 4',
      'tentacle_handshakes_total{direction="out",outcome="TENTACLE_ERR_HANDSHAKE_TIMEOUT",phase="awaiting-propose"} 2',
      'tentacle_handshakes_total{direction="in",outcome="TENTACLE_ERR_HANDSHAKE_TIMEOUT",phase="awaiting-propose"} 1',
    ].join('\n')
    assert.equal(parsePrometheus(text).length, 3)
    assert.deepEqual(statusFrom('n', { peers: [] }, text).handshakeFailures, { 'awaiting-propose': 3 })
  })

  test('a full mesh needs every expected node up and seeing every other', () => {
    const rows = [row('a', 'A', ['B', 'C']), row('b', 'B', ['A', 'C']), row('c', 'C', ['A', 'B'])]
    assert.equal(isFullMesh(rows), true)
    assert.equal(isFullMesh([rows[0], rows[1], row('c', 'C', ['A'])]), false)
    assert.equal(isFullMesh([rows[0], rows[1], { ...rows[2], up: false }]), false)
    // A killed node is not expected: the rest is a full mesh among themselves only if they dropped it.
    assert.equal(isFullMesh([row('a', 'A', ['B']), row('b', 'B', ['A'])], ['a', 'b']), true)
    assert.equal(isFullMesh(rows, ['a', 'b', 'd']), false)
  })

  test('the table names peers by node and shows failures by phase', () => {
    const t = renderTable([
      {
        ...row('a', 'QmAAAAAAAAAAAA', ['QmBBBBBBBBBBBB']),
        handshakeFailures: { 'awaiting-propose': 2 },
        lastPingRttMs: 0.42,
        closeWait: 0,
      },
      row('b', 'QmBBBBBBBBBBBB', ['QmAAAAAAAAAAAA']),
      { name: 'c', up: false, error: 'no answer in 1500 ms', peers: [], sessions: 0, handshakeFailures: {} },
    ])
    const lines = t.split('\n')
    assert.match(lines[0], /^node\s+peer id\s+address\s+peers\s+sessions\s+ping rtt\s+handshake failures\s+close-wait$/)
    assert.match(lines[1], /^a\s+QmAAAAAAAA…\s+\?\s+b\s+1\s+0\.4 ms\s+awaiting-propose=2\s+0$/)
    assert.match(lines[3], /^c\s+-\s+-\s+down: no answer in 1500 ms/)
  })
})

describe('fetchNodeStatus', () => {
  test('a listener that accepts and closes at once (docker-proxy before the node listens) is reported down, not left pending', async () => {
    const server = createServer((sock) => sock.destroy())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const { port } = server.address() as AddressInfo
      for (let i = 0; i < 3; i++) {
        const st = await fetchNodeStatus('n', `http://127.0.0.1:${port}`, 500)
        assert.equal(st.up, false)
        assert.ok(st.error !== undefined)
      }
    } finally {
      await new Promise((r) => server.close(r))
    }
  })
})

describe('socket counts from /proc/net/tcp', () => {
  // 127.0.0.11:8115 (0B00007F:1FB3) in LISTEN and CLOSE_WAIT; 127.0.0.12:8115 in CLOSE_WAIT; IPv4-mapped in tcp6.
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0B00007F:1FB3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1',
    '   1: 0B00007F:1FB3 0D00007F:C350 08 00000000:00000000 00:00000000 00000000     0        0 2',
    '   2: 0C00007F:1FB3 0D00007F:C351 08 00000000:00000000 00:00000000 00000000     0        0 3',
    '   3: 0000000000000000FFFF00000B00007F:1FB3 0000000000000000FFFF00000D00007F:C352 08 00000000:00000000 00:00000000 00000000 0 0 4',
    '   4: 0B00007F:1FB4 0D00007F:C353 08 00000000:00000000 00:00000000 00000000     0        0 5',
  ].join('\n')

  test('by local port and address', () => {
    assert.deepEqual(
      [...socketStates(tcp, 8115, '127.0.0.11')],
      [
        ['LISTEN', 1],
        ['CLOSE_WAIT', 2],
      ],
    )
    assert.deepEqual([...socketStates(tcp, 8115, '127.0.0.12')], [['CLOSE_WAIT', 1]])
    assert.deepEqual(
      [...socketStates(tcp, 8115)],
      [
        ['LISTEN', 1],
        ['CLOSE_WAIT', 3],
      ],
    )
  })
})

describe('tentacle testnet command line', () => {
  const quiet = async (argv: string[]): Promise<{ code: number; err: string }> => {
    let err = ''
    const write = process.stderr.write.bind(process.stderr)
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write
    try {
      return { code: await run(argv), err }
    } finally {
      process.stderr.write = write
    }
  }

  test('bad arguments: one line and the usage, exit 2', async () => {
    for (const argv of [
      [],
      ['bogus'],
      ['up', '--backend', 'nope'],
      ['kill'],
      ['up', '--timeout', 'x'],
      ['up', '--nope'],
      ['down'],
    ]) {
      const { code, err } = await quiet(argv)
      assert.equal(code, 2, argv.join(' '))
      assert.match(err, /^tentacle testnet: [^\n]+\n\nUsage: tentacle testnet/)
    }
  })

  test('an unknown node or no running local net: one line naming it, exit 1', async () => {
    const { code, err } = await quiet(['kill', 'node9', '--loopback', '127.9.7'])
    assert.equal(code, 1)
    assert.match(err, /CLI_ERR_TESTNET_STATE: no local test net is running/)
  })
})
