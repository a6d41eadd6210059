// tentacle's tests/test_kill.rs (rust-libp2p #648): a peer process dials us
// and streams messages; we SIGKILL it. The kernel ends its TCP connection, so
// our side must see the protocol's `disconnected` and `session-close` at once,
// and after several kill cycles the process must be idle (CPU), its heap must
// not have grown, and every closed session must be collectable (js-libp2p
// #2477: sockets, sessions and timers kept alive after close).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import vm from 'node:vm'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ChildProcess } from 'node:child_process'
import { Service, type SessionCloseReason, type SessionId } from '../src/index.js'
import { sessionsForTest } from '../src/service.js'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { eventually, fixture, reap, spawnTs, waitForLine } from './helpers.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

/** Kill-to-close bound: far below every timeout that could also close the session (10 s and more). */
const PROMPT_MS = 3_000
const CYCLES = 5

interface SessionRecord {
  received: number
  receivedBytes: number
  connected: boolean
  disconnectedAt?: number
  closedAt?: number
  /** session-close's reason and error code. */
  closed?: { reason: SessionCloseReason; code: string | undefined }
}

/**
 * Our side (the Rust test's listener): protocol 1 echoes by broadcast, as
 * test_kill's PHandle does. It records only numbers, so it keeps no session
 * object alive; every session it sees is registered for finalization.
 */
class Listener {
  readonly service: Service
  readonly sessions = new Map<SessionId, SessionRecord>()
  readonly alive = new Set<string>()
  private readonly finalized = new FinalizationRegistry<string>((tag) => this.alive.delete(tag))
  private readonly wakers = new Set<() => void>()
  address = ''

  constructor(opts: { secio: boolean; echo: boolean }) {
    const record = (id: SessionId): SessionRecord => {
      let r = this.sessions.get(id)
      if (r === undefined) {
        r = { received: 0, receivedBytes: 0, connected: false }
        this.sessions.set(id, r)
      }
      return r
    }
    this.service = new Service({
      key: opts.secio ? SecioKeyPair.generate() : undefined,
      protocols: [
        {
          id: 1,
          handler: {
            connected: (ctx) => {
              record(ctx.session.id).connected = true
              this.wake()
            },
            disconnected: (ctx) => {
              record(ctx.session.id).disconnectedAt = performance.now()
              this.wake()
            },
            received: (ctx, data) => {
              const r = record(ctx.session.id)
              r.received++
              r.receivedBytes += data.length
              if (opts.echo) ctx.control.broadcast({ kind: 'all' }, 1, data)
              this.wake()
            },
          },
        },
      ],
      handler: {
        handleEvent: (e) => {
          if (e.type === 'session-open') this.watch(e.session.id, e.session)
          if (e.type === 'session-close') {
            const r = record(e.session.id)
            r.closedAt = performance.now()
            r.closed = { reason: e.reason, code: e.error?.code }
          }
          this.wake()
        },
      },
    })
  }

  async listen(): Promise<void> {
    this.address = (await this.service.listen('/ip4/127.0.0.1/tcp/0')).toString()
  }

  /** Registers the session's public object and (white box) its yamux session for finalization. */
  private watch(id: SessionId, info: object): void {
    this.finalized.register(info, `session ${id}`)
    this.alive.add(`session ${id}`)
    const internal = sessionsForTest(this.service).get(id)
    assert.ok(internal !== undefined, 'white box: Service.sessionsById holds the session')
    this.finalized.register(internal.mux, `yamux ${id}`)
    this.alive.add(`yamux ${id}`)
  }

  /** White box: bytes queued on a session's protocols and not yet handed to yamux. */
  pendingBytes(id: SessionId): number | undefined {
    return sessionsForTest(this.service).get(id)?.pendingBytes
  }

  private wake(): void {
    for (const w of [...this.wakers]) w()
  }

  /** Resolves once `pred()` holds, re-checked on every recorded event; rejects after `ms`. */
  until(pred: () => boolean, ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (pred()) return resolve()
      const check = (): void => {
        if (!pred()) return
        clearTimeout(timer)
        this.wakers.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.wakers.delete(check)
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`))
      }, ms)
      this.wakers.add(check)
    })
  }

  /** The one session of this cycle: the newest one. */
  newest(): SessionId | undefined {
    return [...this.sessions.keys()].pop()
  }
}

/** Spawns the peer and waits until its protocol 1 is open on our side too. */
async function startPeer(
  l: Listener,
  mode: 'echo' | 'sink',
  security: 'secio' | 'plain',
): Promise<{ child: ChildProcess; id: SessionId }> {
  const before = l.sessions.size
  const child = spawnTs(fixture('kill-peer.ts'), [l.address, mode, security], { stdin: true })
  try {
    await waitForLine(child, /^open$/, 30_000)
    await l.until(
      () => l.sessions.size > before && l.sessions.get(l.newest() as SessionId)?.connected === true,
      10_000,
      'protocol 1 open',
    )
    return { child, id: l.newest() as SessionId }
  } catch (err) {
    await reap(child)
    throw err
  }
}

/** SIGKILLs the peer; resolves with how long our side took to see `disconnected` and `session-close`. */
async function killAndWait(
  l: Listener,
  child: ChildProcess,
  id: SessionId,
): Promise<{ disconnectedMs: number; closedMs: number }> {
  const r = l.sessions.get(id) as SessionRecord
  const t0 = performance.now()
  await reap(child) // SIGKILL, then wait for the exit
  await l.until(() => r.closedAt !== undefined, 10_000, `session-close of session ${id}`)
  assert.ok(r.disconnectedAt !== undefined && r.closedAt !== undefined)
  assert.ok(r.disconnectedAt <= r.closedAt, 'disconnected is called before session-close')
  // A killed peer: the connection was lost (at a frame boundary, reset, or inside a message).
  assert.ok(
    r.closed !== undefined && ['connection-eof', 'connection-reset', 'truncated'].includes(r.closed.reason),
    `session-close reason ${r.closed?.reason}`,
  )
  assert.equal(r.closed.code, 'TENTACLE_ERR_CONNECTION_LOST')
  return { disconnectedMs: r.disconnectedAt - t0, closedMs: r.closedAt - t0 }
}

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc()
  return process.memoryUsage().heapUsed
}

/** Runs gc until every watched object was finalized, at most ~3 s. */
async function collectAll(l: Listener): Promise<void> {
  for (let i = 0; i < 100 && l.alive.size > 0; i++) {
    gc()
    await sleep(30)
  }
  assert.deepEqual([...l.alive], [], 'closed sessions were garbage collected (js-libp2p #2477)')
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

/** CPU used by this process over `ms` of wall time, in cores. */
async function cpuOver(ms: number): Promise<number> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await sleep(ms)
  const c = process.cpuUsage(c0)
  return (c.user + c.system) / 1000 / (performance.now() - t0)
}

for (const security of ['secio', 'plain'] as const) {
  test(
    `peer SIGKILLed mid-stream, ${CYCLES} times (${security}): disconnected and session-close at once, then idle CPU, no heap growth, sessions collected (test_kill)`,
    { timeout: 120_000 },
    async (t) => {
      const l = new Listener({ secio: security === 'secio', echo: true })
      await l.listen()
      try {
        const timersBefore = activeTimers()
        let heapBase = 0
        const closes: number[] = []
        for (let cycle = 0; cycle < CYCLES; cycle++) {
          const { child, id } = await startPeer(l, 'echo', security)
          // Mid-stream: both sides echo every message, so traffic never stops.
          await l.until(() => (l.sessions.get(id)?.received ?? 0) >= 200, 10_000, '200 messages from the peer')
          const { disconnectedMs, closedMs } = await killAndWait(l, child, id)
          assert.ok(closedMs < PROMPT_MS, `cycle ${cycle}: session-close ${closedMs.toFixed(0)} ms after the kill`)
          assert.ok(
            disconnectedMs < PROMPT_MS,
            `cycle ${cycle}: disconnected ${disconnectedMs.toFixed(0)} ms after the kill`,
          )
          closes.push(Math.round(closedMs))
          assert.equal(l.service.sessions().length, 0)
          // The first cycle warms up (code loaded and compiled): the heap is measured from after it.
          if (cycle === 0) heapBase = heapAfterGc()
        }
        await collectAll(l)
        const heapEnd = heapAfterGc()
        const growth = (heapEnd - heapBase) / heapBase
        t.diagnostic(
          `session-close after kill (ms): ${closes.join(' ')}; heap after GC ${heapBase} -> ${heapEnd} bytes (${(growth * 100).toFixed(1)}%)`,
        )
        assert.ok(
          growth < 0.1,
          `heap after GC grew ${(growth * 100).toFixed(1)}% (${heapBase} -> ${heapEnd} bytes) over ${CYCLES - 1} kill cycles`,
        )
        assert.equal(activeTimers(), timersBefore, 'no timer outlives its session')
        assert.equal(l.service.connectionCount, 0)
        const cpu = await cpuOver(1_000)
        t.diagnostic(`idle CPU ${(cpu * 100).toFixed(2)}% of a core`)
        assert.ok(cpu < 0.1, `idle after the kills: ${(cpu * 100).toFixed(1)}% of a core`)
      } finally {
        await l.service.shutdown()
      }
    },
  )
}

test(
  'a peer we dialed is SIGKILLed mid-stream (secio): disconnected and session-close at once, no session or timer left',
  { timeout: 60_000 },
  async (t) => {
    // The other direction of test_kill: here the killed process is the listener and our side
    // holds the outbound connection.
    const l = new Listener({ secio: true, echo: true })
    const timersBefore = activeTimers()
    const child = spawnTs(fixture('kill-peer.ts'), ['listen', 'echo', 'secio'], { stdin: true })
    try {
      const [, address] = await waitForLine(child, /^LISTENING (\S+)$/, 30_000)
      await l.service.dial(address!)
      await l.until(() => l.sessions.get(l.newest() as SessionId)?.connected === true, 10_000, 'protocol 1 open')
      const id = l.newest() as SessionId
      await l.until(() => (l.sessions.get(id)?.received ?? 0) >= 200, 10_000, '200 messages from the peer')
      const { disconnectedMs, closedMs } = await killAndWait(l, child, id)
      t.diagnostic(`session-close ${closedMs.toFixed(0)} ms after the kill`)
      assert.ok(closedMs < PROMPT_MS, `session-close ${closedMs.toFixed(0)} ms after the kill`)
      assert.ok(disconnectedMs < PROMPT_MS, `disconnected ${disconnectedMs.toFixed(0)} ms after the kill`)
      assert.deepEqual(l.service.sessions(), [])
      assert.equal(l.service.connectionCount, 0)
      assert.equal(activeTimers(), timersBefore, 'no timer outlives the session')
      await collectAll(l)
    } finally {
      await reap(child)
      await l.service.shutdown()
    }
  },
)

for (const how of ['stopped reading', 'frozen by SIGSTOP'] as const) {
  test(
    `peer SIGKILLed while our writes to it are blocked (${how}): the send queue is released, no session and no timer left`,
    { timeout: 60_000 },
    async (t) => {
      const l = new Listener({ secio: true, echo: false })
      await l.listen()
      let child: ChildProcess | undefined
      try {
        const timersBefore = activeTimers()
        const started = await startPeer(l, 'sink', 'secio')
        child = started.child
        const { id } = started
        // Frozen, it reads nothing at all: the kernel buffers fill and its socket
        // holds unread bytes when it dies (the kernel then answers with RST).
        if (how === 'frozen by SIGSTOP') child.kill('SIGSTOP')
        // 4 MiB in 64 KiB messages. Stopped reading, the peer takes one message,
        // then its yamux window (256 KiB) fills; either way our protocol stream
        // ends up waiting for send window with the rest queued.
        for (let i = 0; i < 64; i++) l.service.send(id, 1, new Uint8Array(64 * 1024).fill(i))
        if (how === 'stopped reading') await waitForLine(child, /^received$/, 10_000)
        await sleep(300)
        const pending = l.pendingBytes(id) ?? 0
        assert.ok(pending > 1024 * 1024, `our writes are blocked: ${pending} bytes still queued`)
        assert.ok(timersBefore < activeTimers(), 'the blocked session holds timers (keepalive, write stall)')

        const { disconnectedMs, closedMs } = await killAndWait(l, child, id)
        t.diagnostic(`${pending} bytes queued when killed; session-close ${closedMs.toFixed(0)} ms after the kill`)
        assert.ok(closedMs < PROMPT_MS, `session-close ${closedMs.toFixed(0)} ms after the kill`)
        assert.ok(disconnectedMs < PROMPT_MS, `disconnected ${disconnectedMs.toFixed(0)} ms after the kill`)
        assert.deepEqual(l.service.sessions(), [])
        assert.equal(l.service.connectionCount, 0)
        assert.equal(activeTimers(), timersBefore, 'the blocked session left no timer behind')
        await collectAll(l) // the session, its yamux session and the megabytes it had queued are freed
      } finally {
        if (child) await reap(child)
        await l.service.shutdown()
      }
      // shutdown() closed the listening socket's fd; libuv drops the handle in its close phase.
      const keepingAlive = (): string[] =>
        process
          .getActiveResourcesInfo()
          .filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout')
      await eventually(() => keepingAlive().length === 0, 2_000, 'handles released').catch(() => {})
      // Whatever is still active now would keep this file's process from exiting by itself.
      assert.deepEqual(keepingAlive(), [], 'nothing keeps the process alive after shutdown')
    },
  )
}
