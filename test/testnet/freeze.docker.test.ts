/**
 * The seed's stalled node on Docker: node4 paused (cgroup freezer) for 30 s. Its peers drop it
 * by ping timeout, a new handshake to it fails with TENTACLE_ERR_HANDSHAKE_TIMEOUT in phase
 * awaiting-propose, `tentacle doctor` (run in the container's network namespace) names the stuck
 * accept queue and the listen-queue overflow; resumed, it completes a handshake within 2 s with
 * no socket in CLOSE_WAIT and the mesh is full again. Afterwards nothing is left.
 *
 * Run by `node scripts/run-tests.mjs --docker` (root: the engine, nsenter for tc and /proc).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { dockerNet } from './lib/docker-net.js'
import { freezeAndThaw } from './lib/scenarios.js'

const project = `tnfreeze${process.pid}`

describe('docker test net: a frozen node', { timeout: 900_000 }, () => {
  const docker = dockerNet(project)

  test('a node paused for 30 s: dropped, handshakes time out in a named phase, doctor names the overflow; resumed, serves within 2 s, no CLOSE_WAIT', async (t) => {
    const r = await freezeAndThaw(docker.net, 'node4', {
      holdMs: 30_000,
      doctor: {
        pid: () => docker.net.nodePid('node4'),
        // Doctor runs on the host in the container's network namespace (its /proc/net), like an
        // operator with nsenter. docker pause freezes the cgroup, which /proc does not show as a
        // stopped process, so only the queue findings are expected.
        wrap: async (argv) => ['nsenter', '-t', argv[argv.indexOf('--pid') + 1], '-n', ...argv],
        expect: ['accept-queue-stuck', 'listen-overflow'],
      },
    })
    assert.ok(r.frozenMs >= 30_000)
    t.diagnostic(
      `frozen ${r.frozenMs} ms; dropped after ${r.droppedMs} ms; ${r.handshakeError.code} (${r.handshakeError.phase}); served ${r.servesAfterMs} ms after resuming; mesh back after ${r.backMs} ms`,
    )
  })
})
