/**
 * @tentacle-ts/protocols — CKB's network protocols for tentacle-ts (§11): ping,
 * identify, discovery, feeler and disconnect message, with an address book,
 * outbound dialing, presets (`ckb`, `tentacle`) and metrics.
 *
 * @example
 * ```ts
 * const net = createNetworkProtocols({ preset: 'ckb', networkName: '/ckb/92b197aa', bootnodes })
 * const builder = new ServiceBuilder().key(SecioKeyPair.generate())
 * for (const spec of net.protocols) builder.protocol(spec)
 * const service = builder.build(net.serviceHandler())
 * net.attach(service)
 * await service.listen('/ip4/127.0.0.1/tcp/0')
 * ```
 */
export { createNetworkProtocols, resolveNetworkOptions } from './network-protocols.js'
export type {
  AddressEntry,
  IdentifyInfo,
  MisbehaviourKind,
  MisbehaviourReport,
  MisbehaviourVerdict,
  NetworkProtocols,
  NetworkProtocolsEvents,
  NetworkProtocolsOptions,
  PeerDropReason,
  PeerInfo,
  Preset,
  PresetName,
  ProtocolIds,
  ResolvedNetworkOptions,
} from './types.js'
export { AddressBook, type BanEntry } from './address-book.js'
export { CKB_PRESET, TENTACLE_PRESET, PRESETS } from './presets.js'
export { Flags, DEFAULT_REQUIRED_FLAGS, requiredFlagsFilter } from './flags.js'
export {
  PROTOCOLS_ERROR_CODES,
  ProtocolsError,
  isProtocolsError,
  type ProtocolsErrorCode,
  type ProtocolsErrorOptions,
} from './errors.js'
export {
  decodeMultiaddr,
  encodeMultiaddr,
  canonicalMultiaddr,
  type DecodedMultiaddr,
  type MultiaddrComponent,
} from './multiaddr-binary.js'
export { encodePingMessage, decodePingMessage, type PingMessage } from './messages/ping.js'
export {
  encodeIdentifyMessage,
  decodeIdentifyMessage,
  encodeIdentifyBlob,
  decodeIdentifyBlob,
  type IdentifyMessage,
  type IdentifyBlob,
} from './messages/identify.js'
export {
  encodeDiscoveryMessage,
  decodeDiscoveryMessage,
  type DiscoveryForm,
  type DiscoveryMessage,
  type DiscoveryNode,
} from './messages/discovery.js'
