/**
 * @tentacle-ts/codec — bytes ↔ messages, no networking: the molecule codec
 * (§6) and the length-delimited framing (§2.1, §10.1) that secio, tentacle and
 * the built-in protocols share.
 */
export * from './molecule/index.js'
export {
  LengthDelimitedDecoder,
  DEFAULT_MAX_FRAME_LENGTH,
  FRAME_HEADER_SIZE,
  encodeFrame,
  encodeFramePieces,
  frameHeader,
} from './length-delimited.js'
export type { LengthDelimitedDecoderState } from './length-delimited.js'
export { CODEC_ERROR_CODES, CodecError, MoleculeError, isCodecError, isMoleculeError } from './errors.js'
export type { CodecErrorCode, CodecErrorOptions, MoleculeErrorCode } from './errors.js'
export * from './application/index.js'
export { Fifo } from './fifo.js'
