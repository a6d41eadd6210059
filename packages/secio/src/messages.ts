/**
 * The handshake messages of `secio/src/handshake/handshake.mol` (§3.1–§3.3).
 * Peers' messages are decoded in compatible mode (extra table fields ignored).
 */
import { bytes, string, table, union, type CodecValue } from '@tentacle-ts/codec'

/** `vector Secp256k1 <byte>`: the raw 33-byte compressed key (§3.3). */
const Secp256k1 = bytes('Secp256k1')

/** `union PublicKey { Secp256k1 }` (§3.3). */
export const PublicKeyCodec = union('PublicKey', [['Secp256k1', Secp256k1]])

/** `table Propose { rand, pubkey, exchanges, ciphers, hashes }` (§3.1, §3.2). */
export const ProposeCodec = table('Propose', [
  ['rand', bytes('Bytes')],
  ['pubkey', bytes('Bytes')],
  ['exchanges', string('String')],
  ['ciphers', string('String')],
  ['hashes', string('String')],
])

/** `table Exchange { epubkey, signature }` (§3.1, §3.9). */
export const ExchangeCodec = table('Exchange', [
  ['epubkey', bytes('Bytes')],
  ['signature', bytes('Bytes')],
])

export type Propose = CodecValue<typeof ProposeCodec>
export type Exchange = CodecValue<typeof ExchangeCodec>

/** Encodes the PublicKey union around a raw secp256k1 key: 41 bytes for 33 (§3.3). */
export function encodePublicKey(raw: Uint8Array): Uint8Array {
  return PublicKeyCodec.encode({ type: 'Secp256k1', value: raw })
}

/** Decodes the PublicKey union to the raw key bytes (a view). Throws MoleculeError. */
export function decodePublicKey(encoded: Uint8Array): Uint8Array {
  return PublicKeyCodec.decode(encoded).value
}

/**
 * The Exchange table, encoded directly (the handshake sends one per session): the same
 * bytes as {@link ExchangeCodec}.encode — total size, two offsets, then each field as a
 * 4-byte little-endian length and its bytes (§3.1).
 */
export function encodeExchange(epubkey: Uint8Array, signature: Uint8Array): Uint8Array {
  const first = 12
  const second = first + 4 + epubkey.length
  const total = second + 4 + signature.length
  const out = Buffer.allocUnsafe(total)
  out.writeUInt32LE(total, 0)
  out.writeUInt32LE(first, 4)
  out.writeUInt32LE(second, 8)
  out.writeUInt32LE(epubkey.length, first)
  out.set(epubkey, first + 4)
  out.writeUInt32LE(signature.length, second)
  out.set(signature, second + 4)
  return out
}
