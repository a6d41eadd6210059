/**
 * The churn peer of the soak (soak/run.ts), a child process: it keeps
 * `LANES` connections to the node under test going through every way a
 * session can start and end, forever, until it is SIGKILLed (the soak kills
 * and respawns it now and then, the most abrupt end of all) or its stdin
 * closes. It also listens with a Service of its own so the node under test
 * can dial it.
 *
 *   churn.ts PORT PEER_ID SEED
 *
 * Prints `LISTENING <port> <peer-id>` once its own listener is up, then one
 * `ACTIONS {json}` line per second with what it did.
 * Actions (drawn at random per lane):
 *   graceful      Service dial, protocol 1, a few messages, disconnect
 *   abrupt-rst    hand-driven session (secio, yamux, selection), messages, then TCP RST
 *   abrupt-fin    the same, then the socket just ends (no GoAway)
 *   mid-handshake TCP, part of (or all of) a secio Propose, then RST or FIN
 *   mid-transfer  hand-driven session, half of a 200 KiB message, then RST
 *   tcp-only      TCP connect, then RST at once
 * CHURN_ONLY=graceful|abrupt|mid-handshake|mid-transfer|tcp-only: that action only.
 */
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { SecioKeyPair, ProposeCodec, encodePublicKey, handshake } from '@tentacle-ts/secio'
import { Session } from '@tentacle-ts/yamux'
import { encodeFrame, LengthDelimitedDecoder } from '@tentacle-ts/codec'
import { Service, encodeProtocolInfo } from '@tentacle-ts/tentacle'
import { Rng } from '../fuzz/mutate.js'

const [portArg, peerId, seedArg] = process.argv.slice(2)
const PORT = Number(portArg)
const ADDR = `/ip4/127.0.0.1/tcp/${PORT}/p2p/${peerId}`
const LANES = Number(process.env.CHURN_LANES ?? 6)
const rng = new Rng(Number(seedArg ?? 1))
const actions: Record<string, number> = {}
const count = (k: string): void => void (actions[k] = (actions[k] ?? 0) + 1)

/** Per service: resolvers of sessionGone() by session id, called on its session-close event. */
const goneWaiters = new WeakMap<Service, Map<number, () => void>>()

/** One Service per lane (its own peer id: tentacle keeps one session per peer, §12), plus the listener. */
function newService(): Service {
  const waiters = new Map<number, () => void>()
  const service = new Service({
    key: SecioKeyPair.generate(),
    protocols: [{ id: 1, handler: { received: (ctx, data) => ctx.send(data) } }],
    handler: {
      handleError: () => {},
      handleEvent: (e) => {
        if (e.type !== 'session-close') return
        waiters.get(e.session.id)?.()
        waiters.delete(e.session.id)
      },
    },
  })
  goneWaiters.set(service, waiters)
  return service
}

/** Resolves once the session is gone (its session-close event; the service forgets it first). */
function sessionGone(service: Service, id: number): Promise<void> {
  if (service.session(id) === undefined) return Promise.resolve()
  return new Promise((resolve) => goneWaiters.get(service)!.set(id, resolve))
}
const listener = newService()

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(PORT, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

/** secio + yamux + selection of protocol 1 by hand, so the socket stays ours to kill. */
async function handSession(): Promise<{ socket: net.Socket; write: (b: Uint8Array) => Promise<void> }> {
  const socket = await connect()
  socket.on('error', () => {})
  const { stream } = await handshake(socket, { key: SecioKeyPair.generate(), timeoutMs: 5000 })
  stream.on('error', () => {})
  const mux = new Session(stream, { role: 'client', enableKeepalive: false })
  const s = await mux.openStream()
  await s.write(encodeFrame(encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] })))
  const dec = new LengthDelimitedDecoder(64 * 1024)
  while (dec.next() === null) {
    const c = await s.read()
    if (c === null) throw new Error('EOF in selection')
    dec.push(c)
  }
  // Keep reading (the node echoes) so the window never closes on it.
  void (async () => {
    try {
      while ((await s.read()) !== null);
    } catch {
      // the connection ended: nothing to drain
    }
  })()
  return { socket, write: (b) => s.write(b) }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** CHURN_ONLY=<action> runs one action only (to find which one a finding comes from). */
const ONLY: Record<string, number> = {
  graceful: 0,
  abrupt: 40,
  'mid-handshake': 60,
  'mid-transfer': 80,
  'tcp-only': 95,
}

async function act(service: Service): Promise<void> {
  const pick = process.env.CHURN_ONLY !== undefined ? ONLY[process.env.CHURN_ONLY]! : rng.below(100)
  if (pick < 35) {
    count('graceful')
    const session = await service.dial(ADDR)
    for (let i = 0, n = 1 + rng.below(5); i < n; i++) service.send(session.id, 1, randomBytes(1 + rng.below(2000)))
    await sleep(5 + rng.below(30))
    service.disconnect(session.id)
    await sessionGone(service, session.id)
  } else if (pick < 55) {
    const rst = rng.oneIn(2)
    count(rst ? 'abrupt-rst' : 'abrupt-fin')
    const { socket, write } = await handSession()
    for (let i = 0, n = rng.below(5); i < n; i++) await write(encodeFrame(randomBytes(1 + rng.below(2000))))
    await sleep(rng.below(30))
    if (rst) socket.resetAndDestroy()
    else socket.destroy()
  } else if (pick < 75) {
    count('mid-handshake')
    const socket = await connect()
    socket.on('error', () => {})
    const propose = encodeFrame(
      ProposeCodec.encode({
        rand: randomBytes(16),
        pubkey: encodePublicKey(SecioKeyPair.generate().publicKey),
        exchanges: 'P-256',
        ciphers: 'AES-128-GCM',
        hashes: 'SHA256',
      }),
    )
    socket.write(propose.subarray(0, rng.below(propose.length + 1)))
    await sleep(rng.below(50))
    if (rng.oneIn(2)) socket.resetAndDestroy()
    else socket.end().resume() // read on, so the node's close reaches us and the socket is freed
  } else if (pick < 90) {
    count('mid-transfer')
    const { socket, write } = await handSession()
    const big = Buffer.concat([Buffer.from([0, 0x03, 0x20, 0x00]), randomBytes(100 * 1024)]) // announces 200 KiB, sends half
    void write(big).catch(() => {})
    await sleep(rng.below(20))
    socket.resetAndDestroy()
  } else {
    count('tcp-only')
    const socket = await connect()
    socket.on('error', () => {})
    socket.resetAndDestroy()
  }
}

async function lane(): Promise<void> {
  const service = newService()
  for (;;) {
    try {
      await act(service)
    } catch {
      count('failed')
      await sleep(50)
    }
    await sleep(rng.below(20))
  }
}

const local = await listener.listen('/ip4/127.0.0.1/tcp/0')
console.log(`LISTENING ${local.toString().split('/')[4]} ${listener.peerId}`)
for (let i = 0; i < LANES; i++) void lane()
setInterval(() => console.log(`ACTIONS ${JSON.stringify(actions)}`), 1000)
process.stdin.on('end', () => process.exit(0)).resume()
