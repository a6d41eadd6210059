/**
 * The one error family of this package. Callers branch on `code`, never on the
 * message text. The codes are stable; docs/errors.md lists them.
 */

/** Every code a {@link CodecError} can carry; {@link CodecErrorCode} is its union. */
export const CODEC_ERROR_CODES = [
  // length-delimited framing (§2.1, §2.2, §10.1)
  /** A length prefix announced more than the decoder's max frame length. */
  'CODEC_ERR_FRAME_TOO_LARGE',
  /** A bad option (e.g. a max frame length that is not an integer in [0, 2^32-1]); `field` names it. */
  'CODEC_ERR_INVALID_OPTION',
  // application message codecs (src/application/)
  /** An application message's bytes do not decode (the codec's own error is the `cause`). */
  'CODEC_ERR_MESSAGE_DECODE',
  /** An application message does not encode. */
  'CODEC_ERR_MESSAGE_ENCODE',
  // molecule (§6): mirror the molecule crate's VerificationError kinds, plus UTF-8 and encoding failures
  /** Fewer bytes than the header (or a declared offset) needs. */
  'CODEC_ERR_MOLECULE_HEADER',
  /** The declared total size (or fixvec item count) does not match the slice length. */
  'CODEC_ERR_MOLECULE_TOTAL_SIZE',
  /** Offsets not 4-aligned, first offset < 8, decreasing, or out of bounds. */
  'CODEC_ERR_MOLECULE_OFFSETS',
  /** A table with fewer fields than the schema (or more, in strict mode). */
  'CODEC_ERR_MOLECULE_FIELD_COUNT',
  /** A union item id the schema does not know. */
  'CODEC_ERR_MOLECULE_UNKNOWN_ITEM',
  /** An array or struct whose length is not its fixed size. */
  'CODEC_ERR_MOLECULE_SIZE',
  /** A string that is not valid UTF-8. */
  'CODEC_ERR_MOLECULE_UTF8',
  /** A value that cannot be encoded (wrong array length, unknown union key, too large). */
  'CODEC_ERR_MOLECULE_ENCODE',
] as const

/** Every code a {@link CodecError} can carry. */
export type CodecErrorCode = (typeof CODEC_ERROR_CODES)[number]

/** The molecule subset of {@link CodecErrorCode}. */
export type MoleculeErrorCode = Extract<CodecErrorCode, `CODEC_ERR_MOLECULE_${string}`>

/** Options of a {@link CodecError}. */
export interface CodecErrorOptions {
  cause?: unknown
  /** For `CODEC_ERR_INVALID_OPTION`: the option at fault (e.g. `maxFrameLength`). */
  field?: string
}

/**
 * Marks a CodecError made by any installed copy of this package: `Symbol.for` is
 * shared by the whole process, so isCodecError() holds for an error from a second
 * copy (two versions in node_modules), where `instanceof` would not.
 */
const CODECERROR_BRAND = Symbol.for('@tentacle-ts/codec:CodecError')

function hasCodecErrorBrand(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[CODECERROR_BRAND] === true
}

/** Error raised by this package's decoders and encoders; `code` is stable. */
export class CodecError extends Error {
  override readonly name: string = 'CodecError'
  readonly code: CodecErrorCode
  /** For `CODEC_ERR_INVALID_OPTION`: the option at fault. */
  readonly field?: string

  constructor(code: CodecErrorCode, message: string, opts?: CodecErrorOptions) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    Object.defineProperty(this, CODECERROR_BRAND, { value: true })
    if (opts?.field !== undefined) this.field = opts.field
  }
}

/** A molecule decode or encode failure; `path` names the field (e.g. `Propose.pubkey`). */
export class MoleculeError extends CodecError {
  override readonly name = 'MoleculeError'
  declare readonly code: MoleculeErrorCode
  /** Dotted path of the failing value, e.g. `Propose.pubkey`. */
  readonly path: string

  constructor(code: MoleculeErrorCode, path: string, message: string) {
    super(code, `${path}: ${message}`)
    this.path = path
  }
}

/**
 * True when `err` is a {@link CodecError} (molecule ones included, from any
 * installed copy of this package), optionally with the given code.
 */
export function isCodecError(err: unknown, code?: CodecErrorCode): err is CodecError {
  return hasCodecErrorBrand(err) && (code === undefined || (err as CodecError).code === code)
}

/**
 * True when `err` is a {@link MoleculeError} (from any installed copy),
 * optionally with the given code.
 */
export function isMoleculeError(err: unknown, code?: MoleculeErrorCode): err is MoleculeError {
  return (
    isCodecError(err) &&
    typeof (err as MoleculeError).path === 'string' &&
    (err as MoleculeError).code.startsWith('CODEC_ERR_MOLECULE_') &&
    (code === undefined || err.code === code)
  )
}
