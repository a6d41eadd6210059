export { decodeMessage, encodeMessage, type MessageCodec } from './message-codec.js'
export {
  protobufCodec,
  loadProtobufCodec,
  type ProtobufMessageType,
  type ProtobufConversionOptions,
  type ProtobufCodecOptions,
} from './protobuf.js'
export {
  typedProtocol,
  type TypedProtocol,
  type TypedProtocolOptions,
  type TypedProtocolSpec,
  type TypedServiceHandler,
  type TypedSessionHandler,
  type RawProtocolHandler,
  type SessionContextLike,
  type ProtocolContextLike,
  type SessionSender,
  type ControlSender,
} from './typed-protocol.js'
