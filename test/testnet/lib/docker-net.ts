/**
 * One compose project of the test net on a Docker engine, for a docker suite: `before` starts
 * (or finds) the engine and brings the net up, `after` brings it down, stops the engine and
 * proves nothing is left — no container, network or volume of the project, no new bridge, and,
 * for an engine the suite started, no directory, process or mounted namespace of it.
 * Call it inside the suite's `describe`.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, before } from 'node:test'
import { DockerTestNet, loadCompose } from '../../../packages/cli/src/testnet/index.js'
import { bridges, dockerJson, nsMounts, processesNaming, startEngine, type Engine } from './engine.js'
import { COMPOSE_FILE } from './scenarios.js'

export interface DockerNetOptions {
  /** Compose profiles to start as well (e.g. `ckb` for the Rust node). */
  profiles?: string[]
  /** Runs before the engine starts (e.g. building a binary the net mounts). */
  prepare?: () => void
}

export function dockerNet(project: string, opts: DockerNetOptions = {}): { readonly net: DockerTestNet } {
  let engine: Engine | undefined
  let net: DockerTestNet | undefined

  before(async () => {
    opts.prepare?.()
    engine = await startEngine()
    net = new DockerTestNet(loadCompose(COMPOSE_FILE, engine.env), {
      project,
      env: engine.env,
      ...(opts.profiles ? { profiles: opts.profiles } : {}),
    })
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
    const left = (what: string[]): string =>
      engine ? dockerJson(engine.env, [...what, '-q', '--filter', label]).trim() : ''
    const containers = left(['ps', '-a'])
    const networks = left(['network', 'ls'])
    const volumes = left(['volume', 'ls'])
    await engine?.stop()
    if (downError !== undefined) throw downError
    assert.equal(containers, '', 'containers left after compose down')
    assert.equal(networks, '', 'networks left after compose down')
    assert.equal(volumes, '', 'volumes left after compose down')
    if (engine === undefined) return
    const before = engine.bridgesBefore
    assert.deepEqual(
      [...bridges()].filter((b) => !before.has(b)),
      [],
      'bridges left on the host',
    )
    if (engine.ours && engine.dir !== undefined) {
      assert.equal(existsSync(engine.dir), false, `${engine.dir} left behind`)
      assert.deepEqual(processesNaming(engine.dir), [], 'engine processes left (dockerd, containerd, shims)')
      assert.deepEqual(nsMounts(engine.dir), [], 'network namespaces left mounted')
    }
  })

  return {
    get net(): DockerTestNet {
      assert.ok(net, 'the docker net is not up (its before hook failed)')
      return net
    },
  }
}
