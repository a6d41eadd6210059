/**
 * Codes mirror the molecule crate's VerificationError kinds (§6), plus UTF-8 and
 * encoding failures. They are stable; callers branch on `code`.
 */
export type MoleculeErrorCode =
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

/** Error raised by molecule decoders and encoders; `code` is stable, `path` names the field. */
export class MoleculeError extends Error {
  override readonly name = 'MoleculeError'
  readonly code: MoleculeErrorCode
  /** Dotted path of the failing value, e.g. `Propose.pubkey`. */
  readonly path: string

  constructor(code: MoleculeErrorCode, path: string, message: string) {
    super(`${path}: ${message}`)
    this.code = code
    this.path = path
  }
}
