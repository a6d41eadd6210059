// sendAsync(): a send whose promise settles when the message left the
// session's send queue (handed to yamux: true) or was dropped (false), so a
// sender can honour backpressure instead of tripping SessionBlocked (§12.2).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as tick } from 'node:timers/promises'
import type { ProtocolSessionContext, SessionInfo } from '../src/index.js'
import { Node, deferred, isType } from './service-helpers.js'

const MSG = 64 * 1024

function numbered(i: number): Uint8Array {
  const m = new Uint8Array(MSG)
  new DataView(m.buffer).setUint32(0, i)
  return m
}

const indexOf = (d: Uint8Array): number => new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0)

/** `p`, or a failure with `why()` after `ms`; the timer is cleared either way. */
async function within<T>(p: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why())), ms))),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** A receiver whose handler takes a while per message, and a sender with a 1 MiB send buffer. */
async function slowPair(got: number[], done: () => void, total: number) {
  const receiver = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          received: async (_ctx: ProtocolSessionContext, d: Uint8Array) => {
            got.push(indexOf(d))
            if (got.length === total) done()
            await tick()
          },
        },
      },
    ],
  })
  const opened = deferred<SessionInfo>()
  const sender = new Node({
    protocols: [{ id: 1, handler: { connected: (ctx: ProtocolSessionContext) => opened.resolve(ctx.session) } }],
    config: { sendBufferSize: 1024 * 1024 },
  })
  const addr = await receiver.service.listen('/ip4/127.0.0.1/tcp/0')
  await sender.service.dial(addr)
  return { receiver, sender, session: await opened.promise }
}

test('a sender awaiting sendAsync moves 16 MiB through a 1 MiB send buffer to a slow handler, in order, never blocked', async () => {
  const total = 256
  const got: number[] = []
  const all = deferred()
  const { receiver, sender, session } = await slowPair(got, all.resolve, total)
  try {
    for (let i = 0; i < total; i++) {
      assert.equal(await sender.service.sendAsync(session.id, 1, numbered(i)), true)
    }
    await within(all.promise, 20_000, () => `only ${got.length} of ${total} arrived`)
    assert.deepEqual(
      got,
      Array.from({ length: total }, (_, i) => i),
    )
    assert.deepEqual(sender.errors(), [])
    assert.deepEqual(receiver.errors(), [])
  } finally {
    await sender.service.shutdown()
    await receiver.service.shutdown()
  }
})

test('the same 16 MiB sent with send() in a loop trips session-blocked (why sendAsync exists)', async () => {
  const got: number[] = []
  const { receiver, sender, session } = await slowPair(got, () => {}, 256)
  try {
    for (let i = 0; i < 256; i++) sender.service.send(session.id, 1, numbered(i))
    const blocked = await sender.waitFor(isType('session-blocked'), 10_000, 'session-blocked')
    assert.equal((blocked as { error: { code: string } }).error.code, 'TENTACLE_ERR_SESSION_BLOCKED')
  } finally {
    await sender.service.shutdown()
    await receiver.service.shutdown()
  }
})

test('ctx.sendAsync from a handler: normal and high priority resolve true once handed to yamux, and arrive', async () => {
  const got: string[] = []
  const two = deferred()
  const results = deferred<boolean[]>()
  const receiver = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          received: (_ctx: ProtocolSessionContext, d: Uint8Array) => {
            got.push(new TextDecoder().decode(d))
            if (got.length === 2) two.resolve()
          },
        },
      },
    ],
  })
  const sender = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          connected: async (ctx: ProtocolSessionContext) => {
            const a = ctx.sendAsync(new TextEncoder().encode('normal'))
            const b = ctx.sendAsync(new TextEncoder().encode('high'), { priority: 'high' })
            results.resolve(await Promise.all([a, b]))
          },
        },
      },
    ],
  })
  try {
    const addr = await receiver.service.listen('/ip4/127.0.0.1/tcp/0')
    await sender.service.dial(addr)
    assert.deepEqual(await results.promise, [true, true])
    await two.promise
    assert.deepEqual([...got].sort(), ['high', 'normal'])
  } finally {
    await sender.service.shutdown()
    await receiver.service.shutdown()
  }
})

test('sendAsync resolves false for an unknown session and for a protocol not open on the session', async () => {
  const opened = deferred<SessionInfo>()
  const receiver = new Node({ protocols: [{ id: 1 }] })
  const sender = new Node({
    protocols: [
      { id: 1, handler: { connected: (ctx: ProtocolSessionContext) => opened.resolve(ctx.session) } },
      { id: 2 },
    ],
  })
  try {
    const addr = await receiver.service.listen('/ip4/127.0.0.1/tcp/0')
    await sender.service.dial(addr, { kind: 'single', id: 1 })
    const session = await opened.promise
    assert.equal(await sender.service.sendAsync(9999, 1, new Uint8Array(1)), false)
    assert.equal(await sender.service.sendAsync(session.id, 2, new Uint8Array(1)), false)
    assert.equal(await sender.service.sendAsync(session.id, 1, new Uint8Array(1)), true)
  } finally {
    await sender.service.shutdown()
    await receiver.service.shutdown()
  }
})

test('sendAsync rejects TENTACLE_ERR_MESSAGE_TOO_LARGE for a message over the protocol max frame', async () => {
  const opened = deferred<SessionInfo>()
  const receiver = new Node({ protocols: [{ id: 1, maxFrameLength: 1024 }] })
  const sender = new Node({
    protocols: [
      {
        id: 1,
        maxFrameLength: 1024,
        handler: { connected: (ctx: ProtocolSessionContext) => opened.resolve(ctx.session) },
      },
    ],
  })
  try {
    const addr = await receiver.service.listen('/ip4/127.0.0.1/tcp/0')
    await sender.service.dial(addr)
    const session = await opened.promise
    await assert.rejects(sender.service.sendAsync(session.id, 1, new Uint8Array(1025)), {
      code: 'TENTACLE_ERR_MESSAGE_TOO_LARGE',
    })
    assert.equal(await sender.service.sendAsync(session.id, 1, new Uint8Array(1024)), true)
  } finally {
    await sender.service.shutdown()
    await receiver.service.shutdown()
  }
})

test('peer stops reading, then the session is torn down: sent messages resolved true, the queued rest resolve false, in send order', async () => {
  const stuck = deferred()
  const firstIn = deferred()
  const opened = deferred<SessionInfo>()
  const receiver = new Node({
    protocols: [
      {
        id: 1,
        handler: {
          // The first message holds the handler forever: the receiver stops reading, the window closes.
          received: () => {
            firstIn.resolve()
            return stuck.promise
          },
        },
      },
    ],
  })
  // All queued at once, so the send buffer must hold them (the point here is what happens to them).
  const sender = new Node({
    protocols: [{ id: 1, handler: { connected: (ctx: ProtocolSessionContext) => opened.resolve(ctx.session) } }],
    config: { sendBufferSize: 128 * 1024 * 1024 },
  })
  try {
    const addr = await receiver.service.listen('/ip4/127.0.0.1/tcp/0')
    await sender.service.dial(addr)
    const session = await opened.promise
    // 64 MiB: more than the receiver's handler queue (8 MiB), yamux window and kernel socket
    // buffers (tcp_rmem may autotune to 32 MiB) can take.
    const count = 1024
    const results: Array<boolean | undefined> = new Array(count).fill(undefined)
    let progress = (): void => {}
    const settled = Array.from({ length: count }, (_, i) =>
      sender.service.sendAsync(session.id, 1, numbered(i)).then((r) => {
        results[i] = r
        progress()
      }),
    )
    await firstIn.promise
    // Let the pipe fill until the sender can hand nothing more to yamux: the receiver's
    // handler is stuck, so once every buffer is full no sendAsync settles any more. Each
    // step listens for the next one to settle; 200 ms without one is the end of the filling.
    for (let i = 0; i < count; i++) {
      const moved = await new Promise<boolean>((resolve) => {
        const quiet = setTimeout(() => resolve(false), 200)
        progress = () => {
          clearTimeout(quiet)
          resolve(true)
        }
      })
      if (!moved) break
    }
    await sender.service.shutdown()
    await within(Promise.all(settled), 10_000, () => 'a sendAsync promise never settled')
    const firstFalse = results.indexOf(false)
    assert.ok(firstFalse > 0, `some messages went out before the teardown (${results.filter((r) => r).length})`)
    assert.ok(
      results.every((r, i) => r === i < firstFalse),
      'true for a prefix, false for the rest',
    )
    assert.deepEqual(sender.errors(), [])
  } finally {
    stuck.resolve()
    await sender.service.shutdown()
    await receiver.service.shutdown()
  }
})
