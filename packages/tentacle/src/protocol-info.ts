import { dynvec, string, table, isMoleculeError } from '@tentacle-ts/codec'
import { TentacleError } from './errors.js'

/**
 * `table ProtocolInfo { name: String, support_versions: StringVec }` (§9.1),
 * the one message of protocol selection.
 */
const ProtocolInfoCodec = table('ProtocolInfo', [
  ['name', string('String')],
  ['supportVersions', dynvec('StringVec', string('String'))],
] as const)

export interface ProtocolInfo {
  name: string
  supportVersions: string[]
}

export function encodeProtocolInfo(info: ProtocolInfo): Uint8Array {
  return ProtocolInfoCodec.encode({ name: info.name, supportVersions: info.supportVersions })
}

/** Decodes in compatible mode (extra fields ignored, §3.1/§9.1); TENTACLE_ERR_PROTOCOL_SELECT on malformed bytes. */
export function decodeProtocolInfo(bytes: Uint8Array): ProtocolInfo {
  const fast = decodeCommon(bytes)
  if (fast !== undefined) return fast
  try {
    const v = ProtocolInfoCodec.decode(bytes)
    return { name: v.name, supportVersions: v.supportVersions }
  } catch (err) {
    if (isMoleculeError(err)) {
      throw new TentacleError('TENTACLE_ERR_PROTOCOL_SELECT', `malformed ProtocolInfo: ${err.message}`, { cause: err })
    }
    throw err
  }
}

/**
 * The shape every peer sends (exactly the two fields, ASCII strings), read
 * without the generic molecule codec; undefined for anything else, which then
 * goes through the codec. It accepts only what the codec accepts (§6: the
 * same total-size, offset and vector checks) and returns what the codec
 * returns, so it changes no result and no error.
 */
function decodeCommon(b: Uint8Array): ProtocolInfo | undefined {
  const len = b.length
  // Table header: total size, then exactly two offsets (12 = 4 × (1 + 2)).
  if (len < 16 || u32(b, 0) !== len || u32(b, 4) !== 12) return undefined
  const nameEnd = u32(b, 8)
  if (nameEnd < 16 || nameEnd > len) return undefined
  const name = asciiVec(b, 12, nameEnd)
  if (name === undefined) return undefined
  // StringVec (a dynvec) in [nameEnd, len).
  const vlen = len - nameEnd
  if (vlen < 4 || u32(b, nameEnd) !== vlen) return undefined
  if (vlen === 4) return { name, supportVersions: [] }
  if (vlen < 8) return undefined
  const first = u32(b, nameEnd + 4)
  if (first % 4 !== 0 || first < 8 || first > vlen) return undefined
  const count = first / 4 - 1
  const supportVersions = new Array<string>(count)
  let start = first
  for (let i = 0; i < count; i++) {
    const end = i + 1 < count ? u32(b, nameEnd + 4 * (2 + i)) : vlen
    if (end < start || end > vlen) return undefined
    const v = asciiVec(b, nameEnd + start, nameEnd + end)
    if (v === undefined) return undefined
    supportVersions[i] = v
    start = end
  }
  return { name, supportVersions }
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000
}

/** A `String` (u32le byte count, then the bytes) in [start, end) that is all ASCII, or undefined. */
function asciiVec(b: Uint8Array, start: number, end: number): string | undefined {
  if (end - start < 4 || u32(b, start) !== end - start - 4) return undefined
  const from = start + 4
  for (let i = from; i < end; i++) if (b[i]! >= 0x80) return undefined
  if (end - from > 12) {
    // Longer strings in one piece (concatenation would build a rope to flatten at the first Map lookup).
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    return buf.toString('latin1', from, end)
  }
  let s = ''
  for (let i = from; i < end; i++) s += String.fromCharCode(b[i]!)
  return s
}
