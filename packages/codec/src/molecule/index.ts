/**
 * Molecule codec (§6): combinators that describe a schema once and give a
 * typed encoder and a verifying decoder. Secio's handshake, protocol select
 * and the built-in protocols describe their schemas with it.
 *
 * @example
 * ```ts
 * import { table, string, dynvec } from '@tentacle-ts/codec'
 * const ProtocolInfo = table('ProtocolInfo', [
 *   ['name', string()],
 *   ['supportVersions', dynvec('StringVec', string())],
 * ])
 * const bytes = ProtocolInfo.encode({ name: '/p2p/1', supportVersions: ['0.0.1'] })
 * ProtocolInfo.decode(bytes) // -> { name: '/p2p/1', supportVersions: ['0.0.1'] }
 * ```
 */
export {
  array,
  byte,
  bytes,
  dynvec,
  encodeOffsets,
  fixvec,
  option,
  readOffsets,
  readU32LE,
  string,
  struct,
  table,
  uint32,
  uint64,
  uintLE,
  union,
  writeU32LE,
} from './codec.js'
export type { Codec, CodecValue, DecodeOptions, Field, FieldsValue, UnionItem, UnionValue } from './codec.js'
