// Protocol selection's decoder and encoder (§9.1, §9.2) under fast-check:
// - decodeProtocolInfo on arbitrary and mutated bytes returns a ProtocolInfo or throws
//   the typed TENTACLE_ERR_PROTOCOL_SELECT, nothing else; what it accepts re-encodes to the input;
// - encodeProtocolInfo matches an independent molecule encoding (§6), byte for byte, and
//   round-trips; truncations and extensions are rejected; extra table fields are ignored
//   (Rust reads with `from_compatible_slice`); invalid UTF-8 is rejected (Rust's
//   `String::from_utf8(..).ok()?`);
// - readOneFrame over a real yamux stream, fed arbitrary bytes in arbitrary chunks,
//   yields exactly the frames an independent parse finds, then rejects with the typed
//   code, and never hangs (every wait is bounded; a hang fails the test);
// - a whole selection (clientSelect against the listener's steps) agrees with selectVersion;
// - a listening Service fed arbitrary selection bytes answers as §9.4 says (the name echoed
//   with no version, then RST; or RST alone), reports one typed error each, and stays up;
// - a dialing Service given arbitrary answers opens the answer's last version, reports the
//   typed error, or closes the session when the answer names another protocol.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import fc from 'fast-check'
import { dynvec, encodeFrame, isCodecError, LengthDelimitedDecoder, string, table } from '@tentacle-ts/codec'
import { Session, type Stream } from '@tentacle-ts/yamux'
import { sessionPair, within } from '../../yamux/test/helpers.ts'
import { TentacleError, type TentacleErrorCode } from '../src/errors.js'
import { decodeProtocolInfo, encodeProtocolInfo, type ProtocolInfo } from '../src/protocol-info.js'
import { clientSelect, MAX_SELECT_FRAME, readOneFrame } from '../src/protocol-select.js'
import { selectVersion } from '../src/select-version.js'
import { Service } from '../src/service.js'

const SELECT: TentacleErrorCode = 'TENTACLE_ERR_PROTOCOL_SELECT'
const UNKNOWN_NAME: TentacleErrorCode = 'TENTACLE_ERR_PROTOCOL_SELECT_UNKNOWN_NAME'
/** Bounds every wait for the other side: a hang fails the test (generous: the machine may be loaded). */
const BOUND_MS = 10_000

// ------------------------------------------------------------ reference molecule encoding (§6)

const u32le = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n)
  return b
}
/** `vector <byte>`: u32le count, then the bytes. */
const molBytes = (raw: Uint8Array): Buffer => Buffer.concat([u32le(raw.length), raw])
/** table or dynvec: u32le total size, one u32le offset per item, the items. */
const molOffsets = (items: Uint8Array[]): Buffer => {
  let at = 4 * (1 + items.length)
  const offsets: Buffer[] = []
  for (const it of items) {
    offsets.push(u32le(at))
    at += it.length
  }
  return Buffer.concat([u32le(at), ...offsets, ...items])
}
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8')
/** ProtocolInfo from raw name/version bytes, with optional extra (unknown) trailing fields. */
const refEncode = (name: Uint8Array, versions: Uint8Array[], extra: Uint8Array[] = []): Buffer =>
  molOffsets([molBytes(name), molOffsets(versions.map(molBytes)), ...extra])

/** Asserts `fn` throws the typed selection error (with the molecule failure as cause). */
function assertSelectError(fn: () => unknown, what: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TentacleError, `${what}: ${String(err)}`)
    assert.equal(err.code, SELECT, what)
    assert.ok(isCodecError(err.cause), `${what}: cause is the codec's typed error`)
    return true
  })
}

/** Decodes, or returns the typed error; anything else thrown fails the test. */
function tryDecode(bytes: Uint8Array): ProtocolInfo | TentacleError {
  try {
    return decodeProtocolInfo(bytes)
  } catch (err) {
    assert.ok(err instanceof TentacleError && err.code === SELECT, `untyped failure: ${String(err)}`)
    assert.ok(isCodecError(err.cause), 'cause is the codec error')
    return err
  }
}

const textArb = fc.string({ unit: 'binary', maxLength: 12 })
const infoArb: fc.Arbitrary<ProtocolInfo> = fc.record(
  {
    name: fc.oneof(textArb, fc.constantFrom('/p2p/1', '/ckb/ping', '')),
    supportVersions: fc.array(fc.oneof(textArb, fc.constantFrom('0.0.1', '1', '2', '3')), { maxLength: 6 }),
  },
  { noNullPrototype: true },
)

// ------------------------------------------------------------ the codec

test('§6.2 examples: exact bytes both ways', () => {
  const cases: [ProtocolInfo, string][] = [
    [
      { name: '/p2p/1', supportVersions: ['0.0.1'] },
      '270000000c00000016000000' + '060000002f7032702f31' + '110000000800000005000000302e302e31',
    ],
    [{ name: '/p2p/1', supportVersions: [] }, '1a0000000c00000016000000' + '060000002f7032702f31' + '04000000'],
    [
      { name: '/ckb/ping', supportVersions: ['3'] },
      '260000000c00000019000000' + '090000002f636b622f70696e67' + '0d000000080000000100000033',
    ],
  ]
  for (const [info, hex] of cases) {
    assert.equal(Buffer.from(encodeProtocolInfo(info)).toString('hex'), hex)
    assert.deepEqual(decodeProtocolInfo(Buffer.from(hex, 'hex')), info)
  }
})

test('property: the encoder matches an independent molecule encoding and round-trips', () => {
  fc.assert(
    fc.property(infoArb, (info) => {
      const bytes = encodeProtocolInfo(info)
      assert.deepEqual(Buffer.from(bytes), refEncode(utf8(info.name), info.supportVersions.map(utf8)))
      assert.deepEqual(decodeProtocolInfo(bytes), info)
    }),
    { numRuns: 2000 },
  )
})

test('property: every truncation and every extension of a valid encoding is rejected with the typed code', () => {
  fc.assert(
    fc.property(infoArb, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 }), (info, cut, tail) => {
      const bytes = Buffer.from(encodeProtocolInfo(info))
      const short = bytes.subarray(0, cut % bytes.length)
      assertSelectError(() => decodeProtocolInfo(short), `truncated to ${short.length} of ${bytes.length}`)
      assertSelectError(() => decodeProtocolInfo(Buffer.concat([bytes, tail])), `extended by ${tail.length}`)
    }),
    { numRuns: 2000 },
  )
})

test('property: extra table fields are ignored (compatible mode, as Rust reads it)', () => {
  fc.assert(
    fc.property(infoArb, fc.array(fc.uint8Array({ maxLength: 12 }), { minLength: 1, maxLength: 3 }), (info, extra) => {
      const bytes = refEncode(utf8(info.name), info.supportVersions.map(utf8), extra)
      assert.deepEqual(decodeProtocolInfo(bytes), info)
    }),
    { numRuns: 1000 },
  )
  // One field fewer than the schema is not compatible, it is malformed.
  assertSelectError(() => decodeProtocolInfo(molOffsets([molBytes(utf8('/p2p/1'))])), 'one field')
  assertSelectError(() => decodeProtocolInfo(molOffsets([])), 'no field')
})

test('property: a name or version that is not UTF-8 is rejected (Rust: String::from_utf8 fails)', () => {
  const invalidUtf8 = fc.uint8Array({ minLength: 1, maxLength: 8 }).filter((b) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(b)
      return false
    } catch {
      return true
    }
  })
  fc.assert(
    fc.property(invalidUtf8, infoArb, fc.boolean(), fc.nat(), (bad, info, inName, at) => {
      const versions: Uint8Array[] = info.supportVersions.map(utf8)
      const bytes = inName
        ? refEncode(bad, versions)
        : refEncode(utf8(info.name), versions.toSpliced(at % (versions.length + 1), 0, bad))
      assertSelectError(() => decodeProtocolInfo(bytes), 'invalid UTF-8')
    }),
    { numRuns: 1000 },
  )
  // Not "invalid": a BOM and U+FFFD are ordinary characters and are kept.
  const kept = { name: '\ufeff/p', supportVersions: ['\ufffd'] }
  assert.deepEqual(decodeProtocolInfo(encodeProtocolInfo(kept)), kept)
})

test('property: decodeProtocolInfo (with its reader of the common shape) gives exactly what the generic molecule codec gives', () => {
  // The schema of §9.1 through the generic codec, as decodeProtocolInfo used it alone before.
  const generic = table('ProtocolInfo', [
    ['name', string('String')],
    ['supportVersions', dynvec('StringVec', string('String'))],
  ] as const)
  const outcome = (f: () => unknown): unknown => {
    try {
      return { ok: f() }
    } catch (err) {
      const e = err as { code?: string; message?: string; cause?: { message?: string } }
      return { code: e.code, message: e.message, cause: e.cause?.message }
    }
  }
  const asciiInfo = fc.record(
    {
      name: fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
      supportVersions: fc.array(fc.string({ maxLength: 14 }), { maxLength: 4 }),
    },
    { noNullPrototype: true },
  )
  const mutated = fc
    .tuple(asciiInfo, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat(6))
    .map(([info, edits, cut]) => {
      const b = Buffer.from(encodeProtocolInfo(info))
      for (const [at, v] of edits) b[at % b.length] = v
      return b.subarray(0, b.length - (cut % 2 === 0 ? 0 : cut))
    })
  fc.assert(
    fc.property(
      fc.oneof(
        mutated,
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      ),
      (bytes) => {
        const ours = outcome(() => decodeProtocolInfo(bytes))
        const theirs = outcome(() => {
          const v = generic.decode(bytes)
          return { name: v.name, supportVersions: v.supportVersions }
        })
        if (typeof ours === 'object' && ours !== null && 'ok' in ours) assert.deepEqual(ours, theirs)
        else {
          assert.equal((ours as { code?: string }).code, SELECT)
          assert.ok(!(typeof theirs === 'object' && theirs !== null && 'ok' in theirs), 'both reject')
          assert.equal((ours as { cause?: string }).cause, (theirs as { message?: string }).message, 'the same failure')
        }
      },
    ),
    { numRuns: 3000 },
  )
})

test('property: arbitrary and mutated bytes give a ProtocolInfo or the typed error; what is accepted re-encodes to itself', () => {
  const mutated = fc
    .tuple(infoArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
    .map(([info, edits]) => {
      const b = Buffer.from(encodeProtocolInfo(info))
      for (const [at, v] of edits) b[at % b.length] = v
      return b
    })
  const smallHeaders = fc
    .array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 8 })
    .chain((words) =>
      fc.uint8Array({ maxLength: 24 }).map((tail) => Buffer.concat([...words.map(u32le), Buffer.from(tail)])),
    )
  let accepted = 0
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 96 }).map((b) => Buffer.from(b)),
        mutated,
        smallHeaders,
      ),
      (bytes) => {
        const r = tryDecode(bytes)
        if (r instanceof TentacleError) return
        accepted++
        assert.equal(typeof r.name, 'string')
        assert.ok(Array.isArray(r.supportVersions) && r.supportVersions.every((v) => typeof v === 'string'))
        const reencoded = Buffer.from(encodeProtocolInfo(r))
        const fields = bytes.readUInt32LE(4) / 4 - 1
        if (fields === 2) {
          assert.deepEqual(reencoded, Buffer.from(bytes), 'a two-field table has one encoding')
        } else {
          assert.ok(fields > 2)
          assert.deepEqual(decodeProtocolInfo(reencoded), r)
        }
      },
    ),
    { numRuns: 4000 },
  )
  assert.ok(accepted > 0, 'some mutated inputs are still valid, so the acceptance branch ran')
})

// ------------------------------------------------------------ reading frames off a yamux stream

let pair: { client: Session; server: Session; cleanup: () => Promise<void> }
before(async () => {
  pair = await sessionPair('memory')
})
after(async () => {
  await pair.cleanup()
})

/** A stream from the client to the server: `[writer side, reader side]`. */
async function streamPair(): Promise<[Stream, Stream]> {
  const accepted = pair.server.accept()
  const w = await pair.client.openStream()
  const r = await within(accepted, BOUND_MS, 'accept')
  assert.ok(r !== null)
  return [w, r]
}

/** Writes `bytes` cut at `cuts` (positions), each piece its own write. */
async function writePieces(s: Stream, bytes: Uint8Array, cuts: number[]): Promise<void> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  let from = 0
  for (const p of [...points, bytes.length]) {
    if (p > from) await s.write(bytes.subarray(from, p))
    from = Math.max(from, p)
  }
}

type Parsed = { frames: Buffer[]; end: 'eof' | 'too-large' }
/** Independent parse of a byte stream into u32be-length frames, as readOneFrame must see it. */
function parseFrames(bytes: Buffer, max: number): Parsed {
  const frames: Buffer[] = []
  let at = 0
  for (;;) {
    if (bytes.length - at < 4) return { frames, end: 'eof' }
    const len = bytes.readUInt32BE(at)
    if (len > max) return { frames, end: 'too-large' }
    if (bytes.length - at - 4 < len) return { frames, end: 'eof' }
    frames.push(bytes.subarray(at + 4, at + 4 + len))
    at += 4 + len
  }
}

/** A readOneFrame that may not hang: it must settle within BOUND_MS. */
async function readOne(s: Stream, d: LengthDelimitedDecoder, signal: AbortSignal): Promise<Buffer | TentacleError> {
  try {
    return Buffer.from(await within(readOneFrame(s, d, signal), BOUND_MS, 'readOneFrame settles'))
  } catch (err) {
    if (err instanceof TentacleError) return err
    throw err
  }
}

const segmentArb = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(encodeFrame(b))) },
  { weight: 2, arbitrary: infoArb.map((i) => Buffer.from(encodeFrame(encodeProtocolInfo(i)))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(MAX_SELECT_FRAME, MAX_SELECT_FRAME + 1, 0xffffffff, 0x80000000)
      .map((len) => Buffer.concat([Buffer.from([len >>> 24, (len >>> 16) & 255, (len >>> 8) & 255, len & 255])])),
  },
  { weight: 1, arbitrary: fc.constant(Buffer.concat([Buffer.from([0, 1, 0, 0]), Buffer.alloc(MAX_SELECT_FRAME)])) },
)

test('property: readOneFrame on arbitrary bytes in arbitrary chunks yields the parsed frames, then the typed error; never hangs', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(segmentArb, { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      async (segments, cuts) => {
        const bytes = Buffer.concat(segments)
        const expected = parseFrames(bytes, MAX_SELECT_FRAME)
        const [w, r] = await streamPair()
        // The writer runs beside the reader: more than a window of bytes waits for reads.
        const writing = writePieces(w, bytes, cuts).then(() => w.close())
        try {
          const d = new LengthDelimitedDecoder(MAX_SELECT_FRAME)
          const signal = new AbortController().signal
          for (const frame of expected.frames) assert.deepEqual(await readOne(r, d, signal), frame)
          const last = await readOne(r, d, signal)
          assert.ok(last instanceof TentacleError && last.code === SELECT, `then the typed error, got ${String(last)}`)
          if (expected.end === 'too-large') assert.ok(isCodecError(last.cause), 'the length was refused')
          else assert.equal(last.cause, undefined, 'unexpected EOF')
        } finally {
          w.reset()
          r.reset()
          await writing.catch(() => {}) // settled by the reset if it was still waiting for window
        }
      },
    ),
    { numRuns: 150 },
  )
  assert.equal(pair.client.streamCount, 0)
  assert.equal(pair.server.streamCount, 0)
})

test('an announced length over MAX_SELECT_FRAME is refused on the header, before any body byte or EOF', async () => {
  for (const len of [MAX_SELECT_FRAME + 1, 0xffffffff]) {
    const [w, r] = await streamPair()
    try {
      const header = Buffer.alloc(4)
      header.writeUInt32BE(len)
      await w.write(header) // no body, no FIN: waiting for either would hang
      const got = await readOne(r, new LengthDelimitedDecoder(MAX_SELECT_FRAME), new AbortController().signal)
      assert.ok(got instanceof TentacleError && got.code === SELECT)
      assert.ok(isCodecError(got.cause))
    } finally {
      w.reset()
      r.reset()
    }
  }
})

test('the deadline (abort) ends a read that gets nothing, resets the stream, and the peer sees the reset', async () => {
  const [w, r] = await streamPair()
  const ac = new AbortController()
  const reading = readOne(r, new LengthDelimitedDecoder(MAX_SELECT_FRAME), ac.signal)
  await w.write(Buffer.from([0, 0, 0, 9, 1, 2])) // a partial frame, then silence
  const peerSeesReset = w.read().then(
    () => 'no reset',
    (e: { code?: string }) => e.code,
  )
  ac.abort()
  const got = await reading
  assert.ok(got instanceof TentacleError && got.code === SELECT)
  assert.equal(r.recvState, 'reset')
  assert.equal(await within(peerSeesReset, BOUND_MS, 'the RST reaches the peer'), 'YAMUX_ERR_STREAM_RESET')
  // Already aborted before the call: rejects at once.
  const [w2, r2] = await streamPair()
  const got2 = await readOne(r2, new LengthDelimitedDecoder(MAX_SELECT_FRAME), AbortSignal.abort())
  assert.ok(got2 instanceof TentacleError && got2.code === SELECT)
  w2.reset()
  r2.reset()
})

test('property: a whole selection over yamux agrees with selectVersion and keeps the bytes that follow (§9.2)', async () => {
  await fc.assert(
    fc.asyncProperty(
      infoArb,
      fc.array(fc.oneof(textArb, fc.constantFrom('0.0.1', '1', '2', '3')), { maxLength: 6 }),
      fc.uint8Array({ maxLength: 64 }),
      fc.boolean(),
      async (clientInfo, serverVersions, firstMessage, known) => {
        const [w, r] = await streamPair()
        try {
          const signal = new AbortController().signal
          const serverName = known ? clientInfo.name : clientInfo.name + '?'
          // The listener's steps (§9.2 step 2), as the session runs them; its first protocol
          // message goes out in the same write as the answer.
          const serverSide = (async () => {
            const d = new LengthDelimitedDecoder(MAX_SELECT_FRAME)
            const remote = decodeProtocolInfo(await within(readOneFrame(r, d, signal), BOUND_MS, 'server reads'))
            const version =
              remote.name === serverName ? selectVersion(serverVersions, remote.supportVersions) : undefined
            const answer = encodeFrame(
              encodeProtocolInfo({ name: remote.name, supportVersions: version === undefined ? [] : [version] }),
            )
            await r.write(Buffer.concat([answer, encodeFrame(firstMessage)]))
            return remote
          })()
          const d = new LengthDelimitedDecoder(MAX_SELECT_FRAME)
          const reply = await within(clientSelect(w, clientInfo, d, signal), BOUND_MS, 'clientSelect')
          assert.deepEqual(await serverSide, clientInfo)
          assert.equal(reply.name, clientInfo.name)
          const want = known ? selectVersion(serverVersions, clientInfo.supportVersions) : undefined
          assert.equal(reply.version, want)
          // §9.2 step 4: the bytes after the answer are the protocol's first bytes, kept by the decoder.
          const next = await within(readOneFrame(w, d, signal), BOUND_MS, 'first protocol message')
          assert.deepEqual(Buffer.from(next), Buffer.from(firstMessage))
        } finally {
          w.reset()
          r.reset()
        }
      },
    ),
    { numRuns: 150 },
  )
})

// ------------------------------------------------------------ a listening service fed arbitrary selections

test('property: a listening service answers arbitrary selection bytes per §9.4 (answer then RST, or RST), reports each, and stays up', async () => {
  const errors: Array<{ protoName: string | undefined; code: string }> = []
  let wake = (): void => {}
  const service = new Service({
    protocols: [{ id: 1, name: '/known/1', versions: ['1', '2'] }],
    handler: {
      handleError: (e) => {
        if (e.type === 'protocol-select-error') errors.push({ protoName: e.protoName, code: e.error.code })
        wake()
      },
    },
  })
  const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
  const socket = net.connect(Number(addr.toString().split('/')[4]), '127.0.0.1')
  await once(socket, 'connect')
  const mux = new Session(socket, { role: 'client', enableKeepalive: false })
  const nextError = (): Promise<{ protoName: string | undefined; code: string }> =>
    within(
      new Promise((resolve) => {
        wake = () => {
          const e = errors.shift()
          if (e === undefined) return
          wake = () => {}
          resolve(e)
        }
        wake()
      }),
      BOUND_MS,
      'protocol-select-error',
    )
  /** Everything the service sends on a stream until its RST: the frames, then the reset's code. */
  const untilReset = async (s: Stream): Promise<{ frames: Buffer[]; end: string | undefined }> => {
    const d = new LengthDelimitedDecoder(MAX_SELECT_FRAME)
    const frames: Buffer[] = []
    for (;;) {
      try {
        const chunk = await within(s.read(), BOUND_MS, 'the service answers or resets')
        if (chunk === null) return { frames, end: 'EOF' }
        d.push(chunk)
        for (let f = d.next(); f !== null; f = d.next()) frames.push(Buffer.from(f))
      } catch (err) {
        return { frames, end: (err as { code?: string }).code }
      }
    }
  }
  const unknownInfo = infoArb.filter((i) => i.name !== '/known/1')
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          unknownInfo.map((i) => ({ info: i, bytes: Buffer.from(encodeFrame(encodeProtocolInfo(i))) })),
          fc
            .array(fc.string({ unit: fc.constantFrom('1', '2', '3') }), { maxLength: 3 })
            .map((versions) => ({ name: '/known/1', supportVersions: versions }))
            .filter((i) => selectVersion(['1', '2'], i.supportVersions) === undefined)
            .map((i) => ({ info: i, bytes: Buffer.from(encodeFrame(encodeProtocolInfo(i))) })),
          fc.array(segmentArb, { maxLength: 3 }).map((segs) => ({ info: undefined, bytes: Buffer.concat(segs) })),
        ),
        fc.array(fc.nat(), { maxLength: 4 }),
        async ({ bytes }, cuts) => {
          const s = await mux.openStream()
          const writing = writePieces(s, bytes, cuts)
            .then(() => s.close())
            .catch(() => {}) // the service may reset first
          const got = await untilReset(s)
          await writing
          // What the service must have read: the first frame, if there is one and it is a ProtocolInfo.
          const first = parseFrames(bytes, MAX_SELECT_FRAME).frames[0]
          let info: ProtocolInfo | undefined
          if (first !== undefined) {
            const r = tryDecode(first)
            if (!(r instanceof TentacleError)) info = r
          }
          assert.equal(got.end, 'YAMUX_ERR_STREAM_RESET', 'the stream ends with the service reset (§9.4)')
          if (info === undefined) {
            assert.deepEqual(got.frames, [], 'no answer to what is not a selection')
          } else {
            // §9.2/§9.4: the requested name echoed with an empty list, then the RST.
            assert.deepEqual(got.frames, [Buffer.from(encodeProtocolInfo({ name: info.name, supportVersions: [] }))])
          }
          const e = await nextError()
          assert.equal(e.code, SELECT)
          assert.equal(e.protoName, info?.name)
        },
      ),
      { numRuns: 100 },
    )
    // The session is still up and selects the protocol it knows.
    const s = await mux.openStream()
    const reply = await within(
      clientSelect(
        s,
        { name: '/known/1', supportVersions: ['1', '2', '3'] },
        new LengthDelimitedDecoder(MAX_SELECT_FRAME),
        new AbortController().signal,
      ),
      BOUND_MS,
      'a good selection after the bad ones',
    )
    assert.deepEqual(reply, { name: '/known/1', version: '2' })
    assert.equal(errors.length, 0, 'one error per bad selection, no more')
  } finally {
    mux.destroy()
    await mux.closed
    await service.shutdown()
  }
})

// ------------------------------------------------------------ a dialing service given arbitrary answers

test('property: a dialing service given arbitrary answers opens the last version, or reports the typed error; an answer naming another protocol closes the session (§9.2)', async () => {
  // The listener: plain yamux (the service has no key, so no secio), answering each stream with the
  // bytes queued for it, then FIN.
  const answers: Buffer[] = []
  const server = net.createServer((socket) => {
    const mux = new Session(socket, { role: 'server', enableKeepalive: false })
    void (async () => {
      for (let s = await mux.accept(); s !== null; s = await mux.accept()) {
        const stream = s
        const answer = answers.shift() ?? Buffer.alloc(0)
        const d = new LengthDelimitedDecoder(MAX_SELECT_FRAME)
        readOneFrame(stream, d, new AbortController().signal)
          .then(() => stream.write(answer))
          .then(() => stream.close())
          .catch(() => stream.reset())
      }
    })()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port

  type Seen = { opened?: string; error?: { protoName: string | undefined; code: string }; closed?: boolean }
  const seen = new Map<number, Seen>()
  let wake = (): void => {}
  const at = (id: number): Seen => seen.get(id) ?? (seen.set(id, {}), seen.get(id)!)
  const service = new Service({
    protocols: [
      {
        id: 1,
        name: '/known/1',
        versions: ['1', '2'],
        handler: {
          connected: (ctx, version) => {
            at(ctx.session.id).opened = version
            wake()
          },
        },
      },
    ],
    handler: {
      handleEvent: (e) => {
        if (e.type === 'session-close') at(e.session.id).closed = true
        wake()
      },
      handleError: (e) => {
        if (e.type === 'protocol-select-error') at(e.session.id).error = { protoName: e.protoName, code: e.error.code }
        wake()
      },
    },
  })
  const until = (pred: () => boolean, what: string): Promise<void> =>
    within(
      new Promise<void>((resolve) => {
        wake = () => {
          if (!pred()) return
          wake = () => {}
          resolve()
        }
        wake()
      }),
      BOUND_MS,
      what,
    )
  const answerArb = fc.oneof(
    { weight: 2, arbitrary: infoArb },
    { weight: 3, arbitrary: infoArb.map((i) => ({ ...i, name: '/known/1' })) },
  )
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 3, arbitrary: answerArb.map((i) => Buffer.from(encodeFrame(encodeProtocolInfo(i)))) },
          fc.array(segmentArb, { maxLength: 3 }).map((segs) => Buffer.concat(segs)),
        ),
        async (answer) => {
          answers.push(answer)
          const info = await within(service.dial(`/ip4/127.0.0.1/tcp/${port}`), BOUND_MS, 'dial')
          const s = (): Seen => at(info.id)
          await until(() => s().opened !== undefined || s().error !== undefined, 'the protocol opens or fails')
          const first = parseFrames(answer, MAX_SELECT_FRAME).frames[0]
          const decoded = first === undefined ? undefined : tryDecode(first)
          const reply = decoded instanceof TentacleError ? undefined : decoded
          if (reply === undefined) {
            assert.deepEqual(s().error, { protoName: undefined, code: SELECT }, 'no answer: the typed error, no name')
            assert.equal(s().opened, undefined)
          } else if (reply.name !== '/known/1') {
            // §9.2 step 3: only a malicious server answers with another name; the session is closed.
            assert.deepEqual(s().error, { protoName: undefined, code: UNKNOWN_NAME })
            await until(() => s().closed === true, 'the session closes')
          } else if (reply.supportVersions.length === 0) {
            assert.deepEqual(s().error, { protoName: '/known/1', code: SELECT })
          } else {
            // The opener takes the last entry without further checks (§9.2 step 3), as Rust does.
            assert.equal(s().opened, reply.supportVersions.at(-1))
            assert.equal(s().error, undefined)
          }
          service.disconnect(info.id)
          await until(() => s().closed === true, 'session closed')
        },
      ),
      { numRuns: 60 },
    )
  } finally {
    await service.shutdown()
    server.close()
    await within(once(server, 'close'), BOUND_MS, 'every connection of the raw listener ends')
  }
})
