// @tentacle-ts/yamux — a tokio-yamux 0.3.20 compatible stream multiplexer (§8).
export { Session, type SessionOptions, type SessionState, type SessionEndReason } from './session.js'
export { Stream, type DirectionState, type WriteCallback } from './stream.js'
export { YAMUX_ERROR_CODES, YamuxError, isYamuxError, type YamuxErrorCode, type YamuxErrorOptions } from './errors.js'
export { DEFAULT_CONFIG, resolveConfig, type YamuxConfig } from './config.js'
export type { DuplexOptions } from './duplex.js'
export {
  YamuxFrameDecoder,
  NEED_MORE,
  DECODED_HEADER,
  DECODED_BODY,
  type DecodeResult,
  type YamuxDecoderState,
} from './frame-decoder.js'
export {
  HEADER_SIZE,
  PROTOCOL_VERSION,
  INITIAL_STREAM_WINDOW,
  TYPE_DATA,
  TYPE_WINDOW_UPDATE,
  TYPE_PING,
  TYPE_GO_AWAY,
  FLAG_SYN,
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  GO_AWAY_NORMAL,
  GO_AWAY_PROTOCOL_ERROR,
  GO_AWAY_INTERNAL_ERROR,
  encodeHeader,
  readHeader,
  writeHeader,
  type FrameHeader,
} from './frame.js'
