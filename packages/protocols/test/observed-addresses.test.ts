// Observed addresses (CKB `add_observed_addr` / `local_listen_addrs`): the address each peer's IdentifyMessage
// says it sees us at is kept per session when it is reachable (our /p2p/ appended), and every later
// IdentifyMessage we send lists our public addresses, then those observed addresses, each once, at most 10;
// an address leaves the list when the last session that observed it ends. The peers are plain tentacle-ts
// services speaking CKB's identify with scripted messages, so that they can claim public IPs on loopback.
import { runWorkProgram } from '../../../test/lib/work-count.js'
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { SecioKeyPair } from '@tentacle-ts/secio'
import type { Service } from '@tentacle-ts/tentacle'
import { ServiceBuilder } from '@tentacle-ts/tentacle'
import {
  CKB_PRESET,
  decodeIdentifyMessage,
  encodeIdentifyBlob,
  encodeIdentifyMessage,
  type ProtocolIds,
} from '../src/index.js'
import { ObservedAddresses } from '../src/observed-addresses.js'
import { FAST, TEST_NETWORK, TestNode } from './helpers.js'

/** A peer that dials `target`, opens identify alone, tells it `observed`, and resolves with the target's listen addresses. */
async function identifyPeer(
  target: string,
  observed: string,
): Promise<{ service: Service; listenAddrs: Promise<string[]> }> {
  let resolve!: (a: string[]) => void
  const listenAddrs = new Promise<string[]>((r) => (resolve = r))
  const builder = new ServiceBuilder().key(SecioKeyPair.generate()).timeout(5000)
  for (const key of Object.keys(CKB_PRESET.ids) as Array<keyof ProtocolIds>) {
    builder.protocol({
      id: CKB_PRESET.ids[key],
      name: CKB_PRESET.names[key],
      versions: ['3'],
      handler:
        key === 'identify'
          ? {
              connected: (ctx) =>
                ctx.send(
                  encodeIdentifyMessage({
                    listenAddrs: [],
                    observedAddr: observed,
                    identify: encodeIdentifyBlob({ flag: 3n, name: TEST_NETWORK, clientVersion: 'observer' }),
                  }),
                ),
              received: (_ctx, data) => resolve(decodeIdentifyMessage(data).listenAddrs),
            }
          : {},
    })
  }
  const service = builder.build({})
  await service.dial(target, { kind: 'single', id: CKB_PRESET.ids.identify })
  return { service, listenAddrs }
}

const PUBLIC = '/ip4/8.8.4.4/tcp/8115'
const obs = (i: number): string => `/ip4/1.2.3.${i}/tcp/${40000 + i}`

describe('observed addresses', () => {
  test(
    'announced after the public addresses (reachable, with our /p2p/, each once, at most 10) until their sessions end',
    { timeout: 90_000 },
    async () => {
      const node = await new TestNode({ ...FAST, publicAddresses: [PUBLIC] }).start()
      const peers: Service[] = []
      const withId = (a: string): string => `${a}/p2p/${node.peerId}`
      /** Connects a peer telling `observed`; resolves once the node identified it. */
      const observer = async (observed: string): Promise<Service> => {
        const p = await identifyPeer(node.address, observed)
        peers.push(p.service)
        await node.waitFor('identified', (x) => x.peerId === p.service.peerId)
        return p.service
      }
      /** What the node announces to a new peer now. */
      const announced = async (): Promise<string[]> => {
        const p = await identifyPeer(node.address, '/ip4/127.0.0.1/tcp/1')
        peers.push(p.service)
        return p.listenAddrs
      }
      const end = async (s: Service): Promise<void> => {
        const dropped = node.waitFor('peer-dropped', (x) => x.peerId === s.peerId)
        await s.shutdown()
        await dropped
      }
      try {
        assert.deepEqual(await announced(), [withId(PUBLIC)], 'nothing observed yet: the public address alone')

        const a1 = await observer(obs(1))
        const a2 = await observer(obs(1)) // the same address from a second session
        await observer('/ip4/10.0.0.1/tcp/1') // private: never announced
        await observer('/ip4/127.0.0.1/tcp/2') // loopback: never announced
        await observer(withId(obs(2))) // already carries our /p2p/: not doubled
        const rest: Service[] = []
        for (let i = 3; i <= 11; i++) rest.push(await observer(obs(i)))

        // public, then observed in first-seen order: obs(1), obs(2), ... up to 10 in all.
        const first = await announced()
        assert.deepEqual(first, [withId(PUBLIC), ...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => withId(obs(i)))])

        // obs(1) stays while one of its two sessions lives.
        await end(a1)
        assert.deepEqual((await announced()).slice(0, 2), [withId(PUBLIC), withId(obs(1))])
        await end(a2)
        assert.deepEqual(await announced(), [
          withId(PUBLIC),
          ...[2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => withId(obs(i))),
        ])

        for (const s of rest) await end(s)
        assert.deepEqual(await announced(), [withId(PUBLIC), withId(obs(2))])
      } finally {
        for (const p of peers) await p.shutdown()
        await node.stop()
      }
    },
  )

  test(
    'an observed address the node dialed out to also counts (CKB records both directions)',
    { timeout: 60_000 },
    async () => {
      // The node dials a peer that reports a public observed address; a later inbound peer is told it.
      let listener: Service | undefined
      let node: TestNode | undefined
      const peers: Service[] = []
      try {
        const builder = new ServiceBuilder().key(SecioKeyPair.generate()).timeout(5000)
        for (const key of Object.keys(CKB_PRESET.ids) as Array<keyof ProtocolIds>) {
          builder.protocol({
            id: CKB_PRESET.ids[key],
            name: CKB_PRESET.names[key],
            versions: ['3'],
            handler:
              key === 'identify'
                ? {
                    connected: (ctx) =>
                      ctx.send(
                        encodeIdentifyMessage({
                          listenAddrs: [],
                          observedAddr: obs(50),
                          identify: encodeIdentifyBlob({ flag: 63n, name: TEST_NETWORK, clientVersion: 'listener' }),
                        }),
                      ),
                  }
                : {},
          })
        }
        listener = builder.build({})
        const at = `${(await listener.listen('/ip4/127.0.0.1/tcp/0')).toString()}/p2p/${listener.peerId}`
        node = await new TestNode({ ...FAST, bootnodes: [at] }).start()
        await node.waitFor('identified', (x) => x.peerId === listener!.peerId && x.direction === 'outbound')
        const p = await identifyPeer(node.address, '/ip4/127.0.0.1/tcp/1')
        peers.push(p.service)
        assert.deepEqual(await p.listenAddrs, [`${obs(50)}/p2p/${node.peerId}`])
      } finally {
        for (const s of peers) await s.shutdown()
        await listener?.shutdown()
        await node?.stop()
      }
    },
  )
})

describe('ObservedAddresses', () => {
  test('one address per session, counted; first-seen order; a replaced or deleted session releases its address', () => {
    const o = new ObservedAddresses()
    o.set(1, 'a')
    o.set(2, 'b')
    o.set(3, 'a')
    assert.deepEqual([...o.values()], ['a', 'b'])
    o.set(1, 'c') // session 1 now sees c: a is still held by session 3
    assert.deepEqual([...o.values()], ['a', 'b', 'c'])
    o.delete(3)
    assert.deepEqual([...o.values()], ['b', 'c'])
    o.delete(3) // twice: no effect
    o.set(2, 'b') // same again: no effect
    o.delete(2)
    o.set(4, 'b') // back, now the newest
    assert.deepEqual([...o.values()], ['c', 'b'])
    o.delete(1)
    o.delete(4)
    assert.equal(o.size, 0)
  })
})

/** Runs identify-work.ts (its own process: it takes V8's precise coverage); its JSON result. */
function identifyWork(
  mode: 'real' | 'planted',
  signal: AbortSignal,
): Promise<{ small: number; large: number; smallHeld: number; largeHeld: number }> {
  return runWorkProgram(fileURLToPath(new URL('./identify-work.ts', import.meta.url)), mode, signal)
}

describe('work per session', () => {
  test(
    'identify for one more session costs the same with few and with many sessions held, all with observed addresses',
    { timeout: 60_000 },
    async (t) => {
      const w = await identifyWork('real', t.signal)
      t.diagnostic(`block executions per new session: ${w.small} at ${w.smallHeld} held, ${w.large} at ${w.largeHeld}`)
      const held = w.largeHeld - w.smallHeld
      assert.ok(
        w.large - w.small < held / 4,
        `work per new session grew by ${w.large - w.small} (${w.small} -> ${w.large}) while ${held} more sessions were held`,
      )
    },
  )

  test(
    'the count sees a loop over all sessions run for each new one (the test of the test)',
    { timeout: 60_000 },
    async (t) => {
      const w = await identifyWork('planted', t.signal)
      t.diagnostic(`planted loop: ${w.small} at ${w.smallHeld} held, ${w.large} at ${w.largeHeld}`)
      assert.ok(
        w.large - w.small >= w.largeHeld - w.smallHeld,
        `a planted O(n) moved the work only ${w.small} -> ${w.large}`,
      )
    },
  )
})
