/**
 * CryptoProvider on @noble/curves, @noble/ciphers and @noble/hashes: pure JS,
 * for runtimes without node:crypto. Same bytes as the node provider for the same
 * keys and nonces; slower.
 */
import { gcm } from '@noble/ciphers/aes.js'
import { chacha20poly1305 } from '@noble/ciphers/chacha.js'
import { x25519 } from '@noble/curves/ed25519.js'
import { p256, p384 } from '@noble/curves/nist.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { randomBytes } from '@noble/hashes/utils.js'
import { SecioError } from '../errors.js'
import type { AgreementName, CipherName, DigestName } from '../support.js'
import { derToCompactLowS } from './ecdsa-der.js'
import { incrementNonce, NONCE_SIZE } from './nonce.js'
import { checkX25519Secret, hasSecp256k1Prefix, invalidEphemeral } from './peer-keys.js'
import type { Aead, CryptoProvider, EphemeralKey, Signer } from './provider.js'

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(length)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

class NobleAead implements Aead {
  readonly #make: (
    key: Uint8Array,
    nonce: Uint8Array,
  ) => { encrypt(p: Uint8Array): Uint8Array; decrypt(c: Uint8Array): Uint8Array }
  readonly #key: Uint8Array
  readonly #nonce = new Uint8Array(NONCE_SIZE)

  constructor(cipher: CipherName, key: Uint8Array) {
    this.#make = cipher === 'CHACHA20_POLY1305' ? chacha20poly1305 : gcm
    this.#key = Uint8Array.from(key)
  }

  seal(chunks: readonly Uint8Array[], length: number): Uint8Array[] {
    incrementNonce(this.#nonce)
    return [this.#make(this.#key, this.#nonce).encrypt(concat(chunks, length))]
  }

  open(payload: Uint8Array): Uint8Array {
    incrementNonce(this.#nonce)
    try {
      return this.#make(this.#key, this.#nonce).decrypt(payload)
    } catch (cause) {
      throw new SecioError('SECIO_ERR_DECRYPT_FAILED', 'frame failed to authenticate', { cause })
    }
  }
}

const EC = { 'P-256': p256, 'P-384': p384 } as const

class NobleEcEphemeral implements EphemeralKey {
  readonly publicKey: Uint8Array
  readonly #secret: Uint8Array
  constructor(
    readonly agreement: 'P-256' | 'P-384',
    secret?: Uint8Array,
  ) {
    const curve = EC[agreement]
    this.#secret = secret === undefined ? curve.utils.randomSecretKey() : Uint8Array.from(secret)
    this.publicKey = curve.getPublicKey(this.#secret, false)
  }
  deriveSecret(remote: Uint8Array): Uint8Array {
    if (remote[0] !== 0x04) throw invalidEphemeral()
    try {
      // Compressed shared point: drop the prefix byte to get the x-coordinate (§3.8).
      return EC[this.agreement].getSharedSecret(this.#secret, remote, true).subarray(1)
    } catch (cause) {
      throw invalidEphemeral(cause)
    }
  }
}

class NobleX25519Ephemeral implements EphemeralKey {
  readonly agreement = 'X25519' as const
  readonly publicKey: Uint8Array
  readonly #secret: Uint8Array
  constructor(secret?: Uint8Array) {
    this.#secret = secret === undefined ? x25519.utils.randomSecretKey() : Uint8Array.from(secret)
    this.publicKey = x25519.getPublicKey(this.#secret)
  }
  deriveSecret(remote: Uint8Array): Uint8Array {
    let secret: Uint8Array
    try {
      secret = x25519.getSharedSecret(this.#secret, remote)
    } catch (cause) {
      throw invalidEphemeral(cause)
    }
    return checkX25519Secret(secret)
  }
}

class NobleSigner implements Signer {
  readonly #secret: Uint8Array
  constructor(secret: Uint8Array) {
    this.#secret = Uint8Array.from(secret)
  }
  sign(message: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.signSync(message))
  }
  signSync(message: Uint8Array): Uint8Array {
    // The digest is computed here and signed as is: noble v2 must not hash again (prehash: false).
    const digest = sha256(message)
    return secp256k1.sign(digest, this.#secret, { prehash: false, lowS: true, format: 'der' })
  }
}

class NobleCryptoProvider implements CryptoProvider {
  readonly name = 'noble'

  randomBytes(length: number): Uint8Array {
    return randomBytes(length)
  }

  sha256(...parts: Uint8Array[]): Uint8Array {
    const h = sha256.create()
    for (const p of parts) h.update(p)
    return h.digest()
  }

  hmac(digest: DigestName, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
    const h = hmac.create(digest === 'SHA256' ? sha256 : sha512, key)
    for (const p of parts) h.update(p)
    return h.digest()
  }

  generateEphemeral(agreement: AgreementName, secret?: Uint8Array): EphemeralKey {
    return agreement === 'X25519' ? new NobleX25519Ephemeral(secret) : new NobleEcEphemeral(agreement, secret)
  }

  createAead(cipher: CipherName, key: Uint8Array): Aead {
    return new NobleAead(cipher, key)
  }

  createSigner(secret: Uint8Array): Signer {
    return new NobleSigner(secret)
  }

  isValidPublicKey(publicKey: Uint8Array): boolean {
    return hasSecp256k1Prefix(publicKey) && secp256k1.utils.isValidPublicKey(publicKey)
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    return Promise.resolve(verifyNoble(publicKey, message, signature))
  }

  readonly verifySync = verifyNoble
}

function verifyNoble(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const compact = derToCompactLowS(signature)
  if (compact === undefined || !(hasSecp256k1Prefix(publicKey) && secp256k1.utils.isValidPublicKey(publicKey)))
    return false
  try {
    return secp256k1.verify(compact, sha256(message), publicKey, { prehash: false, lowS: true })
  } catch {
    return false
  }
}

/** The pure-JS provider (noble). */
export const nobleCryptoProvider: CryptoProvider = new NobleCryptoProvider()
