import { test } from 'node:test'
import assert from 'node:assert/strict'
import { handshake, SecioKeyPair, type HandshakePhase } from '../src/index.js'
import { tcpPair } from './helpers.js'

test('onPhase: each side reports propose, exchange, nonce echo in order, with rising times, before the promise resolves', async () => {
  const { client, server, close } = await tcpPair()
  const seen: Record<'a' | 'b', Array<[HandshakePhase, number]>> = { a: [], b: [] }
  try {
    const [a, b] = await Promise.all([
      handshake(client, { key: SecioKeyPair.generate(), onPhase: (p, ms) => seen.a.push([p, ms]) }),
      handshake(server, { key: SecioKeyPair.generate(), onPhase: (p, ms) => seen.b.push([p, ms]) }),
    ])
    for (const [side, res] of [
      ['a', a],
      ['b', b],
    ] as const) {
      assert.deepEqual(
        seen[side].map(([p]) => p),
        ['awaiting-propose', 'awaiting-exchange', 'awaiting-nonce-echo'],
      )
      const times = seen[side].map(([, ms]) => ms)
      assert.ok(times[0] > 0 && times[0] <= times[1] && times[1] <= times[2], `rising: ${times}`)
      assert.ok(times[2] <= res.durationMs)
    }
    a.stream.destroy()
    b.stream.destroy()
  } finally {
    close()
  }
})

test('onPhase: a peer that never answers reports no phase, and the timeout names awaiting-propose', async () => {
  const { client, close } = await tcpPair()
  const seen: HandshakePhase[] = []
  try {
    await assert.rejects(
      handshake(client, { key: SecioKeyPair.generate(), timeoutMs: 200, onPhase: (p) => seen.push(p) }),
      (err: Error & { code?: string; phase?: string }) =>
        err.code === 'SECIO_ERR_HANDSHAKE_TIMEOUT' && err.phase === 'awaiting-propose',
    )
    assert.deepEqual(seen, [])
  } finally {
    close()
  }
})

test('onPhase: a hook that throws does not break the handshake', async () => {
  const { client, server, close } = await tcpPair()
  try {
    const boom = (): void => {
      throw new Error('boom')
    }
    const [a, b] = await Promise.all([
      handshake(client, { key: SecioKeyPair.generate(), onPhase: boom }),
      handshake(server, { key: SecioKeyPair.generate(), onPhase: boom }),
    ])
    a.stream.destroy()
    b.stream.destroy()
  } finally {
    close()
  }
})
