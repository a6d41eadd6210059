/**
 * CKB discovery messages (§11.3; `protocols.mol`): `DiscoveryMessage { payload:
 * union DiscoveryPayload { GetNodes, Nodes } }`. CKB writes GetNodes2
 * `{ version, count, listen_port: PortOpt, required_flags }` and Nodes2
 * `{ announce: Bool, items: [Node2 { addresses: BytesVec, flags }] }` under
 * the GetNodes/Nodes ids and reads both forms in compatible mode (no flags →
 * COMPATIBILITY). No inner length prefix (unlike tentacle-discovery).
 */
import { array, bytes, dynvec, option, table, uint32, uint64, uintLE, union, readU32LE } from '@tentacle-ts/codec'
import { ProtocolsError } from '../errors.js'
import { Flags, KNOWN_FLAGS } from '../flags.js'
import { decodeMultiaddrBytes, encodeMultiaddr } from '../multiaddr-binary.js'
import { malformed } from './malformed.js'

const Uint16 = uintLE('Uint16', 2)
const PortOpt = option('PortOpt', Uint16)
const Bool = array('Bool', 1)
const BytesVec = dynvec('BytesVec', bytes())

const GetNodes = table('GetNodes', [
  ['version', uint32],
  ['count', uint32],
  ['listenPort', PortOpt],
])
const GetNodes2 = table('GetNodes2', [
  ['version', uint32],
  ['count', uint32],
  ['listenPort', PortOpt],
  ['requiredFlags', uint64],
])
const Node = table('Node', [['addresses', BytesVec]])
const Node2 = table('Node2', [
  ['addresses', BytesVec],
  ['flags', uint64],
])
const Nodes = table('Nodes', [
  ['announce', Bool],
  ['items', dynvec('NodeVec', Node)],
])
const Nodes2 = table('Nodes2', [
  ['announce', Bool],
  ['items', dynvec('Node2Vec', Node2)],
])
const DiscoveryPayloadIn = union('DiscoveryPayload', [
  ['GetNodes', GetNodes],
  ['Nodes', Nodes],
])
const DiscoveryPayloadOut = union('DiscoveryPayload', [
  ['GetNodes', GetNodes2],
  ['Nodes', Nodes2],
])
const DiscoveryIn = table('DiscoveryMessage', [['payload', DiscoveryPayloadIn]])
const DiscoveryOut = table('DiscoveryMessage', [['payload', DiscoveryPayloadOut]])

/** One Nodes item: up to 3 addresses of one peer, and its flags. */
export interface DiscoveryNode {
  addresses: string[]
  flags: bigint
}

/** A decoded discovery message. */
export type DiscoveryMessage =
  | { type: 'get-nodes'; version: number; count: number; listenPort: number | undefined; requiredFlags: bigint }
  | { type: 'nodes'; announce: boolean; items: DiscoveryNode[] }

/**
 * Wire form: `'ckb'` (CKB's discovery, version "3": GetNodes2/Nodes2 bodies, no
 * inner prefix) or `'tentacle'` (tentacle-discovery: GetNodes/Nodes without
 * flags, and the molecule message itself prefixed by a u32 big-endian length
 * inside the protocol frame, "for historical reasons", §11.3).
 */
export type DiscoveryForm = 'ckb' | 'tentacle'

const INNER_PREFIX = 4

/** Encodes as CKB does (GetNodes2 / Nodes2 bodies), or in tentacle-discovery's older form. */
export function encodeDiscoveryMessage(msg: DiscoveryMessage, form: DiscoveryForm = 'ckb'): Uint8Array {
  if (form === 'tentacle') {
    const body =
      msg.type === 'get-nodes'
        ? DiscoveryIn.encode({
            payload: {
              type: 'GetNodes',
              value: { version: msg.version, count: msg.count, listenPort: msg.listenPort },
            },
          })
        : DiscoveryIn.encode({
            payload: {
              type: 'Nodes',
              value: {
                announce: Uint8Array.of(msg.announce ? 1 : 0),
                items: msg.items.map((n) => ({ addresses: n.addresses.map(encodeMultiaddr) })),
              },
            },
          })
    const out = new Uint8Array(INNER_PREFIX + body.length)
    new DataView(out.buffer).setUint32(0, body.length, false)
    out.set(body, INNER_PREFIX)
    return out
  }
  if (msg.type === 'get-nodes') {
    return DiscoveryOut.encode({
      payload: {
        type: 'GetNodes',
        value: { version: msg.version, count: msg.count, listenPort: msg.listenPort, requiredFlags: msg.requiredFlags },
      },
    })
  }
  return DiscoveryOut.encode({
    payload: {
      type: 'Nodes',
      value: {
        announce: Uint8Array.of(msg.announce ? 1 : 0),
        items: msg.items.map((n) => ({ addresses: n.addresses.map(encodeMultiaddr), flags: n.flags })),
      },
    },
  })
}

/** Field count of the table `t` (its first offset / 4 − 1), for the GetNodes2/Node2 detection CKB does with `has_extra_fields`. */
function fieldCount(t: Uint8Array): number {
  return t.length <= 4 ? 0 : readU32LE(t, 4) / 4 - 1
}

/**
 * Decodes as CKB does (`form` 'tentacle': after checking and removing the inner prefix): compatible mode; GetNodes/Node with extra fields are
 * re-read as GetNodes2/Node2 for their flags (unknown flag bits dropped); an
 * announce byte other than 0/1 or any address that is not a multiaddr fails
 * the whole message. Throws ProtocolsError PROTOCOLS_ERR_MALFORMED_MESSAGE.
 */
export function decodeDiscoveryMessage(data: Uint8Array, form: DiscoveryForm = 'ckb'): DiscoveryMessage {
  if (form === 'tentacle') {
    const n =
      data.length >= INNER_PREFIX ? new DataView(data.buffer, data.byteOffset, INNER_PREFIX).getUint32(0, false) : -1
    if (n !== data.length - INNER_PREFIX) {
      throw new ProtocolsError(
        'PROTOCOLS_ERR_MALFORMED_MESSAGE',
        `malformed DiscoveryMessage: inner length prefix ${n} does not match ${data.length - INNER_PREFIX} bytes`,
      )
    }
    return decodeDiscoveryMessage(data.subarray(INNER_PREFIX), 'ckb')
  }
  try {
    const { payload } = DiscoveryIn.decode(data)
    // The union's item body: the payload field minus its 4-byte item id (verified by the decode above).
    const body = data.subarray(readU32LE(data, 4) + 4, fieldCount(data) > 1 ? readU32LE(data, 8) : data.length)
    if (payload.type === 'GetNodes') {
      const v = payload.value
      const requiredFlags =
        fieldCount(body) > 3 ? GetNodes2.decode(body).requiredFlags & KNOWN_FLAGS : Flags.COMPATIBILITY
      return { type: 'get-nodes', version: v.version, count: v.count, listenPort: v.listenPort, requiredFlags }
    }
    const announceByte = payload.value.announce[0]
    if (announceByte !== 0 && announceByte !== 1) {
      throw new ProtocolsError('PROTOCOLS_ERR_MALFORMED_MESSAGE', `Nodes.announce is ${announceByte}, not 0 or 1`)
    }
    const itemsBytes = Nodes.decode(body)
    const items: DiscoveryNode[] = []
    const nodeSlices = itemSlices(body)
    for (let i = 0; i < itemsBytes.items.length; i++) {
      const slice = nodeSlices[i]!
      const flags = fieldCount(slice) > 1 ? Node2.decode(slice).flags & KNOWN_FLAGS : Flags.COMPATIBILITY
      items.push({ addresses: itemsBytes.items[i]!.addresses.map((a) => decodeMultiaddrBytes(a).text), flags })
    }
    return { type: 'nodes', announce: announceByte === 1, items }
  } catch (err) {
    throw malformed('DiscoveryMessage', err)
  }
}

/** The item slices of the `items` dynvec of a (verified) Nodes table. */
function itemSlices(nodes: Uint8Array): Uint8Array[] {
  const itemsStart = readU32LE(nodes, 8)
  const itemsEnd = fieldCount(nodes) > 2 ? readU32LE(nodes, 12) : nodes.length
  const vec = nodes.subarray(itemsStart, itemsEnd)
  const n = vec.length <= 4 ? 0 : readU32LE(vec, 4) / 4 - 1
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const start = readU32LE(vec, 4 + 4 * i)
    const end = i + 1 < n ? readU32LE(vec, 8 + 4 * i) : vec.length
    out.push(vec.subarray(start, end))
  }
  return out
}
