/**
 * Seeded randomness and byte mutators for the coverage-guided fuzzer
 * (engine.ts). Deterministic for a given seed, so a run can be replayed.
 */

/** sfc32 (Chris Doty-Humphrey's small fast counting PRNG): 32-bit, seedable, passes PractRand. */
export class Rng {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: number) {
    this.#a = 0x9e3779b9
    this.#b = 0x243f6a88
    this.#c = 0xb7e15162
    this.#d = seed >>> 0
    for (let i = 0; i < 15; i++) this.u32()
  }

  /** A uniform u32. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0
    this.#d = (this.#d + 1) >>> 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) >>> 0
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0
    this.#c = (this.#c + t) >>> 0
    return t
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.u32() % n
  }

  /** True with probability 1/n. */
  oneIn(n: number): boolean {
    return this.below(n) === 0
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!
  }
}

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 4, 8, 12, 16, 32, 64]
const INTERESTING_32 = [
  0, 1, 3, 4, 8, 12, 16, 0x7f, 0xff, 0x100, 0xffff, 0x10000, 0x40000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe,
]

/**
 * One havoc round on a copy of `input`: one mutation, or a stack of 2–8, optionally
 * splicing in `other` (another corpus entry). The result is at most `maxLen` bytes.
 */
export function mutate(rng: Rng, input: Uint8Array, other: Uint8Array | undefined, maxLen: number): Uint8Array {
  let buf: Buffer = Buffer.from(input)
  // Half the time one mutation (keeps what a parent already reached), else a stack of 2–8.
  const rounds = rng.oneIn(2) ? 1 : 2 + rng.below(7)
  for (let r = 0; r < rounds; r++) buf = mutateOnce(rng, buf, other, maxLen)
  return buf.length > maxLen ? buf.subarray(0, maxLen) : buf
}

function mutateOnce(rng: Rng, buf: Buffer, other: Uint8Array | undefined, maxLen: number): Buffer {
  const len = buf.length
  switch (rng.below(len === 0 ? 2 : 13)) {
    case 0: {
      // insert random bytes
      const n = 1 + rng.below(rng.oneIn(4) ? 64 : 4)
      const at = rng.below(len + 1)
      const ins = Buffer.alloc(n)
      for (let i = 0; i < n; i++) ins[i] = rng.oneIn(2) ? rng.pick(INTERESTING_8) : rng.below(256)
      return Buffer.concat([buf.subarray(0, at), ins, buf.subarray(at)])
    }
    case 1: {
      // splice with another corpus entry (or append a copy of a piece of ourselves)
      const src = other !== undefined && other.length > 0 ? other : buf
      if (src.length === 0) return buf
      const from = rng.below(src.length)
      const n = 1 + rng.below(src.length - from)
      const at = rng.below(len + 1)
      const piece = Buffer.from(src.subarray(from, from + n))
      return rng.oneIn(2)
        ? Buffer.concat([buf.subarray(0, at), piece, buf.subarray(at)])
        : Buffer.concat([buf.subarray(0, at), piece])
    }
    case 2: {
      // flip one bit
      const at = rng.below(len)
      buf[at] = buf[at]! ^ (1 << rng.below(8))
      return buf
    }
    case 3: {
      // set a byte to an interesting value
      buf[rng.below(len)] = rng.pick(INTERESTING_8)
      return buf
    }
    case 4: {
      // random byte
      buf[rng.below(len)] = rng.below(256)
      return buf
    }
    case 5: {
      // small add/subtract
      const at = rng.below(len)
      buf[at] = (buf[at]! + (rng.below(35) - 17)) & 0xff
      return buf
    }
    case 6:
    case 7: {
      // a 32-bit word, little or big endian: interesting, or the length-ish values of this input
      if (len < 4) return buf
      const at = rng.below(len - 3)
      const candidates = [
        ...INTERESTING_32,
        len,
        len - at,
        len - at - 4,
        buf.readUInt32LE(at) + 1,
        buf.readUInt32LE(at) - 1,
      ]
      const v = rng.pick(candidates) >>> 0
      if (rng.oneIn(2)) buf.writeUInt32LE(v, at)
      else buf.writeUInt32BE(v, at)
      return buf
    }
    case 8: {
      // delete a range
      const at = rng.below(len)
      const n = 1 + rng.below(Math.min(len - at, 16))
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + n)])
    }
    case 9: {
      // truncate
      return buf.subarray(0, rng.below(len))
    }
    case 10: {
      // duplicate a range (repeated structures)
      const at = rng.below(len)
      const n = 1 + rng.below(Math.min(len - at, 64))
      if (len + n > maxLen) return buf
      return Buffer.concat([buf.subarray(0, at + n), buf.subarray(at, at + n), buf.subarray(at + n)])
    }
    case 11: {
      // 16-bit interesting value
      if (len < 2) return buf
      const at = rng.below(len - 1)
      const v = rng.pick([0, 1, 0xff, 0x100, 0x7fff, 0x8000, 0xffff])
      if (rng.oneIn(2)) buf.writeUInt16LE(v, at)
      else buf.writeUInt16BE(v, at)
      return buf
    }
    default: {
      // overwrite a range with a copy of another range
      const from = rng.below(len)
      const to = rng.below(len)
      const n = 1 + rng.below(Math.min(len - from, len - to, 16))
      buf.copy(buf, to, from, from + n)
      return buf
    }
  }
}
