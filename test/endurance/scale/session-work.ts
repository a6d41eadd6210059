/**
 * The measurement of scale/per-session-cost.test.ts, in a process of its own: it needs V8's precise
 * coverage to itself (each take resets the counters, which would corrupt `npm run test:coverage`'s
 * report of the process it runs in), so the test runs it without NODE_V8_COVERAGE.
 *
 *   node --conditions=source --import tsx test/endurance/scale/session-work.ts inbound|outbound|planted
 *
 * Prints one JSON line `{small, large, smallHeld, largeHeld}`: the median block executions in
 * packages/tentacle/src per new session with `smallHeld` and with `largeHeld` sessions held.
 */
import assert from 'node:assert/strict'
import { median, startBlockCounting } from '../../lib/work-count.js'

const blocks = await startBlockCounting('/packages/tentacle/src/')
/** Block executions in packages/tentacle/src since the last call. */
const tentacleWork = (): Promise<number> => blocks.take()
const { Service } = await import('@tentacle-ts/tentacle')
const { SecioKeyPair } = await import('@tentacle-ts/secio')
const { dialOne, listenPeers } = await import('./dial-one.js')

const SMALL = 10
const LARGE = 110
const MEASURED = 11

/**
 * Median block executions in packages/tentacle/src per new session with SMALL sessions held, and with
 * LARGE. 'inbound': peers dial the node; 'outbound': the node dials them; 'planted': inbound, and the
 * node's session-open handler lists all sessions (a deliberate O(n) per session).
 */
async function workPerSession(mode: 'inbound' | 'outbound' | 'planted'): Promise<{ small: number; large: number }> {
  // Resolved by the node's protocol handler: the node-side work of a session is done when protocol 1 is open.
  let connected: (() => void) | undefined
  const service = new Service({
    key: SecioKeyPair.generate(),
    config: { maxConnections: LARGE + MEASURED + 100, timeoutMs: 120_000 },
    protocols: [{ id: 1, handler: { connected: () => connected?.(), received: (ctx, data) => ctx.send(data) } }],
    handler: mode === 'planted' ? { handleEvent: (_ev, control) => void control.sessions() } : {},
  })
  const dialed: Awaited<ReturnType<typeof dialOne>>[] = []
  const peers = mode === 'outbound' ? await listenPeers() : undefined
  let count = 0
  try {
    const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
    const port = Number(addr.toString().split('/')[4])
    const one = async (): Promise<void> => {
      const up = new Promise<void>((r) => (connected = r))
      if (peers !== undefined) await service.dial(`/ip4/127.0.0.1/tcp/${peers.port}`)
      else dialed.push(await dialOne(port, () => {}))
      await up
      count++
    }
    /** Work per session for MEASURED sessions opened one after the other. */
    const measure = async (): Promise<number> => {
      const out: number[] = []
      await tentacleWork()
      for (let i = 0; i < MEASURED; i++) {
        await one()
        out.push(await tentacleWork())
      }
      return median(out)
    }
    while (count < SMALL) await one()
    const small = await measure()
    while (count < LARGE) await one()
    const large = await measure()
    assert.equal(service.sessions().length, LARGE + MEASURED)
    // Coverage does see the service's code (else the comparison below could not fail).
    assert.ok(small > 50, `only ${small} block executions counted for a session`)
    return { small, large }
  } finally {
    for (const d of dialed) d.socket.destroy()
    peers?.close()
    await service.shutdown()
  }
}

const mode = process.argv[2]
if (mode !== 'inbound' && mode !== 'outbound' && mode !== 'planted') throw new Error(`mode: ${mode}`)
console.log(JSON.stringify({ ...(await workPerSession(mode)), smallHeld: SMALL, largeHeld: LARGE }))
await blocks.stop()
