// Issue 12, data integrity: a message that arrived whole is delivered, not
// dropped, when the session ends. A handler that is behind (its queue held,
// `channelSize` reached) leaves whole messages in the protocol's decoder and
// in the yamux stream's buffer; however the session then ends (peer FIN,
// GoAway, RST, our disconnect or shutdown), those messages reach `received`
// in order, and only then `disconnected` runs. Raw peers speak plaintext
// yamux (§8.1) to a service without a key, so the session opens at connect.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { once } from 'node:events'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { encodeProtocolInfo, Service, type SessionCloseReason, type TentacleErrorCode } from '../src/index.js'
import { sessionsForTest } from '../src/service.js'

/** A yamux frame header (§8.1): version 0, type, flags, stream id, length. */
function header(type: number, flags: number, streamId: number, length: number): Buffer {
  const b = Buffer.alloc(12)
  b[1] = type
  b.writeUInt16BE(flags, 2)
  b.writeUInt32BE(streamId, 4)
  b.writeUInt32BE(length, 8)
  return b
}

/** One Data frame on stream 1 carrying protocol message `seq` (§10.1: u32be length, then 10 bytes of `seq`). */
function message(seq: number): Buffer {
  const body = Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.alloc(10, seq)])
  return Buffer.concat([header(0, 0, 1, body.length), body])
}

interface Node {
  service: Service
  /** What the handler saw, in order: message numbers, then 'disconnected'. */
  calls: (number | 'disconnected')[]
  /** Resolves when the first message reached the handler (the handler is then held). */
  first: Promise<void>
  /** Lets the held handler go on. */
  release(): void
  /** Resolves when `disconnected` ran (bounded). */
  disconnected(): Promise<void>
  /** session-close's droppedMessages, once it came. */
  dropped: number | undefined
  /** Resolves with session-close's reason and code (bounded). */
  closed(): Promise<{ reason: SessionCloseReason; code: TentacleErrorCode | undefined }>
}

/** A service whose protocol 1 handler holds its queue on the first message until released (channelSize 1). */
function node(): Node {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let firstSeen!: () => void
  const first = new Promise<void>((resolve) => (firstSeen = resolve))
  let closeSeen!: (v: { reason: SessionCloseReason; code: TentacleErrorCode | undefined }) => void
  const closeEvent = new Promise<{ reason: SessionCloseReason; code: TentacleErrorCode | undefined }>(
    (resolve) => (closeSeen = resolve),
  )
  let disconnectedSeen!: () => void
  const disconnected = new Promise<void>((resolve) => (disconnectedSeen = resolve))
  const calls: (number | 'disconnected')[] = []
  const service = new Service({
    config: { channelSize: 1 },
    protocols: [
      {
        id: 1,
        handler: {
          received: (_ctx, data) => {
            calls.push(data[0]!)
            if (calls.length === 1) {
              firstSeen()
              return gate
            }
            return undefined
          },
          disconnected: () => {
            calls.push('disconnected')
            disconnectedSeen()
          },
        },
      },
    ],
    handler: {
      handleEvent: (e) => {
        if (e.type === 'session-close') {
          result.dropped = e.droppedMessages
          closeSeen({ reason: e.reason, code: e.error?.code })
        }
      },
    },
  })
  const result: Node = {
    service,
    calls,
    dropped: undefined,
    first: bounded(first, 'the first message'),
    release,
    disconnected: () => bounded(disconnected, 'disconnected'),
    closed: () => bounded(closeEvent, 'session-close'),
  }
  return result
}

function bounded<T>(p: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/** Connects a raw yamux peer and opens protocol 1 on stream 1 (§9.2 selection, the reply is not awaited). */
async function rawPeer(n: Pick<Node, 'service'>): Promise<net.Socket> {
  const addr = await n.service.listen('/ip4/127.0.0.1/tcp/0')
  const socket = net.connect(Number(addr.toString().split('/')[4]), '127.0.0.1')
  socket.on('error', () => {})
  await once(socket, 'connect')
  const seen: Buffer[] = []
  socket.on('data', (b: Buffer) => {
    seen.push(b)
    socket.emit('seen', Buffer.concat(seen))
  })
  const info = encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] })
  const select = Buffer.concat([Buffer.alloc(4), info])
  select.writeUInt32BE(info.length, 0)
  socket.write(Buffer.concat([header(1, 1, 1, 0), header(0, 0, 1, select.length), select]))
  return socket
}

/**
 * Message 1 first (the handler takes it and holds), then 2..5 in one Data frame
 * each: with channelSize 1 they wait, in the decoder and in the yamux stream.
 */
async function fiveBehindAHeldHandler(n: Node, socket: net.Socket): Promise<void> {
  socket.write(message(1))
  await n.first
  for (let seq = 2; seq <= 5; seq++) socket.write(message(seq))
}

/** Sends a yamux ping (§8.5) and waits for its answer: everything written before it was read by the service. */
async function pingRoundTrip(socket: net.Socket): Promise<void> {
  const answer = header(2, 2, 0, 7)
  const got = new Promise<void>((resolve) => {
    const check = (all: Buffer): void => {
      if (all.includes(answer)) {
        socket.off('seen', check)
        resolve()
      }
    }
    socket.on('seen', check)
  })
  socket.write(header(2, 1, 0, 7))
  await bounded(got, 'the ping answer')
}

/**
 * Resolves once the session's connection is over and the session saw it
 * (its own reaction to the yamux end was registered first, so it ran before this).
 */
function connectionEnded(n: Pick<Node, 'service'>): Promise<void> {
  const [session] = sessionsForTest(n.service).values()
  assert.ok(session !== undefined, 'a session')
  return bounded(session.mux.closed, 'the end of the connection')
}

const ALL_FIVE = [1, 2, 3, 4, 5, 'disconnected']

/** A test node with a raw peer connected to it; both are closed however `body` ends. */
async function withPeer(body: (n: Node, socket: net.Socket) => Promise<void>): Promise<void> {
  const n = node()
  const socket = await rawPeer(n)
  try {
    await body(n, socket)
  } finally {
    socket.destroy()
    await n.service.shutdown()
  }
}

/**
 * The session ends while five messages wait behind the held handler: `end` ends it (and may
 * return `{ after }`, a promise to await once the handler is released); the connection ends under the held
 * handler, then the five are delivered before disconnected and session-close says `closed`.
 */
const endsUnderHeldHandler: Array<{
  name: string
  end: (n: Node, socket: net.Socket) => Promise<{ after: Promise<unknown> } | void>
  closed: Awaited<ReturnType<Node['closed']>>
  /** Also assert that nothing was dropped. */
  noneDropped?: boolean
}> = [
  {
    name: 'peer sends five messages and closes (FIN, no GoAway) while the handler is busy: all five delivered before disconnected',
    end: async (_n, socket) => void socket.end(),
    closed: { reason: 'connection-eof', code: 'TENTACLE_ERR_CONNECTION_LOST' },
    noneDropped: true,
  },
  {
    name: 'peer sends five messages and closes the session cleanly (GoAway(0)) while the handler is busy: all five delivered before disconnected',
    end: async (_n, socket) => void socket.end(header(3, 0, 0, 0)),
    closed: { reason: 'remote-close', code: undefined },
  },
  {
    name: 'peer sends five messages and resets the connection (RST) while the handler is busy: the five that arrived whole are delivered before disconnected',
    end: async (_n, socket) => {
      // The messages must be in the service's process before the RST, not in its kernel buffer
      // (a RST discards what the kernel holds): one ping round trip (§8.5) after them proves it.
      await pingRoundTrip(socket)
      socket.resetAndDestroy()
    },
    closed: { reason: 'connection-reset', code: 'TENTACLE_ERR_CONNECTION_LOST' },
  },
  {
    name: 'a stream that ends inside message 6: the five whole ones are delivered, the partial one is not, and the session says truncated',
    end: async (_n, socket) => {
      const part = Buffer.from([0, 0, 0, 10, 6, 6, 6])
      socket.end(Buffer.concat([header(0, 0, 1, part.length), part]))
    },
    closed: { reason: 'truncated', code: 'TENTACLE_ERR_CONNECTION_LOST' },
  },
  {
    name: 'we disconnect while five messages wait for the busy handler: the five are delivered before disconnected (local-close)',
    end: async (n, socket) => {
      await pingRoundTrip(socket)
      const [session] = n.service.sessions()
      assert.ok(session !== undefined)
      n.service.disconnect(session.id)
      // Our GoAway went out; the peer leaves too, and the connection ends under the held handler.
      socket.end()
    },
    closed: { reason: 'local-close', code: undefined },
    noneDropped: true,
  },
  {
    name: 'we shut down while five messages wait for the busy handler: the five are delivered before disconnected (local-shutdown)',
    end: async (n, socket) => {
      await pingRoundTrip(socket)
      const down = n.service.shutdown()
      // Wrapped: an async function returning the promise itself would wait for it here.
      return { after: bounded(down, 'shutdown') }
    },
    closed: { reason: 'local-shutdown', code: undefined },
  },
]

for (const c of endsUnderHeldHandler) {
  test(c.name, () =>
    withPeer(async (n, socket) => {
      await fiveBehindAHeldHandler(n, socket)
      const after = await c.end(n, socket)
      // The session is over under the held handler.
      await connectionEnded(n)
      n.release()
      await after?.after
      assert.deepEqual(await n.closed(), c.closed)
      assert.deepEqual(n.calls, ALL_FIVE)
      if (c.noneDropped) assert.equal(n.dropped, undefined, 'nothing was dropped')
    }),
  )
}

test('we close the protocol while five messages wait for the busy handler: the five are delivered before disconnected, the session stays', () =>
  withPeer(async (n, socket) => {
    await fiveBehindAHeldHandler(n, socket)
    await pingRoundTrip(socket)
    const [session] = n.service.sessions()
    assert.ok(session !== undefined)
    n.service.closeProtocol(session.id, 1)
    n.release()
    await n.disconnected()
    assert.deepEqual(n.calls, ALL_FIVE)
    assert.equal(session.closed, false)
  }))

test('peer resets the protocol stream (RST, session up) after five messages while the handler is busy: all five delivered before disconnected', () =>
  withPeer(async (n, socket) => {
    await fiveBehindAHeldHandler(n, socket)
    socket.write(header(1, 8, 1, 0))
    await pingRoundTrip(socket)
    n.release()
    socket.end()
    await n.closed()
    assert.deepEqual(n.calls, ALL_FIVE)
  }))

test('peer fills the stream window with 150 messages of mixed sizes behind the busy handler, then FIN: each one delivered whole and in order', async () => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const got: Buffer[] = []
  let disconnectedSeen!: () => void
  const disconnected = new Promise<void>((resolve) => (disconnectedSeen = resolve))
  const service = new Service({
    config: { channelSize: 1 },
    protocols: [
      {
        id: 1,
        handler: {
          received: (_ctx, data) => {
            got.push(Buffer.from(data))
            return got.length === 1 ? gate : undefined
          },
          disconnected: () => disconnectedSeen(),
        },
      },
    ],
  })
  const n = { service }
  const socket = await rawPeer(n)
  try {
    // Sizes 0..1299 bytes, about 100 KiB in all: under the 256 KiB window a paused stream grants (§8.4),
    // so all of it is in the service's memory when the connection ends.
    let seed = 7
    const sent: Buffer[] = []
    for (let i = 0; i < 150; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      const body = Buffer.alloc(seed % 1300, i)
      sent.push(body)
      const framed = Buffer.concat([Buffer.alloc(4), body])
      framed.writeUInt32BE(body.length, 0)
      // Some Data frames carry one message, some split one across two frames.
      if (i % 3 === 2 && framed.length > 2) {
        socket.write(Buffer.concat([header(0, 0, 1, 2), framed.subarray(0, 2)]))
        socket.write(Buffer.concat([header(0, 0, 1, framed.length - 2), framed.subarray(2)]))
      } else {
        socket.write(Buffer.concat([header(0, 0, 1, framed.length), framed]))
      }
    }
    socket.end()
    await connectionEnded(n)
    assert.ok(got.length < sent.length, `the handler was behind when the connection ended (${got.length} taken)`)
    release()
    await bounded(disconnected, 'disconnected')
    assert.equal(got.length, sent.length)
    for (let i = 0; i < sent.length; i++) assert.ok(got[i]!.equals(sent[i]!), `message ${i}`)
  } finally {
    socket.destroy()
    await service.shutdown()
  }
})

test('messages the peer sends after we closed the protocol are discarded (§10.4) and counted: session-close says droppedMessages', () =>
  withPeer(async (n, socket) => {
    await fiveBehindAHeldHandler(n, socket)
    await pingRoundTrip(socket)
    const [session] = n.service.sessions()
    assert.ok(session !== undefined)
    n.service.closeProtocol(session.id, 1)
    // Sent after our close (the handler is still held): three whole ones, and the start of a fourth.
    for (let seq = 6; seq <= 8; seq++) socket.write(message(seq))
    const part = Buffer.from([0, 0, 0, 10, 9])
    socket.write(Buffer.concat([header(0, 0, 1, part.length), part]))
    await pingRoundTrip(socket)
    socket.end(header(3, 0, 0, 0))
    await connectionEnded(n)
    n.release()
    assert.deepEqual(await n.closed(), { reason: 'remote-close', code: undefined })
    assert.deepEqual(n.calls, ALL_FIVE)
    assert.equal(n.dropped, 3)
  }))

test('60 000 empty messages behind the busy handler when the connection ends go out at the handler pace (channelSize), not all queued at once', async () => {
  // Queued all at once, each would cost a handler task and a view object on the heap (~10 MB for
  // the 240 KB that arrived); delivered at the handler's pace they stay bytes in the decoder.
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  setFlagsFromString('--no-expose-gc')
  const COUNT = 60_000
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let received = 0
  let disconnectedSeen!: () => void
  const disconnected = new Promise<void>((resolve) => (disconnectedSeen = resolve))
  const service = new Service({
    config: { channelSize: 1 },
    protocols: [
      {
        id: 1,
        handler: {
          received: () => (++received === 1 ? gate : undefined),
          disconnected: () => disconnectedSeen(),
        },
      },
    ],
  })
  const n = { service }
  const socket = await rawPeer(n)
  try {
    socket.write(message(1))
    await pingRoundTrip(socket)
    gc()
    const before = process.memoryUsage().heapUsed
    const body = Buffer.alloc(4 * COUNT) // COUNT zero-length messages (§10.1), one Data frame, under the window
    socket.end(Buffer.concat([header(0, 0, 1, body.length), body]))
    await connectionEnded(n)
    gc()
    const grown = process.memoryUsage().heapUsed - before
    assert.ok(grown < 3_000_000, `heap grew ${grown} bytes while ${COUNT} messages waited`)
    release()
    await bounded(disconnected, 'disconnected')
    assert.equal(received, COUNT + 1)
  } finally {
    socket.destroy()
    await service.shutdown()
  }
})
