/**
 * Fuzz targets: one per decoder. Each `run` feeds one input through the
 * decoder the way the network would (chunked at input-chosen boundaries) and
 * checks the target's invariant:
 *   - the decoder throws nothing but its package's typed error;
 *   - it agrees with a small reference parser written from the spec (§2.1,
 *     §8.1), or encode(decode(x)) round-trips where the format defines it (§6);
 *   - the bytes it holds never exceed the bytes it was given (memory bounded).
 * An invariant that fails throws an AssertionError, which the engine reports
 * as a crash.
 */
import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import { isDeepStrictEqual } from 'node:util'
import {
  LengthDelimitedDecoder,
  isMoleculeError,
  array,
  byte,
  bytes,
  dynvec,
  encodeFrame,
  fixvec,
  isCodecError,
  option,
  string,
  struct,
  table,
  uint32,
  uint64,
  union,
  type Codec,
} from '@tentacle-ts/codec'
import {
  DECODED_BODY,
  DECODED_HEADER,
  NEED_MORE,
  Session,
  isYamuxError,
  YamuxFrameDecoder,
  encodeHeader,
  type Stream,
} from '@tentacle-ts/yamux'
import {
  ExchangeCodec,
  PeerId,
  ProposeCodec,
  PublicKeyCodec,
  isSecioError,
  SecioKeyPair,
  handshake,
  nodeCryptoProvider,
} from '@tentacle-ts/secio'
import {
  MAX_SELECT_FRAME,
  isTentacleError,
  decodeProtocolInfo,
  encodeProtocolInfo,
  selectVersion,
} from '@tentacle-ts/tentacle'
import {
  isProtocolsError,
  decodeDiscoveryMessage,
  decodeIdentifyMessage,
  decodeMultiaddr,
  decodePingMessage,
  encodeDiscoveryMessage,
  encodeIdentifyMessage,
  encodeMultiaddr,
  encodePingMessage,
} from '@tentacle-ts/protocols'
import { SecureStream } from '../../../packages/secio/src/secure-stream.js'
import { Rng } from './mutate.js'
import type { FuzzTarget } from './engine.js'

// ------------------------------------------------------------------ helpers

/** Splits `data` into 1..n chunks at boundaries drawn from `seed` (chaotic chunking). */
export function chunksOf(data: Uint8Array, seed: number): Uint8Array[] {
  const rng = new Rng(seed)
  const out: Uint8Array[] = []
  const style = seed % 4
  for (let at = 0; at < data.length;) {
    const n = style === 0 ? data.length : style === 1 ? 1 : 1 + rng.below(style === 2 ? 7 : 64)
    out.push(data.subarray(at, at + n))
    at += n
  }
  return out
}

/** A copy as a plain Uint8Array (decoded views then compare equal to encoder output). */
function plain(b: Uint8Array): Uint8Array {
  return new Uint8Array(b)
}

function readU32BE(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return plain(Buffer.concat(parts))
}

// ------------------------------------------------------------------ molecule (§6)

const Inner = struct('Inner', [
  ['a', byte],
  ['b', uint32],
  ['c', array('Byte3', 3)],
])
const Choice = union('Choice', [
  ['Raw', bytes('Bytes')],
  ['Text', string('String')],
  ['In', Inner],
  ['Far', uint64, 0xff01],
])
const Everything = table('Everything', [
  ['fixed', fixvec('InnerVec', Inner)],
  ['dyn', dynvec('BytesVec', bytes('Bytes'))],
  ['opt', option('StringOpt', string('String'))],
  ['choice', Choice],
  ['n', uint64],
  [
    'nested',
    table('Nested', [
      ['names', dynvec('StringVec', string('String'))],
      ['empty', table('Empty', [])],
    ]),
  ],
])
const ProtocolInfoSchema = table('ProtocolInfo', [
  ['name', string('String')],
  ['supportVersions', dynvec('StringVec', string('String'))],
])

/** The schemas the molecule target exercises; the first input byte picks one. */
export const MOLECULE_SCHEMAS: readonly Codec<unknown>[] = [
  ProposeCodec as Codec<unknown>,
  ExchangeCodec as Codec<unknown>,
  PublicKeyCodec as Codec<unknown>,
  ProtocolInfoSchema as Codec<unknown>,
  Everything as Codec<unknown>,
]

export const moleculeTarget: FuzzTarget = {
  name: 'molecule',
  maxLen: 1024,
  expected: (err) => isMoleculeError(err),
  run(input) {
    if (input.length === 0) return
    const codec = MOLECULE_SCHEMAS[input[0]! % MOLECULE_SCHEMAS.length]!
    const x = plain(input.subarray(1))
    const v = codec.decode(x) // compatible mode, as peers' messages are read
    // encode(decode(x)) decodes to the same value ...
    const again = codec.encode(v)
    assert.ok(isDeepStrictEqual(codec.decode(again), v), `${codec.name}: decode(encode(v)) != v`)
    // ... and is x itself whenever x is valid in strict mode (molecule is canonical).
    let strict: unknown
    try {
      strict = codec.decode(x, { compatible: false })
    } catch (err) {
      if (!isMoleculeError(err)) throw err
      assert.equal(
        err.code,
        'CODEC_ERR_MOLECULE_FIELD_COUNT',
        `${codec.name}: strict mode failed other than on the field count: ${err.message}`,
      )
      return
    }
    assert.ok(isDeepStrictEqual(strict, v), `${codec.name}: strict and compatible decodes differ`)
    assert.ok(Buffer.from(again).equals(x), `${codec.name}: encode(decode(x)) != x for a strict-valid x`)
  },
}

// ------------------------------------------------------------------ length-delimited (§2.1, §2.2)

const LD_MAX = [0, 1, 4, 16, 255, 4096, 64 * 1024, 8 * 1024 * 1024]

/** Reference parse of u32be-prefixed frames: the frames, and whether a too-large header comes next. */
function referenceFrames(stream: Uint8Array, max: number): { frames: Uint8Array[]; tooLarge: boolean } {
  const frames: Uint8Array[] = []
  let at = 0
  while (stream.length - at >= 4) {
    const len = readU32BE(stream, at)
    if (len > max) return { frames, tooLarge: true }
    if (stream.length - at - 4 < len) break
    frames.push(stream.subarray(at + 4, at + 4 + len))
    at += 4 + len
  }
  return { frames, tooLarge: false }
}

export const lengthDelimitedTarget: FuzzTarget = {
  name: 'length-delimited',
  maxLen: 2048,
  expected: (err) => isCodecError(err),
  run(input) {
    if (input.length < 2) return
    const max = LD_MAX[input[0]! % LD_MAX.length]!
    const pieceMode = (input[1]! & 0x80) !== 0
    const stream = input.subarray(2)
    const ref = referenceFrames(stream, max)
    const dec = new LengthDelimitedDecoder(max)
    const got: Uint8Array[] = []
    let piece: Uint8Array[] = []
    let failed: unknown
    try {
      for (const c of chunksOf(stream, input[1]!)) {
        dec.push(c)
        assert.ok(dec.bufferedBytes <= stream.length, 'decoder holds more bytes than it was given')
        if (pieceMode) {
          for (let p = dec.nextPiece(); p !== null; p = dec.nextPiece()) {
            if (dec.pieceStartsFrame) assert.equal(piece.length, 0, 'a frame started before the last one ended')
            piece.push(p)
            if (dec.pieceEndsFrame) {
              got.push(concat(piece))
              piece = []
            }
          }
        } else {
          for (let f = dec.next(); f !== null; f = dec.next()) got.push(plain(f))
        }
      }
    } catch (err) {
      if (!isCodecError(err, 'CODEC_ERR_FRAME_TOO_LARGE')) throw err
      failed = err
      // Sticky: the decoder keeps failing and holds nothing.
      assert.throws(
        () => (pieceMode ? dec.nextPiece() : dec.next()),
        (e: unknown) => isCodecError(e, 'CODEC_ERR_FRAME_TOO_LARGE'),
      )
      assert.equal(dec.bufferedBytes, 0, 'a failed decoder still holds bytes')
    }
    assert.equal(
      failed !== undefined,
      ref.tooLarge,
      'CODEC_ERR_FRAME_TOO_LARGE exactly when a header announces more than the max',
    )
    assert.equal(got.length, ref.frames.length, 'frame count differs from the reference parse')
    for (let i = 0; i < got.length; i++) assert.ok(Buffer.from(got[i]!).equals(ref.frames[i]!), `frame ${i} differs`)
    // encode(decode(x)) round-trips: the frames re-encoded are the consumed prefix of the stream.
    const re = Buffer.concat(got.map((f) => encodeFrame(f)))
    assert.ok(re.equals(stream.subarray(0, re.length)), 're-encoded frames are not the input prefix')
  },
}

// ------------------------------------------------------------------ yamux frames (§8.1)

const YAMUX_MAX = [0, 1, 16, 256 * 1024, 1024 * 1024]

interface RefFrame {
  type: number
  flags: number
  streamId: number
  length: number
  header: Uint8Array
  body: Uint8Array
}

function referenceYamux(stream: Uint8Array, max: number): { frames: RefFrame[]; error: string | undefined } {
  const frames: RefFrame[] = []
  let at = 0
  while (stream.length - at >= 12) {
    const h = stream.subarray(at, at + 12)
    const type = h[1]!
    const length = readU32BE(h, 8)
    if (h[0] !== 0) return { frames, error: 'YAMUX_ERR_INVALID_VERSION' }
    if (type > 3) return { frames, error: 'YAMUX_ERR_INVALID_TYPE' }
    if (type === 0 && length > max) return { frames, error: 'YAMUX_ERR_FRAME_TOO_LARGE' }
    const bodyLen = type === 0 ? length : 0
    const body = stream.subarray(at + 12, Math.min(stream.length, at + 12 + bodyLen))
    frames.push({ type, flags: (h[2]! << 8) | h[3]!, streamId: readU32BE(h, 4), length, header: h, body })
    at += 12 + bodyLen
  }
  return { frames, error: undefined }
}

export const yamuxFrameTarget: FuzzTarget = {
  name: 'yamux-frame',
  maxLen: 2048,
  expected: (err) => isYamuxError(err),
  run(input) {
    if (input.length < 2) return
    const max = YAMUX_MAX[input[0]! % YAMUX_MAX.length]!
    const stream = input.subarray(2)
    const ref = referenceYamux(stream, max)
    const dec = new YamuxFrameDecoder(max)
    const got: { type: number; flags: number; streamId: number; length: number; body: Uint8Array[]; done: boolean }[] =
      []
    let error: string | undefined
    try {
      for (const c of chunksOf(stream, input[1]!)) {
        dec.push(c)
        assert.ok(dec.bufferedBytes <= stream.length, 'decoder holds more bytes than it was given')
        for (let r = dec.next(); r !== NEED_MORE; r = dec.next()) {
          if (r === DECODED_HEADER) {
            got.push({
              type: dec.type,
              flags: dec.flags,
              streamId: dec.streamId,
              length: dec.length,
              body: [],
              done: !(dec.type === 0 && dec.length > 0),
            })
          } else if (r === DECODED_BODY) {
            const last = got[got.length - 1]!
            assert.ok(!last.done, 'a body fragment after the frame was complete')
            last.body.push(plain(dec.body))
            last.done = dec.bodyDone
          }
        }
      }
    } catch (err) {
      if (!isYamuxError(err)) throw err
      error = err.code
      assert.throws(
        () => dec.next(),
        (e: unknown) => isYamuxError(e) && e.code === error,
        'a failed decoder must stay failed',
      )
      assert.equal(dec.bufferedBytes, 0, 'a failed decoder still holds bytes')
    }
    assert.equal(error, ref.error, 'decoder and reference disagree on the error')
    assert.equal(got.length, ref.frames.length, 'frame count differs from the reference parse')
    for (let i = 0; i < got.length; i++) {
      const g = got[i]!
      const r = ref.frames[i]!
      assert.deepEqual(
        [g.type, g.flags, g.streamId, g.length],
        [r.type, r.flags, r.streamId, r.length],
        `header ${i} differs`,
      )
      assert.ok(Buffer.from(concat(g.body)).equals(r.body), `body ${i} differs`)
      // Round trip of the header codec.
      assert.ok(
        Buffer.from(encodeHeader({ type: g.type, flags: g.flags, streamId: g.streamId, length: g.length })).equals(
          r.header,
        ),
        `header ${i} does not re-encode`,
      )
    }
  },
}

// ------------------------------------------------------------------ yamux session (§8.2–§8.6)

/** A connection whose inbound bytes are the fuzz input and whose outbound bytes are dropped. */
function fakeConnection(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      cb()
    },
    final(cb) {
      cb()
    },
  })
}

/** Reads a stream to its end, resetting it after `resetAfter` bytes when that is set. */
function drain(stream: Stream, resetAfter: number | undefined): void {
  let seen = 0
  const pump = (): void => {
    for (;;) {
      let chunk: Uint8Array | null | undefined
      try {
        chunk = stream.readNow()
      } catch (err) {
        if (!isYamuxError(err)) throw err
        return
      }
      if (chunk === undefined) {
        stream.onReadable(pump)
        return
      }
      if (chunk === null) return
      seen += chunk.length
      if (resetAfter !== undefined && seen >= resetAfter) {
        stream.reset()
        return
      }
    }
  }
  pump()
}

export const yamuxSessionTarget: FuzzTarget = {
  name: 'yamux-session',
  maxLen: 4096,
  expected: (err) => isYamuxError(err),
  async run(input) {
    if (input.length < 2) return
    const conn = fakeConnection()
    const session = new Session(conn, {
      role: input[0]! & 1 ? 'client' : 'server',
      enableKeepalive: false,
      maxStreamWindowSize: (input[0]! & 2) !== 0 ? 256 * 1024 : 1024 * 1024,
    })
    const resetAfter = (input[0]! & 4) !== 0 ? input[1]! : undefined
    const accepting = (async () => {
      for (let s = await session.accept(); s !== null; s = await session.accept()) drain(s, resetAfter)
    })()
    for (const c of chunksOf(input.subarray(2), input[1]!)) {
      conn.push(Buffer.from(c))
      await new Promise<void>((resolve) => setImmediate(resolve))
      if (session.state === 'ended') break
    }
    if (session.state !== 'ended') conn.push(null)
    await session.closed
    await accepting
    if (session.error !== undefined) assert.ok(isYamuxError(session.error), 'session error is not a YamuxError')
    assert.equal(session.streamCount, 0, 'streams still counted after the session ended')
    assert.equal(session.pendingAcceptCount, 0, 'streams still waiting for accept after the session ended')
  },
}

// ------------------------------------------------------------------ secio handshake (§3)

const SECIO_KEY = SecioKeyPair.fromSecret(new Uint8Array(32).fill(7))

export const secioHandshakeTarget: FuzzTarget = {
  name: 'secio-handshake',
  maxLen: 2048,
  expected: (err) => isSecioError(err),
  async run(input) {
    if (input.length < 1) return
    const chunks = chunksOf(input.subarray(1), input[0]!)
    let next = 0
    const socket = new Duplex({
      read() {
        // The peer's bytes, one chunk per read, then EOF.
        this.push(next < chunks.length ? Buffer.from(chunks[next++]!) : null)
      },
      write(_c, _e, cb) {
        cb()
      },
      final(cb) {
        cb()
      },
    })
    try {
      const { stream } = await handshake(socket, { key: SECIO_KEY, timeoutMs: 1500 })
      // Impossible without the peer's secret (the Exchange is signed); still clean up.
      stream.destroy()
      throw new assert.AssertionError({ message: 'a handshake completed with a fuzzed peer' })
    } catch (err) {
      if (isSecioError(err)) assert.ok(socket.destroyed, 'the socket was not destroyed after a failed handshake')
      throw err
    }
  },
}

// ------------------------------------------------------------------ secio encrypted frames (§4.1)

const FRAME_KEY = new Uint8Array(16).fill(3)
const PEER = PeerId.fromPublicKey(SECIO_KEY.publicKey)

/**
 * Input = records `[op][len u16be][len bytes]`: op 0 a valid sealed frame of
 * those bytes, 1 raw bytes on the wire, 2 a sealed frame with one tag byte
 * flipped, 3 a sealed frame announced one byte short. The plaintext that comes
 * out must be exactly the valid frames before the first bad record (a prefix
 * of it if the stream ended early), and the stream must end with a SecioError
 * after a bad record.
 */
export const secioFramesTarget: FuzzTarget = {
  name: 'secio-frames',
  maxLen: 4096,
  expected: (err) => isSecioError(err),
  async run(input) {
    const encryptor = nodeCryptoProvider.createAead('AES-128-GCM', FRAME_KEY)
    const wire: Uint8Array[] = []
    const want: Uint8Array[] = []
    let bad = false
    for (let at = 0; at + 3 <= input.length;) {
      const op = input[at]! % 4
      const len = Math.min((input[at + 1]! << 8) | input[at + 2]!, input.length - at - 3)
      const data = input.subarray(at + 3, at + 3 + len)
      at += 3 + len
      if (op === 1) {
        wire.push(data)
        if (data.length > 0) bad = true
        continue
      }
      const sealed = Buffer.concat(encryptor.seal([data], data.length))
      if (op === 2) sealed[sealed.length - 1]! ^= 1
      const frame = encodeFrame(op === 3 ? sealed.subarray(0, sealed.length - 1) : sealed)
      wire.push(frame)
      if (op === 0 && !bad) want.push(data)
      else bad = true
    }
    const socket = fakeConnection()
    const stream = new SecureStream(
      {
        socket,
        encryptor: nodeCryptoProvider.createAead('AES-128-GCM', FRAME_KEY),
        decryptor: nodeCryptoProvider.createAead('AES-128-GCM', FRAME_KEY),
        decoder: new LengthDelimitedDecoder(64 * 1024),
        initialPlaintext: [],
        remotePeerId: PEER,
        remotePublicKey: SECIO_KEY.publicKey,
        suite: { agreement: 'P-256', cipher: 'AES-128-GCM', digest: 'SHA256' },
      },
      { maxFrameLength: 64 * 1024 },
    )
    const got: Buffer[] = []
    const ended = new Promise<unknown>((resolve) => {
      stream.on('data', (d: Buffer) => got.push(d))
      stream.on('error', resolve)
      stream.on('close', () => resolve(undefined))
    })
    for (const c of chunksOf(concat(wire), input.length)) socket.push(Buffer.from(c))
    socket.push(null)
    const err = await ended
    stream.destroy()
    if (err !== undefined && !isSecioError(err)) throw err
    const out = Buffer.concat(got)
    const expected = Buffer.concat(want)
    assert.ok(expected.subarray(0, out.length).equals(out), 'plaintext out is not a prefix of the valid frames sent')
    if (bad)
      assert.ok(
        isSecioError(err) || out.length === expected.length,
        'a bad frame did not end the stream with a SecioError',
      )
    if (err === undefined) assert.equal(out.length, expected.length, 'a clean end lost plaintext')
    if (err !== undefined) throw err
  },
}

// ------------------------------------------------------------------ protocol select (§9)

const LOCAL_VERSIONS = ['0.0.1', '0.0.2', '1.0']

export const protocolSelectTarget: FuzzTarget = {
  name: 'protocol-select',
  maxLen: 1024,
  expected: (err) => isTentacleError(err) || isCodecError(err),
  run(input) {
    if (input.length < 1) return
    const dec = new LengthDelimitedDecoder(MAX_SELECT_FRAME)
    for (const c of chunksOf(input.subarray(1), input[0]!)) {
      dec.push(c)
      for (let f = dec.next(); f !== null; f = dec.next()) {
        const info = decodeProtocolInfo(plain(f))
        assert.ok(
          isDeepStrictEqual(decodeProtocolInfo(encodeProtocolInfo(info)), info),
          'ProtocolInfo does not round-trip',
        )
        const v = selectVersion(LOCAL_VERSIONS, info.supportVersions)
        if (v !== undefined)
          assert.ok(
            LOCAL_VERSIONS.includes(v) && info.supportVersions.includes(v),
            `selected ${v} is not common to both lists`,
          )
      }
    }
  },
}

// ------------------------------------------------------------------ CKB protocol messages

const PROTOCOL_DECODERS: readonly [string, (b: Uint8Array) => unknown, (v: never) => Uint8Array][] = [
  ['ping', decodePingMessage, encodePingMessage as (v: never) => Uint8Array],
  ['identify', decodeIdentifyMessage, encodeIdentifyMessage as (v: never) => Uint8Array],
  ['discovery', decodeDiscoveryMessage, encodeDiscoveryMessage as (v: never) => Uint8Array],
  ['multiaddr', decodeMultiaddr, (v: never) => encodeMultiaddr((v as { text: string }).text)],
]

export const protocolMessagesTarget: FuzzTarget = {
  name: 'protocol-messages',
  maxLen: 2048,
  expected: (err) => isProtocolsError(err),
  run(input) {
    if (input.length < 1) return
    const [name, decode, encode] = PROTOCOL_DECODERS[input[0]! % PROTOCOL_DECODERS.length]!
    const v = decode(plain(input.subarray(1)))
    let again: Uint8Array
    try {
      again = encode(v as never)
    } catch (err) {
      throw new assert.AssertionError({
        message: `${name}: a decoded message does not encode: ${(err as Error).message}`,
      })
    }
    // Listen addresses that did not decode are skipped and counted on decode (as CKB does); the count cannot survive re-encoding.
    const comparable = (m: unknown): unknown => (name === 'identify' ? { ...(m as object), invalidListenAddrs: 0 } : m)
    assert.ok(
      isDeepStrictEqual(comparable(decode(again)), comparable(v)),
      `${name}: decode(encode(decode(x))) != decode(x)`,
    )
  },
}

/** Every target, in the order the runner fuzzes them. */
export const TARGETS: readonly FuzzTarget[] = [
  moleculeTarget,
  lengthDelimitedTarget,
  yamuxFrameTarget,
  yamuxSessionTarget,
  secioHandshakeTarget,
  secioFramesTarget,
  protocolSelectTarget,
  protocolMessagesTarget,
]
