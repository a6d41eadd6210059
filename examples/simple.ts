// tentacle's `simple` example (tentacle/examples/simple.rs) in TypeScript; it
// talks to the Rust one in either role.
//
//   node --conditions=source --import tsx examples/simple.ts server
//       listens on /ip4/127.0.0.1/tcp/1337 with protocols 0 and 1
//   node --conditions=source --import tsx examples/simple.ts
//       dials 127.0.0.1:1337 opening protocols 0, 1 and 2 (2 fails selection:
//       the server does not know /p2p/2)
//
// On every session, protocol 1 sends "I am a interval message" every 5 s,
// and 3 s after the session opens each side broadcasts "I am a delayed
// message" on protocol 0. Protocol 0 also gets a service notify every 5 s.
// Options: --port P (default 1337), --exit-after-ms MS (shut down after MS).
import { parseArgs } from 'node:util'
import { SecioKeyPair } from '@tentacle-ts/secio'
import {
  ServiceBuilder,
  type ProtocolId,
  type ProtocolSessionContext,
  type ServiceHandler,
} from '@tentacle-ts/tentacle'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string', default: '1337' }, 'exit-after-ms': { type: 'string' } },
})
const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
const decode = (data: Uint8Array): string => new TextDecoder().decode(data)

// What every protocol does: print opens, closes and messages (the Rust PHandle).
function printing(id: ProtocolId) {
  let count = 0
  return {
    connected(ctx: ProtocolSessionContext, version: string): void {
      const { session } = ctx
      console.log(
        `proto id [${id}] open on session [${session.id}], address: [${session.address}], type: [${session.direction}], version: ${version}`,
      )
      const ids = ctx.control
        .sessions()
        .filter((s) => s.openProtocols.has(id))
        .map((s) => s.id)
      console.log(`connected sessions are: [${ids.join(', ')}]`)
    },
    disconnected(ctx: ProtocolSessionContext): void {
      console.log(`proto id [${id}] close on session [${ctx.session.id}]`)
    },
    received(ctx: ProtocolSessionContext, data: Uint8Array): void {
      count++
      console.log(
        `received from [${ctx.session.id}]: proto [${id}] data ${JSON.stringify(decode(data))}, message count: ${count}`,
      )
    },
  }
}

// Protocol 1 is a per-session handler so it can have a per-session notify:
// send at once, then every 5 s, until the protocol or the session closes.
const proto1 = printing(1)
const interval = {
  ...proto1,
  connected(ctx: ProtocolSessionContext, version: string): void {
    proto1.connected(ctx, version)
    ctx.send(encode('I am a interval message'))
    ctx.control.setSessionNotify(ctx.session.id, 1, 5_000, 1)
  },
  notify: (ctx: ProtocolSessionContext) => ctx.send(encode('I am a interval message')),
}

const handler: ServiceHandler = {
  handleEvent(event, control) {
    const detail =
      'session' in event
        ? `[${event.session.id}] ${event.session.address} ${event.session.direction}`
        : `${event.address}`
    console.log(`service event: ${event.type} ${detail}`)
    if (event.type === 'session-open') {
      // unref: a pending delay alone does not keep the process alive.
      setTimeout(() => control.broadcast({ kind: 'all' }, 0, encode('I am a delayed message')), 3_000).unref()
    }
  },
  handleError(event) {
    const proto = event.type === 'protocol-select-error' ? ` ${event.protoName ?? '(unknown)'}` : ''
    console.log(`service error: ${event.type}${proto} ${event.error.code}: ${event.error.message}`)
  },
}

const server = positionals[0] === 'server'
const builder = new ServiceBuilder()
  .key(SecioKeyPair.generate())
  .protocol({
    id: 0,
    handler: {
      ...printing(0),
      init: (ctx) => ctx.control.setServiceNotify(0, 5_000, 3),
      notify: (_ctx, token) => console.log(`proto [0] received notify token: ${token}`),
    },
  })
  .protocol({ id: 1, sessionHandler: () => ({ ...interval }) })
if (!server) builder.protocol({ id: 2, handler: printing(2) })
const service = builder.build(handler)

if (values['exit-after-ms'] !== undefined) {
  setTimeout(() => void service.shutdown(), Number(values['exit-after-ms'])).unref()
}

const address = `/ip4/127.0.0.1/tcp/${values.port}`
try {
  console.log(server ? 'Starting server ......' : 'Starting client ......')
  if (server) await service.listen(address)
  else await service.dial(address) // opens every protocol we have
} catch {
  // Already printed by handleError (listen-error or dial-error).
  process.exitCode = 1
  await service.shutdown()
}
