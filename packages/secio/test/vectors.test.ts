// The §7 test vectors (and §5.1, §6.1, the §3.10 check values from Rust's
// procedure.rs unit test), for both crypto providers, plus full handshakes over
// loopback with fixed nonces and ephemeral keys compared byte for byte on the wire.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  createNodeCryptoProvider,
  ExchangeCodec,
  handshake,
  nobleCryptoProvider,
  nodeCryptoProvider,
  PeerId,
  ProposeCodec,
  SecioKeyPair,
  type CryptoProvider,
  type HandshakeOptions,
} from '../src/index.js'
import { deriveSessionKeys, stretchKey } from '../src/stretch.js'
import { compareBytes } from '../src/support.js'
import { hex, readBytes, splitFrames, tcpPair, toHex, within } from './helpers.js'

const providers: CryptoProvider[] = [nodeCryptoProvider, nobleCryptoProvider]
/** node:crypto with OpenSSL signing/verifying secp256k1 (the fallback without the libsecp256k1 addon). */
const opensslProvider = createNodeCryptoProvider({ secp256k1: 'openssl' })
const signers: Array<[string, CryptoProvider]> = [
  [`node (${nodeCryptoProvider.secp256k1Backend})`, nodeCryptoProvider],
  ['node (openssl)', opensslProvider],
  ['node (openssl, thread pool)', createNodeCryptoProvider({ secp256k1: 'openssl', asyncSignatures: true })],
  ['noble', nobleCryptoProvider],
]

const A_SECRET = hex('11'.repeat(32))
const B_SECRET = hex('22'.repeat(32))
const PUB_A = '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa'
const PUB_B = '02466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f27'
const NONCE_A = hex('000102030405060708090a0b0c0d0e0f')
const NONCE_B = hex('101112131415161718191a1b1c1d1e1f')
const E_A = hex('33'.repeat(32))
const E_B = hex('44'.repeat(32))

const PROPOSE_A =
  'ad000000180000002c000000590000006f0000009c00000010000000000102030405060708090a0b0c0d0e0f290000000000000021000000034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa12000000502d3235362c502d3338342c583235353139290000004145532d3132382d47434d2c4145532d3235362d47434d2c43484143484132305f504f4c59313330350d0000005348413235362c534841353132'
const PROPOSE_B =
  'ad000000180000002c000000590000006f0000009c00000010000000101112131415161718191a1b1c1d1e1f29000000000000002100000002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f2712000000502d3235362c502d3338342c583235353139290000004145532d3132382d47434d2c4145532d3235362d47434d2c43484143484132305f504f4c59313330350d0000005348413235362c534841353132'
const PROPOSE_A2 =
  '82000000180000002c00000059000000630000007800000010000000000102030405060708090a0b0c0d0e0f290000000000000021000000034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa060000005832353531391100000043484143484132305f504f4c593133303506000000534841353132'

const V1 = {
  epA: '0451a7580833898ea1b183cbd7350a4099078c6ef1c1e18e970cd7683035f25e7d0110522712b0b5a7cff081685486984a94e6831edac46e7360fa9d834a7a81a1',
  epB: '045b36890dacbd7c9a96bb74a1ee28b3d2d75b72e09a20ef25cf8e6fd8a9f0350d0e14bed8d4682a34d83538bdff5b96e89a6666ec0db5745d02fa1210072df75a',
  digestA: 'b4ae6709d58e51749eacf5aea838eae67bc86075d82741b27d5b38a4bbbc8a94',
  digestB: '204521f18b62f0ffe76b54b8dd8391ec79c2a7f30b80febcc6d357ddf7e8ca29',
  shared: '5238f9f956812e75918895390fa057a2063aa66d4d5eefbe6ecdcf78342d2922',
  stretched:
    '43f0ccc182862afa3669d916f16b1e93b55e020a333681575fb8b9978e2e260d41f4e61ae9243604a09b3fa82bafb5cbe583f0d63c6b2ecab9969aacff7c072f208cea4c0fa2172da28d1c7b634bce7bff3e417ec9a9f5f82bd850c9c2c44cc0',
  aEncrypt: 'ff7c072f208cea4c0fa2172da28d1c7b',
  aDecrypt: 'f16b1e93b55e020a333681575fb8b997',
  aFrame1: '00000020fe9ea23e61a7162ad965308837617863fe8a22bda124d0c46e59076120965389',
  bFrame1: '000000209149a66a67f075483031395fd8a5feb164c64ea963ad7b8eb3ee0928645ef988',
}

const V2 = {
  xpA: '7b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14',
  xpB: 'ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b',
  shared: '3c528e9fd39731b15d10de8feb5f71d3f65b73c993581dedb03315a9ed177730',
  digestA: '9cabacb9900de78dadb5547d4a30e33339ab8887e45e37df59fed60649722ec6',
  stretched:
    'fcbf437e18c25d23f59b03e664f207f910d00670bb503fc278b76722f6518eafb8b32b30c00eb8d4b6da344ac1ccda4b9bcde32857a4e809c34e7cf19ad5298d6bfe6aaad1d0e1135b04f15b8865f526a221804edbbcbde5f442f240ff5266bfab22e05c4f8fe63b6e39dfc9928709b68d2abd8d0065c01eec2f3b218caf00aa',
  aEncrypt: '8865f526a221804edbbcbde5f442f240ff5266bfab22e05c4f8fe63b6e39dfc9',
  aDecrypt: '64f207f910d00670bb503fc278b76722f6518eafb8b32b30c00eb8d4b6da344a',
  aFrame1: '000000208130ed89192825dc088bd47031acf53242ce4ccdfafeb73c17b10f8d4a7ac6ca',
  aFrame2: '00000015ee71051c542ac70884035a0f3a0ec2858cb4774037',
  bFrame1: '0000002096e4b7cac38e6feaf083ab97c082b6a0aaa13e61731593787f117374f29280d4',
}

describe('§5.1 PeerId and keys', () => {
  test('secret 1 gives the generator and QmPNw5Zm…', () => {
    const one = new Uint8Array(32)
    one[31] = 1
    const k = SecioKeyPair.fromSecret(one)
    assert.equal(toHex(k.publicKey), '0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798')
    assert.equal(toHex(k.peerId.toBytes()), '12200f715baf5d4c2ed329785cef29e562f73488c8a2bb9dbc5700b361d54b9b0554')
    assert.equal(k.peerId.toString(), 'QmPNw5ZmLkgnBr69vL3CFw5hwyBqDcTPctUaYJJ9egVtSF')
  })

  test('§7.1 static keys and peer ids', () => {
    const a = SecioKeyPair.fromSecret(A_SECRET)
    const b = SecioKeyPair.fromSecret(B_SECRET)
    assert.equal(toHex(a.publicKey), PUB_A)
    assert.equal(toHex(b.publicKey), PUB_B)
    assert.equal(a.peerId.toString(), 'QmUVWwwx6RDmtMcWWmNEeuxBk5VryScchC431DKRiEac7v')
    assert.equal(b.peerId.toString(), 'QmTVejPMpPcrR3M5vBdTryKwXhzWuHLbwbZaK8VXHbTCgN')
    assert.ok(PeerId.parse('QmUVWwwx6RDmtMcWWmNEeuxBk5VryScchC431DKRiEac7v').equals(a.peerId))
  })
})

describe('§6.1 Propose encoding', () => {
  test('vector 1 Propose A is 173 bytes, byte for byte', () => {
    const bytes = ProposeCodec.encode({
      rand: NONCE_A,
      pubkey: hex('0000000021000000' + PUB_A),
      exchanges: 'P-256,P-384,X25519',
      ciphers: 'AES-128-GCM,AES-256-GCM,CHACHA20_POLY1305',
      hashes: 'SHA256,SHA512',
    })
    assert.equal(bytes.length, 173)
    assert.equal(toHex(bytes), PROPOSE_A)
  })

  test('an Exchange with a 65-byte key and a 71-byte signature is 156 bytes', () => {
    assert.equal(ExchangeCodec.encode({ epubkey: new Uint8Array(65), signature: new Uint8Array(71) }).length, 156)
  })
})

describe('§3.10 stretch check values from Rust procedure.rs', () => {
  for (const p of providers) {
    test(`${p.name}: HMAC-SHA256 key 32×00 and two more keys`, () => {
      assert.equal(
        toHex(stretchKey(p, 'SHA256', new Uint8Array(32), 32)),
        '67903cc75591ef474fc655a420358fcd3230990a25205501e23dc1019a78cf50',
      )
      const key2 = Uint8Array.from([
        157, 166, 80, 144, 77, 193, 198, 6, 23, 220, 87, 220, 191, 72, 168, 197, 54, 33, 219, 225, 84, 156, 165, 37,
        149, 224, 244, 32, 170, 79, 125, 35, 171, 26, 178, 176, 92, 168, 22, 27, 205, 44, 229, 61, 152, 21, 222, 81,
        241, 81, 116, 236, 74, 166, 89, 145, 5, 162, 108, 230, 55, 54, 9, 17,
      ])
      assert.deepEqual(
        Array.from(stretchKey(p, 'SHA256', key2, 32)),
        [
          39, 151, 182, 63, 180, 175, 224, 139, 42, 131, 130, 116, 55, 146, 62, 31, 157, 95, 217, 15, 73, 81, 10, 83,
          243, 141, 64, 227, 103, 144, 99, 121,
        ],
      )
      const key3 = Uint8Array.from([
        98, 219, 94, 104, 97, 70, 139, 13, 185, 110, 56, 36, 66, 3, 80, 224, 32, 205, 102, 170, 59, 32, 140, 245, 86,
        102, 231, 68, 85, 249, 227, 243, 57, 53, 171, 36, 62, 225, 178, 74, 89, 142, 151, 94, 183, 231, 208, 166, 244,
        130, 130, 209, 248, 65, 19, 48, 127, 127, 55, 82, 117, 154, 124, 108,
      ])
      assert.deepEqual(
        Array.from(stretchKey(p, 'SHA256', key3, 32)),
        [
          28, 39, 158, 206, 164, 16, 211, 194, 99, 43, 208, 36, 24, 141, 90, 93, 157, 236, 238, 111, 170, 0, 60, 11, 49,
          174, 177, 121, 30, 12, 182, 25,
        ],
      )
    })
  }
})

describe('§7 derivation steps', () => {
  for (const p of providers) {
    test(`${p.name}: vector 1 ordering, ephemeral keys, digests, shared secret, stretch, keys, frames`, async () => {
      // §3.6 at A: oh1 = SHA256(pubB ‖ nA), oh2 = SHA256(pubA ‖ nB) → Less.
      const oh1 = p.sha256(hex(PUB_B), NONCE_A)
      const oh2 = p.sha256(hex(PUB_A), NONCE_B)
      assert.match(toHex(oh1), /^976f081a.*2c77$/)
      assert.match(toHex(oh2), /^f1c8c27f.*d2aa$/)
      assert.equal(compareBytes(oh1, oh2), -1)

      const eA = p.generateEphemeral('P-256', E_A)
      const eB = p.generateEphemeral('P-256', E_B)
      assert.equal(toHex(eA.publicKey), V1.epA)
      assert.equal(toHex(eB.publicKey), V1.epB)
      assert.equal(toHex(p.sha256(hex(PROPOSE_A), hex(PROPOSE_B), eA.publicKey)), V1.digestA)
      assert.equal(toHex(p.sha256(hex(PROPOSE_B), hex(PROPOSE_A), eB.publicKey)), V1.digestB)
      const shared = eA.deriveSecret(eB.publicKey)
      assert.equal(toHex(shared), V1.shared)
      assert.equal(toHex(eB.deriveSecret(eA.publicKey)), V1.shared)
      assert.equal(toHex(stretchKey(p, 'SHA256', shared, 96)), V1.stretched)
      const keysA = deriveSessionKeys(p, 'AES-128-GCM', 'SHA256', shared, -1)
      assert.equal(toHex(keysA.localKey), V1.aEncrypt)
      assert.equal(toHex(keysA.remoteKey), V1.aDecrypt)
      const keysB = deriveSessionKeys(p, 'AES-128-GCM', 'SHA256', shared, 1)
      assert.equal(toHex(keysB.localKey), V1.aDecrypt)

      // §4.2: first frame of each side (nonce counter 1), and decryption back.
      const encA = p.createAead('AES-128-GCM', keysA.localKey)
      assert.equal('00000020' + toHex(Buffer.concat(encA.seal([NONCE_B], 16))), V1.aFrame1)
      const encB = p.createAead('AES-128-GCM', keysB.localKey)
      assert.equal('00000020' + toHex(Buffer.concat(encB.seal([NONCE_A], 16))), V1.bFrame1)
      const decB = p.createAead('AES-128-GCM', keysB.remoteKey)
      assert.equal(toHex(decB.open(hex(V1.aFrame1).subarray(4))), toHex(NONCE_B))
    })

    test(`${p.name}: vector 2 X25519 / CHACHA20_POLY1305 / SHA512`, () => {
      const xA = p.generateEphemeral('X25519', E_A)
      const xB = p.generateEphemeral('X25519', E_B)
      assert.equal(toHex(xA.publicKey), V2.xpA)
      assert.equal(toHex(xB.publicKey), V2.xpB)
      const shared = xA.deriveSecret(xB.publicKey)
      assert.equal(toHex(shared), V2.shared)
      assert.equal(toHex(p.sha256(hex(PROPOSE_A2), hex(PROPOSE_B), xA.publicKey)), V2.digestA)
      assert.equal(toHex(stretchKey(p, 'SHA512', shared, 128)), V2.stretched)
      const keysA = deriveSessionKeys(p, 'CHACHA20_POLY1305', 'SHA512', shared, -1)
      assert.equal(toHex(keysA.localKey), V2.aEncrypt)
      assert.equal(toHex(keysA.remoteKey), V2.aDecrypt)
      const encA = p.createAead('CHACHA20_POLY1305', keysA.localKey)
      assert.equal('00000020' + toHex(Buffer.concat(encA.seal([NONCE_B], 16))), V2.aFrame1)
      assert.equal('00000015' + toHex(Buffer.concat(encA.seal([Buffer.from('hello')], 5))), V2.aFrame2)
      const encB = p.createAead('CHACHA20_POLY1305', keysA.remoteKey)
      assert.equal('00000020' + toHex(Buffer.concat(encB.seal([NONCE_A], 16))), V2.bFrame1)
    })
  }
})

describe('§3.9 signatures', () => {
  for (const [name, p] of signers) {
    test(`${name}: strict DER, low-S, over SHA-256(m); every backend verifies them`, async () => {
      const a = SecioKeyPair.fromSecret(A_SECRET)
      const msg = hex(PROPOSE_A)
      for (let i = 0; i < 16; i++) {
        const m = Buffer.concat([msg, Buffer.of(i)])
        const sig = await a.signer(p).sign(m)
        assert.ok(sig.length <= 72 && sig[0] === 0x30)
        // low-S: s <= n/2 (§3.9)
        const rlen = sig[3]!
        const s = BigInt('0x' + Buffer.from(sig.subarray(6 + rlen, 6 + rlen + sig[5 + rlen]!)).toString('hex'))
        assert.ok(s <= 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n, 'high-S signature')
        for (const [, q] of signers) assert.equal(await q.verify(a.publicKey, m, sig), true)
        assert.equal(await p.verify(a.publicKey, Buffer.concat([msg, Buffer.of(i + 1)]), sig), false)
        assert.equal(await p.verify(SecioKeyPair.fromSecret(B_SECRET).publicKey, m, sig), false)
      }
    })
  }
})

/** Runs A (dialer) and B (listener) with the vector inputs and returns what each put on the wire. */
async function wireHandshake(
  pa: CryptoProvider,
  pb: CryptoProvider,
  aOpts: Partial<HandshakeOptions>,
  message?: Buffer,
) {
  const { client, server, close } = await tcpPair()
  try {
    const fromA: Buffer[] = []
    const fromB: Buffer[] = []
    server.on('data', (c: Buffer) => fromA.push(c))
    client.on('data', (c: Buffer) => fromB.push(c))
    const [ra, rb] = await within(
      5000,
      Promise.all([
        handshake(client, {
          key: SecioKeyPair.fromSecret(A_SECRET),
          crypto: pa,
          testing: { nonce: NONCE_A, ephemeralSecret: E_A },
          ...aOpts,
        }),
        handshake(server, {
          key: SecioKeyPair.fromSecret(B_SECRET),
          crypto: pb,
          testing: { nonce: NONCE_B, ephemeralSecret: E_B },
        }),
      ]),
      'handshake',
    )
    if (message !== undefined) {
      ra.stream.write(message)
      assert.deepEqual(await within(5000, readBytes(rb.stream, message.length)), message)
    }
    ra.stream.destroy()
    rb.stream.destroy()
    return { ra, rb, a: splitFrames(Buffer.concat(fromA)), b: splitFrames(Buffer.concat(fromB)) }
  } finally {
    close()
  }
}

describe('§7 full handshakes on the wire (fixed nonces and ephemeral keys)', () => {
  for (const pa of providers) {
    for (const pb of providers) {
      test(`vector 1: A on ${pa.name}, B on ${pb.name}`, async () => {
        const { ra, rb, a, b } = await wireHandshake(pa, pb, {})
        assert.deepEqual(ra.suite, { agreement: 'P-256', cipher: 'AES-128-GCM', digest: 'SHA256' })
        assert.deepEqual(rb.suite, ra.suite)
        assert.equal(toHex(a[0]!), '000000ad' + PROPOSE_A)
        assert.equal(toHex(b[0]!), '000000ad' + PROPOSE_B)
        const exA = ExchangeCodec.decode(a[1]!.subarray(4))
        assert.equal(toHex(exA.epubkey), V1.epA)
        assert.equal(toHex(ExchangeCodec.decode(b[1]!.subarray(4)).epubkey), V1.epB)
        assert.equal(toHex(a[2]!), V1.aFrame1)
        assert.equal(toHex(b[2]!), V1.bFrame1)
        assert.equal(ra.remotePeerId.toString(), 'QmTVejPMpPcrR3M5vBdTryKwXhzWuHLbwbZaK8VXHbTCgN')
        assert.equal(rb.remotePeerId.toString(), 'QmUVWwwx6RDmtMcWWmNEeuxBk5VryScchC431DKRiEac7v')
      })

      test(`vector 2: A on ${pa.name} proposes X25519/CHACHA20_POLY1305/SHA512, B on ${pb.name}`, async () => {
        const { ra, a, b } = await wireHandshake(
          pa,
          pb,
          { agreements: ['X25519'], ciphers: ['CHACHA20_POLY1305'], digests: ['SHA512'] },
          Buffer.from('hello'),
        )
        assert.deepEqual(ra.suite, { agreement: 'X25519', cipher: 'CHACHA20_POLY1305', digest: 'SHA512' })
        assert.equal(toHex(a[0]!), '00000082' + PROPOSE_A2)
        assert.equal(toHex(ExchangeCodec.decode(a[1]!.subarray(4)).epubkey), V2.xpA)
        assert.equal(toHex(a[2]!), V2.aFrame1)
        assert.equal(toHex(a[3]!), V2.aFrame2)
        assert.equal(toHex(b[2]!), V2.bFrame1)
      })
    }
  }
})
