/**
 * CKB's ping messages (`protocols.mol`, §11.1): `PingMessage { payload: PingPayload }`,
 * `union PingPayload { Ping, Pong }`, `Ping/Pong { nonce: Uint32 }` (u32 little-endian).
 */
import { table, uint32, union } from '@tentacle-ts/codec'
import { malformed } from './malformed.js'

const Ping = table('Ping', [['nonce', uint32]])
const Pong = table('Pong', [['nonce', uint32]])
const PingPayload = union('PingPayload', [
  ['Ping', Ping],
  ['Pong', Pong],
])
const PingMessageCodec = table('PingMessage', [['payload', PingPayload]])

/** A decoded ping message. */
export type PingMessage = { type: 'ping' | 'pong'; nonce: number }

/** Encodes Ping{nonce} or Pong{nonce} (24 bytes, §6.2). */
export function encodePingMessage(msg: PingMessage): Uint8Array {
  return PingMessageCodec.encode({
    payload: { type: msg.type === 'ping' ? 'Ping' : 'Pong', value: { nonce: msg.nonce } },
  })
}

/** Decodes a ping message in compatible mode (as CKB); throws ProtocolsError PROTOCOLS_ERR_MALFORMED_MESSAGE. */
export function decodePingMessage(bytes: Uint8Array): PingMessage {
  try {
    const { payload } = PingMessageCodec.decode(bytes)
    return { type: payload.type === 'Ping' ? 'ping' : 'pong', nonce: payload.value.nonce }
  } catch (err) {
    throw malformed('PingMessage', err)
  }
}
