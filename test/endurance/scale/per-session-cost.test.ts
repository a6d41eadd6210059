// The work a Service does to take one more session must not grow with the sessions it already holds
// (the scale run's setup rate fell from 224/s to 75/s on the way to 10 000 sessions: every new session
// compared its peer's key with every session's, issue 12). Work is counted, not timed, so that a loaded
// machine cannot make the test pass or fail: V8's precise block coverage counts how many times each block
// of packages/tentacle ran while one session came up. A loop over all sessions adds at least one
// count per session held; the median count per new session at 110 sessions held and at 10 must be within
// a quarter of a loop's growth, for sessions the node accepts and for sessions it dials. A planted loop
// (the handler listing all sessions at each session-open) must be seen.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Session as Inspector } from 'node:inspector/promises'

// Coverage must start before the code under test is compiled: functions compiled earlier have no block counters.
const inspector = new Inspector()
inspector.connect()
await inspector.post('Profiler.enable')
await inspector.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true })
const { Service } = await import('@tentacle-ts/tentacle')
const { SecioKeyPair } = await import('@tentacle-ts/secio')
const { dialOne, listenPeers } = await import('./dial-one.js')

/** Block executions in packages/tentacle/src since the last call (takePreciseCoverage resets the counters). */
async function tentacleWork(): Promise<number> {
  const { result } = await inspector.post('Profiler.takePreciseCoverage')
  let n = 0
  for (const script of result) {
    if (!script.url.includes('/packages/tentacle/src/')) continue
    for (const fn of script.functions) for (const r of fn.ranges) n += r.count
  }
  return n
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!

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

test.after(async () => {
  await inspector.post('Profiler.stopPreciseCoverage')
  inspector.disconnect()
})

for (const direction of ['inbound', 'outbound'] as const) {
  test(
    `taking one more ${direction} session costs the same work at ${SMALL} and at ${LARGE} sessions held`,
    { timeout: 150_000 },
    async (t) => {
      const { small, large } = await workPerSession(direction)
      t.diagnostic(`block executions per new session: ${small} at ${SMALL} held, ${large} at ${LARGE}`)
      const held = LARGE - SMALL
      assert.ok(
        large - small < held / 4,
        `work per new session grew by ${large - small} block executions (${small} -> ${large}) ` +
          `while ${held} more sessions were held: something runs once per session held for each new one`,
      )
    },
  )
}

test(
  'the count sees a loop over all sessions run for each new one (the test of the test)',
  { timeout: 150_000 },
  async (t) => {
    const { small, large } = await workPerSession('planted')
    t.diagnostic(`planted loop: ${small} at ${SMALL} held, ${large} at ${LARGE}`)
    assert.ok(large - small >= LARGE - SMALL, `a planted O(n) moved the work per session only ${small} -> ${large}`)
  },
)
