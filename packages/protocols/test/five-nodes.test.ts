// The acceptance test: five TS nodes and one bootnode on loopback.
// Every node learns every other through discovery (they only know the
// bootnode) and pings them; then one node, a child process, is frozen
// (SIGSTOP: its sockets stay open, it just stops answering) and every other
// node drops it by the ping timeout; then another node's service is shut
// down abruptly and the rest drop it at once. Synchronized on events, bounded.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { FAST, TestNode } from './helpers.js'

const OPTS = { ...FAST, pingIntervalMs: 300, pingTimeoutMs: 2500, pingCheckIntervalMs: 250 }

interface Child {
  address: string
  peerId: string
  identified: Set<string>
  pinged: Set<string>
  changed: () => void
  kill(signal: NodeJS.Signals): void
  exited: Promise<void>
}

function startChild(bootnode: string): Promise<Child> {
  const fixture = fileURLToPath(new URL('./fixtures/node.ts', import.meta.url))
  const proc = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', fixture, JSON.stringify({ ...OPTS, bootnodes: [bootnode] })],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  return new Promise((resolve, reject) => {
    const child: Child = {
      address: '',
      peerId: '',
      identified: new Set(),
      pinged: new Set(),
      changed: () => {},
      kill: (signal) => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      },
      exited,
    }
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before it was ready`)))
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { event: string; address?: string; peerId?: string; direction?: string }
      if (m.event === 'ready') {
        child.address = m.address!
        child.peerId = m.peerId!
        resolve(child)
      } else if (m.event === 'identified') child.identified.add(m.peerId!)
      else if (m.event === 'ping') child.pinged.add(m.peerId!)
      child.changed()
    })
  })
}

test(
  'five nodes and a bootnode: all learn and ping all; a frozen node is dropped by the ping timeout, a shut-down one at once',
  { timeout: 90_000 },
  async (t) => {
    const boot = await new TestNode(OPTS).start()
    const nodes = [boot]
    t.after(async () => {
      for (const n of nodes) await n.stop()
    })
    for (let i = 0; i < 4; i++) nodes.push(await new TestNode({ ...OPTS, bootnodes: [boot.address] }).start())
    const child = await startChild(boot.address)
    t.after(async () => {
      child.kill('SIGKILL')
      await child.exited
    })
    const all = [...nodes.map((n) => n.peerId), child.peerId]
    const others = (id: string) => all.filter((x) => x !== id)
    const pinged = (n: TestNode) =>
      new Set(n.log.filter((l) => l.event === 'ping').map((l) => (l.payload as { peerId: string }).peerId))

    // Every node identifies (full session, not a feeler) and pings every other one.
    await Promise.all([
      ...nodes.map((n) =>
        n.until(
          () => others(n.peerId).every((p) => n.identifiedPeers().has(p) && pinged(n).has(p)),
          `${n.peerId} knows and pings all`,
          40_000,
        ),
      ),
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child saw only ${[...child.pinged].length} pings`)), 40_000)
        child.changed = () => {
          if (others(child.peerId).every((p) => child.identified.has(p) && child.pinged.has(p))) {
            clearTimeout(timer)
            resolve()
          }
        }
        child.changed()
      }),
    ])
    // Only the bootnode was configured: the rest came from discovery.
    for (const n of nodes.slice(1))
      assert.ok(
        n.log.some((l) => l.event === 'discovered'),
        'learnt addresses through discovery',
      )

    // Freeze the child: every other node drops it with ping-timeout, within interval + timeout + check interval (+ slack).
    // The sessions to wait for are the ones open at the freeze: an earlier session with the child (a feeler,
    // or one of two crossing dials, §12.2) may have been dropped already, as 'closed', before it.
    const live = nodes.map((n) =>
      n.net
        .peers()
        .filter((p) => p.peerId === child.peerId && !p.feeler)
        .map((p) => p.sessionId),
    )
    for (const [i, ids] of live.entries()) assert.ok(ids.length > 0, `node ${i} has a session with the child`)
    const frozenAt = Date.now()
    child.kill('SIGSTOP')
    const drops = await Promise.all(
      nodes.flatMap((n, i) => live[i]!.map((id) => n.waitFor('peer-dropped', (p) => p.sessionId === id, 20_000))),
    )
    const bound = OPTS.pingIntervalMs + OPTS.pingTimeoutMs + OPTS.pingCheckIntervalMs + 1500
    for (const d of drops) assert.equal(d.reason, 'ping-timeout')
    assert.ok(Date.now() - frozenAt <= bound, `dropped after ${Date.now() - frozenAt} ms, bound ${bound}`)
    child.kill('SIGKILL')

    // Shut one in-process node down abruptly: the others drop it at once (EOF), the rest stay connected.
    const gone = nodes.pop()!
    await gone.service.shutdown()
    const goneAt = Date.now()
    await Promise.all(
      nodes.map((n) =>
        n.until(() => !n.net.peers().some((p) => p.peerId === gone.peerId), 'the shut-down node is dropped', 5000),
      ),
    )
    assert.ok(Date.now() - goneAt < OPTS.pingTimeoutMs, 'dropped on EOF, before any ping timeout')
    await gone.net.close()
    for (const n of nodes) {
      const left = others(n.peerId).filter((p) => p !== child.peerId && p !== gone.peerId)
      assert.deepEqual([...n.identifiedPeers()].sort(), left.sort())
    }
  },
)
