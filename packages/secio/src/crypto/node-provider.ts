/**
 * CryptoProvider on node:crypto (native OpenSSL): the default on Node.
 * Keys are kept as KeyObjects; remote identity keys are cached (peers reconnect).
 *
 * secp256k1 identity signatures (§3.9) go to libsecp256k1 — the library tentacle's
 * Rust side uses — through the optional `secp256k1` addon when it is installed:
 * OpenSSL 3's generic secp256k1 code is about 5× slower here (~600 µs per sign or
 * verify) and alone caps a 2-core machine near 550 handshakes/s. Without the
 * addon, OpenSSL is used (crypto.sign/verify('sha256', m) over the un-hashed m).
 */
import * as nc from 'node:crypto'
import { createRequire } from 'node:module'
import { SecioError } from '../errors.js'
import type { AgreementName, CipherName, DigestName } from '../support.js'
import { compactToDerLowS, derToCompactLowS } from './ecdsa-der.js'
import { incrementNonce, NONCE_SIZE } from './nonce.js'
import { checkX25519Secret, hasSecp256k1Prefix, invalidEphemeral } from './peer-keys.js'
import type { Aead, AeadOpener, CryptoProvider, EphemeralKey, Signer } from './provider.js'

// DER wrappers that let OpenSSL import raw keys.
const SECP256K1_SPKI_33 = Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex')
const SECP256K1_SPKI_65 = Buffer.from('3056301006072a8648ce3d020106052b8104000a034200', 'hex')
const SECP256K1_SEC1_HEAD = Buffer.from('302e0201010420', 'hex')
const SECP256K1_SEC1_TAIL = Buffer.from('a00706052b8104000a', 'hex')
const X25519_SPKI = Buffer.from('302a300506032b656e032100', 'hex')
const X25519_PKCS8 = Buffer.from('302e020100300506032b656e04220420', 'hex')

const CIPHER_ALG: Readonly<Record<CipherName, string>> = {
  'AES-128-GCM': 'aes-128-gcm',
  'AES-256-GCM': 'aes-256-gcm',
  CHACHA20_POLY1305: 'chacha20-poly1305',
}
const EC_CURVE = { 'P-256': 'prime256v1', 'P-384': 'secp384r1' } as const
const HMAC_ALG: Readonly<Record<DigestName, string>> = { SHA256: 'sha256', SHA512: 'sha512' }

const TAG_SIZE = 16

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}

class NodeAead implements Aead {
  readonly #alg: string
  /**
   * The raw key (a copy), not a KeyObject: createCipheriv costs the same with either
   * (2.73 vs 2.77 µs per frame here), and createSecretKey cost ~1 µs per direction and session.
   */
  readonly #key: Buffer
  /** Reused counter nonce; createCipheriv copies it. */
  readonly #nonce = Buffer.alloc(NONCE_SIZE)

  constructor(cipher: CipherName, key: Uint8Array) {
    this.#alg = CIPHER_ALG[cipher]
    this.#key = Buffer.from(key)
  }

  seal(chunks: readonly Uint8Array[], _length: number): Uint8Array[] {
    incrementNonce(this.#nonce)
    const c = nc.createCipheriv(this.#alg as nc.CipherGCMTypes, this.#key, this.#nonce)
    const n = chunks.length
    const out = new Array<Uint8Array>(n + 1)
    for (let i = 0; i < n; i++) out[i] = c.update(chunks[i]!)
    c.final() // AEAD stream ciphers: no output here
    out[n] = c.getAuthTag()
    return out
  }

  open(payload: Uint8Array): Uint8Array {
    const n = payload.length - TAG_SIZE
    const opener = this.beginOpen()
    const plain = opener.update(payload.subarray(0, n))
    opener.finish(payload.subarray(n))
    return plain
  }

  beginOpen(): AeadOpener {
    incrementNonce(this.#nonce)
    return new NodeOpener(nc.createDecipheriv(this.#alg as nc.CipherGCMTypes, this.#key, this.#nonce))
  }
}

class NodeOpener implements AeadOpener {
  constructor(readonly d: nc.DecipherGCM) {}
  update(ciphertext: Uint8Array): Uint8Array {
    return this.d.update(ciphertext)
  }
  finish(tag: Uint8Array): void {
    this.d.setAuthTag(tag)
    try {
      this.d.final()
    } catch (cause) {
      throw new SecioError('SECIO_ERR_DECRYPT_FAILED', 'frame failed to authenticate', { cause })
    }
  }
}

class EcEphemeral implements EphemeralKey {
  readonly publicKey: Uint8Array
  #ecdh: nc.ECDH | null
  constructor(
    readonly agreement: 'P-256' | 'P-384',
    secret?: Uint8Array,
  ) {
    const ecdh = ecdhPool[agreement].pop() ?? nc.createECDH(EC_CURVE[agreement])
    this.#ecdh = ecdh
    if (secret === undefined) {
      this.publicKey = ecdh.generateKeys() // uncompressed by default (§3.8)
    } else {
      ecdh.setPrivateKey(asBuffer(secret))
      this.publicKey = ecdh.getPublicKey(null, 'uncompressed')
    }
  }
  deriveSecret(remote: Uint8Array): Uint8Array {
    const ecdh = this.#ecdh
    if (ecdh === null) throw new SecioError('SECIO_ERR_UNSUPPORTED', 'ephemeral key already used')
    // One use only: the object goes back to the pool and gets a new key before its next use.
    this.#ecdh = null
    const pool = ecdhPool[this.agreement]
    try {
      // Only uncompressed points are accepted (§3.8: the ring path does the same).
      if (remote[0] !== 0x04) throw invalidEphemeral()
      return ecdh.computeSecret(asBuffer(remote))
    } catch (cause) {
      throw cause instanceof SecioError ? cause : invalidEphemeral(cause)
    } finally {
      if (pool.length < ECDH_POOL_MAX) pool.push(ecdh)
    }
  }
}

class X25519Ephemeral implements EphemeralKey {
  readonly agreement = 'X25519' as const
  readonly publicKey: Uint8Array
  readonly #private: nc.KeyObject
  constructor(secret?: Uint8Array) {
    this.#private =
      secret === undefined
        ? nc.generateKeyPairSync('x25519').privateKey
        : nc.createPrivateKey({ key: Buffer.concat([X25519_PKCS8, asBuffer(secret)]), format: 'der', type: 'pkcs8' })
    const spki = nc.createPublicKey(this.#private).export({ format: 'der', type: 'spki' })
    this.publicKey = spki.subarray(X25519_SPKI.length)
  }
  deriveSecret(remote: Uint8Array): Uint8Array {
    let secret: Buffer
    try {
      const publicKey = nc.createPublicKey({
        key: Buffer.concat([X25519_SPKI, asBuffer(remote)]),
        format: 'der',
        type: 'spki',
      })
      secret = nc.diffieHellman({ privateKey: this.#private, publicKey })
    } catch (cause) {
      throw invalidEphemeral(cause)
    }
    return checkX25519Secret(secret)
  }
}

/** The subset of the `secp256k1` package (v5) we use; all inputs are validated by it. */
interface Libsecp256k1 {
  ecdsaSign(msg32: Uint8Array, secret: Uint8Array): { signature: Uint8Array }
  ecdsaVerify(sig64: Uint8Array, msg32: Uint8Array, publicKey: Uint8Array): boolean
  signatureExport(sig64: Uint8Array): Uint8Array
  publicKeyVerify(publicKey: Uint8Array): boolean
}

let libsecp256k1: Libsecp256k1 | null | undefined
/** The native libsecp256k1 binding, or null when the optional addon is missing or cannot load. */
function loadLibsecp256k1(): Libsecp256k1 | null {
  if (libsecp256k1 === undefined) {
    try {
      // `secp256k1/bindings` is the native build only (the package's index falls back to pure JS).
      libsecp256k1 = createRequire(import.meta.url)('secp256k1/bindings') as Libsecp256k1
    } catch {
      libsecp256k1 = null
    }
  }
  return libsecp256k1
}

/** One-shot hash (node ≥ 20.12) avoids a Hash object per call; falls back to createHash. */
const oneShotHash = (nc as unknown as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash

function sha256(message: Uint8Array): Buffer {
  return oneShotHash !== undefined
    ? oneShotHash('sha256', message, 'buffer')
    : nc.createHash('sha256').update(message).digest()
}

/** Random bytes from a refilled pool: one getrandom call per 256 nonces instead of one each. */
const RANDOM_POOL_SIZE = 4096
const randomPool = Buffer.allocUnsafe(RANDOM_POOL_SIZE)
let randomOffset = RANDOM_POOL_SIZE

function pooledRandomBytes(length: number): Buffer {
  if (length > 256) return nc.randomBytes(length)
  if (randomOffset + length > RANDOM_POOL_SIZE) {
    nc.randomFillSync(randomPool)
    randomOffset = 0
  }
  // A copy: the pool is overwritten later, and used bytes are never handed out twice.
  const out = Buffer.from(randomPool.subarray(randomOffset, randomOffset + length))
  randomPool.fill(0, randomOffset, randomOffset + length)
  randomOffset += length
  return out
}

/**
 * ECDH objects are costly to create; generateKeys() on a used one makes a fresh
 * key pair, so spent objects are kept for reuse (bounded, per curve).
 */
const ECDH_POOL_MAX = 64
const ecdhPool: Record<'P-256' | 'P-384', nc.ECDH[]> = { 'P-256': [], 'P-384': [] }

class LibsecpSigner implements Signer {
  readonly #secret: Uint8Array
  constructor(
    secret: Uint8Array,
    readonly lib: Libsecp256k1,
  ) {
    this.#secret = Uint8Array.from(secret)
  }
  sign(message: Uint8Array): Promise<Uint8Array> {
    return Promise.resolve(this.signSync(message))
  }
  signSync(message: Uint8Array): Uint8Array {
    // libsecp256k1 signs the digest as is, RFC 6979, always low-S; export is strict DER.
    const { signature } = this.lib.ecdsaSign(sha256(message), this.#secret)
    return this.lib.signatureExport(signature)
  }
}

class NodeSigner implements Signer {
  readonly #key: nc.KeyObject
  readonly #async: boolean
  /** Present only when signing on the event loop (not `asyncSignatures`). */
  readonly signSync: ((message: Uint8Array) => Uint8Array) | undefined
  constructor(secret: Uint8Array, async: boolean) {
    const der = Buffer.concat([SECP256K1_SEC1_HEAD, asBuffer(secret), SECP256K1_SEC1_TAIL])
    this.#key = nc.createPrivateKey({ key: der, format: 'der', type: 'sec1' })
    this.#async = async
    this.signSync = async ? undefined : this.#signNow.bind(this)
  }
  #signNow(message: Uint8Array): Uint8Array {
    // node hashes `message` with SHA-256 and signs that digest: exactly the
    // digest tentacle signs (§3.9), without hashing twice.
    return compactToDerLowS(nc.sign('sha256', message, { key: this.#key, dsaEncoding: 'ieee-p1363' }))
  }
  sign(message: Uint8Array): Promise<Uint8Array> {
    if (!this.#async) return Promise.resolve(this.#signNow(message))
    const key = { key: this.#key, dsaEncoding: 'ieee-p1363' as const }
    return new Promise((resolve, reject) => {
      nc.sign('sha256', message, key, (err, sig) => (err ? reject(err) : resolve(compactToDerLowS(sig))))
    })
  }
}

export interface NodeCryptoProviderOptions {
  /**
   * secp256k1 backend: 'auto' (default: libsecp256k1 when the optional `secp256k1`
   * addon loads, else OpenSSL), 'libsecp256k1' (throws SECIO_ERR_UNSUPPORTED if missing) or 'openssl'.
   */
  secp256k1?: 'auto' | 'libsecp256k1' | 'openssl'
  /**
   * With OpenSSL: run secp256k1 sign/verify on libuv's thread pool (default false).
   * Keeps the event loop free during handshakes at the cost of a thread hop each.
   */
  asyncSignatures?: boolean
  /** Remote identity keys kept as KeyObjects (default 1024). */
  publicKeyCacheSize?: number
}

class NodeCryptoProvider implements CryptoProvider {
  readonly name = 'node'
  /** Which library signs and verifies identity signatures. */
  readonly secp256k1Backend: 'libsecp256k1' | 'openssl'
  readonly #lib: Libsecp256k1 | null
  readonly #async: boolean
  readonly #cacheSize: number
  /** Raw key (latin1) -> KeyObject, or null for a key that failed to parse. Insertion-ordered for FIFO eviction. */
  readonly #keys = new Map<string, nc.KeyObject | null>()

  constructor(opts: NodeCryptoProviderOptions = {}) {
    this.#async = opts.asyncSignatures ?? false
    this.#cacheSize = opts.publicKeyCacheSize ?? 1024
    const choice = opts.secp256k1 ?? 'auto'
    this.#lib = choice === 'openssl' ? null : loadLibsecp256k1()
    if (choice === 'libsecp256k1' && this.#lib === null) {
      throw new SecioError(
        'SECIO_ERR_UNSUPPORTED',
        'the optional `secp256k1` addon (libsecp256k1) is not installed or cannot load',
      )
    }
    this.secp256k1Backend = this.#lib === null ? 'openssl' : 'libsecp256k1'
    this.verifySync = this.#lib === null && this.#async ? undefined : this.#verifyNow.bind(this)
  }

  randomBytes(length: number): Uint8Array {
    return pooledRandomBytes(length)
  }

  sha256(...parts: Uint8Array[]): Uint8Array {
    if (parts.length === 1) return sha256(parts[0]!)
    if (oneShotHash !== undefined) return oneShotHash('sha256', Buffer.concat(parts), 'buffer')
    const h = nc.createHash('sha256')
    for (const p of parts) h.update(p)
    return h.digest()
  }

  hmac(digest: DigestName, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
    const h = nc.createHmac(HMAC_ALG[digest], key)
    for (const p of parts) h.update(p)
    return h.digest()
  }

  generateEphemeral(agreement: AgreementName, secret?: Uint8Array): EphemeralKey {
    return agreement === 'X25519' ? new X25519Ephemeral(secret) : new EcEphemeral(agreement, secret)
  }

  createAead(cipher: CipherName, key: Uint8Array): Aead {
    return new NodeAead(cipher, key)
  }

  createSigner(secret: Uint8Array): Signer {
    return this.#lib === null ? new NodeSigner(secret, this.#async) : new LibsecpSigner(secret, this.#lib)
  }

  isValidPublicKey(publicKey: Uint8Array): boolean {
    if (!hasSecp256k1Prefix(publicKey)) return false
    if (this.#lib !== null) return this.#lib.publicKeyVerify(publicKey)
    return this.#publicKey(publicKey) !== null
  }

  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (this.verifySync !== undefined) return Promise.resolve(this.verifySync(publicKey, message, signature))
    const compact = derToCompactLowS(signature)
    const key = compact === undefined ? null : this.#publicKey(publicKey)
    if (compact === undefined || key === null) return Promise.resolve(false)
    const k = { key, dsaEncoding: 'ieee-p1363' as const }
    return new Promise((resolve) => {
      nc.verify('sha256', message, k, compact, (err, ok) => resolve(!err && ok))
    })
  }

  /** Synchronous verify: libsecp256k1, or OpenSSL on the event loop; undefined with `asyncSignatures` on OpenSSL. */
  readonly verifySync: ((publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean) | undefined

  #verifyNow(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    // Strict DER and low-S are checked here for both backends, exactly as libsecp256k1 parses.
    const compact = derToCompactLowS(signature)
    if (compact === undefined) return false
    if (this.#lib !== null) {
      if (!hasSecp256k1Prefix(publicKey)) return false
      try {
        return this.#lib.ecdsaVerify(compact, sha256(message), publicKey)
      } catch {
        return false
      }
    }
    const key = this.#publicKey(publicKey)
    if (key === null) return false
    try {
      return nc.verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, compact)
    } catch {
      return false
    }
  }

  #publicKey(raw: Uint8Array): nc.KeyObject | null {
    if (!hasSecp256k1Prefix(raw)) return null
    const prefix = raw.length === 33 ? SECP256K1_SPKI_33 : SECP256K1_SPKI_65
    const id = asBuffer(raw).toString('latin1')
    const cached = this.#keys.get(id)
    if (cached !== undefined) return cached
    let key: nc.KeyObject | null
    try {
      key = nc.createPublicKey({ key: Buffer.concat([prefix, asBuffer(raw)]), format: 'der', type: 'spki' })
    } catch {
      key = null
    }
    if (this.#keys.size >= this.#cacheSize) this.#keys.delete(this.#keys.keys().next().value!)
    this.#keys.set(id, key)
    return key
  }
}

/** Creates a node:crypto provider with non-default options. */
export function createNodeCryptoProvider(
  opts?: NodeCryptoProviderOptions,
): CryptoProvider & { readonly secp256k1Backend: 'libsecp256k1' | 'openssl' } {
  return new NodeCryptoProvider(opts)
}

/** The default provider: node:crypto (identity signatures on libsecp256k1 when available). */
export const nodeCryptoProvider: CryptoProvider & { readonly secp256k1Backend: 'libsecp256k1' | 'openssl' } =
  new NodeCryptoProvider()
