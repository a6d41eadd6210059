/**
 * The one error family of this package. Callers branch on `code`, never on the
 * message text. The codes are stable; the package README lists them.
 */

/** Every code a {@link CodecError} can carry. */
export type CodecErrorCode =
  // length-delimited framing (§2.1, §2.2, §10.1)
  /** A length prefix announced more than the decoder's max frame length. */
  | 'ERR_FRAME_TOO_LARGE'
  /** A bad option (e.g. a max frame length that is not an integer in [0, 2^32-1]). */
  | 'ERR_INVALID_OPTION'
  // application message codecs (src/application/)
  /** An application message's bytes do not decode (the codec's own error is the `cause`). */
  | 'ERR_MESSAGE_DECODE'
  /** An application message does not encode. */
  | 'ERR_MESSAGE_ENCODE'
  // molecule (§6): mirror the molecule crate's VerificationError kinds, plus UTF-8 and encoding failures
  /** Fewer bytes than the header (or a declared offset) needs. */
  | 'ERR_MOLECULE_HEADER'
  /** The declared total size (or fixvec item count) does not match the slice length. */
  | 'ERR_MOLECULE_TOTAL_SIZE'
  /** Offsets not 4-aligned, first offset < 8, decreasing, or out of bounds. */
  | 'ERR_MOLECULE_OFFSETS'
  /** A table with fewer fields than the schema (or more, in strict mode). */
  | 'ERR_MOLECULE_FIELD_COUNT'
  /** A union item id the schema does not know. */
  | 'ERR_MOLECULE_UNKNOWN_ITEM'
  /** An array or struct whose length is not its fixed size. */
  | 'ERR_MOLECULE_SIZE'
  /** A string that is not valid UTF-8. */
  | 'ERR_MOLECULE_UTF8'
  /** A value that cannot be encoded (wrong array length, unknown union key, too large). */
  | 'ERR_MOLECULE_ENCODE'

/** The molecule subset of {@link CodecErrorCode}. */
export type MoleculeErrorCode = Extract<CodecErrorCode, `ERR_MOLECULE_${string}`>

/** Error raised by this package's decoders and encoders; `code` is stable. */
export class CodecError extends Error {
  override readonly name: string = 'CodecError'
  readonly code: CodecErrorCode

  constructor(code: CodecErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
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

/** True when `err` is a {@link CodecError} (molecule ones included), optionally with the given code. */
export function isCodecError(err: unknown, code?: CodecErrorCode): err is CodecError {
  return err instanceof CodecError && (code === undefined || err.code === code)
}
