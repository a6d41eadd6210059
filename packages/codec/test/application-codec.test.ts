import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import protobuf from 'protobufjs'
import { isCodecError, type CodecErrorCode } from '../src/errors.js'
import {
  decodeMessage,
  encodeMessage,
  loadProtobufCodec,
  protobufCodec,
  type MessageCodec,
} from '../src/application/index.js'

const PROTO = `
syntax = "proto3";
package test;
enum Mood { CALM = 0; HAPPY = 1; GRUMPY = 2; }
message Inner { string tag = 1; }
message Sample {
  string text = 1;
  uint64 seq = 2;
  bytes blob = 3;
  Mood mood = 4;
  repeated uint32 nums = 5;
  Inner inner = 6;
  map<string, string> attrs = 7;
  sint32 delta = 8;
  bool flag = 9;
}
message Nest { Nest child = 1; }
`
const PROTO2 = `
syntax = "proto2";
package test2;
message Strict { required string id = 1; }
`

interface Sample {
  text: string
  seq: string
  blob: Uint8Array
  mood: 'CALM' | 'HAPPY' | 'GRUMPY'
  nums: number[]
  inner: { tag: string } | null
  attrs: Record<string, string>
  delta: number
  flag: boolean
}

const root = protobuf.parse(PROTO).root
const sample = protobufCodec<Sample>(root.lookupType('test.Sample'))
const nest = protobufCodec<{ child: unknown }>(root.lookupType('test.Nest'))
const strict = protobufCodec<{ id: string }>(protobuf.parse(PROTO2).root.lookupType('test2.Strict'))

/** Runs fn and returns the code of the CodecError it threw; fails on success or on any other error. */
function codecErrorOf(fn: () => unknown): CodecErrorCode {
  try {
    fn()
  } catch (err) {
    assert.ok(isCodecError(err), `expected a CodecError, got ${String(err)}`)
    return err.code
  }
  assert.fail('expected a CodecError, nothing was thrown')
}

/** The property: decoding returns, or throws CodecError CODEC_ERR_MESSAGE_DECODE; anything else fails. */
function decodesOrTypedError(codec: MessageCodec<unknown>, bytes: Uint8Array): void {
  try {
    codec.decode(bytes)
  } catch (err) {
    if (!isCodecError(err, 'CODEC_ERR_MESSAGE_DECODE')) throw err
  }
}

const sampleArb: fc.Arbitrary<Sample> = fc.record({
  text: fc.string({ unit: 'grapheme', maxLength: 40 }),
  seq: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  blob: fc.uint8Array({ maxLength: 64 }),
  mood: fc.constantFrom('CALM' as const, 'HAPPY' as const, 'GRUMPY' as const),
  nums: fc.array(fc.nat({ max: 2 ** 32 - 1 }), { maxLength: 8 }),
  inner: fc.option(fc.record({ tag: fc.string({ maxLength: 10 }) }), { nil: null }),
  attrs: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 4 }),
  delta: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  flag: fc.boolean(),
})

test('protobuf codec: every message survives encode then decode, all fields present', () => {
  fc.assert(
    fc.property(sampleArb, (msg) => {
      const back = sample.decode(sample.encode(msg))
      assert.equal(back.text, msg.text)
      assert.equal(back.seq, msg.seq) // 64-bit exact: longs as decimal strings
      assert.deepEqual(Uint8Array.from(back.blob), msg.blob)
      assert.equal(back.mood, msg.mood)
      assert.deepEqual(back.nums, msg.nums)
      assert.equal(back.inner?.tag, msg.inner?.tag)
      assert.deepEqual({ ...back.attrs }, { ...msg.attrs })
      assert.equal(back.delta, msg.delta)
      assert.equal(back.flag, msg.flag)
    }),
    { numRuns: 300 },
  )
})

test('protobuf codec: an empty frame is the message with every default', () => {
  const m = sample.decode(new Uint8Array(0))
  assert.deepEqual(
    { ...m, blob: Uint8Array.from(m.blob), attrs: { ...m.attrs } },
    {
      text: '',
      seq: '0',
      blob: new Uint8Array(0),
      mood: 'CALM',
      nums: [],
      inner: null,
      attrs: {},
      delta: 0,
      flag: false,
    },
  )
})

test('protobuf codec: malformed bytes are CodecError CODEC_ERR_MESSAGE_DECODE with protobufjs error as the cause', () => {
  const cases: Array<[string, number[]]> = [
    ['length-delimited field cut short', [0x0a, 0x05, 0x61, 0x62]],
    ['wire type 7 does not exist', [0x0f]],
    ['wire type 4 (end group) with no group open', [0x0c]],
    ['varint that never ends', [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    ['tag cut short', [0x80]],
    ['fixed64 cut short', [0x19, 1, 2, 3]],
  ]
  for (const [why, bytes] of cases) {
    let caught: unknown
    try {
      sample.decode(Uint8Array.from(bytes))
    } catch (err) {
      caught = err
    }
    assert.ok(isCodecError(caught, 'CODEC_ERR_MESSAGE_DECODE'), `${why}: ${String(caught)}`)
    assert.ok(caught.cause instanceof Error, `${why}: the protobufjs error is kept as the cause`)
    assert.match(caught.message, /^test\.Sample|Sample/)
  }
})

test('protobuf codec: a proto2 required field that is missing is CODEC_ERR_MESSAGE_DECODE', () => {
  assert.equal(strict.decode(strict.encode({ id: 'x' })).id, 'x')
  assert.equal(
    codecErrorOf(() => strict.decode(new Uint8Array(0))),
    'CODEC_ERR_MESSAGE_DECODE',
  )
})

test('protobuf codec: nesting deep enough to overflow the stack is CODEC_ERR_MESSAGE_DECODE, not a crash', () => {
  // Nest { child = 1 } nested 200 000 times: 0x0a <len> around each level,
  // built inside out so every length is right. Decoding recurses once per level.
  const depth = 200_000
  const lengths: number[] = []
  let len = 0
  for (let i = 0; i < depth; i++) {
    lengths.push(len)
    len += 1 + varintSize(len)
  }
  const out = new Uint8Array(len)
  let pos = 0
  for (let i = depth - 1; i >= 0; i--) {
    out[pos++] = 0x0a
    pos = writeVarint(out, pos, lengths[i])
  }
  assert.equal(pos, len)
  assert.equal(
    codecErrorOf(() => nest.decode(out)),
    'CODEC_ERR_MESSAGE_DECODE',
  )
  // A shallow one still decodes.
  assert.deepEqual(nest.decode(Uint8Array.from([0x0a, 0x02, 0x0a, 0x00])), { child: { child: { child: null } } })
})

test('protobuf codec: arbitrary bytes either decode or throw CodecError CODEC_ERR_MESSAGE_DECODE, nothing else', () => {
  for (const codec of [sample, nest, strict] as MessageCodec<unknown>[]) {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => decodesOrTypedError(codec, bytes)),
      { numRuns: 2000 },
    )
  }
})

test('protobuf codec: mutated valid messages decode or throw only the typed error', () => {
  const mutated = fc
    .tuple(
      sampleArb,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
    )
    .map(([msg, flips, cut]) => {
      const bytes = sample.encode(msg)
      for (const [at, v] of flips) if (bytes.length > 0) bytes[at % bytes.length] = v
      return bytes.subarray(0, bytes.length === 0 ? 0 : cut % (bytes.length + 1))
    })
  fc.assert(
    fc.property(mutated, (bytes) => decodesOrTypedError(sample, bytes)),
    { numRuns: 1000 },
  )
})

test('protobuf codec: a value protobufjs cannot convert is CodecError CODEC_ERR_MESSAGE_ENCODE', () => {
  const bad = { text: 'x', inner: 'not an object' } as unknown as Sample
  assert.equal(
    codecErrorOf(() => sample.encode(bad)),
    'CODEC_ERR_MESSAGE_ENCODE',
  )
})

test('conversion options: longs as BigInt, enums as numbers', () => {
  const codec = protobufCodec<{ seq: bigint; mood: number }>(root.lookupType('test.Sample'), {
    conversion: { longs: BigInt, enums: undefined },
  })
  const back = codec.decode(codec.encode({ seq: 2n ** 63n + 5n, mood: 2 }))
  assert.equal(back.seq, 2n ** 63n + 5n)
  assert.equal(back.mood, 2)
})

test('decodeMessage / encodeMessage turn whatever a hand-written codec throws into the typed error', () => {
  const json: MessageCodec<{ n: number }> = {
    encode: (m) => {
      if (!Number.isFinite(m.n)) throw new RangeError('n must be finite')
      return new TextEncoder().encode(JSON.stringify(m))
    },
    decode: (b) => {
      const v = JSON.parse(new TextDecoder().decode(b)) as unknown
      if (typeof v !== 'object' || v === null || typeof (v as { n?: unknown }).n !== 'number') throw 'not a {n} object'
      return v as { n: number }
    },
  }
  assert.deepEqual(decodeMessage(json, encodeMessage(json, { n: 3 })), { n: 3 })
  assert.equal(
    codecErrorOf(() => decodeMessage(json, Uint8Array.from([0x7b]))),
    'CODEC_ERR_MESSAGE_DECODE',
  ) // SyntaxError
  assert.equal(
    codecErrorOf(() => decodeMessage(json, new TextEncoder().encode('[1]'))),
    'CODEC_ERR_MESSAGE_DECODE',
  ) // a thrown string
  assert.equal(
    codecErrorOf(() => encodeMessage(json, { n: Infinity })),
    'CODEC_ERR_MESSAGE_ENCODE',
  )
  try {
    decodeMessage(json, new TextEncoder().encode('[1]'))
  } catch (err) {
    assert.ok(isCodecError(err))
    assert.equal(err.cause, 'not a {n} object')
  }
})

test('loadProtobufCodec: a .proto file gives a working codec; a missing file or type is CODEC_ERR_INVALID_OPTION', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tentacle-codec-'))
  try {
    const file = join(dir, 'sample.proto')
    await writeFile(file, PROTO)
    const codec = await loadProtobufCodec<Sample>(file, 'test.Sample')
    const back = codec.decode(codec.encode({ ...sampleArbDefault(), text: 'from a file', seq: '18446744073709551615' }))
    assert.equal(back.text, 'from a file')
    assert.equal(back.seq, '18446744073709551615')
    await assert.rejects(loadProtobufCodec(join(dir, 'nope.proto'), 'test.Sample'), (e) =>
      isCodecError(e, 'CODEC_ERR_INVALID_OPTION'),
    )
    await assert.rejects(loadProtobufCodec(file, 'test.Missing'), (e) => isCodecError(e, 'CODEC_ERR_INVALID_OPTION'))
    await writeFile(join(dir, 'broken.proto'), 'syntax = "proto3"; message {')
    await assert.rejects(loadProtobufCodec(join(dir, 'broken.proto'), 'X'), (e) =>
      isCodecError(e, 'CODEC_ERR_INVALID_OPTION'),
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

function sampleArbDefault(): Sample {
  return {
    text: '',
    seq: '0',
    blob: new Uint8Array(0),
    mood: 'CALM',
    nums: [],
    inner: null,
    attrs: {},
    delta: 0,
    flag: false,
  }
}

function varintSize(n: number): number {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80
    n = Math.floor(n / 128)
  }
  out[pos++] = n
  return pos
}
