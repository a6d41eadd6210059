/**
 * Molecule codec (§6), exported at `@tentacle-ts/secio/molecule` so protocol
 * select, ping, identify and discovery can describe their schemas with it.
 *
 * @example
 * ```ts
 * import { table, string, dynvec } from '@tentacle-ts/secio/molecule'
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
  readU32,
  string,
  struct,
  table,
  uint32,
  uint64,
  uintLE,
  union,
  writeU32,
} from './codec.js'
export type { Codec, CodecValue, DecodeOptions, Field, FieldsValue, UnionItem, UnionValue } from './codec.js'
export { MoleculeError } from './molecule-error.js'
export type { MoleculeErrorCode } from './molecule-error.js'
