/**
 * Helpers for interop tests: spawn the driver programs built by
 * interop/build.sh, read their stdout lines with bounded waits, and always
 * reap them. See interop/README.md.
 */
export { spawnPeer, startServer, runToExit, killAll, PeerProcess, DEFAULT_WAIT_MS } from './peer-process.js'
export type { LineMatcher, PeerExit, PeerRun, ServerPeer, SpawnPeerOptions } from './peer-process.js'
export { TentaclePeer } from './tentacle-peer.js'
export type {
  DialErrorKind,
  EventOf,
  Payload,
  ProtocolInfo,
  SessionTy,
  TentacleCommand,
  TentacleEvent,
  TentacleEventName,
} from './tentacle-peer.js'
export { binDir, binPath } from './paths.js'
export { patternBytes, checkPattern, sha256Hex, toHex } from './pattern.js'
export { RawConn } from './raw-conn.js'
