// secio's handshake messages (§3.1–§3.3) on the molecule codec: sizes, and
// arbitrary bytes give a value or a MoleculeError (the codec's own tests are in packages/codec).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { MoleculeError, type Codec } from '@tentacle-ts/codec'
import { ExchangeCodec, ProposeCodec, PublicKeyCodec, decodePublicKey, encodePublicKey } from '../src/index.js'
import { encodeExchange } from '../src/messages.js'
import { hex, toHex } from './helpers.js'

describe('handshake messages', () => {
  test('PublicKey union: id 0 + fixvec of 33 bytes = 41 bytes, and back', () => {
    const raw = hex('034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa')
    const b = encodePublicKey(raw)
    assert.equal(b.length, 41)
    assert.equal(toHex(b.subarray(0, 8)), '0000000021000000')
    assert.deepEqual(Buffer.from(decodePublicKey(b)), raw)
  })

  test('an unknown PublicKey union id is CODEC_ERR_MOLECULE_UNKNOWN_ITEM', () => {
    assert.throws(
      () => PublicKeyCodec.decode(hex('0100000000000000')),
      (e: unknown) => e instanceof MoleculeError && e.code === 'CODEC_ERR_MOLECULE_UNKNOWN_ITEM',
    )
    assert.throws(
      () => PublicKeyCodec.encode({ type: 'Nope' } as never),
      (e: unknown) => e instanceof MoleculeError && e.code === 'CODEC_ERR_MOLECULE_ENCODE',
    )
  })
})

describe('properties', () => {
  const codecs: Array<[string, Codec<unknown>]> = [
    ['Propose', ProposeCodec as Codec<unknown>],
    ['Exchange', ExchangeCodec as Codec<unknown>],
    ['PublicKey', PublicKeyCodec as Codec<unknown>],
  ]
  for (const [name, c] of codecs) {
    test(`${name}: arbitrary bytes decode to a value or a MoleculeError, nothing else`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (input, compatible) => {
          try {
            c.decode(input, { compatible })
          } catch (e) {
            if (!(e instanceof MoleculeError)) throw e
          }
        }),
        { numRuns: 3000 },
      )
    })
  }
  test('encodeExchange: the same bytes as ExchangeCodec.encode, and decodes back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), (epubkey, signature) => {
        const direct = encodeExchange(epubkey, signature)
        assert.deepEqual(Buffer.from(direct), Buffer.from(ExchangeCodec.encode({ epubkey, signature })))
        const back = ExchangeCodec.decode(direct)
        assert.deepEqual(Buffer.from(back.epubkey), Buffer.from(epubkey))
        assert.deepEqual(Buffer.from(back.signature), Buffer.from(signature))
      }),
      { numRuns: 2000 },
    )
  })
})
