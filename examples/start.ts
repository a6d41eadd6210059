// `npm start`: two tentacle-ts nodes on loopback. Bob listens, Alice dials
// him by peer id; the connection goes TCP -> secio -> yamux, Alice opens two
// protocols by name, they exchange messages, Alice disconnects, both exit.
// Prints both peer ids, the negotiated suite, the handshake time, what each
// protocol carried, and a few of Bob's Prometheus metrics.
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder, type ProtocolSessionContext, type SessionInfo } from '@tentacle-ts/tentacle'

const text = (b: Uint8Array): string => new TextDecoder().decode(b)
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

let done!: () => void
const finished = new Promise<void>((resolve) => (done = resolve))

// Bob: an echo protocol and a counter protocol.
const bob = new ServiceBuilder()
  .key(SecioKeyPair.generate())
  .protocol({ id: 1, name: '/demo/echo', versions: ['1.0.0'], handler: { received: (ctx, data) => ctx.send(data) } })
  .protocol({
    id: 2,
    name: '/demo/count',
    versions: ['1.0.0', '2.0.0'],
    handler: { received: (ctx, data) => ctx.send(bytes(`${text(data)} has ${data.length} bytes`)) },
  })
  .build({ handleError: (e) => console.error(`bob: ${e.type} ${e.error.code}`) })

// Alice: opens both protocols once the session is up, prints what comes back.
let replies = 0
const show = (ctx: ProtocolSessionContext, data: Uint8Array): void => {
  console.log(
    `alice <- ${ctx.session.remotePeerId?.slice(0, 12)}… [${ctx.protoId === 1 ? '/demo/echo' : '/demo/count'} v${ctx.version}] "${text(data)}"`,
  )
  if (++replies === 2) ctx.control.disconnect(ctx.session.id)
}
const alice = new ServiceBuilder()
  .key(SecioKeyPair.generate())
  .protocol({
    id: 1,
    name: '/demo/echo',
    versions: ['1.0.0'],
    handler: { connected: (ctx) => ctx.send(bytes('hello, bob')), received: show },
  })
  .protocol({
    id: 2,
    name: '/demo/count',
    versions: ['2.0.0'],
    handler: { connected: (ctx) => ctx.send(bytes('tentacle-ts')), received: show },
  })
  .build({
    handleEvent: (e) => {
      if (e.type === 'session-close') done()
    },
    handleError: (e) => console.error(`alice: ${e.type} ${e.error.code}`),
  })

const addr = await bob.listen('/ip4/127.0.0.1/tcp/0')
console.log(`bob    ${bob.peerId} listening on ${addr.toString()}`)
console.log(`alice  ${alice.peerId}`)

const session: SessionInfo = await alice.dial(addr.encapsulate(`/p2p/${bob.peerId}`))
const s = session.suite
console.log(`secio  ${s?.agreement} / ${s?.cipher} / ${s?.digest}, handshake ${session.handshakeMs.toFixed(1)} ms`)
console.log(`yamux  session ${session.id} to ${session.address.toString()}`)

await finished
const metrics = (await bob.metrics.text())
  .split('\n')
  .filter((l) => /^tentacle_(connections_accepted_total|handshakes_total|message_bytes_total)/.test(l))
console.log(`bob's metrics:\n  ${metrics.join('\n  ')}`)
await Promise.all([alice.close(), bob.close()])
