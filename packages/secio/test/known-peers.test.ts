/** The handshake's cache of validated peer keys (PeerId per key, per provider). */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { handshake, nodeCryptoProvider, SecioKeyPair, type CryptoProvider } from '../src/index.js'
import { tcpPair, within } from './helpers.js'

async function pair(
  dialerKey: SecioKeyPair,
  listenerKey: SecioKeyPair,
  listenerCrypto: CryptoProvider = nodeCryptoProvider,
): Promise<string> {
  const { client, server, close } = await tcpPair()
  try {
    const [a, b] = await within(
      5000,
      Promise.all([
        handshake(client, { key: dialerKey }),
        handshake(server, { key: listenerKey, crypto: listenerCrypto, waitForPeer: true }),
      ]),
      'handshake',
    )
    a.stream.destroy()
    b.stream.destroy()
    assert.deepEqual(b.remotePublicKey, dialerKey.publicKey)
    return b.remotePeerId.toString()
  } finally {
    close()
  }
}

test('known peers: a reconnecting peer gets the same id; a provider that rejects its key still rejects it', async () => {
  const dialer = SecioKeyPair.generate()
  const listener = SecioKeyPair.generate()
  assert.equal(await pair(dialer, listener), dialer.peerId.toString())
  assert.equal(await pair(dialer, listener), dialer.peerId.toString())

  // Another provider has its own view of which keys are valid: nothing learnt through the default one applies.
  const strict: CryptoProvider = Object.assign(Object.create(nodeCryptoProvider) as CryptoProvider, {
    name: 'strict',
    isValidPublicKey: () => false,
  })
  const { client, server, close } = await tcpPair()
  try {
    const dialing = handshake(client, { key: dialer }).catch(() => undefined) // fails when the listener closes
    await assert.rejects(
      within(5000, handshake(server, { key: listener, crypto: strict, waitForPeer: true }), 'strict listener'),
      (err: Error & { code?: string }) => err.code === 'SECIO_ERR_INVALID_PUBLIC_KEY',
    )
    await within(5000, dialing, 'dialer')
  } finally {
    close()
  }
})
