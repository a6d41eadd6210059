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
import { existsSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { DockerTestNet, loadCompose } from '../../packages/cli/src/testnet/index.js'
import { bridges, dockerJson, nsMounts, processesNaming, startEngine, type Engine } from './lib/engine.js'
import { COMPOSE_FILE, expectMesh, killAndRestart, MESH_MS, partitionAndHeal, slowedConverges } from './lib/scenarios.js'

const project = `tntest${process.pid}`

describe('docker test net', { timeout: 900_000 }, () => {
  let engine: Engine
  let net: DockerTestNet

  before(async () => {
    engine = await startEngine()
    net = new DockerTestNet(loadCompose(COMPOSE_FILE, engine.env), { project, env: engine.env })
    await net.up()
  })

  after(async () => {
    let downError: unknown
    try {
      await net?.down()
    } catch (err) {
      downError = err
    }
    const label = `label=com.docker.compose.project=${project}`
    const containers = engine ? dockerJson(engine.env, ['ps', '-aq', '--filter', label]).trim() : ''
    const networks = engine ? dockerJson(engine.env, ['network', 'ls', '-q', '--filter', label]).trim() : ''
    await engine?.stop()
    if (downError !== undefined) throw downError
    assert.equal(containers, '', 'containers left after compose down')
    assert.equal(networks, '', 'networks left after compose down')
    const newBridges = [...bridges()].filter((b) => !engine.bridgesBefore.has(b))
    assert.deepEqual(newBridges, [], 'bridges left on the host')
    if (engine.ours && engine.dir !== undefined) {
      assert.equal(existsSync(engine.dir), false, `${engine.dir} left behind`)
      assert.deepEqual(processesNaming(engine.dir), [], 'engine processes left (dockerd, containerd, shims)')
      assert.deepEqual(nsMounts(engine.dir), [], 'network namespaces left mounted')
    }
  })

  test('converges to a full mesh within 30 s', async (t) => {
    const rows = await expectMesh(net, net.nodes, MESH_MS)
    t.diagnostic(`mesh of ${rows.length} after ${(rows as { elapsedMs?: number }).elapsedMs} ms`)
  })

  test('a killed container is dropped within the ping timeout and back within 30 s', async (t) => {
    const r = await killAndRestart(net, 'node5')
    t.diagnostic(`dropped after ${r.droppedMs} ms, back after ${r.backMs} ms`)
  })

  test('a partition splits the mesh and healing rejoins it', async (t) => {
    const r = await partitionAndHeal(net, ['node4', 'node5'])
    t.diagnostic(`split in ${r.splitMs} ms, healed in ${r.healMs} ms`)
  })

  test('with slowed links (tbf 128 kbit/s) a restarted node still rejoins the full mesh', async (t) => {
    await net.slow('node1', { rateKbit: 128 })
    assert.match(await net.qdiscs('node1'), /qdisc tbf .* rate 128Kbit/)
    const r = await slowedConverges(net, ['node1', 'node2', 'node3', 'node4'], 'node5', 128)
    assert.doesNotMatch(await net.qdiscs('node1'), /tbf/)
    t.diagnostic(`back after ${r.backMs} ms`)
  })
})
