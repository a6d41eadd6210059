/**
 * secp256k1 ECDSA signature encoding as tentacle's libsecp256k1 sees it (§3.9):
 * strict DER, low-S. OpenSSL (node:crypto) neither produces low-S nor checks it,
 * so signatures are normalised after signing and high-S is rejected before verifying.
 */

/** Order of the secp256k1 group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
const HALF_N = SECP256K1_N >> 1n

export function toBigInt(b: Uint8Array): bigint {
  let v = 0n
  for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i]!)
  return v
}

function to32(v: bigint): Uint8Array {
  const out = new Uint8Array(32)
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

/** Reads a DER length as libsecp256k1's `secp256k1_der_read_len` does; -1 on failure. */
export function readLength(sig: Uint8Array, pos: { at: number }): number {
  if (pos.at >= sig.length) return -1
  const b1 = sig[pos.at++]!
  if (b1 === 0xff) return -1
  if ((b1 & 0x80) === 0) return b1
  if (b1 === 0x80) return -1 // indefinite length is not DER
  let left = b1 & 0x7f
  if (left > sig.length - pos.at) return -1
  if (sig[pos.at] === 0) return -1 // not the shortest length encoding
  if (left > 4) return -1
  let len = 0
  while (left-- > 0) len = len * 256 + sig[pos.at++]!
  if (len > sig.length - pos.at) return -1
  if (len < 128) return -1 // not the shortest length encoding
  return len
}

const N_BYTES = to32(SECP256K1_N)
const HALF_N_BYTES = to32(HALF_N)

/** Compares out[at, at+32) with a 32-byte big-endian number. */
function compare32(out: Uint8Array, at: number, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = out[at + i]! - b[i]!
    if (d !== 0) return d
  }
  return 0
}

function isZero32(out: Uint8Array, at: number): boolean {
  for (let i = at; i < at + 32; i++) if (out[i] !== 0) return false
  return true
}

/**
 * Reads one INTEGER as `secp256k1_der_parse_integer`: writes the value big-endian into
 * out[at, at+32) (left as zeros for a negative or overflowing value, which then fails
 * verification). False for bad DER.
 */
function readIntegerInto(sig: Uint8Array, pos: { at: number }, out: Uint8Array, at: number): boolean {
  if (pos.at >= sig.length || sig[pos.at] !== 0x02) return false
  pos.at++
  let len = readLength(sig, pos)
  if (len <= 0 || len > sig.length - pos.at) return false
  const first = sig[pos.at]!
  if (first === 0x00 && len > 1 && (sig[pos.at + 1]! & 0x80) === 0) return false // excessive 0x00 padding
  if (first === 0xff && len > 1 && (sig[pos.at + 1]! & 0x80) === 0x80) return false // excessive 0xff padding
  let overflow = (first & 0x80) === 0x80 // negative
  if (first === 0) {
    len--
    pos.at++
  }
  if (len > 32) overflow = true
  if (!overflow) {
    out.set(sig.subarray(pos.at, pos.at + len), at + 32 - len)
    if (compare32(out, at, N_BYTES) >= 0) out.fill(0, at, at + 32)
  }
  pos.at += len
  return true
}

/**
 * Turns a DER signature into the 64-byte r‖s form when libsecp256k1 could accept
 * it: strict DER, 0 < r,s < n and low-S. Returns undefined otherwise.
 * (The tests check it against a bigint parse of the same rules.)
 */
export function derToCompactLowS(sig: Uint8Array): Uint8Array | undefined {
  if (sig.length === 0 || sig[0] !== 0x30) return undefined
  const pos = { at: 1 }
  const len = readLength(sig, pos)
  if (len < 0 || len !== sig.length - pos.at) return undefined
  const out = new Uint8Array(64)
  if (!readIntegerInto(sig, pos, out, 0) || !readIntegerInto(sig, pos, out, 32)) return undefined
  if (pos.at !== sig.length) return undefined
  if (isZero32(out, 0) || isZero32(out, 32) || compare32(out, 32, HALF_N_BYTES) > 0) return undefined
  return out
}

function derInteger(v: Uint8Array): number[] {
  let i = 0
  while (i < v.length - 1 && v[i] === 0) i++
  const body = Array.from(v.subarray(i))
  if (body[0]! & 0x80) body.unshift(0)
  return [0x02, body.length, ...body]
}

/**
 * Encodes a 64-byte r‖s signature as minimal DER, replacing s by n − s when s > n/2
 * (low-S, as libsecp256k1 signs).
 */
export function compactToDerLowS(compact: Uint8Array): Uint8Array {
  const r = compact.subarray(0, 32)
  let s = compact.subarray(32, 64)
  const sv = toBigInt(s)
  if (sv > HALF_N) s = to32(SECP256K1_N - sv)
  const body = [...derInteger(r), ...derInteger(s)]
  return Uint8Array.from([0x30, body.length, ...body])
}
