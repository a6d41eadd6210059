// Echo: two tentacle-ts nodes, one protocol, request and reply.
//
//   node --conditions=source --import tsx examples/echo.ts [--count N]
//       both nodes in this process: bob listens, alice dials him, sends N
//       requests (default 3) and prints each reply with its round trip
//   node --conditions=source --import tsx examples/echo.ts server [--port P]
//       bob alone, on 127.0.0.1:P (default 1338); prints his full address
//   node --conditions=source --import tsx examples/echo.ts client /ip4/127.0.0.1/tcp/1338/p2p/Qm… [--count N]
//       alice alone, against that server
//
// The protocol's messages go through a MessageCodec (here: UTF-8 text that
// must be valid) and typedProtocol, so handlers get strings, not bytes, and
// bytes that are not valid UTF-8 reset the protocol on that one session.
import { parseArgs } from 'node:util'
import { CodecError, typedProtocol, type MessageCodec } from '@tentacle-ts/codec'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext } from '@tentacle-ts/tentacle'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { count: { type: 'string', default: '3' }, port: { type: 'string', default: '1338' } },
})
const [mode = 'both', target] = positionals
const count = Number(values.count)

/** A MessageCodec of your own is two functions; decode throws for bytes that are not a message. */
const utf8 = new TextDecoder('utf-8', { fatal: true })
const text: MessageCodec<string> = {
  encode: (s) => new TextEncoder().encode(s),
  decode: (bytes) => {
    try {
      return utf8.decode(bytes)
    } catch (err) {
      throw new CodecError('CODEC_ERR_MESSAGE_DECODE', 'not valid UTF-8', { cause: err })
    }
  },
}

const ECHO = { id: 1, name: '/tentacle-ts/echo', versions: ['1.0.0'], codec: text }

/** Bob: every request comes back as it came. */
function server(): Service {
  const echo = typedProtocol({
    ...ECHO,
    handler: {
      received(ctx: ProtocolSessionContext, request) {
        console.log(`bob: request from ${ctx.session.remotePeerId?.slice(0, 10)}…: ${JSON.stringify(request)}`)
        echo.send(ctx, request)
      },
    },
  })
  return new Service({
    key: SecioKeyPair.generate(),
    protocols: [echo.spec],
    handler: { handleError: (e) => console.error(`bob: ${e.type} ${e.error.code}: ${e.error.message}`) },
  })
}

/** Alice: sends `count` requests one after the other, each once the previous reply is in. */
function client(done: (ok: boolean) => void): Service {
  let sentAt = 0
  let n = 0
  const next = (ctx: ProtocolSessionContext): void => {
    n++
    sentAt = performance.now()
    echo.send(ctx, `hello #${n}`)
  }
  const echo = typedProtocol({
    ...ECHO,
    handler: {
      connected(ctx: ProtocolSessionContext, version) {
        console.log(`alice: ${ECHO.name} v${version} open to ${ctx.session.remotePeerId}`)
        next(ctx)
      },
      received(ctx: ProtocolSessionContext, reply) {
        const ok = reply === `hello #${n}`
        console.log(
          `alice: echo reply ${n}/${count}: ${JSON.stringify(reply)} in ${(performance.now() - sentAt).toFixed(2)} ms${ok ? '' : ' (WRONG)'}`,
        )
        if (!ok || n === count) done(ok)
        else next(ctx)
      },
      disconnected() {
        if (n < count) done(false)
      },
    },
  })
  return new Service({
    key: SecioKeyPair.generate(),
    protocols: [echo.spec],
    handler: { handleError: (e) => console.error(`alice: ${e.type} ${e.error.code}: ${e.error.message}`) },
  })
}

/** Runs alice against `address`; resolves true when every reply came back right. */
async function runClient(address: string): Promise<boolean> {
  let done!: (ok: boolean) => void
  const finished = new Promise<boolean>((resolve) => (done = resolve))
  const alice = client(done)
  try {
    await alice.dial(address)
    return await finished
  } finally {
    await alice.close()
  }
}

if (mode === 'server') {
  const bob = server()
  const addr = await bob.listen(`/ip4/127.0.0.1/tcp/${values.port}`)
  console.log(`bob: listening on ${addr.encapsulate(`/p2p/${bob.peerId}`).toString()}`)
  process.once('SIGINT', () => void bob.close())
} else if (mode === 'client') {
  if (target === undefined) {
    console.error('usage: echo.ts client /ip4/127.0.0.1/tcp/PORT/p2p/PEERID [--count N]')
    process.exit(2)
  }
  process.exitCode = (await runClient(target)) ? 0 : 1
} else {
  const bob = server()
  const addr = (await bob.listen('/ip4/127.0.0.1/tcp/0')).encapsulate(`/p2p/${bob.peerId}`)
  console.log(`bob: listening on ${addr.toString()}`)
  const ok = await runClient(addr.toString())
  await bob.close()
  console.log(ok ? `echo: all ${count} replies arrived` : 'echo: FAILED')
  process.exitCode = ok ? 0 : 1
}
