/**
 * The measurement of observed-addresses.test.ts's work-per-session tests, in a process of its own: it needs
 * V8's precise coverage to itself (each take resets the counters, which would corrupt `npm run
 * test:coverage`'s report of the process it runs in), so the test runs it without NODE_V8_COVERAGE.
 *
 *   node --conditions=source --import tsx packages/protocols/test/identify-work.ts real|planted
 *
 * Drives the network protocols directly (a fake ServiceControl, no sockets): each new inbound session is
 * opened, identify connects (sending our IdentifyMessage, with its listen addresses) and receives the
 * peer's message, whose observed address is public and different for every session. Prints one JSON line
 * `{small, large, smallHeld, largeHeld}`: the median block executions in packages/protocols/src per new
 * session with `smallHeld` and with `largeHeld` sessions held. 'planted' adds a deliberate O(n): the
 * service handler lists all peers at every session-open.
 */
import assert from 'node:assert/strict'
import { median, startBlockCounting } from '../../../test/lib/work-count.js'
import type { ProtocolSessionContext, ServiceControl, SessionInfo } from '@tentacle-ts/tentacle'

const blocks = await startBlockCounting('/packages/protocols/src/')
/** Block executions in packages/protocols/src since the last call. */
const protocolsWork = (): Promise<number> => blocks.take()
const { createNetworkProtocols, decodeIdentifyMessage, encodeIdentifyBlob, encodeIdentifyMessage } =
  await import('../src/index.js')

const SMALL = 10
const LARGE = 210
const MEASURED = 11
const NETWORK = '/ckb/work'

const mode = process.argv[2]
if (mode !== 'real' && mode !== 'planted') throw new Error(`mode: ${mode}`)

const net = createNetworkProtocols({ networkName: NETWORK, publicAddresses: ['/ip4/8.8.4.4/tcp/8115'] })
const identify = net.protocols.find((p) => p.id === net.ids.identify)!.handler!
const service = net.serviceHandler(mode === 'planted' ? { handleEvent: () => void net.peers() } : undefined)
// Identify on an inbound session only sends through its context; every control call is a no-op here.
const control = new Proxy({} as ServiceControl, {
  get: (_t, key) => (key === 'session' ? () => undefined : () => {}),
})
const blob = encodeIdentifyBlob({ flag: 63n, name: NETWORK, clientVersion: 'work' })
let announced: string[] = []
let count = 0

/** Opens session `count + 1` and runs identify on it to the end. */
async function one(): Promise<void> {
  const id = ++count
  const ip = `${id >> 8}.${id & 255}`
  const session = {
    id,
    address: { toString: () => `/ip4/1.1.${ip}/tcp/1000` },
    direction: 'inbound',
    remotePublicKey: undefined,
    remotePeerId: undefined,
    suite: undefined,
    handshakeMs: 1,
    closed: false,
    openProtocols: new Set([net.ids.identify]),
  } as unknown as SessionInfo
  const ctx = {
    control,
    protoId: net.ids.identify,
    session,
    version: '3',
    send: (data: Uint8Array) => (announced = decodeIdentifyMessage(data).listenAddrs),
    sendAsync: () => Promise.resolve(true),
  } as ProtocolSessionContext
  await service.handleEvent!({ type: 'session-open', session }, control)
  await identify.connected!(ctx, '3')
  const observedAddr = `/ip4/2.2.${ip}/tcp/40000`
  await identify.received!(ctx, encodeIdentifyMessage({ listenAddrs: [], observedAddr, identify: blob }))
}

/** Work per session for MEASURED sessions opened one after the other. */
async function measure(): Promise<number> {
  const out: number[] = []
  await protocolsWork()
  for (let i = 0; i < MEASURED; i++) {
    await one()
    out.push(await protocolsWork())
  }
  return median(out)
}

while (count < SMALL) await one()
const small = await measure()
while (count < LARGE) await one()
const large = await measure()
// Every session is held and the observed addresses are announced (else nothing was measured).
assert.equal(net.peers().length, LARGE + MEASURED)
assert.equal(announced.length, 10)
assert.ok(small > 50, `only ${small} block executions counted for a session`)
console.log(JSON.stringify({ small, large, smallHeld: SMALL, largeHeld: LARGE }))
await blocks.stop()
await net.close()
