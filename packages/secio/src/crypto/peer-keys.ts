/**
 * Checks on key material received from the peer, the same for every provider
 * so node:crypto and noble accept and reject exactly the same keys.
 */
import { SecioError } from '../errors.js'

/** 33-byte compressed (02/03) or 65-byte uncompressed (04) SEC1 encoding (§3.3). */
export function hasSecp256k1Prefix(raw: Uint8Array): boolean {
  return (raw.length === 33 && (raw[0] === 2 || raw[0] === 3)) || (raw.length === 65 && raw[0] === 4)
}

export function invalidEphemeral(cause?: unknown): SecioError {
  return new SecioError('SECIO_ERR_INVALID_EPHEMERAL_KEY', 'invalid ephemeral public key from peer', { cause })
}

/** An all-zero X25519 output means a small-order point (§3.8, §16): never use it. */
export function checkX25519Secret<T extends Uint8Array>(secret: T): T {
  if (secret.every((b) => b === 0)) throw invalidEphemeral()
  return secret
}
