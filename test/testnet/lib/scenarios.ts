/**
 * The test-net scenarios, written once against the TestNet interface and run
 * by the local back end (npm test) and the docker back end (--docker).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder, type Service, type TentacleError } from '@tentacle-ts/tentacle'
import { optionValues } from '../../../packages/cli/src/testnet/compose.js'
import type { NodeStatus, TestNet } from '../../../packages/cli/src/testnet/index.js'
import { isFullMesh, meshReport, waitForMesh, waitForStatus } from '../../../packages/cli/src/testnet/index.js'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const COMPOSE_FILE = fileURLToPath(new URL('../../../docker-compose.yml', import.meta.url))
export const TENTACLE_BIN = fileURLToPath(new URL('../../../packages/cli/bin/tentacle.js', import.meta.url))

/** The convergence bound the issue sets. */
export const MESH_MS = 30_000

/** A numeric option of a node's command in the compose file (ping timeout etc.). */
export function commandMs(net: TestNet, name: string, option: string): number {
  const s = net.spec.services.find((x) => x.name === name)!
  const v = optionValues(s.command, option)[0]
  assert.ok(v !== undefined, `${name} has no ${option} in the compose file`)
  return Number(v)
}

export function peerIdOf(rows: readonly NodeStatus[], name: string): string {
  const id = rows.find((r) => r.name === name)?.peerId
  assert.ok(id !== undefined, `no peer id for ${name}: ${meshReport(rows)}`)
  return id
}

/** Resolves when every node of `others` no longer has a session with `peerId`; returns the time it took. */
export async function waitDropped(
  net: TestNet,
  others: readonly string[],
  peerId: string,
  timeoutMs: number,
  since = Date.now(),
): Promise<number> {
  await waitForStatus(
    net,
    (rows) => rows.every((r) => r.up && !r.peers.includes(peerId)),
    `${others.join(',')} drop ${peerId.slice(0, 10)}`,
    {
      names: others,
      timeoutMs,
      intervalMs: 100,
    },
  )
  return Date.now() - since
}

/** A bare tentacle-ts service that dials nodes to check their handshake (no protocols needed). */
export function prober(timeoutMs: number): Service {
  return new ServiceBuilder().key(SecioKeyPair.generate()).configure({ timeoutMs }).build({})
}

/** With TESTNET_DEBUG_DIR set, a failed wait leaves every node's status and log there. */
async function dumpForDebugging(net: TestNet, why: string): Promise<void> {
  const dir = process.env.TESTNET_DEBUG_DIR
  if (dir === undefined) return
  const { mkdirSync, writeFileSync } = await import('node:fs')
  const at = `${dir}/${Date.now()}`
  mkdirSync(at, { recursive: true })
  writeFileSync(`${at}/why.txt`, why)
  writeFileSync(`${at}/status.json`, JSON.stringify(await net.status(), null, 2))
  for (const n of net.nodes) writeFileSync(`${at}/${n}.log`, await net.logs(n))
}

/** The net converges to a full mesh within 30 s. */
export async function expectMesh(
  net: TestNet,
  names: readonly string[] = net.nodes,
  timeoutMs = MESH_MS,
): Promise<NodeStatus[]> {
  const t0 = Date.now()
  const rows = await waitForMesh(net, { names, timeoutMs }).catch(async (err: Error) => {
    await dumpForDebugging(net, err.message)
    throw err
  })
  assert.ok(isFullMesh(rows, names))
  return Object.assign(rows, { elapsedMs: Date.now() - t0 })
}

/**
 * A killed node is dropped by every other node within the ping timeout (a
 * SIGKILLed process's sockets are reset by the kernel, so it is usually at
 * once); restarted, the mesh is full again within 30 s.
 */
export async function killAndRestart(net: TestNet, name: string): Promise<{ droppedMs: number; backMs: number }> {
  const rows = await expectMesh(net)
  const id = peerIdOf(rows, name)
  const others = net.nodes.filter((n) => n !== name)
  const pingTimeout = commandMs(net, others[0], '--ping-timeout')
  const t0 = Date.now()
  await net.kill(name)
  const droppedMs = await waitDropped(net, others, id, pingTimeout + 2_000, t0)
  assert.ok(droppedMs <= pingTimeout + 2_000, `dropped after ${droppedMs} ms, ping timeout ${pingTimeout} ms`)
  const t1 = Date.now()
  await net.restart(name)
  const back = await expectMesh(net)
  // Its key file keeps its identity, as a CKB node's does: the others see the same peer again.
  assert.equal(peerIdOf(back, name), id)
  return { droppedMs, backMs: Date.now() - t1 }
}

export interface FreezeResult {
  frozenMs: number
  droppedMs: number
  handshakeError: TentacleError
  doctor: { findings: { id: string; title: string }[] } | undefined
  servesAfterMs: number
  closeWait: number
  backMs: number
}

/**
 * The seed's stalled node: SIGSTOP (or docker pause) keeps its sockets open
 * and its listen queue filling. Its peers drop it by ping timeout; a new
 * handshake to it fails with TENTACLE_ERR_HANDSHAKE_TIMEOUT naming the phase it was
 * stuck in; `tentacle doctor` names the stopped process and the full listen
 * queue (when `doctorPid` gives the node's pid on this host); after it resumes
 * it completes a handshake within 2 s with no socket left in CLOSE_WAIT, and
 * the mesh is full again.
 */
export interface DoctorCheck {
  /** The node's pid as the doctor process sees it. */
  pid: () => Promise<number>
  /** Wraps the doctor command line (e.g. nsenter into the container's network namespace). */
  wrap?: (argv: string[]) => Promise<string[]>
  /** Finding ids that must be reported. */
  expect: readonly string[]
}

export async function freezeAndThaw(
  net: TestNet,
  name: string,
  opts: { doctor?: DoctorCheck; holdMs?: number } = {},
): Promise<FreezeResult> {
  const rows = await expectMesh(net)
  const id = peerIdOf(rows, name)
  const others = net.nodes.filter((n) => n !== name)
  const pingTimeout = commandMs(net, others[0], '--ping-timeout')
  const pingInterval = commandMs(net, others[0], '--ping-interval')
  const addr = await net.p2pAddress(name)
  const probe = prober(2_000)
  const flood: Socket[] = []
  try {
    const t0 = Date.now()
    await net.freeze(name)
    // Unanswered pings: the next ping goes out within an interval, its timeout is noticed at the
    // first ping tick past it (CKB checks on the interval), plus slack for a busy machine.
    const bound = pingTimeout + 2 * pingInterval + 4_000
    const droppedMs = await waitDropped(net, others, id, bound, t0)

    const handshakeError = await probe.dial(`${addr}/p2p/${id}`).then(
      () => assert.fail('a handshake with a frozen node succeeded'),
      (err: TentacleError) => err,
    )
    assert.equal(handshakeError.code, 'TENTACLE_ERR_HANDSHAKE_TIMEOUT', handshakeError.message)
    assert.equal(handshakeError.phase, 'awaiting-propose')
    assert.match(handshakeError.message, /awaiting-propose/)

    let doctor: FreezeResult['doctor']
    if (opts.doctor !== undefined) {
      // Connections the frozen node cannot accept fill its listen queue (--listen-backlog in the
      // compose file) while doctor watches; the rest overflow it.
      const backlog = commandMs(net, name, '--listen-backlog')
      const { host, port } = hostPort(addr)
      const open = (n: number): void => {
        for (let i = 0; i < n && flood.length < 2_000; i++) {
          const s = connect({ host, port })
          s.on('error', () => {})
          flood.push(s)
        }
      }
      // Fill the queue before doctor looks, and keep knocking while it samples.
      open(backlog * 2 + 16)
      const knock = setInterval(() => open(8), 100) // the pace is the scenario, not a synchronization
      const doctorRun = runDoctor(await opts.doctor.pid(), 1_500, opts.doctor.wrap).finally(() => clearInterval(knock))
      doctor = await doctorRun
      const ids = doctor.findings.map((f) => f.id)
      for (const want of opts.doctor.expect)
        assert.ok(ids.includes(want), `doctor did not report ${want}: ${ids.join(', ')}`)
    }
    // The peers that gave up: their sockets wait, closed, in the node's queue.
    for (const s of flood) s.destroy()
    // The rest of the freeze, when asked for a longer one (the fault's length is what is tested).
    // (Timers may fire a millisecond early: wait until the clock says so.)
    for (let rest = t0 + (opts.holdMs ?? 0) - Date.now(); rest > 0; rest = t0 + (opts.holdMs ?? 0) - Date.now()) {
      await new Promise((r) => setTimeout(r, rest + 1))
    }

    const t1 = Date.now()
    const frozenMs = t1 - t0
    await net.thaw(name)
    await probe.dial(`${addr}/p2p/${id}`)
    const servesAfterMs = Date.now() - t1
    assert.ok(servesAfterMs <= 2_000, `served ${servesAfterMs} ms after resuming`)
    // Whatever queued up while frozen is accepted and closed: nothing stays in CLOSE_WAIT.
    // (Kernel socket states have no event to wait on: they are polled, bounded.)
    let closeWait = -1
    const cwDeadline = t1 + 2_000
    for (;;) {
      closeWait = (await net.socketStates(name)).get('CLOSE_WAIT') ?? 0
      if (closeWait === 0 || Date.now() >= cwDeadline) break
      await new Promise((r) => setTimeout(r, 100))
    }
    assert.equal(closeWait, 0, `${closeWait} sockets in CLOSE_WAIT 2 s after resuming`)
    const t2 = Date.now()
    await expectMesh(net)
    return { frozenMs, droppedMs, handshakeError, doctor, servesAfterMs, closeWait, backMs: Date.now() - t2 }
  } finally {
    for (const s of flood) s.destroy()
    await probe.close()
  }
}

/**
 * A partition: `group` is cut off the net's network. Both sides drop each other by ping
 * timeout (the rest keeps its own full mesh); healed, the whole mesh is back within 30 s.
 */
export async function partitionAndHeal(
  net: TestNet,
  group: readonly string[],
): Promise<{ splitMs: number; healMs: number }> {
  const rows = await expectMesh(net)
  const ids = group.map((n) => peerIdOf(rows, n))
  const rest = net.nodes.filter((n) => !group.includes(n))
  const bound = commandMs(net, rest[0], '--ping-timeout') + commandMs(net, rest[0], '--ping-interval') + 5_000
  const t0 = Date.now()
  for (const n of group) await net.cut(n)
  try {
    await waitForStatus(
      net,
      (r) => isFullMesh(r, rest) && r.every((x) => !x.peers.some((p) => ids.includes(p))),
      'the rest drops the cut nodes',
      {
        names: rest,
        timeoutMs: bound,
      },
    )
    // The cut nodes reach nobody: each has dropped every peer.
    await waitForStatus(net, (r) => r.every((x) => x.up && x.peers.length === 0), 'the cut nodes drop everyone', {
      names: group,
      timeoutMs: bound,
    })
  } finally {
    for (const n of group) await net.heal(n)
  }
  const splitMs = Date.now() - t0
  const t1 = Date.now()
  await expectMesh(net)
  return { splitMs, healMs: Date.now() - t1 }
}

/**
 * Slowed links (a token-bucket filter on `slowed`): a node restarted into them still joins
 * the full mesh within 30 s.
 */
export async function slowedConverges(
  net: TestNet,
  slowed: readonly string[],
  restart: string,
  rateKbit = 128,
): Promise<{ backMs: number }> {
  await expectMesh(net)
  for (const n of slowed) await net.slow(n, { rateKbit })
  try {
    await net.kill(restart)
    const t0 = Date.now()
    await net.restart(restart)
    await expectMesh(net)
    return { backMs: Date.now() - t0 }
  } finally {
    for (const n of slowed) await net.unslow(n)
  }
}

function hostPort(multiaddr: string): { host: string; port: number } {
  const m = /^\/ip4\/([^/]+)\/tcp\/(\d+)/.exec(multiaddr)
  assert.ok(m !== null, multiaddr)
  return { host: m[1], port: Number(m[2]) }
}

const execFileP = promisify(execFile)

/** `tentacle doctor --pid PID --json` (exit 1 = findings, which is what we want here). */
export async function runDoctor(
  pid: number,
  sampleMs: number,
  wrap?: (argv: string[]) => Promise<string[]>,
): Promise<{ findings: { id: string; title: string }[] }> {
  let argv = [process.execPath, TENTACLE_BIN, 'doctor', '--pid', String(pid), '--json', '--sample-ms', String(sampleMs)]
  if (wrap !== undefined) argv = await wrap(argv)
  const res = await execFileP(argv[0], argv.slice(1), { timeout: sampleMs + 20_000 }).catch(
    (err: { stdout?: string; code?: number }) => {
      if (err.code === 1 && err.stdout) return { stdout: err.stdout }
      throw err
    },
  )
  return JSON.parse(res.stdout) as { findings: { id: string; title: string }[] }
}
