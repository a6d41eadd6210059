// Frame codec and decoder (§8.1): properties with fast-check, plus the typed errors.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  YamuxFrameDecoder,
  DECODED_BODY,
  DECODED_HEADER,
  NEED_MORE,
  HEADER_SIZE,
  TYPE_DATA,
  TYPE_GO_AWAY,
  TYPE_WINDOW_UPDATE,
  encodeHeader,
  readHeader,
  YamuxError,
  type FrameHeader,
} from '../src/index.js'

interface Frame extends Omit<FrameHeader, 'version'> {
  body?: Uint8Array
}

const MAX = 4096

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc
    .record({
      type: fc.constant(TYPE_DATA),
      flags: fc.integer({ min: 0, max: 0xffff }),
      streamId: fc.integer({ min: 0, max: 0xffffffff }),
      body: fc.uint8Array({ maxLength: 300 }),
    })
    .map((f) => ({ ...f, length: f.body.length })),
  fc.record({
    type: fc.integer({ min: 1, max: 3 }),
    flags: fc.integer({ min: 0, max: 0xffff }),
    streamId: fc.integer({ min: 0, max: 0xffffffff }),
    length: fc.integer({ min: 0, max: 0xffffffff }),
  }),
)

function encode(frames: Frame[]): Uint8Array {
  const parts: Uint8Array[] = []
  for (const f of frames) {
    parts.push(encodeHeader(f))
    if (f.body) parts.push(f.body)
  }
  return Buffer.concat(parts)
}

/** Splits `bytes` at the given cut points (any chunking). */
function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let prev = 0
  for (const p of points) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  out.push(bytes.subarray(prev))
  return out
}

/** Decodes everything, reassembling bodies; returns frames, or the typed error. */
function decodeAll(chunks: Uint8Array[], max = MAX): { frames: Frame[]; error?: YamuxError } {
  const d = new YamuxFrameDecoder(max)
  const frames: Frame[] = []
  let body: Uint8Array[] = []
  let cur: Frame | undefined
  try {
    for (const c of chunks) {
      d.push(c)
      for (;;) {
        const r = d.next()
        if (r === NEED_MORE) break
        if (r === DECODED_HEADER) {
          assert.ok(d.state === 'header' || d.state === 'body')
          const f: Frame = { type: d.type, flags: d.flags, streamId: d.streamId, length: d.length }
          if (d.type === TYPE_DATA) {
            f.body = new Uint8Array(0)
            if (d.length > 0) {
              cur = f
              body = []
              continue
            }
          }
          frames.push(f)
        } else if (r === DECODED_BODY) {
          assert.ok(cur, 'body only after a Data header')
          body.push(Uint8Array.from(d.body))
          if (d.bodyDone) {
            cur.body = Buffer.concat(body)
            frames.push(cur)
            cur = undefined
          }
        }
      }
    }
  } catch (err) {
    assert.ok(err instanceof YamuxError, `decoder threw a non-YamuxError: ${String(err)}`)
    return { frames, error: err }
  }
  return { frames }
}

const norm = (f: Frame) => ({ ...f, body: f.body ? Buffer.from(f.body).toString('hex') : undefined })

test('property: encode → decode is the identity under any chunking', () => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (frames, cuts) => {
      const bytes = encode(frames)
      const { frames: got, error } = decodeAll(chunk(bytes, cuts))
      assert.equal(error, undefined)
      assert.deepEqual(got.map(norm), frames.map(norm))
    }),
    { numRuns: 400 },
  )
})

test('property: arbitrary bytes give frames or a typed error, never a crash or unbounded state', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 20 }), (bytes, cuts) => {
      const d = new YamuxFrameDecoder(MAX)
      let consumedAll = true
      try {
        for (const c of chunk(bytes, cuts)) {
          d.push(c)
          while (d.next() !== NEED_MORE) {
            /* drain */
          }
        }
      } catch (err) {
        assert.ok(err instanceof YamuxError)
        assert.ok(
          ['YAMUX_ERR_INVALID_VERSION', 'YAMUX_ERR_INVALID_TYPE', 'YAMUX_ERR_FRAME_TOO_LARGE'].includes(err.code),
        )
        assert.equal(d.state, 'failed')
        assert.throws(() => d.next(), { code: err.code }, 'a failed decoder keeps failing')
        consumedAll = false
      }
      // Whatever was pushed is either decoded or, after a failure, dropped: nothing piles up.
      if (consumedAll) assert.ok(d.bufferedBytes < HEADER_SIZE)
      else assert.equal(d.bufferedBytes, 0)
    }),
    { numRuns: 500 },
  )
})

test('property: a version other than 0 is YAMUX_ERR_INVALID_VERSION', () => {
  fc.assert(
    fc.property(frameArb, fc.integer({ min: 1, max: 255 }), (f, version) => {
      const bytes = encode([f])
      const bad = Uint8Array.from(bytes)
      bad[0] = version
      const { error } = decodeAll([bad])
      assert.equal(error?.code, 'YAMUX_ERR_INVALID_VERSION')
    }),
  )
})

test('property: a type above 3 is YAMUX_ERR_INVALID_TYPE', () => {
  fc.assert(
    fc.property(frameArb, fc.integer({ min: 4, max: 255 }), (f, type) => {
      const bad = Uint8Array.from(encode([f]))
      bad[1] = type
      assert.equal(decodeAll([bad]).error?.code, 'YAMUX_ERR_INVALID_TYPE')
    }),
  )
})

test('property: Data longer than the max window is YAMUX_ERR_FRAME_TOO_LARGE; other types may carry any length', () => {
  fc.assert(
    fc.property(fc.integer({ min: MAX + 1, max: 0xffffffff }), fc.integer({ min: 0, max: 50 }), (length, extra) => {
      const h = encodeHeader({ type: TYPE_DATA, flags: 0, streamId: 1, length })
      const { error } = decodeAll([h, new Uint8Array(extra)])
      assert.equal(error?.code, 'YAMUX_ERR_FRAME_TOO_LARGE')
      const wu = encodeHeader({ type: TYPE_WINDOW_UPDATE, flags: 0, streamId: 1, length })
      assert.equal(decodeAll([wu]).error, undefined)
    }),
  )
  // Exactly the max is fine (Rust: length > max_frame_size is the error).
  const ok = decodeAll([encodeHeader({ type: TYPE_DATA, flags: 0, streamId: 1, length: MAX }), new Uint8Array(MAX)])
  assert.equal(ok.error, undefined)
  assert.equal(ok.frames[0].body?.length, MAX)
})

test('the decoder names its state: header → body → header; GoAway carries its code in length', () => {
  const d = new YamuxFrameDecoder(MAX)
  assert.equal(d.state, 'header')
  d.push(encodeHeader({ type: TYPE_DATA, flags: 0, streamId: 3, length: 5 }))
  assert.equal(d.next(), DECODED_HEADER)
  assert.equal(d.state, 'body')
  assert.equal(d.next(), NEED_MORE)
  d.push(Uint8Array.of(1, 2))
  assert.equal(d.next(), DECODED_BODY)
  assert.equal(d.bodyDone, false)
  d.push(Uint8Array.of(3, 4, 5))
  assert.equal(d.next(), DECODED_BODY)
  assert.equal(d.bodyDone, true)
  assert.equal(d.state, 'header')
  d.push(encodeHeader({ type: TYPE_GO_AWAY, flags: 0, streamId: 0, length: 2 }))
  assert.equal(d.next(), DECODED_HEADER)
  assert.equal(d.type, TYPE_GO_AWAY)
  assert.equal(d.length, 2)
})

test('body fragments are views of the input, not copies', () => {
  const d = new YamuxFrameDecoder(MAX)
  const input = Buffer.concat([
    encodeHeader({ type: TYPE_DATA, flags: 0, streamId: 1, length: 4 }),
    Buffer.from('wxyz'),
  ])
  d.push(input)
  assert.equal(d.next(), DECODED_HEADER)
  assert.equal(d.next(), DECODED_BODY)
  assert.equal(d.body.buffer, input.buffer)
  assert.equal(d.body.byteOffset, input.byteOffset + HEADER_SIZE)
})

test('readHeader/encodeHeader round trip, big-endian', () => {
  const h = { version: 0, type: 1, flags: 0x0102, streamId: 0x01020304, length: 0xfffffffe }
  assert.deepEqual(readHeader(encodeHeader(h)), h)
  assert.equal(Buffer.from(encodeHeader(h)).toString('hex'), '000101020102030' + '4fffffffe')
})
