// Molecule codec (§6): worked examples, verification rules of the molecule
// crate, and properties: arbitrary bytes give a value or a MoleculeError, nothing else.
// secio's own message codecs keep their tests in packages/secio/test/messages.test.ts.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  array,
  byte,
  bytes,
  CodecError,
  isCodecError,
  readU32LE,
  writeU32LE,
  dynvec,
  fixvec,
  MoleculeError,
  option,
  string,
  struct,
  table,
  uint32,
  uint64,
  union,
  type Codec,
} from '../src/index.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

// Schemas other packages use (secio §3.1, protocol select §9, ping §11), written here to prove the codec fits them.
const PublicKeyCodec = union('PublicKey', [['Secp256k1', bytes('Secp256k1')]])
const ProposeCodec = table('Propose', [
  ['rand', bytes('Bytes')],
  ['pubkey', bytes('Bytes')],
  ['exchanges', string('String')],
  ['ciphers', string('String')],
  ['hashes', string('String')],
])
const ExchangeCodec = table('Exchange', [
  ['epubkey', bytes('Bytes')],
  ['signature', bytes('Bytes')],
])
const StringVec = dynvec('StringVec', string())
const ProtocolInfo = table('ProtocolInfo', [
  ['name', string()],
  ['supportVersions', StringVec],
])
const Ping = table('Ping', [['nonce', uint32]])
const Pong = table('Pong', [['nonce', uint32]])
const PingPayload = union('PingPayload', [
  ['Ping', Ping],
  ['Pong', Pong],
])
const PingMessage = table('PingMessage', [['payload', PingPayload]])

function code(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof MoleculeError, `expected MoleculeError, got ${String(e)}`)
    return e.code
  }
  return 'no error'
}

describe('§6.2 worked examples', () => {
  test('ProtocolInfo { "/p2p/1", ["0.0.1"] } is 39 bytes', () => {
    const b = ProtocolInfo.encode({ name: '/p2p/1', supportVersions: ['0.0.1'] })
    assert.equal(toHex(b), '270000000c00000016000000' + '060000002f7032702f31' + '110000000800000005000000302e302e31')
    assert.deepEqual(ProtocolInfo.decode(b), { name: '/p2p/1', supportVersions: ['0.0.1'] })
  })

  test('ProtocolInfo with no versions is 26 bytes (empty dynvec = 04000000)', () => {
    const b = ProtocolInfo.encode({ name: '/p2p/1', supportVersions: [] })
    assert.equal(toHex(b), '1a0000000c00000016000000060000002f7032702f3104000000')
    assert.deepEqual(ProtocolInfo.decode(b).supportVersions, [])
  })

  test('ProtocolInfo { "/ckb/ping", ["3"] }', () => {
    assert.equal(
      toHex(ProtocolInfo.encode({ name: '/ckb/ping', supportVersions: ['3'] })),
      '260000000c00000019000000090000002f636b622f70696e670d000000080000000100000033',
    )
  })

  test('Ping and Pong messages with nonce 0x12345678 (union inside a table)', () => {
    const ping = PingMessage.encode({ payload: { type: 'Ping', value: { nonce: 0x12345678 } } })
    assert.equal(toHex(ping), '180000000800000000000000' + '0c0000000800000078563412')
    const pong = PingMessage.encode({ payload: { type: 'Pong', value: { nonce: 0x12345678 } } })
    assert.equal(toHex(pong), '1800000008000000010000000c0000000800000078563412')
    assert.deepEqual(PingMessage.decode(pong), { payload: { type: 'Pong', value: { nonce: 0x12345678 } } })
  })

  test('PublicKey union: id 0 + fixvec of 33 bytes = 41 bytes', () => {
    const raw = hex('034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa')
    const b = PublicKeyCodec.encode({ type: 'Secp256k1', value: raw })
    assert.equal(b.length, 41)
    assert.equal(toHex(b.subarray(0, 8)), '0000000021000000')
  })
})

describe('verification rules (molecule crate verify, compatible mode)', () => {
  const Two = table('Two', [
    ['a', bytes()],
    ['b', bytes()],
  ])
  const good = Two.encode({ a: Uint8Array.of(1), b: Uint8Array.of(2, 3) })

  test('a table with an extra trailing field is accepted in compatible mode, rejected in strict mode', () => {
    const Three = table('Three', [
      ['a', bytes()],
      ['b', bytes()],
      ['c', string()],
    ])
    const extra = Three.encode({ a: Uint8Array.of(1), b: Uint8Array.of(2, 3), c: 'future' })
    assert.deepEqual(Two.decode(extra), { a: Uint8Array.of(1), b: Uint8Array.of(2, 3) })
    assert.equal(
      code(() => Two.decode(extra, { compatible: false })),
      'CODEC_ERR_MOLECULE_FIELD_COUNT',
    )
  })

  test('fewer fields than the schema is an error', () => {
    const One = table('One', [['a', bytes()]])
    assert.equal(
      code(() => Two.decode(One.encode({ a: Uint8Array.of(1) }))),
      'CODEC_ERR_MOLECULE_FIELD_COUNT',
    )
  })

  test('total size must equal the slice length', () => {
    assert.equal(
      code(() => Two.decode(Buffer.concat([good, Buffer.of(0)]))),
      'CODEC_ERR_MOLECULE_TOTAL_SIZE',
    )
    assert.equal(
      code(() => Two.decode(good.subarray(0, good.length - 1))),
      'CODEC_ERR_MOLECULE_TOTAL_SIZE',
    )
  })

  test('short headers, bad first offset, decreasing offsets', () => {
    assert.equal(
      code(() => Two.decode(new Uint8Array(0))),
      'CODEC_ERR_MOLECULE_HEADER',
    )
    assert.equal(
      code(() => Two.decode(hex('04000000'))),
      'CODEC_ERR_MOLECULE_HEADER',
    )
    assert.equal(
      code(() => Two.decode(hex('0800000006000000'))),
      'CODEC_ERR_MOLECULE_OFFSETS',
    )
    assert.equal(
      code(() => Two.decode(hex('0800000004000000'))),
      'CODEC_ERR_MOLECULE_OFFSETS',
    )
    assert.equal(
      code(() => Two.decode(hex('0c0000001000000000000000'))),
      'CODEC_ERR_MOLECULE_HEADER',
    )
    // offsets 12, 8: decreasing
    assert.equal(
      code(() => Two.decode(hex('140000000c000000080000000000000000000000'))),
      'CODEC_ERR_MOLECULE_OFFSETS',
    )
  })

  test('fixvec size must be exactly 4 + count × item size', () => {
    assert.equal(
      code(() => bytes().decode(hex('0500000001020304'))),
      'CODEC_ERR_MOLECULE_TOTAL_SIZE',
    )
    assert.equal(
      code(() => bytes().decode(hex('ffffffff'))),
      'CODEC_ERR_MOLECULE_TOTAL_SIZE',
    )
    assert.equal(bytes().decode(hex('00000000')).length, 0)
    const U32s = fixvec('U32s', uint32)
    assert.deepEqual(U32s.decode(hex('020000000100000002000000')), [1, 2])
    assert.equal(
      code(() => U32s.decode(hex('0200000001000000020000'))),
      'CODEC_ERR_MOLECULE_TOTAL_SIZE',
    )
  })

  test('unknown union id, arrays of the wrong size, invalid UTF-8', () => {
    assert.equal(
      code(() => PublicKeyCodec.decode(hex('0100000000000000'))),
      'CODEC_ERR_MOLECULE_UNKNOWN_ITEM',
    )
    assert.equal(
      code(() => array('H', 32).decode(new Uint8Array(31))),
      'CODEC_ERR_MOLECULE_SIZE',
    )
    assert.equal(
      code(() => string().decode(hex('02000000c328'))),
      'CODEC_ERR_MOLECULE_UTF8',
    )
  })

  test('empty table (no fields) is 04000000; extra fields only in compatible mode', () => {
    const Empty = table('Empty', [])
    assert.equal(toHex(Empty.encode({})), '04000000')
    assert.deepEqual(Empty.decode(hex('04000000')), {})
    const extra = table('X', [['x', bytes()]]).encode({ x: Uint8Array.of(9) })
    assert.deepEqual(Empty.decode(extra), {})
    assert.equal(
      code(() => Empty.decode(extra, { compatible: false })),
      'CODEC_ERR_MOLECULE_FIELD_COUNT',
    )
  })

  test('option, struct, uint64, union with explicit ids', () => {
    const Opt = option('OptBytes', bytes())
    assert.equal(Opt.encode(undefined).length, 0)
    assert.equal(Opt.decode(new Uint8Array(0)), undefined)
    assert.deepEqual(Array.from(Opt.decode(hex('0100000007'))!), [7])
    const Point = struct('Point', [
      ['x', uint32],
      ['y', byte],
    ])
    assert.equal(byte.fixedSize, 1)
    assert.equal(toHex(byte.encode(255)), 'ff')
    assert.equal(byte.decode(hex('ff')), 255)
    assert.equal(
      code(() => byte.decode(hex('0102'))),
      'CODEC_ERR_MOLECULE_SIZE',
    )
    assert.equal(Point.fixedSize, 5)
    assert.deepEqual(Point.decode(Point.encode({ x: 7, y: 9 })), { x: 7, y: 9 })
    assert.equal(
      code(() => Point.decode(new Uint8Array(4))),
      'CODEC_ERR_MOLECULE_SIZE',
    )
    assert.equal(uint64.decode(uint64.encode(2n ** 64n - 1n)), 2n ** 64n - 1n)
    const U = union('U', [
      ['A', bytes(), 5],
      ['B', uint32, 9],
    ])
    assert.equal(toHex(U.encode({ type: 'B', value: 1 })), '0900000001000000')
    assert.equal(
      code(() => U.decode(hex('0000000001000000'))),
      'CODEC_ERR_MOLECULE_UNKNOWN_ITEM',
    )
  })

  test('encoding a value that does not fit is CODEC_ERR_MOLECULE_ENCODE', () => {
    assert.equal(
      code(() => array('H', 32).encode(new Uint8Array(3))),
      'CODEC_ERR_MOLECULE_ENCODE',
    )
    assert.equal(
      code(() => uint32.encode(-1)),
      'CODEC_ERR_MOLECULE_ENCODE',
    )
    assert.equal(
      code(() => byte.encode(256)),
      'CODEC_ERR_MOLECULE_ENCODE',
    )
    assert.equal(
      code(() => byte.encode(1.5)),
      'CODEC_ERR_MOLECULE_ENCODE',
    )
    assert.equal(
      code(() => PublicKeyCodec.encode({ type: 'Nope' } as never)),
      'CODEC_ERR_MOLECULE_ENCODE',
    )
    assert.equal(
      code(() => Ping.encode({} as never)),
      'CODEC_ERR_MOLECULE_ENCODE',
    )
  })

  test('the error path names the failing field', () => {
    const bad = ProposeCodec.encode({
      rand: Uint8Array.of(1),
      pubkey: Uint8Array.of(2),
      exchanges: 'a',
      ciphers: 'b',
      hashes: 'c',
    })
    const b = Buffer.from(bad)
    // Corrupt the `ciphers` string into invalid UTF-8.
    const at = b.indexOf(Buffer.from('b'), 30)
    b[at] = 0xff
    try {
      ProposeCodec.decode(b)
      assert.fail('should throw')
    } catch (e) {
      assert.ok(e instanceof MoleculeError)
      assert.equal(e.code, 'CODEC_ERR_MOLECULE_UTF8')
      assert.equal(e.path, 'Propose.ciphers')
    }
  })
})

describe('properties', () => {
  const codecs: Array<[string, Codec<unknown>]> = [
    ['Propose', ProposeCodec as Codec<unknown>],
    ['Exchange', ExchangeCodec as Codec<unknown>],
    ['PublicKey', PublicKeyCodec as Codec<unknown>],
    ['ProtocolInfo', ProtocolInfo as Codec<unknown>],
    ['PingMessage', PingMessage as Codec<unknown>],
    ['StringVec', StringVec as Codec<unknown>],
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

  test('mutated valid Propose bytes decode to a value or a MoleculeError, and valid ones round-trip', () => {
    const proposeArb = fc.record({
      rand: fc.uint8Array({ maxLength: 40 }),
      pubkey: fc.uint8Array({ maxLength: 70 }),
      exchanges: fc.string({ maxLength: 30 }),
      ciphers: fc.string({ maxLength: 50 }),
      hashes: fc.string({ maxLength: 20 }),
    })
    fc.assert(
      fc.property(
        proposeArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (p, edits) => {
          const enc = ProposeCodec.encode(p)
          const dec = ProposeCodec.decode(enc)
          assert.deepEqual(
            [Array.from(dec.rand), Array.from(dec.pubkey), dec.exchanges, dec.ciphers, dec.hashes],
            [Array.from(p.rand), Array.from(p.pubkey), p.exchanges, p.ciphers, p.hashes],
          )
          const m = Buffer.from(enc)
          for (const [i, v] of edits) m[i % m.length] = v
          try {
            ProposeCodec.decode(m)
          } catch (e) {
            if (!(e instanceof MoleculeError)) throw e
          }
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('ProtocolInfo round-trips', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }),
        fc.array(fc.string({ maxLength: 10 }), { maxLength: 8 }),
        (name, supportVersions) => {
          assert.deepEqual(ProtocolInfo.decode(ProtocolInfo.encode({ name, supportVersions })), {
            name,
            supportVersions,
          })
        },
      ),
      { numRuns: 1000 },
    )
  })
})

describe('error family and byte order', () => {
  test('MoleculeError is a CodecError with a molecule code; isCodecError narrows on the code', () => {
    try {
      uint32.decode(new Uint8Array(3))
      assert.fail('should throw')
    } catch (e) {
      assert.ok(e instanceof CodecError)
      assert.ok(isCodecError(e, 'CODEC_ERR_MOLECULE_SIZE'))
      assert.ok(!isCodecError(e, 'CODEC_ERR_FRAME_TOO_LARGE'))
      assert.equal((e as Error).name, 'MoleculeError')
    }
    assert.ok(!isCodecError(new Error('x')))
  })

  test('readU32LE / writeU32LE are little-endian and round-trip every u32', () => {
    const b = new Uint8Array(6)
    writeU32LE(b, 1, 0x12345678)
    assert.equal(toHex(b), '007856341200')
    assert.equal(readU32LE(b, 1), 0x12345678)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
        const out = new Uint8Array(4)
        writeU32LE(out, 0, v)
        assert.equal(readU32LE(out, 0), v)
        assert.equal(Buffer.from(out).readUInt32LE(0), v)
      }),
      { numRuns: 500 },
    )
  })
})
