/**
 * The five-node net of docker-compose.yml on a Docker engine (a private one started by
 * test/testnet/docker-engine.sh when none answers): full mesh, kill/restart, a partition and
 * its healing, slowed links, and afterwards nothing left: no container, network, bridge,
 * namespace, daemon or process. The 30 s freeze is in freeze.docker.test.ts (each file stays
 * within run-tests' per-file timeout).
 *
 * Run by `node scripts/run-tests.mjs --docker` (root: the engine, nsenter for tc and /proc).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { dockerNet } from './lib/docker-net.js'
import { expectMesh, killAndRestart, MESH_MS, partitionAndHeal, slowedConverges } from './lib/scenarios.js'

const project = `tntest${process.pid}`

describe('docker test net', { timeout: 900_000 }, () => {
  const docker = dockerNet(project)

  test('converges to a full mesh within 30 s', async (t) => {
    const rows = await expectMesh(docker.net, docker.net.nodes, MESH_MS)
    t.diagnostic(`mesh of ${rows.length} after ${(rows as { elapsedMs?: number }).elapsedMs} ms`)
  })

  test('a killed container is dropped within the ping timeout and back within 30 s', async (t) => {
    const r = await killAndRestart(docker.net, 'node5')
    t.diagnostic(`dropped after ${r.droppedMs} ms, back after ${r.backMs} ms`)
  })

  test('a partition splits the mesh and healing rejoins it', async (t) => {
    const r = await partitionAndHeal(docker.net, ['node4', 'node5'])
    t.diagnostic(`split in ${r.splitMs} ms, healed in ${r.healMs} ms`)
  })

  test('with slowed links (tbf 128 kbit/s) a restarted node still rejoins the full mesh', async (t) => {
    await docker.net.slow('node1', { rateKbit: 128 })
    assert.match(await docker.net.qdiscs('node1'), /qdisc tbf .* rate 128Kbit/)
    const r = await slowedConverges(docker.net, ['node1', 'node2', 'node3', 'node4'], 'node5', 128)
    assert.doesNotMatch(await docker.net.qdiscs('node1'), /tbf/)
    t.diagnostic(`back after ${r.backMs} ms`)
  })
})
