import { decodeMessage, encodeMessage, type MessageCodec } from './message-codec.js'

// The shapes below are the parts of @tentacle-ts/tentacle's ProtocolSpec and
// handler contexts that a typed protocol touches, written structurally: this
// package sits below tentacle (tentacle imports it), so it cannot import
// tentacle's types. A `TypedProtocol#spec` is a valid tentacle ProtocolSpec.

type Awaitable = void | Promise<void>

/**
 * The least a session-level handler context has (tentacle
 * `ProtocolSessionContext`): enough for `proto.send(ctx, msg)` and
 * `proto.send(ctx.control, sessionId, msg)` without annotating `ctx`.
 */
export interface SessionContextLike {
  readonly protoId: number
  readonly session: { readonly id: number }
  readonly control: ControlSender<unknown>
  send(data: Uint8Array): void
  sendAsync(data: Uint8Array): Promise<boolean>
}

/** The least a protocol-level handler context has (tentacle `ProtocolContext`). */
export interface ProtocolContextLike {
  readonly protoId: number
}

/**
 * Handlers of a typed protocol, one object for every session: tentacle's
 * `ServiceProtocolHandler` with `received` getting the decoded message.
 * `Ctx` is inferred from an annotation on a handler's first parameter
 * (`received(ctx: ProtocolSessionContext, msg)`), else it is the minimal
 * {@link SessionContextLike}.
 */
export interface TypedServiceHandler<T, Ctx extends SessionContextLike = SessionContextLike> {
  init?(ctx: ProtocolContextLike): Awaitable
  connected?(ctx: Ctx, version: string): Awaitable
  disconnected?(ctx: Ctx): Awaitable
  received?(ctx: Ctx, msg: T): Awaitable
  notify?(ctx: ProtocolContextLike, token: number): Awaitable
}

/** A per-session typed handler (tentacle `SessionProtocolHandler`), made anew for every open. */
export interface TypedSessionHandler<T, Ctx extends SessionContextLike = SessionContextLike> {
  connected?(ctx: Ctx, version: string): Awaitable
  disconnected?(ctx: Ctx): Awaitable
  received?(ctx: Ctx, msg: T): Awaitable
  notify?(ctx: Ctx, token: number): Awaitable
}

interface TypedProtocolBase<T> {
  /** Local protocol id, as in tentacle's ProtocolSpec. */
  id: number
  /** Name on the wire (§10.2); tentacle's default is `/p2p/<id>`. */
  name?: string
  /** Supported versions, ascending (§9.3). */
  versions?: string[]
  /** Max encoded message length both ways (§10.1); tentacle's default is 8 MiB. */
  maxFrameLength?: number
  selectVersion?: (local: readonly string[], remote: readonly string[]) => string | undefined
  codec: MessageCodec<T>
  /** A raw transform of the encoded bytes before they are sent (compression...); runs after `codec.encode`. */
  beforeSend?: (data: Uint8Array) => Uint8Array
  /** A raw transform of the received bytes (decompression...); runs before `codec.decode`. */
  beforeReceive?: (data: Uint8Array) => Uint8Array
}

/** What {@link typedProtocol} takes: tentacle's ProtocolSpec with a codec and typed handlers. */
export type TypedProtocolOptions<T, Ctx extends SessionContextLike = SessionContextLike> = TypedProtocolBase<T> &
  (
    | { handler: TypedServiceHandler<T, Ctx>; sessionHandler?: undefined }
    | { sessionHandler: () => TypedSessionHandler<T, Ctx>; handler?: undefined }
  )

/** The untyped handler a typed protocol hands tentacle. */
export interface RawProtocolHandler<Ctx> {
  init?(ctx: ProtocolContextLike): Awaitable
  connected?(ctx: Ctx, version: string): Awaitable
  disconnected?(ctx: Ctx): Awaitable
  received?(ctx: Ctx, data: Uint8Array): Awaitable
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tentacle's notify context type, which codec cannot name without depending on tentacle
  notify?(ctx: any, token: number): Awaitable
}

/** A tentacle ProtocolSpec (pass it to `ServiceBuilder#protocol`). */
export interface TypedProtocolSpec<Ctx> {
  id: number
  name?: string
  versions?: string[]
  maxFrameLength?: number
  selectVersion?: (local: readonly string[], remote: readonly string[]) => string | undefined
  handler?: RawProtocolHandler<Ctx>
  sessionHandler?: () => RawProtocolHandler<Ctx>
  beforeSend?: (data: Uint8Array) => Uint8Array
  beforeReceive: (data: Uint8Array) => Uint8Array
}

/** Anything that sends on one protocol of one session: a handler's `ctx`. */
export interface SessionSender<O> {
  send(data: Uint8Array, opts?: O): void
  sendAsync(data: Uint8Array, opts?: O): Promise<boolean>
}

/** Anything that sends to a session by id: a `Service` or `ctx.control`. */
export interface ControlSender<O> {
  send(session: number, proto: number, data: Uint8Array, opts?: O): void
  sendAsync(session: number, proto: number, data: Uint8Array, opts?: O): Promise<boolean>
}

/** A protocol whose messages are `T` on the wire through a codec; see {@link typedProtocol}. */
export interface TypedProtocol<T, Ctx extends SessionContextLike = SessionContextLike> {
  readonly id: number
  readonly codec: MessageCodec<T>
  /** Register this with `ServiceBuilder#protocol(chat.spec)`. */
  readonly spec: TypedProtocolSpec<Ctx>
  /** Encodes one message; throws CodecError `CODEC_ERR_MESSAGE_ENCODE`. For `control.broadcast(target, id, chat.encode(msg))`. */
  encode(msg: T): Uint8Array
  /** Sends on the handler context's session. Throws CodecError `CODEC_ERR_MESSAGE_ENCODE` for a message the codec refuses. */
  send<O>(ctx: SessionSender<O>, msg: T, opts?: O): void
  /** Sends to session `session` through a Service or `ctx.control`. */
  send<O>(control: ControlSender<O>, session: number, msg: T, opts?: O): void
  /** sendAsync (backpressure: settles true once handed to yamux, false if dropped) on the handler context's session. */
  sendAsync<O>(ctx: SessionSender<O>, msg: T, opts?: O): Promise<boolean>
  sendAsync<O>(control: ControlSender<O>, session: number, msg: T, opts?: O): Promise<boolean>
}

/**
 * Turns a codec and typed handlers into a tentacle ProtocolSpec plus typed
 * `send`/`sendAsync`.
 *
 * Received frames are decoded as they come off the stream, before they are
 * queued for the handler, so `received` only ever sees whole `T`s. A frame
 * that does not decode is a CodecError `CODEC_ERR_MESSAGE_DECODE`; tentacle then
 * does what Rust tentacle does for a codec error on a substream: it resets
 * this protocol's stream on that session only and reports a `protocol-error`
 * (TentacleError `TENTACLE_ERR_PROTOCOL_CODEC` whose `cause` is the CodecError) to the
 * service's `handleError`; `disconnected` runs for that session. The session,
 * its other protocols and every other session go on. An application that
 * wants stricter decides there (CKB bans the peer's IP for 5 minutes on any
 * protocol error; @tentacle-ts/protocols' service handler does the same by
 * default).
 *
 * @example
 * const chat = typedProtocol({ id: 1, name: '/chat', codec: await loadProtobufCodec<Line>('chat.proto', 'chat.Line'),
 *   handler: { received: (ctx, line) => console.log(line.text) } })
 * builder.protocol(chat.spec)
 * chat.send(service, sessionId, { from: 'me', text: 'hi' })
 */
export function typedProtocol<T, Ctx extends SessionContextLike = SessionContextLike>(
  options: TypedProtocolOptions<T, Ctx>,
): TypedProtocol<T, Ctx> {
  const { id, codec } = options
  const what = `${options.name ?? `/p2p/${id}`} message`
  // A frame's decoded message, from beforeReceive (read loop) to received
  // (handler queue). tentacle hands received() the very object beforeReceive
  // returned; keyed weakly, an entry whose handler never runs (protocol closed
  // meanwhile) goes with its frame.
  const decoded = new WeakMap<Uint8Array, T>()
  const userBeforeReceive = options.beforeReceive

  const beforeReceive = (frame: Uint8Array): Uint8Array => {
    const data = userBeforeReceive === undefined ? frame : userBeforeReceive(frame)
    decoded.set(data, decodeMessage(codec, data, what))
    return data
  }
  const take = (data: Uint8Array): T => {
    const msg = decoded.get(data)
    if (msg === undefined && !decoded.has(data)) return decodeMessage(codec, data, what)
    decoded.delete(data)
    return msg as T
  }
  const wrap = (h: TypedServiceHandler<T, Ctx> | TypedSessionHandler<T, Ctx>): RawProtocolHandler<Ctx> => {
    const raw: RawProtocolHandler<Ctx> = {}
    if ('init' in h && h.init !== undefined) raw.init = h.init.bind(h)
    if (h.connected !== undefined) raw.connected = h.connected.bind(h)
    if (h.disconnected !== undefined) raw.disconnected = h.disconnected.bind(h)
    if (h.notify !== undefined) raw.notify = h.notify.bind(h)
    const received = h.received
    // Without a received handler the frames are still decoded (and refused when malformed), then dropped.
    raw.received =
      received === undefined ? (_ctx, data) => void take(data) : (ctx, data) => received.call(h, ctx, take(data))
    return raw
  }

  const spec: TypedProtocolSpec<Ctx> = { id, beforeReceive }
  if (options.name !== undefined) spec.name = options.name
  if (options.versions !== undefined) spec.versions = options.versions
  if (options.maxFrameLength !== undefined) spec.maxFrameLength = options.maxFrameLength
  if (options.selectVersion !== undefined) spec.selectVersion = options.selectVersion
  if (options.beforeSend !== undefined) spec.beforeSend = options.beforeSend
  if (options.handler !== undefined) spec.handler = wrap(options.handler)
  else {
    const make = options.sessionHandler
    spec.sessionHandler = () => wrap(make())
  }

  const encode = (msg: T): Uint8Array => encodeMessage(codec, msg, what)
  function send<O>(target: SessionSender<O> | ControlSender<O>, a: number | T, b?: T | O, c?: O): void {
    if (isControl(target)) target.send(a as number, id, encode(b as T), c)
    else (target as SessionSender<O>).send(encode(a as T), b as O | undefined)
  }
  function sendAsync<O>(
    target: SessionSender<O> | ControlSender<O>,
    a: number | T,
    b?: T | O,
    c?: O,
  ): Promise<boolean> {
    try {
      if (isControl(target)) return target.sendAsync(a as number, id, encode(b as T), c)
      return (target as SessionSender<O>).sendAsync(encode(a as T), b as O | undefined)
    } catch (err) {
      return Promise.reject(err)
    }
  }
  return { id, codec, spec, encode, send, sendAsync }
}

/**
 * Only a handler context has `protoId` (a Service or ServiceControl has
 * `session(id)` too, so that name cannot tell them apart).
 */
function isControl<O>(target: SessionSender<O> | ControlSender<O>): target is ControlSender<O> {
  return !('protoId' in target)
}
