/**
 * The process-wide count of handshakes in progress decides whether a handshake's
 * messages coalesce into one write (see handshake.ts). Every outcome must release
 * its count: a leak would leave every later handshake coalescing (slower alone).
 */
import { once } from 'node:events'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeFrame } from '@tentacle-ts/codec'
import { handshake, SecioKeyPair } from '../src/index.js'
import { handshakesInProgressCount } from '../src/handshake.js'
import { tcpPair, within } from './helpers.js'

const key = SecioKeyPair.generate()

async function settled(p: Promise<unknown>): Promise<void> {
  await p.then(
    () => {},
    () => {},
  )
}

test('handshakes in progress: counted while running, released by success, bad input, timeout, abort, close and bad options', async () => {
  assert.equal(handshakesInProgressCount(), 0)

  // Success, both sides in this process: coalesced writes.
  {
    const { client, server, close } = await tcpPair()
    const a = handshake(client, { key })
    const b = handshake(server, { key: SecioKeyPair.generate(), waitForPeer: true })
    assert.equal(handshakesInProgressCount(), 2)
    try {
      const [ra, rb] = await within(5000, Promise.all([a, b]), 'handshake')
      assert.equal(handshakesInProgressCount(), 0)
      // The coalesced echo and the stream's first bytes keep their order.
      ra.stream.write(Buffer.from('ping'))
      const [chunk] = (await within(5000, once(rb.stream, 'data'), 'data')) as [Buffer]
      assert.equal(Buffer.from(chunk).toString(), 'ping')
      ra.stream.destroy()
      rb.stream.destroy()
    } finally {
      close()
    }
  }

  // A malformed Propose.
  {
    const { client, server, close } = await tcpPair()
    const p = handshake(server, { key, waitForPeer: true })
    assert.equal(handshakesInProgressCount(), 1)
    client.on('error', () => {})
    client.write(encodeFrame(Buffer.from('not a propose')))
    await within(5000, settled(p), 'bad propose')
    assert.equal(handshakesInProgressCount(), 0)
    close()
  }

  // Timeout, abort and the peer closing, three at once.
  {
    const pairs = await Promise.all([tcpPair(), tcpPair(), tcpPair()])
    const ac = new AbortController()
    const ps = [
      handshake(pairs[0].server, { key, timeoutMs: 50 }),
      handshake(pairs[1].server, { key, signal: ac.signal }),
      handshake(pairs[2].server, { key }),
    ]
    assert.equal(handshakesInProgressCount(), 3)
    ac.abort()
    pairs[2].client.destroy()
    await within(5000, Promise.all(ps.map(settled)), 'failures')
    assert.equal(handshakesInProgressCount(), 0)
    for (const p of pairs) p.close()
  }

  // Rejected before it starts (bad option, closed socket): never counted.
  {
    const { client, server, close } = await tcpPair()
    await settled(handshake(server, { key, timeoutMs: -1 }))
    client.destroy()
    await settled(handshake(client, { key }))
    assert.equal(handshakesInProgressCount(), 0)
    close()
  }
})
