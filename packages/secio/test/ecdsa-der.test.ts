/** derToCompactLowS (bytes only) against the bigint parse it replaced on the verify path. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { derToCompactLowS, readLength, SECP256K1_N, toBigInt } from '../src/crypto/ecdsa-der.js'

const HALF_N = SECP256K1_N >> 1n

// The bigint parse that was on the verify path before derToCompactLowS, kept as its oracle.
/**
 * Reads one INTEGER as `secp256k1_der_parse_integer`: returns its value, 0n for a
 * negative or overflowing value (which then fails verification), undefined for bad DER.
 */
function readInteger(sig: Uint8Array, pos: { at: number }): bigint | undefined {
  if (pos.at >= sig.length || sig[pos.at] !== 0x02) return undefined
  pos.at++
  let len = readLength(sig, pos)
  if (len <= 0 || len > sig.length - pos.at) return undefined
  const first = sig[pos.at]!
  if (first === 0x00 && len > 1 && (sig[pos.at + 1]! & 0x80) === 0) return undefined // excessive 0x00 padding
  if (first === 0xff && len > 1 && (sig[pos.at + 1]! & 0x80) === 0x80) return undefined // excessive 0xff padding
  let overflow = (first & 0x80) === 0x80 // negative
  if (first === 0) {
    len--
    pos.at++
  }
  if (len > 32) overflow = true
  let v = 0n
  if (!overflow) {
    v = toBigInt(sig.subarray(pos.at, pos.at + len))
    if (v >= SECP256K1_N) overflow = true
  }
  pos.at += len
  return overflow ? 0n : v
}

/**
 * Parses a signature with libsecp256k1's strict DER rules (`secp256k1_ecdsa_signature_parse_der`).
 * Returns undefined for malformed DER. r or s may be 0n (negative/overflowing input).
 */
function parseDer(sig: Uint8Array): { r: bigint; s: bigint } | undefined {
  const pos = { at: 0 }
  if (sig.length === 0 || sig[pos.at++] !== 0x30) return undefined
  const len = readLength(sig, pos)
  if (len < 0 || len !== sig.length - pos.at) return undefined
  const r = readInteger(sig, pos)
  if (r === undefined) return undefined
  const s = readInteger(sig, pos)
  if (s === undefined) return undefined
  if (pos.at !== sig.length) return undefined
  return { r, s }
}

/** The reference: libsecp256k1's strict DER parse as bigints, then 0 < r, s and low-S. */
function reference(sig: Uint8Array): Uint8Array | undefined {
  const p = parseDer(sig)
  if (p === undefined || p.r === 0n || p.s === 0n || p.s > HALF_N) return undefined
  return Uint8Array.from(Buffer.from(p.r.toString(16).padStart(64, '0') + p.s.toString(16).padStart(64, '0'), 'hex'))
}

function derInt(v: Uint8Array): number[] {
  return [0x02, v.length, ...v]
}

/** Scalars near the interesting edges: 0, 1, n/2, n - 1, n, n + 1, 2^256 - 1, random. */
const edges = [
  0n,
  1n,
  HALF_N - 1n,
  HALF_N,
  HALF_N + 1n,
  SECP256K1_N - 1n,
  SECP256K1_N,
  SECP256K1_N + 1n,
  (1n << 256n) - 1n,
]
const scalar = fc.oneof(fc.constantFrom(...edges), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }))

function minimal(v: bigint): Uint8Array {
  let hex = v.toString(16)
  if (hex.length % 2) hex = '0' + hex
  const bytes = Buffer.from(hex, 'hex')
  return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes
}

test('derToCompactLowS: same result as the bigint parse on well-formed signatures around 0, n/2 and n', () => {
  fc.assert(
    fc.property(scalar, scalar, (r, s) => {
      const body = [...derInt(minimal(r)), ...derInt(minimal(s))]
      const sig = Uint8Array.from([0x30, body.length, ...body])
      assert.deepEqual(derToCompactLowS(sig), reference(sig))
    }),
    { numRuns: 2000 },
  )
})

test('derToCompactLowS: same result as the bigint parse on mutated and random bytes', () => {
  const valid = fc.tuple(scalar, scalar).map(([r, s]) => {
    const body = [...derInt(minimal(r)), ...derInt(minimal(s))]
    return Uint8Array.from([0x30, body.length, ...body])
  })
  const mutated = fc
    .tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 }))
    .map(([sig, at, byte, op]) => {
      const b = Array.from(sig)
      const i = at % b.length
      if (op === 0) b[i] = byte
      else if (op === 1) b.splice(i, 1)
      else if (op === 2) b.splice(i, 0, byte)
      else b.push(byte)
      return Uint8Array.from(b)
    })
  fc.assert(
    fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 80 })), (sig) => {
      assert.deepEqual(derToCompactLowS(sig), reference(sig))
    }),
    { numRuns: 5000 },
  )
})
