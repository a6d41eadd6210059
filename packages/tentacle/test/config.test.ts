// Configuration is checked when the service is built: a bad setting fails
// build() with TENTACLE_ERR_INVALID_OPTION naming the field, instead of constructing a
// service that fails every handshake later. Defaults come from the layer that
// owns them, and every yamux setting is reachable from the service config.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { DEFAULT_MAX_FRAME_LENGTH } from '@tentacle-ts/codec'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { DEFAULT_CONFIG as YAMUX_DEFAULTS } from '@tentacle-ts/yamux'
import { ServiceBuilder, TentacleError, defaultConfig, resolveConfig, type ServiceConfigInput } from '../src/index.js'

const rejects = (config: ServiceConfigInput, field: string) => {
  assert.throws(
    () => new ServiceBuilder().key(SecioKeyPair.generate()).configure(config).build(),
    (e: unknown) => {
      assert.ok(e instanceof TentacleError, String(e))
      assert.equal(e.code, 'TENTACLE_ERR_INVALID_OPTION')
      assert.equal(e.field, field)
      assert.ok(e.message.startsWith(field), e.message)
      return true
    },
  )
}

describe('service configuration', () => {
  test("a secio name in the wrong case fails build(), naming the field (ciphers: ['AES-128-gcm'])", () => {
    rejects({ secio: { ciphers: ['AES-128-gcm'] } }, 'secio.ciphers[0]')
    rejects({ secio: { ciphers: ['AES-256-GCM', 'CHACHA20-POLY1305'] } }, 'secio.ciphers[1]')
    rejects({ secio: { digests: ['sha256'] } }, 'secio.digests[0]')
    rejects({ secio: { agreements: ['x25519'] } }, 'secio.agreements[0]')
    rejects({ secio: { ciphers: [] } }, 'secio.ciphers')
  })

  test('known secio names are accepted and kept in order', () => {
    const cfg = resolveConfig({
      secio: { ciphers: ['CHACHA20_POLY1305', 'AES-128-GCM'], digests: ['SHA512'], agreements: ['X25519'] },
    })
    assert.deepEqual(cfg.secio, {
      ciphers: ['CHACHA20_POLY1305', 'AES-128-GCM'],
      digests: ['SHA512'],
      agreements: ['X25519'],
    })
  })

  test('bad numbers fail build() naming the field, yamux ones under yamux.', () => {
    rejects({ timeoutMs: 0 }, 'timeoutMs')
    rejects({ channelSize: 1.5 }, 'channelSize')
    rejects({ maxFrameLength: 1024 }, 'maxFrameLength')
    rejects({ yamux: { pingTimeoutMs: -1 } }, 'yamux.pingTimeoutMs')
    rejects({ yamux: { maxQueuedBytes: 0 } }, 'yamux.maxQueuedBytes')
    rejects({ yamux: { maxStreamWindowSize: 1024 } }, 'yamux.maxStreamWindowSize')
    rejects({ yamux: { enableKeepalive: 'yes' as unknown as boolean } }, 'yamux.enableKeepalive')
    rejects({ yamux: { pingTimeout: 1 } as unknown as ServiceConfigInput['yamux'] }, 'yamux.pingTimeout')
    rejects({ yamux: { acceptBacklog: 0 } }, 'yamux.acceptBacklog')
  })

  test("defaults are the owning layers' own; every yamux setting is reachable", () => {
    const d = defaultConfig()
    assert.equal(d.maxFrameLength, DEFAULT_MAX_FRAME_LENGTH)
    assert.deepEqual(d.yamux, { ...YAMUX_DEFAULTS })
    const every = {
      pingTimeoutMs: 5_000,
      maxQueuedBytes: 2 << 20,
      maxControlBacklogBytes: 512 << 10,
      keepaliveIntervalMs: 1_000,
    }
    const cfg = resolveConfig({ yamux: every })
    for (const [k, v] of Object.entries(every)) assert.equal(cfg.yamux[k as keyof typeof every], v, k)
    assert.deepEqual(Object.keys(cfg.yamux).sort(), Object.keys(YAMUX_DEFAULTS).sort())
  })
})
