/**
 * The crypto a secio handshake and stream need, behind one interface so the
 * same code runs on node:crypto (native OpenSSL, the default) or on the pure-JS
 * noble libraries. Both implementations give identical bytes for the same keys
 * and nonces (ECDSA signatures aside: any valid low-S signature verifies).
 */
import type { AgreementName, CipherName, DigestName } from '../support.js'

/** A fresh ephemeral key pair for the chosen agreement (§3.8). */
export interface EphemeralKey {
  readonly agreement: AgreementName
  /** Uncompressed SEC1 point (P-256: 65 bytes, P-384: 97) or raw X25519 (32). */
  readonly publicKey: Uint8Array
  /**
   * The shared secret with the peer's ephemeral public key: the x-coordinate for
   * P-256/P-384, the RFC 7748 output for X25519. Throws SecioError
   * SECIO_ERR_INVALID_EPHEMERAL_KEY for a bad point or an all-zero X25519 result.
   */
  deriveSecret(remotePublicKey: Uint8Array): Uint8Array
}

/**
 * One direction of the encrypted stream (§4): a cipher key plus its own 12-byte
 * little-endian counter nonce, incremented before each use (§4.2).
 */
export interface Aead {
  /**
   * Encrypts `chunks` (`length` bytes in total) as the payload of ONE frame.
   * Returns the ciphertext pieces to write in order; together they are
   * `length + 16` bytes, the last 16 being the tag.
   */
  seal(chunks: readonly Uint8Array[], length: number): Uint8Array[]
  /**
   * Decrypts one frame payload (ciphertext ‖ 16-byte tag; the caller checked the length ≥ 16).
   * Throws SecioError SECIO_ERR_DECRYPT_FAILED when the tag does not authenticate.
   */
  open(payload: Uint8Array): Uint8Array
  /**
   * Optional incremental decryption of one frame (advances the counter like
   * open): feed the ciphertext in pieces as they arrive, then the tag. Plaintext
   * from `update` must not be used unless `finish` returns.
   */
  beginOpen?(): AeadOpener
}

/** One frame being decrypted piece by piece. */
export interface AeadOpener {
  update(ciphertext: Uint8Array): Uint8Array
  /** Checks the 16-byte tag; throws SecioError SECIO_ERR_DECRYPT_FAILED if the frame does not authenticate. */
  finish(tag: Uint8Array): void
}

/** A secp256k1 identity key ready to sign (§3.9). */
export interface Signer {
  /**
   * Signs SHA-256(`message`) — the message is NOT pre-hashed by the caller — and
   * returns a strict-DER, low-S signature, as libsecp256k1 would.
   */
  sign(message: Uint8Array): Promise<Uint8Array>
  /**
   * Optional synchronous {@link Signer.sign} (same result, or throws what `sign` rejects with).
   * When present the handshake signs without a promise and writes the message that
   * follows in the same turn as the one before it (one socket write, not two).
   */
  signSync?(message: Uint8Array): Uint8Array
}

export interface CryptoProvider {
  /** 'node' or 'noble' (for logs and tests). */
  readonly name: string
  randomBytes(length: number): Uint8Array
  sha256(...parts: Uint8Array[]): Uint8Array
  hmac(digest: DigestName, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array
  /** A new ephemeral key; `secret` fixes it (test vectors only). */
  generateEphemeral(agreement: AgreementName, secret?: Uint8Array): EphemeralKey
  createAead(cipher: CipherName, key: Uint8Array): Aead
  /** A signer for a 32-byte secp256k1 secret (already validated). */
  createSigner(secret: Uint8Array): Signer
  /** True when `publicKey` is a valid secp256k1 point (33-byte compressed or 65-byte uncompressed). */
  isValidPublicKey(publicKey: Uint8Array): boolean
  /**
   * Verifies a signature over SHA-256(`message`) as libsecp256k1 does:
   * strict DER, low-S only. Never throws for bad input; resolves false.
   */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>
  /** Optional synchronous {@link CryptoProvider.verify} (same result); the handshake prefers it. */
  readonly verifySync?: (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean
}
