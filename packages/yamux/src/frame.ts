// Yamux frame header: constants and the 12-byte codec (§8.1).
// The header is encoded on its own; a Data frame's payload is never copied into it.

/** §8.1: the only protocol version. */
export const PROTOCOL_VERSION = 0
/** §8.1: header length in bytes. */
export const HEADER_SIZE = 12
/** §8.4: every stream starts with this send and receive window (256 KiB). */
export const INITIAL_STREAM_WINDOW = 256 * 1024

/** §8.1 frame types. */
export const TYPE_DATA = 0
export const TYPE_WINDOW_UPDATE = 1
export const TYPE_PING = 2
export const TYPE_GO_AWAY = 3

/** §8.1 flags. */
export const FLAG_SYN = 0x1
export const FLAG_ACK = 0x2
export const FLAG_FIN = 0x4
export const FLAG_RST = 0x8

/** §8.6 GoAway codes (an unknown code is treated as a protocol error). */
export const GO_AWAY_NORMAL = 0
export const GO_AWAY_PROTOCOL_ERROR = 1
export const GO_AWAY_INTERNAL_ERROR = 2

/** A decoded header. For Data, `length` is the body length; otherwise delta, ping id or GoAway code. */
export interface FrameHeader {
  version: number
  type: number
  flags: number
  streamId: number
  length: number
}

/** Writes a 12-byte header into `buf` at `offset` (big-endian, §8.1). */
export function writeHeader(
  buf: Uint8Array,
  offset: number,
  type: number,
  flags: number,
  streamId: number,
  length: number,
): void {
  buf[offset] = PROTOCOL_VERSION
  buf[offset + 1] = type
  buf[offset + 2] = (flags >>> 8) & 0xff
  buf[offset + 3] = flags & 0xff
  writeU32(buf, offset + 4, streamId)
  writeU32(buf, offset + 8, length)
}

/** Encodes one header into a new 12-byte array. */
export function encodeHeader(h: Omit<FrameHeader, 'version'> & { version?: number }): Uint8Array {
  const buf = new Uint8Array(HEADER_SIZE)
  writeHeader(buf, 0, h.type, h.flags, h.streamId, h.length)
  if (h.version !== undefined) buf[0] = h.version
  return buf
}

/** Reads a header (no validation) from `buf` at `offset`; `buf` must hold 12 bytes there. */
export function readHeader(buf: Uint8Array, offset = 0): FrameHeader {
  return {
    version: buf[offset],
    type: buf[offset + 1],
    flags: (buf[offset + 2] << 8) | buf[offset + 3],
    streamId: readU32BE(buf, offset + 4),
    length: readU32BE(buf, offset + 8),
  }
}

/** Writes `v` big-endian at `offset`. */
export function writeU32(buf: Uint8Array, offset: number, v: number): void {
  buf[offset] = v >>> 24
  buf[offset + 1] = (v >>> 16) & 0xff
  buf[offset + 2] = (v >>> 8) & 0xff
  buf[offset + 3] = v & 0xff
}

/** Reads a big-endian u32 at `offset`. */
export function readU32BE(buf: Uint8Array, offset: number): number {
  return ((buf[offset] << 24) | (buf[offset + 1] << 16) | (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0
}
