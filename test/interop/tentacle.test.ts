import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext, type ServiceErrorEvent, type ServiceEvent } from '@tentacle-ts/tentacle'
import { TentaclePeer, patternBytes, sha256Hex } from './lib/index.js'

/** A TS service that records what happens, with bounded waits. */
function tsNode(protocols: Array<{ id: number; name?: string }>, echo = false) {
  const events: Array<ServiceEvent | ServiceErrorEvent> = []
  const received: Array<{ session: number; proto: number; data: Uint8Array }> = []
  const opened: Array<{ session: number; proto: number; version: string }> = []
  const closed: Array<{ session: number; proto: number }> = []
  const wakers = new Set<() => void>()
  const wake = (): void => {
    for (const w of [...wakers]) w()
  }
  const service = new Service({
    key: SecioKeyPair.generate(),
    protocols: protocols.map((p) => ({
      ...p,
      handler: {
        connected: (ctx: ProtocolSessionContext, version: string) => {
          opened.push({ session: ctx.session.id, proto: ctx.protoId, version })
          wake()
        },
        disconnected: (ctx: ProtocolSessionContext) => {
          closed.push({ session: ctx.session.id, proto: ctx.protoId })
          wake()
        },
        received: (ctx: ProtocolSessionContext, data: Uint8Array) => {
          received.push({ session: ctx.session.id, proto: ctx.protoId, data: Uint8Array.from(data) })
          if (echo) ctx.send(data)
          wake()
        },
      },
    })),
    handler: {
      handleEvent: (e) => {
        events.push(e)
        wake()
      },
      handleError: (e) => {
        events.push(e)
        wake()
      },
    },
  })
  const until = (pred: () => boolean, ms: number, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (pred()) return resolve()
      const timer = setTimeout(() => {
        wakers.delete(check)
        reject(new Error(`timed out (${ms} ms) waiting for ${what}; events: ${events.map((e) => e.type).join(',')}`))
      }, ms)
      const check = (): void => {
        if (pred()) {
          clearTimeout(timer)
          wakers.delete(check)
          resolve()
        }
      }
      wakers.add(check)
    })
  return { service, events, received, opened, closed, until }
}

/** Shuts the TS service down and kills the Rust peer (if it started), even if the shutdown throws. */
async function stopBoth(ts: ReturnType<typeof tsNode>, rust: TentaclePeer | undefined): Promise<void> {
  try {
    await ts.service.shutdown()
  } finally {
    await rust?.kill()
  }
}

test('TS dials Rust: two protocols open, messages both ways (small and 1 MiB), disconnect from TS seen by both', async () => {
  const rust = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0', '--echo'])
  const ts = tsNode([{ id: 1 }, { id: 2 }])
  try {
    const info = await ts.service.dial(`/ip4/127.0.0.1/tcp/${rust.port}/p2p/${rust.peerId}`)
    await ts.until(() => ts.opened.length === 2, 10_000, 'both protocols open')
    ts.service.send(info.id, 1, new TextEncoder().encode('hello rust'))
    const big = patternBytes(1 << 20)
    ts.service.send(info.id, 2, big)
    const got = await rust.waitEvent('received', { proto: 2 }, 20_000)
    assert.equal(got.sha256, sha256Hex(big))
    await ts.until(() => ts.received.length >= 2, 20_000, 'echoes')
    const echoedBig = ts.received.find((r) => r.proto === 2)
    assert.equal(sha256Hex(echoedBig!.data), sha256Hex(big))
    assert.equal(new TextDecoder().decode(ts.received.find((r) => r.proto === 1)!.data), 'hello rust')
    ts.service.disconnect(info.id)
    await rust.waitEvent('session_close', {}, 15_000)
    await ts.until(() => ts.events.some((e) => e.type === 'session-close'), 15_000, 'session-close')
  } finally {
    await stopBoth(ts, rust)
  }
})

test('Rust dials TS: both protocols open, messages both ways, disconnect from Rust seen by both', async () => {
  const ts = tsNode([{ id: 1 }, { id: 2 }], true)
  let rust: TentaclePeer | undefined
  try {
    const addr = await ts.service.listen('/ip4/127.0.0.1/tcp/0')
    rust = await TentaclePeer.start(['--dial', `${addr.toString()}/p2p/${ts.service.peerId}`])
    const open = await rust.waitEvent('session_open', { ty: 'outbound' }, 10_000)
    await rust.waitEvent('protocol_open', { proto: 1 }, 10_000)
    await rust.waitEvent('protocol_open', { proto: 2 }, 10_000)
    await ts.until(() => ts.opened.length === 2, 10_000, 'both protocols open on TS')
    const sessionOpen = ts.events.find((e) => e.type === 'session-open')
    assert.ok(sessionOpen && sessionOpen.type === 'session-open')
    assert.equal(sessionOpen.session.direction, 'inbound')
    assert.equal(sessionOpen.session.remotePeerId, rust.peerId)
    // Rust -> TS (TS echoes back to Rust), small and 1 MiB.
    await rust.call({ cmd: 'send', session: open.session, proto: 1, text: 'hello ts' })
    const e1 = await rust.waitEvent('received', { proto: 1 }, 10_000)
    assert.equal(e1.text, 'hello ts')
    await rust.call({ cmd: 'send', session: open.session, proto: 2, size: 1 << 20, fill: 3 })
    const e2 = await rust.waitEvent('received', { proto: 2 }, 20_000)
    assert.equal(e2.len, 1 << 20)
    assert.equal(e2.sha256, sha256Hex(patternBytes(1 << 20, 3)))
    assert.equal(sha256Hex(ts.received.find((r) => r.proto === 2)!.data), sha256Hex(patternBytes(1 << 20, 3)))
    await rust.call({ cmd: 'disconnect', session: open.session })
    await rust.waitEvent('session_close', {}, 15_000)
    await ts.until(() => ts.events.some((e) => e.type === 'session-close'), 15_000, 'session-close on TS')
    await ts.until(() => ts.closed.length === 2, 5_000, 'both protocols disconnected on TS')
  } finally {
    await stopBoth(ts, rust)
  }
})

test('a protocol only the TS dialer knows fails selection cleanly; the others stay open', async () => {
  const rust = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0', '--echo'])
  const ts = tsNode([{ id: 1 }, { id: 2 }, { id: 3, name: '/only/ts' }])
  try {
    const info = await ts.service.dial(`/ip4/127.0.0.1/tcp/${rust.port}/p2p/${rust.peerId}`)
    await ts.until(
      () => ts.opened.length === 2 && ts.events.some((e) => e.type === 'protocol-select-error'),
      10_000,
      'two open, one refused',
    )
    const err = ts.events.find((e) => e.type === 'protocol-select-error')
    assert.ok(err && err.type === 'protocol-select-error')
    assert.equal(err.protoName, '/only/ts')
    assert.equal(err.error.code, 'TENTACLE_ERR_PROTOCOL_SELECT')
    await rust.waitEvent('protocol_select_error', { name: '/only/ts' }, 10_000)
    ts.service.send(info.id, 1, new TextEncoder().encode('still here'))
    await ts.until(() => ts.received.some((r) => r.proto === 1), 10_000, 'echo on protocol 1')
    assert.deepEqual([...info.openProtocols].sort(), [1, 2])
  } finally {
    await stopBoth(ts, rust)
  }
})

test('a protocol only the Rust dialer knows fails selection cleanly on both sides; the others stay open', async () => {
  const ts = tsNode([{ id: 1 }, { id: 2 }], true)
  let rust: TentaclePeer | undefined
  try {
    const addr = await ts.service.listen('/ip4/127.0.0.1/tcp/0')
    rust = await TentaclePeer.start([
      '--dial',
      addr.toString(),
      '--protocol',
      '1',
      '--protocol',
      '2',
      '--protocol',
      '3:/only/rust:1.0',
    ])
    const open = await rust.waitEvent('session_open', {}, 10_000)
    await rust.waitEvent('protocol_select_error', { name: '/only/rust' }, 10_000)
    await ts.until(
      () => ts.events.some((e) => e.type === 'protocol-select-error' && e.protoName === '/only/rust'),
      10_000,
      'select error on TS',
    )
    await ts.until(() => ts.opened.length === 2, 10_000, 'protocols 1 and 2 open on TS')
    await rust.call({ cmd: 'send', session: open.session, proto: 2, text: 'after refusal' })
    const e = await rust.waitEvent('received', { proto: 2 }, 10_000)
    assert.equal(e.text, 'after refusal')
  } finally {
    await stopBoth(ts, rust)
  }
})

test('TS dialing Rust with a wrong /p2p/ id fails with TENTACLE_ERR_PEER_ID_MISMATCH and opens no session', async () => {
  const rust = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0'])
  const ts = tsNode([{ id: 1 }])
  try {
    const wrong = SecioKeyPair.generate().peerId.toString()
    await assert.rejects(
      ts.service.dial(`/ip4/127.0.0.1/tcp/${rust.port}/p2p/${wrong}`),
      (e: Error & { code?: string }) => e.code === 'TENTACLE_ERR_PEER_ID_MISMATCH',
    )
    assert.ok(ts.events.some((e) => e.type === 'dial-error' && e.error.code === 'TENTACLE_ERR_PEER_ID_MISMATCH'))
    assert.ok(!ts.events.some((e) => e.type === 'session-open'))
  } finally {
    await stopBoth(ts, rust)
  }
})
