/**
 * secp256k1 identity keys (§3.3): a 32-byte big-endian secret scalar, its
 * 33-byte compressed public key and the PeerId derived from it (§5.1).
 */
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { SECP256K1_N } from './crypto/ecdsa-der.js'
import type { CryptoProvider, Signer } from './crypto/provider.js'
import { SecioError } from './errors.js'
import { PeerId } from './peer-id.js'

const SECRET_SIZE = 32

function isValidSecret(secret: Uint8Array): boolean {
  if (!(secret instanceof Uint8Array) || secret.length !== SECRET_SIZE) return false
  let v = 0n
  for (const b of secret) v = (v << 8n) | BigInt(b)
  return v > 0n && v < SECP256K1_N
}

/** A secp256k1 identity: what a node proves it owns during the handshake. */
export class SecioKeyPair {
  readonly #secret: Uint8Array
  /** Compressed SEC1 public key, 33 bytes (§3.3). */
  readonly publicKey: Uint8Array
  /** sha2-256 multihash of {@link publicKey} (§5.1). */
  readonly peerId: PeerId
  /** Signers per provider, so native key objects are built once. */
  readonly #signers = new WeakMap<CryptoProvider, Signer>()

  private constructor(secret: Uint8Array) {
    this.#secret = Uint8Array.from(secret)
    this.publicKey = secp256k1.getPublicKey(this.#secret, true)
    this.peerId = PeerId.fromPublicKey(this.publicKey)
  }

  /** A new random key pair. */
  static generate(): SecioKeyPair {
    for (;;) {
      const secret = randomBytes(SECRET_SIZE)
      if (isValidSecret(secret)) return new SecioKeyPair(secret)
    }
  }

  /**
   * A key pair from a raw 32-byte secret (big-endian scalar in [1, n−1]).
   * Throws SecioError SECIO_ERR_INVALID_SECRET_KEY otherwise.
   */
  static fromSecret(secret: Uint8Array): SecioKeyPair {
    if (!isValidSecret(secret)) {
      throw new SecioError('SECIO_ERR_INVALID_SECRET_KEY', 'secret must be 32 bytes, a scalar in [1, n-1] of secp256k1')
    }
    return new SecioKeyPair(secret)
  }

  /**
   * Loads a key file: 64 hex characters (surrounding whitespace allowed), or the
   * raw 32 bytes as CKB stores them. Rejects with SecioError
   * SECIO_ERR_INVALID_KEY_FILE when the file cannot be read (the fs error as `cause`)
   * or does not hold a valid secret.
   */
  static async load(path: string): Promise<SecioKeyPair> {
    let data: Buffer
    try {
      data = await readFile(path)
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? String(err)
      throw new SecioError('SECIO_ERR_INVALID_KEY_FILE', `${path}: cannot read the key file (${reason})`, {
        cause: err,
      })
    }
    let secret: Uint8Array | undefined
    const text = data.toString('latin1').trim()
    if (/^[0-9a-fA-F]{64}$/.test(text)) secret = Buffer.from(text, 'hex')
    else if (data.length === SECRET_SIZE) secret = data
    if (secret === undefined || !isValidSecret(secret)) {
      throw new SecioError('SECIO_ERR_INVALID_KEY_FILE', `${path}: not a secp256k1 secret (expected 64 hex characters)`)
    }
    return new SecioKeyPair(secret)
  }

  /** Writes the secret as 64 hex characters and a newline, with mode 0600. */
  async save(path: string): Promise<void> {
    await writeFile(path, this.secretHex() + '\n', { mode: 0o600 })
    // `mode` applies only when the file is created; tighten an existing file too.
    await chmod(path, 0o600)
  }

  /** The raw 32-byte secret (a copy). Handle with care. */
  secret(): Uint8Array {
    return Uint8Array.from(this.#secret)
  }

  /** The secret as lowercase hex. Handle with care. */
  secretHex(): string {
    return Buffer.from(this.#secret).toString('hex')
  }

  /** @internal The provider-specific signer for this key (built once per provider). */
  signer(provider: CryptoProvider): Signer {
    let s = this.#signers.get(provider)
    if (s === undefined) {
      s = provider.createSigner(this.#secret)
      this.#signers.set(provider, s)
    }
    return s
  }

  toJSON(): { peerId: string; publicKey: string } {
    return { peerId: this.peerId.toString(), publicKey: Buffer.from(this.publicKey).toString('hex') }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SecioKeyPair(${this.peerId.toString()})`
  }
}
