/**
 * Identify messages (§11.2; CKB `protocols.mol` and `extensions.mol`):
 * `IdentifyMessage { listen_addrs: AddressVec, observed_addr: Address, identify: Bytes }`,
 * `Address { bytes: Bytes }` (a binary multiaddr, §5.3), and CKB's blob
 * `Identify { flag: Uint64, name: Bytes, client_version: Bytes }`.
 */
import { bytes, dynvec, table, uint64 } from '@tentacle-ts/codec'
import { decodeMultiaddrBytes, encodeMultiaddr } from '../multiaddr-binary.js'
import { malformed } from './malformed.js'

const Address = table('Address', [['bytes', bytes()]])
const IdentifyMessageCodec = table('IdentifyMessage', [
  ['listenAddrs', dynvec('AddressVec', Address)],
  ['observedAddr', Address],
  ['identify', bytes()],
])
const IdentifyCodec = table('Identify', [
  ['flag', uint64],
  ['name', bytes()],
  ['clientVersion', bytes()],
])

/** A decoded IdentifyMessage; addresses in canonical text. */
export interface IdentifyMessage {
  listenAddrs: string[]
  observedAddr: string
  /** The application blob (CKB: an encoded {@link IdentifyBlob}); a view of the input. */
  identify: Uint8Array
  /** Listen addresses that did not decode (CKB logs and skips them). */
  invalidListenAddrs: number
}

/** CKB's Identify blob. */
export interface IdentifyBlob {
  flag: bigint
  name: string
  clientVersion: string
}

/** Encodes an IdentifyMessage from multiaddr texts. */
export function encodeIdentifyMessage(msg: {
  listenAddrs: readonly string[]
  observedAddr: string
  identify: Uint8Array
}): Uint8Array {
  return IdentifyMessageCodec.encode({
    listenAddrs: msg.listenAddrs.map((a) => ({ bytes: encodeMultiaddr(a) })),
    observedAddr: { bytes: encodeMultiaddr(msg.observedAddr) },
    identify: msg.identify,
  })
}

/**
 * Decodes an IdentifyMessage as CKB does (compatible mode): an observed
 * address that is not a multiaddr fails the message; a listen address that is
 * not one is skipped and counted. Throws ProtocolsError PROTOCOLS_ERR_MALFORMED_MESSAGE.
 */
export function decodeIdentifyMessage(data: Uint8Array): IdentifyMessage {
  try {
    const m = IdentifyMessageCodec.decode(data)
    const observedAddr = decodeMultiaddrBytes(m.observedAddr.bytes).text
    const listenAddrs: string[] = []
    let invalidListenAddrs = 0
    for (const a of m.listenAddrs) {
      try {
        listenAddrs.push(decodeMultiaddrBytes(a.bytes).text)
      } catch {
        invalidListenAddrs++
      }
    }
    return { listenAddrs, observedAddr, identify: m.identify, invalidListenAddrs }
  } catch (err) {
    throw malformed('IdentifyMessage', err)
  }
}

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Encodes CKB's Identify blob. */
export function encodeIdentifyBlob(blob: IdentifyBlob): Uint8Array {
  return IdentifyCodec.encode({
    flag: blob.flag,
    name: utf8.encode(blob.name),
    clientVersion: utf8.encode(blob.clientVersion),
  })
}

/**
 * Decodes CKB's Identify blob in STRICT mode (CKB uses `IdentifyReader::from_slice`,
 * so extra fields are refused); name and client version must be UTF-8.
 * Throws ProtocolsError PROTOCOLS_ERR_MALFORMED_MESSAGE.
 */
export function decodeIdentifyBlob(data: Uint8Array): IdentifyBlob {
  try {
    const b = IdentifyCodec.decode(data, { compatible: false })
    return { flag: b.flag, name: utf8Strict.decode(b.name), clientVersion: utf8Strict.decode(b.clientVersion) }
  } catch (err) {
    throw malformed('Identify', err)
  }
}
