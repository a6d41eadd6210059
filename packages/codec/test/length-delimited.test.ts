// Length-delimited frame decoder (§2.1, §2.2): states, the max length checked on
// the header before anything is buffered, chaotic chunking, and properties.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CodecError, encodeFrame, encodeFramePieces, frameHeader, LengthDelimitedDecoder } from '../src/index.js'

function drain(d: LengthDelimitedDecoder): Buffer[] {
  const out: Buffer[] = []
  for (let f = d.next(); f !== null; f = d.next()) out.push(Buffer.from(f))
  return out
}

/** Splits `data` at the given cut points (any order, any count). */
function chop(data: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let prev = 0
  for (const p of points) {
    out.push(data.subarray(prev, p))
    prev = p
  }
  out.push(data.subarray(prev))
  return out
}

describe('LengthDelimitedDecoder', () => {
  test('decodes frames across chunk boundaries, moving through named states', () => {
    const d = new LengthDelimitedDecoder(1024)
    assert.equal(d.state, 'header')
    d.push(Buffer.from([0, 0]))
    assert.equal(d.next(), null)
    assert.equal(d.state, 'header')
    d.push(Buffer.from([0, 3, 0xaa]))
    assert.equal(d.next(), null)
    assert.equal(d.state, 'body')
    d.push(Buffer.from([0xbb, 0xcc, 0, 0, 0, 0, 0, 0, 0, 1]))
    assert.deepEqual(drain(d), [Buffer.from([0xaa, 0xbb, 0xcc]), Buffer.alloc(0)])
    assert.equal(d.state, 'body')
    d.push(Buffer.from([0x55]))
    assert.deepEqual(drain(d), [Buffer.from([0x55])])
    assert.equal(d.state, 'header')
    assert.equal(d.bufferedBytes, 0)
    assert.equal(d.hasPartialFrame, false)
  })

  test('a body inside one chunk is returned without a copy', () => {
    const d = new LengthDelimitedDecoder(1024)
    const chunk = Buffer.concat([encodeFrame(Buffer.from('hello')), encodeFrame(Buffer.from('world'))])
    d.push(chunk)
    const f = d.next()!
    assert.equal(f.buffer, chunk.buffer)
    assert.equal(f.toString(), 'hello')
  })

  test('a length equal to the max is allowed (§2.2)', () => {
    const d = new LengthDelimitedDecoder(8)
    d.push(encodeFrame(Buffer.alloc(8, 1)))
    assert.equal(d.next()!.length, 8)
  })

  test('an oversized length is rejected on the header, before any body byte is buffered', () => {
    const max = 8 * 1024 * 1024
    const d = new LengthDelimitedDecoder(max)
    const header = Buffer.alloc(4)
    header.writeUInt32BE(max + 1)
    // The header plus the first 64 KiB of the claimed body arrive together.
    d.push(Buffer.concat([header, Buffer.alloc(64 * 1024)]))
    assert.throws(
      () => d.next(),
      (e: unknown) => e instanceof CodecError && e.code === 'CODEC_ERR_FRAME_TOO_LARGE',
    )
    assert.equal(d.state, 'failed')
    assert.equal(d.bufferedBytes, 0, 'nothing of the oversized frame is kept')
    // Later input is neither kept nor decoded.
    d.push(Buffer.alloc(1024))
    assert.throws(
      () => d.next(),
      (e: unknown) => e instanceof CodecError && e.code === 'CODEC_ERR_FRAME_TOO_LARGE',
    )
  })

  test('the header alone is enough to reject: 0xffffffff', () => {
    const d = new LengthDelimitedDecoder()
    d.push(Buffer.from([0xff, 0xff]))
    assert.equal(d.next(), null)
    d.push(Buffer.from([0xff, 0xff]))
    assert.throws(
      () => d.next(),
      (e: unknown) => e instanceof CodecError && e.code === 'CODEC_ERR_FRAME_TOO_LARGE',
    )
  })

  test('reset() in the middle of a length prefix: the next prefix, split again, is read from its own bytes', () => {
    const d = new LengthDelimitedDecoder(1024)
    d.push(Buffer.from([0x12, 0x34]))
    assert.equal(d.next(), null)
    d.reset()
    assert.equal(d.bufferedBytes, 0)
    for (const b of [0, 0, 0, 2, 0x61]) d.push(Buffer.from([b]))
    assert.equal(d.next(), null)
    d.push(Buffer.from([0x62, 0, 0]))
    assert.deepEqual(drain(d), [Buffer.from('ab')])
    d.push(Buffer.from([0, 1, 0x63]))
    assert.deepEqual(drain(d), [Buffer.from([0x63])])
    // The largest length a prefix can say, split byte by byte, is read exactly (no 32-bit overflow).
    const e = new LengthDelimitedDecoder(0xffffffff)
    for (const b of [0xff, 0xff, 0xff, 0xfe]) e.push(Buffer.from([b]))
    assert.equal(e.next(), null)
    assert.equal(e.state, 'body')
    const f = new LengthDelimitedDecoder(0xfffffffd)
    f.push(Buffer.from([0xff, 0xff]))
    f.push(Buffer.from([0xff, 0xfe]))
    assert.throws(() => f.next(), /4294967294 bytes exceeds the max frame length 4294967293/)
  })

  test('hasPartialFrame tells a clean boundary from a truncated frame', () => {
    const d = new LengthDelimitedDecoder(100)
    d.push(Buffer.from([0, 0, 0, 5, 1, 2]))
    assert.equal(d.next(), null)
    assert.equal(d.hasPartialFrame, true)
    assert.equal(d.bufferedBytes, 2)
  })
})

describe('LengthDelimitedDecoder properties', () => {
  test('arbitrary bytes in arbitrary chunks give frames or CODEC_ERR_FRAME_TOO_LARGE, nothing else; memory stays bounded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 200 }),
        (chunks, max) => {
          const d = new LengthDelimitedDecoder(max)
          let total = 0
          try {
            for (const c of chunks) {
              d.push(c)
              total += c.length
              for (let f = d.next(); f !== null; f = d.next()) assert.ok(f.length <= max)
              // Held bytes never exceed one frame (max + header) or the input.
              assert.ok(d.bufferedBytes <= Math.min(total, max + 4))
            }
          } catch (e) {
            if (!(e instanceof CodecError) || e.code !== 'CODEC_ERR_FRAME_TOO_LARGE') throw e
            assert.equal(d.bufferedBytes, 0)
          }
        },
      ),
      { numRuns: 3000 },
    )
  })

  test('chaotic chunking: any split of a frame sequence yields the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const wire = Buffer.concat(payloads.map((p) => encodeFrame(p)))
          const d = new LengthDelimitedDecoder(300)
          const got: Buffer[] = []
          for (const piece of chop(wire, cuts)) {
            d.push(piece)
            got.push(...drain(d))
          }
          assert.deepEqual(
            got.map((g) => g.toString('hex')),
            payloads.map((p) => Buffer.from(p).toString('hex')),
          )
          assert.equal(d.bufferedBytes, 0)
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('piece mode, taking over from next() at any point, yields the same frames with correct start/end flags', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.nat(),
        (payloads, cuts, switchAt) => {
          const wire = Buffer.concat(payloads.map((p) => encodeFrame(p)))
          const chunks = chop(wire, cuts)
          const handOver = switchAt % (chunks.length + 1)
          const d = new LengthDelimitedDecoder(300)
          const got: Buffer[] = []
          let current: Buffer[] | null = null
          chunks.forEach((chunk, i) => {
            d.push(chunk)
            if (i < handOver) {
              got.push(...drain(d))
              return
            }
            for (let piece = d.nextPiece(); piece !== null; piece = d.nextPiece()) {
              assert.equal(d.pieceStartsFrame, current === null)
              if (d.pieceStartsFrame) current = []
              current!.push(Buffer.from(piece))
              if (d.pieceEndsFrame) {
                const frame = Buffer.concat(current!)
                assert.equal(frame.length, d.frameLength)
                got.push(frame)
                current = null
              }
            }
          })
          assert.equal(current, null)
          assert.deepEqual(
            got.map((g) => g.toString('hex')),
            payloads.map((p) => Buffer.from(p).toString('hex')),
          )
          assert.equal(d.bufferedBytes, 0)
        },
      ),
      { numRuns: 2000 },
    )
  })

  test('after CODEC_ERR_FRAME_TOO_LARGE every later call, in either mode, throws it again', () => {
    const d = new LengthDelimitedDecoder(10)
    d.push(Buffer.from([0, 0, 0, 11]))
    for (const call of [() => d.next(), () => d.nextPiece(), () => d.next()]) {
      assert.throws(call, (e: unknown) => e instanceof CodecError && e.code === 'CODEC_ERR_FRAME_TOO_LARGE')
    }
    assert.equal(d.state, 'failed')
  })
})

describe('options and encoders', () => {
  test('a max frame length that is not an integer in [0, 2^32-1] is CODEC_ERR_INVALID_OPTION', () => {
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      assert.throws(
        () => new LengthDelimitedDecoder(bad),
        (e: unknown) => e instanceof CodecError && e.code === 'CODEC_ERR_INVALID_OPTION',
      )
      const d = new LengthDelimitedDecoder(10)
      assert.throws(
        () => d.setMaxFrameLength(bad),
        (e: unknown) => e instanceof CodecError && e.code === 'CODEC_ERR_INVALID_OPTION',
      )
    }
  })

  test('encodeFrame, encodeFramePieces and frameHeader write a u32be prefix', () => {
    assert.equal(encodeFrame(Buffer.from('abc')).toString('hex'), '00000003616263')
    assert.equal(encodeFramePieces([Buffer.from('ab'), Buffer.from('c')], 3).toString('hex'), '00000003616263')
    assert.equal(frameHeader(0x01020304).toString('hex'), '01020304')
  })
})
