import * as nc from 'node:crypto'
import { base58Decode, base58Encode } from './base58.js'
import { SecioError } from './errors.js'

/** Multihash code of sha2-256 (§5.1). */
const SHA256_CODE = 0x12
/** Digest length of sha2-256 (§5.1). */
const SHA256_SIZE = 32
/** A PeerId is always 34 bytes: code, length, digest (§5.1). */
const PEER_ID_LENGTH = 2 + SHA256_SIZE

/** node:crypto's one-shot hash (node ≥ 20.12): ~2 µs against ~21 µs for @noble/hashes, once per session. */
const oneShotHash = (nc as unknown as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash

function sha256(data: Uint8Array): Uint8Array {
  return oneShotHash !== undefined
    ? oneShotHash('sha256', data, 'buffer')
    : nc.createHash('sha256').update(data).digest()
}

/**
 * Identifier of a peer: the sha2-256 multihash of its raw 33-byte compressed
 * secp256k1 public key (§5.1). Text form: base58, always starting with `Qm`.
 */
export class PeerId {
  readonly #bytes: Uint8Array
  #text: string | undefined

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes
  }

  /** The PeerId of a raw public key (the bytes as received, §3.3). */
  static fromPublicKey(publicKey: Uint8Array): PeerId {
    const bytes = new Uint8Array(PEER_ID_LENGTH)
    bytes[0] = SHA256_CODE
    bytes[1] = SHA256_SIZE
    bytes.set(sha256(publicKey), 2)
    return new PeerId(bytes)
  }

  /**
   * Parses the 34-byte binary form. Throws SecioError SECIO_ERR_INVALID_PEER_ID when the
   * multihash code is not sha2-256 or the length is wrong (as tentacle's `PeerId::from_bytes`).
   */
  static fromBytes(bytes: Uint8Array): PeerId {
    if (bytes.length === 0) throw new SecioError('SECIO_ERR_INVALID_PEER_ID', 'peer id is empty')
    // The code is an unsigned varint; 0x12 is its only (minimal) encoding.
    if (bytes[0] !== SHA256_CODE) {
      throw new SecioError('SECIO_ERR_INVALID_PEER_ID', `peer id multihash code is not sha2-256 (0x${hex2(bytes[0]!)})`)
    }
    if (bytes.length !== PEER_ID_LENGTH) {
      throw new SecioError('SECIO_ERR_INVALID_PEER_ID', `peer id has ${bytes.length} bytes, expected ${PEER_ID_LENGTH}`)
    }
    if (bytes[1] !== SHA256_SIZE) {
      throw new SecioError('SECIO_ERR_INVALID_PEER_ID', `peer id digest length is ${bytes[1]}, expected ${SHA256_SIZE}`)
    }
    return new PeerId(Uint8Array.from(bytes))
  }

  /** Parses the base58 text form. Throws SecioError SECIO_ERR_INVALID_PEER_ID. */
  static parse(text: string): PeerId {
    if (typeof text !== 'string' || text.length === 0 || text.length > 128) {
      throw new SecioError('SECIO_ERR_INVALID_PEER_ID', 'peer id text is empty or too long')
    }
    const bytes = base58Decode(text)
    if (bytes === undefined) throw new SecioError('SECIO_ERR_INVALID_PEER_ID', 'peer id is not base58')
    const id = PeerId.fromBytes(bytes)
    id.#text = text
    return id
  }

  /** The 34 bytes (a copy). */
  toBytes(): Uint8Array {
    return Uint8Array.from(this.#bytes)
  }

  /** The sha2-256 digest of the public key (32 bytes, a copy). */
  digest(): Uint8Array {
    return this.#bytes.slice(2)
  }

  /** Base58 text (`Qm…`). */
  toString(): string {
    return (this.#text ??= base58Encode(this.#bytes))
  }

  toJSON(): string {
    return this.toString()
  }

  /** True when both ids have the same bytes. */
  equals(other: PeerId | null | undefined): boolean {
    if (other == null) return false
    const a = this.#bytes
    const b = other.#bytes
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }

  /** True when `publicKey` hashes to this id. */
  matchesPublicKey(publicKey: Uint8Array): boolean {
    return this.equals(PeerId.fromPublicKey(publicKey))
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PeerId(${this.toString()})`
  }
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0')
}
