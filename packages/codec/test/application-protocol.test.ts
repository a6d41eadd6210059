// typedProtocol on real tentacle services over loopback: typed send and
// received, and a frame that does not decode closing that protocol on that
// session only. (tentacle depends on this package; importing it here, in a
// test, is fine: tests are not part of the package's build.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import protobuf from 'protobufjs'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext, type ServiceErrorEvent, type SessionInfo } from '@tentacle-ts/tentacle'
import { isCodecError } from '../src/errors.js'
import { protobufCodec, typedProtocol } from '../src/application/index.js'

const root = protobuf.parse(`
syntax = "proto3";
package t;
message Req { uint32 n = 1; string text = 2; Note note = 3; }
message Note { string s = 1; }
`).root
interface Req {
  n: number
  text: string
  note?: { s: string } | null
}
const codec = protobufCodec<Req>(root.lookupType('t.Req'))
const NAME = '/test/typed'
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Resolves when `pred()` holds after some event; checked on every `poke()`. */
class Signal {
  private waiters: Array<{
    pred: () => boolean
    resolve: () => void
    reject: (e: Error) => void
    timer: NodeJS.Timeout
  }> = []
  poke(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred()) return true
      clearTimeout(w.timer)
      w.resolve()
      return false
    })
  }
  until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (pred()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer)
        reject(new Error(`timed out waiting for ${what}`))
      }, timeoutMs)
      this.waiters.push({ pred, resolve, reject, timer })
    })
  }
}

test('typed protocol: typed messages both ways; a malformed frame closes that protocol on that session only', async () => {
  const signal = new Signal()
  const serverGot: Array<{ session: number; msg: Req }> = []
  const serverErrors: ServiceErrorEvent[] = []
  const serverClosedOn: number[] = []

  const serverProto = typedProtocol({
    id: 1,
    name: NAME,
    codec,
    handler: {
      // The annotation gives handlers tentacle's full context type.
      received(ctx: ProtocolSessionContext, msg) {
        serverGot.push({ session: ctx.session.id, msg })
        assert.equal(typeof ctx.session.remotePeerId, 'string')
        // Reply through ctx.control, by session id (the other send form).
        serverProto.send(ctx.control, ctx.session.id, { n: msg.n + 1, text: msg.text.toUpperCase() })
        signal.poke()
      },
      disconnected(ctx) {
        serverClosedOn.push(ctx.session.id)
        signal.poke()
      },
    },
  })
  const server = new Service({
    key: SecioKeyPair.generate(),
    protocols: [serverProto.spec, { id: 2, name: '/test/raw', handler: { received: (ctx, data) => ctx.send(data) } }],
    handler: {
      handleError: (e) => {
        serverErrors.push(e)
        signal.poke()
      },
    },
  })

  // A well-behaved client: per-session typed handler.
  const goodReplies: Req[] = []
  const goodProto = typedProtocol({
    id: 1,
    name: NAME,
    codec,
    sessionHandler: () => ({
      connected(ctx: ProtocolSessionContext): void {
        goodProto.send(ctx, { n: 1, text: 'good' })
      },
      received: (_ctx, msg) => {
        goodReplies.push(msg)
        signal.poke()
      },
    }),
  })
  const good = new Service({ key: SecioKeyPair.generate(), protocols: [goodProto.spec] })

  // A client that speaks the protocol's name with raw bytes: one valid message, then garbage.
  let badProtoClosed = false
  const badRawReplies: string[] = []
  const bad = new Service({
    key: SecioKeyPair.generate(),
    protocols: [
      {
        id: 1,
        name: NAME,
        handler: {
          connected: (ctx) => {
            ctx.send(codec.encode({ n: 10, text: 'valid first' }))
            ctx.send(Uint8Array.from([0x0f, 0xff])) // wire type 7: not protobuf
          },
          disconnected: () => {
            badProtoClosed = true
            signal.poke()
          },
        },
      },
      {
        id: 2,
        name: '/test/raw',
        handler: { received: (_ctx, data) => (badRawReplies.push(new TextDecoder().decode(data)), signal.poke()) },
      },
    ],
  })

  try {
    const addr = (await server.listen('/ip4/127.0.0.1/tcp/0')).encapsulate(`/p2p/${server.peerId}`)
    const goodSession: SessionInfo = await good.dial(addr)
    await signal.until(() => goodReplies.length === 1, 'the reply to the good client')
    assert.deepEqual({ ...goodReplies[0], note: goodReplies[0].note ?? null }, { n: 2, text: 'GOOD', note: null })

    const badSession = await bad.dial(addr)
    await signal.until(
      () => serverErrors.some((e) => e.type === 'protocol-error'),
      'the protocol-error for the malformed frame',
    )
    const err = serverErrors.find((e) => e.type === 'protocol-error')
    assert.ok(err !== undefined && err.type === 'protocol-error')
    assert.equal(err.protoId, 1)
    assert.equal(err.error.code, 'TENTACLE_ERR_PROTOCOL_CODEC')
    assert.ok(isCodecError(err.error.cause, 'CODEC_ERR_MESSAGE_DECODE'), `cause: ${String(err.error.cause)}`)
    const badOnServer = err.session.id
    assert.notEqual(badOnServer, serverGot[0].session)

    // The valid message before the garbage arrived typed; the garbage reached no handler.
    assert.deepEqual(
      serverGot.map((g) => g.msg.text),
      ['good', 'valid first'],
    )
    await signal.until(
      () => badProtoClosed && serverClosedOn.includes(badOnServer),
      'protocol 1 closed on both ends of the bad session',
    )

    // The bad session itself is still up: its other protocol works.
    bad.send(badSession.id, 2, bytes('still here'))
    await signal.until(() => badRawReplies.length === 1, 'the raw echo on the bad session')
    assert.equal(badRawReplies[0], 'still here')
    assert.ok(!(bad.session(badSession.id)?.closed ?? true))
    assert.ok(!(bad.session(badSession.id)?.openProtocols.has(1) ?? true))

    // And the good session goes on, through the Service form of sendAsync.
    assert.equal(await goodProto.sendAsync(good, goodSession.id, { n: 41, text: 'again' }), true)
    await signal.until(() => goodReplies.length === 2, 'the second reply to the good client')
    assert.deepEqual([goodReplies[1].n, goodReplies[1].text], [42, 'AGAIN'])
    assert.equal(serverErrors.filter((e) => e.type === 'protocol-error').length, 1)
    assert.ok(!serverClosedOn.includes(serverGot[0].session))

    // A message the codec refuses is the caller's typed error, nothing is sent.
    const notAMessage = { n: 1, text: 'x', note: 'not an object' } as unknown as Req
    assert.throws(
      () => goodProto.send(good, goodSession.id, notAMessage),
      (e) => isCodecError(e, 'CODEC_ERR_MESSAGE_ENCODE'),
    )
    await assert.rejects(goodProto.sendAsync(good, goodSession.id, notAMessage), (e) =>
      isCodecError(e, 'CODEC_ERR_MESSAGE_ENCODE'),
    )
  } finally {
    await Promise.all([good.shutdown(), bad.shutdown(), server.shutdown()])
  }
})

test('typed protocol: a protocol without a received handler still refuses malformed frames', async () => {
  const refuser = typedProtocol({
    id: 1,
    codec,
    handler: {
      // Unannotated, ctx is the minimal context: enough to send on it.
      connected: (ctx) => void refuser.sendAsync(ctx, { n: ctx.session.id, text: 'hello' }),
    },
  })
  const errors: ServiceErrorEvent[] = []
  let resolveError!: () => void
  const gotError = new Promise<void>((r) => (resolveError = r))
  const server = new Service({
    key: SecioKeyPair.generate(),
    protocols: [refuser.spec],
    handler: {
      handleError: (e) => {
        errors.push(e)
        if (e.type === 'protocol-error') resolveError()
      },
    },
  })
  const client = new Service({
    key: SecioKeyPair.generate(),
    protocols: [{ id: 1, handler: { connected: (ctx) => ctx.send(Uint8Array.from([0x0a, 0x09, 0x01])) } }],
  })
  try {
    const addr = await server.listen('/ip4/127.0.0.1/tcp/0')
    await client.dial(addr)
    const timeout = setTimeout(() => resolveError(), 10_000)
    await gotError
    clearTimeout(timeout)
    const err = errors.find((e) => e.type === 'protocol-error')
    assert.ok(err !== undefined, 'a protocol-error was reported')
    assert.ok(isCodecError(err.error.cause, 'CODEC_ERR_MESSAGE_DECODE'))
  } finally {
    await Promise.all([client.shutdown(), server.shutdown()])
  }
})

test("typed protocol: beforeSend/beforeReceive wrap the encoded bytes (here: XOR), maxFrameLength is tentacle's", async () => {
  const xor = (data: Uint8Array): Uint8Array => data.map((b) => b ^ 0x5a)
  const got: Req[] = []
  const errors: ServiceErrorEvent[] = []
  const signal = new Signal()
  const make = (record: boolean) =>
    typedProtocol({
      id: 1,
      codec,
      maxFrameLength: 64,
      beforeSend: xor,
      beforeReceive: xor,
      handler: {
        connected() {
          if (!record) opened = true
          signal.poke()
        },
        received(_ctx, msg) {
          if (record) got.push(msg)
          signal.poke()
        },
      },
    })
  let opened = false
  const serverProto = make(true)
  const clientProto = make(false)
  const server = new Service({
    key: SecioKeyPair.generate(),
    protocols: [serverProto.spec],
    handler: { handleError: (e) => void errors.push(e) },
  })
  const client = new Service({ key: SecioKeyPair.generate(), protocols: [clientProto.spec] })
  try {
    const addr = await server.listen('/ip4/127.0.0.1/tcp/0')
    const session = await client.dial(addr)
    await signal.until(() => opened, 'the protocol open on the client')
    assert.equal(await clientProto.sendAsync(client, session.id, { n: 7, text: 'xored' }), true)
    await signal.until(() => got.length === 1, 'the xored message')
    assert.deepEqual([got[0].n, got[0].text], [7, 'xored'])
    // Over the protocol's max frame: tentacle's own typed error, before anything is sent.
    await assert.rejects(
      clientProto.sendAsync(client, session.id, { n: 8, text: 'x'.repeat(100) }),
      (e: { code?: string }) => e.code === 'TENTACLE_ERR_MESSAGE_TOO_LARGE',
    )
    assert.deepEqual(errors, [])
  } finally {
    await Promise.all([client.shutdown(), server.shutdown()])
  }
})
