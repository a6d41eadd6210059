/**
 * Key stretching and split (§3.10), as `stretch_key` in
 * `secio/src/handshake/procedure.rs` (libp2p's algorithm).
 */
import type { CryptoProvider } from './crypto/provider.js'
import { SecioError } from './errors.js'
import { CIPHER_IV_SIZE, CIPHER_KEY_SIZE, type CipherName, type DigestName, type Ordering } from './support.js'

const SEED = new TextEncoder().encode('key expansion')
/** Per-half MAC key size: derived but unused (§3.10 step 5). */
const MAC_KEY_SIZE = 20

/** HMAC(K) expansion: A = H(seed); repeat { out ‖= H(A ‖ seed); A = H(A) } until `length` bytes. */
export function stretchKey(provider: CryptoProvider, digest: DigestName, key: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let a = provider.hmac(digest, key, SEED)
  let j = 0
  while (j < length) {
    const b = provider.hmac(digest, key, a, SEED)
    const todo = Math.min(b.length, length - j)
    out.set(b.subarray(0, todo), j)
    j += todo
    // The next A is only needed for another block.
    if (j < length) a = provider.hmac(digest, key, a)
  }
  return out
}

/** The two cipher keys of a session: ours encrypts what we send, theirs decrypts what we receive. */
export interface SessionKeys {
  localKey: Uint8Array
  remoteKey: Uint8Array
}

/**
 * Stretches the shared secret to 2 × (iv + key + 20) bytes and picks each side's
 * cipher key: Greater → ours is the first half, Less → the second (§3.10 step 4).
 * Throws SecioError SECIO_ERR_EQUAL_ORDERING for Equal.
 */
export function deriveSessionKeys(
  provider: CryptoProvider,
  cipher: CipherName,
  digest: DigestName,
  sharedSecret: Uint8Array,
  ordering: Ordering,
): SessionKeys {
  if (ordering === 0) {
    throw new SecioError('SECIO_ERR_EQUAL_ORDERING', 'equal digest of public key and nonce for local and remote')
  }
  const keySize = CIPHER_KEY_SIZE[cipher]
  const half = CIPHER_IV_SIZE + keySize + MAC_KEY_SIZE
  const stretched = stretchKey(provider, digest, sharedSecret, 2 * half)
  const first = stretched.subarray(CIPHER_IV_SIZE, CIPHER_IV_SIZE + keySize)
  const second = stretched.subarray(half + CIPHER_IV_SIZE, half + CIPHER_IV_SIZE + keySize)
  return ordering === 1 ? { localKey: first, remoteKey: second } : { localKey: second, remoteKey: first }
}
