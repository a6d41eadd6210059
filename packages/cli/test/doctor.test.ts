import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { spawn } from 'node:child_process'
import { kernelSockets } from '@tentacle-ts/tentacle'
import { eventually, json, runCli, startNode, type NodeProc } from './helpers.js'
import type { DoctorReport, Finding } from '../src/doctor/diagnose.js'

const LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn']

/**
 * The JSON report, then the human text from a second run. Not at the same time: a scrape
 * resets the node's event-loop-delay maximum, so two runs at once would split it. The
 * situations set up below must therefore hold for both runs.
 */
async function doctor(args: string[]): Promise<{ code: number | null; report: DoctorReport; text: string }> {
  const r = await runCli(['doctor', ...args, '--json'])
  const human = await runCli(['doctor', ...args, '--sample-ms', '0'])
  return { code: r.code, report: json<DoctorReport>(r), text: human.stdout }
}

const serious = (r: DoctorReport): Finding[] => r.findings.filter((f) => f.severity !== 'info')
const find = (r: DoctorReport, id: string): Finding | undefined => r.findings.find((f) => f.id === id)

/** Opens a TCP connection that sends nothing; resolves once connected (or refused/reset). */
function silentClient(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1')
  s.on('error', () => {})
  return new Promise((resolve) => {
    s.once('connect', () => resolve(s))
    s.once('close', () => resolve(s))
  })
}

async function metricsBase(node: NodeProc): Promise<string> {
  assert.ok(node.ready.metrics)
  return node.ready.metrics
}

test('doctor: a healthy node gets a clean report (exit 0) with its port, process and open files', async () => {
  const node = await startNode([...LISTEN, '--metrics', '127.0.0.1:0'])
  try {
    const byPort = await doctor(['--port', String(node.port), '--metrics', await metricsBase(node)])
    assert.equal(byPort.code, 0, JSON.stringify(byPort.report))
    assert.equal(byPort.report.healthy, true)
    assert.deepEqual(serious(byPort.report), [])
    assert.equal(byPort.report.observed.pid, node.child.pid)
    assert.deepEqual(byPort.report.observed.ports, [node.port])
    assert.deepEqual(byPort.report.observed.acceptQueue[node.port], { min: 0, max: 0 })
    assert.ok((byPort.report.observed.fds?.open ?? 0) > 0)
    assert.deepEqual(byPort.report.observed.metrics, {
      ok: true,
      samples: byPort.report.observed.metrics?.ok ? byPort.report.observed.metrics.samples : -1,
    })
    assert.match(byPort.text, /^Healthy: nothing to fix\.$/m)

    const byPid = await doctor(['--pid', String(node.child.pid), '--metrics', await metricsBase(node)])
    assert.equal(byPid.code, 0)
    assert.deepEqual(byPid.report.observed.ports, [node.port], 'the metrics port is not taken for a p2p port')
  } finally {
    await node.stop()
  }
})

test('doctor: finds the metrics of a node from its command line, also when --metrics was port 0 (the default)', async () => {
  const probe = net.createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((r) => probe.close(r))
  const node = await startNode(['--listen', `/ip4/127.0.0.1/tcp/${port}`, '--log-level', 'warn'])
  try {
    for (const by of [
      ['--port', String(port)],
      ['--pid', String(node.child.pid)],
    ]) {
      const { code, report } = await doctor([...by, '--sample-ms', '0'])
      assert.equal(code, 0, JSON.stringify(report))
      assert.equal(report.observed.metricsUrl, node.ready.metrics)
      assert.equal(report.observed.metrics?.ok, true)
      assert.deepEqual(report.observed.ports, [port])
    }
  } finally {
    await node.stop()
  }
})

test('doctor: nothing on the port is critical and says so', async () => {
  const s = net.createServer()
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  const { code, report } = await doctor(['--port', String(port)])
  assert.equal(code, 1)
  assert.equal(find(report, 'no-listener')?.severity, 'critical')
})

test('doctor: a stopped node with connections queued -> process-stopped, accept-queue-stuck, listen-overflow', async () => {
  const node = await startNode([...LISTEN, '--listen-backlog', '2', '--metrics', '127.0.0.1:0'])
  const clients: net.Socket[] = []
  try {
    node.child.kill('SIGSTOP')
    for (let i = 0; i < 6; i++) clients.push(net.connect(node.port, '127.0.0.1').on('error', () => {}))
    await eventually('connections in the accept queue', async () => {
      const l = (await kernelSockets(node.port)).find((s) => s.state === 'LISTEN')
      return l !== undefined && l.rxQueue >= 2 ? true : undefined
    })
    // Keep knocking while doctor watches: every new SYN finds the queue full (the pace is
    // the scenario, not a synchronization).
    const knock = setInterval(() => clients.push(net.connect(node.port, '127.0.0.1').on('error', () => {})), 100)
    let res
    try {
      res = await doctor(['--port', String(node.port), '--metrics', await metricsBase(node), '--sample-ms', '1500'])
    } finally {
      clearInterval(knock)
    }
    const { code, report, text } = res
    assert.equal(code, 1)
    assert.equal(find(report, 'process-stopped')?.severity, 'critical')
    const stuck = find(report, 'accept-queue-stuck')
    assert.equal(stuck?.severity, 'critical')
    assert.ok((stuck?.data?.min as number) >= 2)
    assert.equal(find(report, 'listen-overflow')?.severity, 'critical', JSON.stringify(report.observed.listenCounters))
    assert.equal(find(report, 'metrics-unreachable')?.severity, 'warn')
    assert.match(text, /^CRITICAL {2}process \d+ \(.*\) is stopped$/m)
    assert.match(text, /kill -CONT \d+/)
    assert.match(text, /connections wait in the kernel's accept queue and are not being accepted/)
  } finally {
    for (const c of clients) c.destroy()
    await node.stop()
  }
})

test('doctor: a node whose event loop was blocked -> event-loop-delay (from its metrics)', async () => {
  const node = await startNode([...LISTEN, '--metrics', '127.0.0.1:0'])
  try {
    // The delay monitor's first tick (20 ms after start) only sets its baseline: a stop before it goes unseen.
    // No event tells it happened, so this is a bound on a 20 ms timer, 15× over.
    await new Promise((r) => setTimeout(r, 300))
    node.child.kill('SIGSTOP')
    await new Promise((r) => setTimeout(r, 1_200)) // the stall the doctor must see (≥ 1 s) is the test
    node.child.kill('SIGCONT')
    const { code, report } = await doctor([
      '--pid',
      String(node.child.pid),
      '--metrics',
      await metricsBase(node),
      '--sample-ms',
      '200',
    ])
    assert.equal(code, 1, JSON.stringify(report))
    const f = find(report, 'event-loop-delay')
    assert.equal(f?.severity, 'critical', JSON.stringify(report))
    assert.ok((f?.data?.maxSeconds as number) >= 1)
  } finally {
    await node.stop()
  }
})

test('doctor: peers that never answer the handshake -> handshake-failures in phase awaiting-propose', async () => {
  const node = await startNode([...LISTEN, '--metrics', '127.0.0.1:0', '--handshake-timeout', '300'])
  try {
    const silent = await Promise.all([1, 2, 3].map(() => silentClient(node.port)))
    // The node closes each at its handshake deadline.
    await Promise.all(silent.map((s) => (s.destroyed ? undefined : once(s, 'close'))))
    const { code, report, text } = await doctor([
      '--port',
      String(node.port),
      '--metrics',
      await metricsBase(node),
      '--sample-ms',
      '200',
    ])
    assert.equal(code, 1)
    const f = find(report, 'handshake-failures')
    assert.equal(f?.severity, 'warn')
    assert.equal(f?.data?.phase, 'awaiting-propose')
    assert.deepEqual(f?.data?.byOutcome, { 'inbound:TENTACLE_ERR_HANDSHAKE_TIMEOUT': 3 })
    assert.match(text, /3 handshakes failed in phase awaiting-propose/)
    assert.match(text, /connected and stayed silent/)
  } finally {
    await node.stop()
  }
})

test('doctor: a node out of file descriptors -> fd-limit critical, naming EMFILE', async () => {
  const LIMIT = 64
  // The descriptors are held by connections in the handshake: a deadline far past the test
  // keeps the table full however slowly the machine runs.
  const node = await startNode([...LISTEN, '--handshake-timeout', '60000'], {
    prefix: ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--'],
  })
  const clients: net.Socket[] = []
  try {
    // Fill the table: once it is full libuv accepts and closes at once (its EMFILE trick), which the client sees as a close.
    const turnedAway = new Promise<void>((resolve) => {
      const open = (): void => {
        const s = net.connect(node.port, '127.0.0.1').on('error', () => {})
        clients.push(s)
        s.once('close', () => resolve())
        if (clients.length < LIMIT * 2) s.once('connect', open)
      }
      open()
    })
    await turnedAway
    const { code, report, text } = await doctor(['--pid', String(node.child.pid), '--sample-ms', '200'])
    assert.equal(code, 1)
    const fd = find(report, 'fd-limit')
    assert.equal(fd?.severity, 'critical', JSON.stringify(report.observed))
    assert.equal(fd?.data?.limit, LIMIT)
    assert.ok((fd?.data?.open as number) >= LIMIT * 0.95)
    assert.match(text, new RegExp(`^CRITICAL  \\d+ of ${LIMIT} file descriptors open`, 'm'))
    assert.match(text, /accept\(2\) fails with EMFILE/)
  } finally {
    for (const c of clients) c.destroy()
    await node.stop()
  }
})

test('doctor: sockets its peers closed but the process never closes -> close-wait', async () => {
  // A server that leaks: it keeps every socket half-open after the peer's FIN.
  const leaky = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer({allowHalfOpen:true},c=>c.on('end',()=>console.log('END'))).listen(0,'127.0.0.1',()=>console.log('PORT '+s.address().port))",
    ],
    // stderr not inherited: a child left behind must not hold the test runner's pipe open.
    { stdio: ['ignore', 'pipe', 'ignore'] },
  )
  const clients: net.Socket[] = []
  try {
    // One listener for the child's whole life: output that arrives between two waits is kept
    // (a flowing stream with no 'data' listener drops it: the ENDs of fast clients were lost).
    let out = ''
    let changed = (): void => {}
    leaky.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      changed()
    })
    const lines = (pred: (o: string) => boolean, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`leaky server: no ${what} within 20 s; output: ${JSON.stringify(out)}`)),
          20_000,
        )
        changed = () => {
          if (!pred(out)) return
          clearTimeout(timer)
          changed = () => {}
          resolve()
        }
        changed()
      })
    await lines((o) => /PORT \d+\n/.test(o), 'PORT line')
    const port = Number(/PORT (\d+)/.exec(out)?.[1])
    for (let i = 0; i < 3; i++) {
      const c = await silentClient(port)
      clients.push(c)
      c.end()
    }
    await lines((o) => (o.match(/END/g) ?? []).length === 3, 'three ENDs')
    const { code, report, text } = await doctor(['--port', String(port), '--sample-ms', '300'])
    assert.equal(code, 1)
    const f = find(report, 'close-wait')
    assert.equal(f?.severity, 'warn')
    assert.equal(f?.data?.count, 3)
    assert.equal(report.observed.pid, leaky.pid)
    assert.match(text, /3 sockets stayed in CLOSE_WAIT for the whole sample/)
  } finally {
    for (const c of clients) c.destroy()
    leaky.kill('SIGKILL')
    await once(leaky, 'close')
  }
})
