/** Size of the AEAD nonce of every secio cipher (§4.2). */
export const NONCE_SIZE = 12

/**
 * Increments the 12-byte counter nonce in place as a little-endian integer
 * (byte 0 least significant), as tentacle's `nonce_advance` does; called before
 * each use, so the first frame uses 01 00 … 00 (§4.2).
 */
export function incrementNonce(nonce: Uint8Array): void {
  for (let i = 0; i < nonce.length; i++) {
    if (nonce[i] === 0xff) {
      nonce[i] = 0
    } else {
      nonce[i]!++
      return
    }
  }
}
