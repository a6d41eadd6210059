/**
 * The deterministic payload every driver uses (interop/README.md):
 * byte i = (i * 31 + fill) & 0xff, fill 7 by default.
 */
import { createHash } from 'node:crypto'

/** n pattern bytes starting at absolute offset `offset`. */
export function patternBytes(n: number, fill = 7, offset = 0): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = ((offset + i) * 31 + fill) & 0xff
  return out
}

/** Index of the first byte of `data` (at absolute `offset`) that differs from the pattern, or -1. */
export function checkPattern(data: Uint8Array, offset = 0, fill = 7): number {
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== (((offset + i) * 31 + fill) & 0xff)) return offset + i
  }
  return -1
}

/** Lowercase hex SHA-256, as tentacle-peer reports received messages. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Lowercase hex of bytes. */
export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex')
}
