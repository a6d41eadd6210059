/**
 * @tentacle-ts/tentacle — a tentacle-compatible service: listener, dialer,
 * sessions (secio + yamux), protocol selection and protocol handlers.
 */
export { Service, type ServiceOptions } from './service.js'
export { ServiceBuilder } from './builder.js'
export {
  TENTACLE_ERROR_CODES,
  TentacleError,
  isTentacleError,
  errorCode,
  type TentacleErrorCode,
  type TentacleErrorOptions,
} from './errors.js'
export { defaultConfig, resolveConfig, type ServiceConfig, type ServiceConfigInput } from './config.js'
export { TcpListener, type ListenerStats, type ListenerOptions, type AcceptedSocket } from './listener.js'
export { selectVersion } from './select-version.js'
export { encodeProtocolInfo, decodeProtocolInfo, type ProtocolInfo } from './protocol-info.js'
export { clientSelect, readOneFrame, MAX_SELECT_FRAME } from './protocol-select.js'
export { kernelSockets, socketStateCounts, TCP_STATES, type KernelSocket } from './kernel-sockets.js'
export { tcpTarget, toMultiaddr, withPeerId, withoutPeerId, socketMultiaddr, type TcpTarget } from './address.js'
export { DEFAULT_PROTOCOL_MAX_FRAME, DEFAULT_PROTOCOL_VERSIONS } from './protocol-registry.js'
export type { ServiceMetrics, MetricsOptions, MetricsSource } from './metrics.js'
export { serveMetrics, type MetricsServer, type MetricsServerOptions } from './metrics-server.js'
export type {
  Awaitable,
  Direction,
  ProtocolContext,
  ProtocolId,
  ProtocolSessionContext,
  ProtocolSpec,
  SendOptions,
  ServiceControl,
  ServiceErrorEvent,
  ServiceEvent,
  ServiceHandler,
  ServiceProtocolHandler,
  SessionCloseReason,
  SessionId,
  SessionInfo,
  SessionProtocolHandler,
  TargetProtocol,
  TargetSession,
} from './types.js'
