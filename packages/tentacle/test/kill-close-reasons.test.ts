// session-close says why the session ended (`reason`, `error`): one test per
// reason that a peer or this service can cause without a process kill (the
// kill matrix, test/endurance/kill.test.ts, covers connection-eof,
// connection-reset and truncated). Raw peers speak plaintext yamux (§8.1)
// to a service without a key, so the session opens at TCP connect.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { SecioKeyPair, handshake } from '@tentacle-ts/secio'
import { encodeFrame } from '@tentacle-ts/codec'
import {
  encodeProtocolInfo,
  Service,
  type ServiceConfigInput,
  type SessionCloseReason,
  type TentacleErrorCode,
} from '../src/index.js'

interface Seen {
  service: Service
  closes: { reason: SessionCloseReason; code: TentacleErrorCode | undefined }[]
  opened: number
  /** Resolves with the first session-close (bounded). */
  closed(ms?: number): Promise<{ reason: SessionCloseReason; code: TentacleErrorCode | undefined }>
  connected(ms?: number): Promise<void>
}

function node(opts: { secio?: boolean; config?: ServiceConfigInput } = {}): Seen {
  const wakers = new Set<() => void>()
  const wake = (): void => {
    for (const w of [...wakers]) w()
  }
  let connectedCount = 0
  const seen: Seen = {
    closes: [],
    opened: 0,
    service: new Service({
      key: opts.secio === false ? undefined : SecioKeyPair.generate(),
      config: opts.config,
      protocols: [{ id: 1, handler: { connected: () => void (connectedCount++, wake()) } }],
      handler: {
        handleEvent: (e) => {
          if (e.type === 'session-open') seen.opened++
          if (e.type === 'session-close') seen.closes.push({ reason: e.reason, code: e.error?.code })
          wake()
        },
      },
    }),
    closed: (ms = 5_000) => waitFor(() => seen.closes[0], ms, 'session-close'),
    connected: (ms = 5_000) =>
      waitFor(() => (connectedCount > 0 ? true : undefined), ms, 'protocol 1 open').then(() => {}),
  }
  function waitFor<T>(get: () => T | undefined, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = get()
        if (v === undefined) return
        wakers.delete(check)
        clearTimeout(timer)
        resolve(v)
      }
      const timer = setTimeout(() => {
        wakers.delete(check)
        reject(new Error(`no ${what} within ${ms} ms; closes ${JSON.stringify(seen.closes)}`))
      }, ms)
      wakers.add(check)
      check()
    })
  }
  return seen
}

/** A raw TCP client of a plaintext service: its session is open once connected. */
async function rawClient(s: Seen): Promise<net.Socket> {
  const addr = await s.service.listen('/ip4/127.0.0.1/tcp/0')
  const socket = net.connect(Number(addr.toString().split('/')[4]), '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  return socket
}

/** A yamux frame header (§8.1): version 0, type, flags, stream id, length. */
function header(type: number, flags: number, streamId: number, length: number): Buffer {
  const b = Buffer.alloc(12)
  b[1] = type
  b.writeUInt16BE(flags, 2)
  b.writeUInt32BE(streamId, 4)
  b.writeUInt32BE(length, 8)
  return b
}

test('disconnect(): local-close here, remote-close on the peer (GoAway(0)), no error on either side', async () => {
  const a = node()
  const b = node()
  try {
    await a.service.dial((await b.service.listen('/ip4/127.0.0.1/tcp/0')).toString())
    await a.connected()
    a.service.disconnect(a.service.sessions()[0]!.id)
    assert.deepEqual(await a.closed(), { reason: 'local-close', code: undefined })
    assert.deepEqual(await b.closed(), { reason: 'remote-close', code: undefined })
  } finally {
    await Promise.all([a.service.shutdown(), b.service.shutdown()])
  }
})

test('shutdown(): local-shutdown here; the peer sees the connection lost (TENTACLE_ERR_CONNECTION_LOST)', async () => {
  const a = node()
  const b = node()
  try {
    await a.service.dial((await b.service.listen('/ip4/127.0.0.1/tcp/0')).toString())
    await a.connected()
    await a.service.shutdown()
    assert.deepEqual(await a.closed(), { reason: 'local-shutdown', code: undefined })
    const far = await b.closed()
    assert.ok(far.reason === 'connection-eof' || far.reason === 'connection-reset', far.reason)
    assert.equal(far.code, 'TENTACLE_ERR_CONNECTION_LOST')
  } finally {
    await Promise.all([a.service.shutdown(), b.service.shutdown()])
  }
})

test('no protocol opened within timeoutMs: session-timeout (TENTACLE_ERR_SESSION_TIMEOUT); the peer sees remote-close', async () => {
  const a = node({ config: { timeoutMs: 300 } })
  const b = node()
  try {
    await a.service.dial((await b.service.listen('/ip4/127.0.0.1/tcp/0')).toString(), {
      kind: 'filter',
      filter: () => false,
    })
    assert.deepEqual(await a.closed(), { reason: 'session-timeout', code: 'TENTACLE_ERR_SESSION_TIMEOUT' })
    assert.deepEqual(await b.closed(), { reason: 'remote-close', code: undefined })
  } finally {
    await Promise.all([a.service.shutdown(), b.service.shutdown()])
  }
})

test('a frame with yamux version 1: protocol-error (TENTACLE_ERR_MUXER)', async () => {
  const s = node({ secio: false })
  const socket = await rawClient(s)
  try {
    const bad = header(1, 0, 0, 0)
    bad[0] = 1
    socket.write(bad)
    assert.deepEqual(await s.closed(), { reason: 'protocol-error', code: 'TENTACLE_ERR_MUXER' })
  } finally {
    socket.destroy()
    await s.service.shutdown()
  }
})

test('the peer sends GoAway(ProtocolError): remote-error (TENTACLE_ERR_MUXER); GoAway(0): remote-close', async () => {
  for (const [code, want] of [
    [1, { reason: 'remote-error', code: 'TENTACLE_ERR_MUXER' }],
    [0, { reason: 'remote-close', code: undefined }],
  ] as const) {
    const s = node({ secio: false })
    const socket = await rawClient(s)
    try {
      socket.write(header(3, 0, 0, code))
      assert.deepEqual(await s.closed(), want)
    } finally {
      socket.destroy()
      await s.service.shutdown()
    }
  }
})

test('the peer never answers a keepalive ping: keepalive-timeout (TENTACLE_ERR_MUXER)', async () => {
  const s = node({ secio: false, config: { yamux: { keepaliveIntervalMs: 50, pingTimeoutMs: 100 } } })
  const socket = await rawClient(s)
  try {
    assert.deepEqual(await s.closed(), { reason: 'keepalive-timeout', code: 'TENTACLE_ERR_MUXER' })
  } finally {
    socket.destroy()
    await s.service.shutdown()
  }
})

test('the peer closes its socket at a frame boundary: connection-eof; inside a message: truncated', async () => {
  for (const cut of ['boundary', 'inside'] as const) {
    const s = node({ secio: false })
    const socket = await rawClient(s)
    try {
      // §9.2: open stream 1 and ask for /p2p/1 (ProtocolInfo, molecule), then read the answer.
      const info = encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] })
      const select = Buffer.concat([Buffer.alloc(4), info])
      select.writeUInt32BE(info.length, 0)
      socket.write(Buffer.concat([header(1, 1, 1, 0), header(0, 0, 1, select.length), select]))
      await s.connected()
      if (cut === 'inside') {
        // Half of a 100-byte message (u32be length, §10.1), then FIN.
        const half = Buffer.concat([Buffer.from([0, 0, 0, 100]), Buffer.alloc(50, 1)])
        socket.write(Buffer.concat([header(0, 0, 1, half.length), half]))
      }
      socket.end()
      const want = cut === 'inside' ? 'truncated' : 'connection-eof'
      assert.deepEqual(await s.closed(), { reason: want, code: 'TENTACLE_ERR_CONNECTION_LOST' })
    } finally {
      socket.destroy()
      await s.service.shutdown()
    }
  }
})

test('a secio frame that fails authentication: protocol-error (TENTACLE_ERR_CONNECTION_LOST, a SecioError below)', async () => {
  const s = node()
  const addr = await s.service.listen('/ip4/127.0.0.1/tcp/0')
  const socket = net.connect(Number(addr.toString().split('/')[4]), '127.0.0.1')
  socket.on('error', () => {})
  try {
    await once(socket, 'connect')
    await handshake(socket, { key: SecioKeyPair.generate() })
    // §3.12: a well-framed record whose AEAD tag is wrong.
    socket.write(encodeFrame(new Uint8Array(64).fill(0xa5)))
    assert.deepEqual(await s.closed(), { reason: 'protocol-error', code: 'TENTACLE_ERR_CONNECTION_LOST' })
  } finally {
    socket.destroy()
    await s.service.shutdown()
  }
})

test('unsent bytes over sendBufferSize: session-blocked (TENTACLE_ERR_SESSION_BLOCKED)', async () => {
  const a = node({ config: { sendBufferSize: 1024 } })
  const b = node()
  try {
    await a.service.dial((await b.service.listen('/ip4/127.0.0.1/tcp/0')).toString())
    await a.connected()
    a.service.send(a.service.sessions()[0]!.id, 1, new Uint8Array(64 * 1024))
    assert.deepEqual(await a.closed(), { reason: 'session-blocked', code: 'TENTACLE_ERR_SESSION_BLOCKED' })
  } finally {
    await Promise.all([a.service.shutdown(), b.service.shutdown()])
  }
})

test('crossing dials (§12.2): the session given up says replaced, and nothing else ends uncleanly', async () => {
  // Both dial at once; when both connections come up, each side closes the one the larger
  // peer id dialed. A round where one dial was refused instead closes nothing: try again.
  const reasons = new Set<string>()
  for (let round = 0; round < 20 && !reasons.has('replaced'); round++) {
    const a = node()
    const b = node()
    try {
      const [addrA, addrB] = await Promise.all([
        a.service.listen('/ip4/127.0.0.1/tcp/0'),
        b.service.listen('/ip4/127.0.0.1/tcp/0'),
      ])
      await Promise.allSettled([a.service.dial(addrB), b.service.dial(addrA)])
      if (a.opened === 2 || b.opened === 2) {
        // A side that saw both connections up gave one of them up.
        const closing = a.opened === 2 ? a : b
        assert.deepEqual(await closing.closed(), { reason: 'replaced', code: undefined })
        // Whatever the other side had of it ended cleanly: it gave it up too, or we did (GoAway).
        for (const c of [...a.closes, ...b.closes]) {
          assert.ok(c.reason === 'replaced' || c.reason === 'remote-close', c.reason)
          assert.equal(c.code, undefined)
        }
        reasons.add('replaced')
      }
    } finally {
      await Promise.all([a.service.shutdown(), b.service.shutdown()])
    }
  }
  assert.ok(reasons.has('replaced'), 'in 20 rounds, both connections came up at least once')
})

test('whole messages still queued for a slow handler when the peer leaves are not a truncated message: connection-eof', async () => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let received = 0
  const closes: { reason: SessionCloseReason; code: TentacleErrorCode | undefined }[] = []
  let woke: (() => void) | undefined
  const service = new Service({
    config: { channelSize: 1 },
    protocols: [
      {
        id: 1,
        // The first message holds the handler queue: the session stops taking frames from the decoder.
        handler: { received: () => (received++ === 0 ? gate : undefined) },
      },
    ],
    handler: {
      handleEvent: (e) => {
        if (e.type === 'session-close') closes.push({ reason: e.reason, code: e.error?.code })
        woke?.()
      },
    },
  })
  const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
  const socket = net.connect(Number(addr.toString().split('/')[4]), '127.0.0.1')
  socket.on('error', () => {})
  try {
    await once(socket, 'connect')
    const info = encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] })
    const select = Buffer.concat([Buffer.alloc(4), info])
    select.writeUInt32BE(info.length, 0)
    // Five whole 10-byte messages (§10.1) in one Data frame after the selection, then FIN.
    const msgs = Buffer.concat(Array.from({ length: 5 }, () => Buffer.from([0, 0, 0, 10, ...new Array(10).fill(3)])))
    socket.write(Buffer.concat([header(1, 1, 1, 0), header(0, 0, 1, select.length), select]))
    socket.write(Buffer.concat([header(0, 0, 1, msgs.length), msgs]))
    socket.end()
    socket.resume()
    // Our side answered and ended: the session is over.
    await once(socket, 'end', { signal: AbortSignal.timeout(5_000) })
    release()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no session-close; ${JSON.stringify(closes)}`)), 5_000)
      woke = () => {
        if (closes.length > 0) {
          clearTimeout(timer)
          resolve()
        }
      }
      woke()
    })
    assert.deepEqual(closes, [{ reason: 'connection-eof', code: 'TENTACLE_ERR_CONNECTION_LOST' }])
  } finally {
    socket.destroy()
    await service.shutdown()
  }
})
