import { encodeFrame, type LengthDelimitedDecoder } from '@tentacle-ts/codec'
import type { Stream } from '@tentacle-ts/yamux'
import { TentacleError } from './errors.js'
import { decodeProtocolInfo, encodeProtocolInfo, type ProtocolInfo } from './protocol-info.js'

/**
 * Largest selection message we read. Rust reads it with an 8 MiB codec
 * (§9.1), but a ProtocolInfo is a name and a few versions; a peer sending
 * more is not selecting a protocol.
 */
export const MAX_SELECT_FRAME = 64 * 1024

/**
 * Reads exactly one length-delimited frame from `stream` into `decoder`,
 * leaving any later bytes in the decoder (they are the protocol's first
 * bytes, §9.2 step 4). Rejects with TENTACLE_ERR_PROTOCOL_SELECT on EOF, reset,
 * malformed length or `signal` abort.
 */
export function readOneFrame(
  stream: Stream,
  decoder: LengthDelimitedDecoder,
  signal: AbortSignal,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const fail = (why: string, cause?: unknown): void => {
      signal.removeEventListener('abort', onAbort)
      reject(new TentacleError('TENTACLE_ERR_PROTOCOL_SELECT', `protocol selection: ${why}`, { cause }))
    }
    const onAbort = (): void => {
      // Wakes the pending read: readNow() throws YAMUX_ERR_STREAM_RESET below.
      stream.reset()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    const pump = (): void => {
      for (;;) {
        if (signal.aborted) return fail('timed out')
        let frame: Uint8Array | null
        try {
          frame = decoder.next()
        } catch (err) {
          return fail('bad frame', err)
        }
        if (frame !== null) {
          signal.removeEventListener('abort', onAbort)
          resolve(frame)
          return
        }
        let chunk: Uint8Array | null | undefined
        try {
          chunk = stream.readNow()
        } catch (err) {
          return fail(signal.aborted ? 'timed out' : 'stream reset', err)
        }
        if (chunk === undefined) {
          stream.onReadable(pump)
          return
        }
        if (chunk === null) return fail('unexpected EOF')
        decoder.push(chunk)
      }
    }
    pump()
  })
}

/** Sends one selection message (§9.2). */
export function writeProtocolInfo(stream: Stream, info: ProtocolInfo): Promise<void> {
  return stream.write(encodeFrame(encodeProtocolInfo(info)))
}

/** Client side (§9.2 steps 1 and 3): send our info, read the reply, take its last version. */
export async function clientSelect(
  stream: Stream,
  info: ProtocolInfo,
  decoder: LengthDelimitedDecoder,
  signal: AbortSignal,
): Promise<{ name: string; version: string | undefined }> {
  await writeProtocolInfo(stream, info)
  const reply = decodeProtocolInfo(await readOneFrame(stream, decoder, signal))
  return { name: reply.name, version: reply.supportVersions[reply.supportVersions.length - 1] }
}
