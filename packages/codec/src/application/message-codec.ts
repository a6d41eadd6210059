import { CodecError, isCodecError } from '../errors.js'

/**
 * Turns one application message into the bytes of one protocol frame and
 * back. The length prefix is not the codec's job: tentacle frames every
 * message (§10.1), so `decode` always gets exactly one whole message.
 *
 * `decode` must reject bytes that are not a `T` by throwing; whatever it
 * throws is reported as a {@link CodecError} with code `CODEC_ERR_MESSAGE_DECODE`.
 */
export interface MessageCodec<T> {
  encode(msg: T): Uint8Array
  decode(bytes: Uint8Array): T
}

/**
 * Runs `codec.decode`, turning anything it throws into a CodecError
 * `CODEC_ERR_MESSAGE_DECODE` (the cause is kept). A decoder written by a user, or a
 * library's (protobufjs throws RangeError and plain Errors), can then never
 * leak an untyped error into the network code.
 */
export function decodeMessage<T>(codec: MessageCodec<T>, bytes: Uint8Array, what = 'message'): T {
  try {
    return codec.decode(bytes)
  } catch (err) {
    throw asCodecError('CODEC_ERR_MESSAGE_DECODE', err, `${what} of ${bytes.length} bytes does not decode`)
  }
}

/** Runs `codec.encode`, turning anything it throws into a CodecError `CODEC_ERR_MESSAGE_ENCODE`. */
export function encodeMessage<T>(codec: MessageCodec<T>, msg: T, what = 'message'): Uint8Array {
  try {
    return codec.encode(msg)
  } catch (err) {
    throw asCodecError('CODEC_ERR_MESSAGE_ENCODE', err, `${what} does not encode`)
  }
}

function asCodecError(
  code: 'CODEC_ERR_MESSAGE_DECODE' | 'CODEC_ERR_MESSAGE_ENCODE',
  err: unknown,
  context: string,
): CodecError {
  if (isCodecError(err, code)) return err
  const detail = err instanceof Error ? err.message : String(err)
  return new CodecError(code, `${context}: ${detail}`, { cause: err })
}
