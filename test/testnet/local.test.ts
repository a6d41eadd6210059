/**
 * The five-node test net of docker-compose.yml on the local back end (processes on 127.x.y.11-15,
 * no Docker, no root): it converges to a full mesh, a killed node is dropped and comes back, a
 * frozen node behaves as the seed's stalled node did and recovers cleanly.
 *
 * The freeze lasts about 10 s rather than the 30 s of the docker suite: long enough for the ping
 * timeout of this net (4 s) to drop it everywhere, for a handshake to it to hit its deadline
 * (2 s here) and for doctor's 1.5 s sample; what happens after that is the same at 30 s.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { LocalTestNet, loadCompose } from '../../packages/cli/src/testnet/index.js'
import { COMPOSE_FILE, expectMesh, freezeAndThaw, killAndRestart, MESH_MS } from './lib/scenarios.js'

// A loopback /24 of its own, so a concurrent `npm start` or another run never collides.
const prefix = `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`

describe('local test net (docker-compose.yml as processes)', { timeout: 170_000 }, () => {
  const net = new LocalTestNet(loadCompose(COMPOSE_FILE), { loopbackPrefix: prefix })
  const pids: number[] = []

  before(async () => {
    await net.up()
    for (const n of net.nodes) pids.push(net.pid(n)!)
  })

  after(async () => {
    await net.down()
    // Nothing is left: every process the net started has exited.
    for (const n of net.nodes) assert.equal(net.pid(n), undefined, `${n} still running`)
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' })
  })

  test('converges to a full mesh within 30 s', async (t) => {
    const rows = await expectMesh(net, net.nodes, MESH_MS)
    t.diagnostic(`full mesh ${(rows as { elapsedMs?: number }).elapsedMs} ms after every node was ready`)
    for (const r of rows) {
      assert.equal(r.peers.length, net.nodes.length - 1, `${r.name} sees ${r.peers.length}`)
      assert.ok(r.sessions >= net.nodes.length - 1)
      assert.ok(r.address?.startsWith(`/ip4/${prefix}.`), r.address)
    }
  })

  test('a killed node is dropped by all others within the ping timeout and is back within 30 s', async (t) => {
    const { droppedMs, backMs } = await killAndRestart(net, 'node5')
    assert.ok(backMs <= MESH_MS, `back ${backMs} ms after the restart began`)
    t.diagnostic(`dropped by all after ${droppedMs} ms; restarted and back in the full mesh after ${backMs} ms`)
    pids.push(net.pid('node5')!)
  })

  test('a frozen node: dropped by ping timeout, handshakes time out in a named phase, doctor names the overflow; resumed, it serves within 2 s with no CLOSE_WAIT', async (t) => {
    const r = await freezeAndThaw(net, 'node4', {
      doctor: {
        pid: async () => net.pid('node4')!,
        expect: ['process-stopped', 'accept-queue-stuck', 'listen-overflow'],
      },
    })
    assert.equal(r.closeWait, 0)
    assert.ok(r.servesAfterMs <= 2_000)
    t.diagnostic(
      `frozen ${r.frozenMs} ms; dropped by all after ${r.droppedMs} ms; probe: ${r.handshakeError.code} in ${r.handshakeError.phase}; ` +
        `doctor: ${r.doctor?.findings.map((f) => f.id).join(', ')}; served ${r.servesAfterMs} ms after resuming; mesh back after ${r.backMs} ms`,
    )
  })
})
