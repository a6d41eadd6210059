// Model-based test (fast-check `fc.commands`) of one yamux stream's state machine
// (§8.3 opening/closing/resetting, §8.4 flow control, §8.6 GoAway) against a small
// reference model.
//
// The system under test is a real Session holding one stream; the other end of the
// connection is a RawPeer, so the remote side can send any frame, hostile ones
// included. Local commands drive the Stream API (write/writeCb, close/closeCb, reset,
// read, readNow, onReadable) and the Session (close, destroy); remote commands send
// frames (data with or without FIN/RST, whole or cut into pieces; window updates with or
// without FIN/RST; an overrun of the window; a duplicate SYN; frames for an id that is not
// open; GoAway). After each command a barrier — a ping round trip while the
// session runs (frames are handled and sent in order), the expected GoAway or the
// session's end otherwise — makes the real system quiescent, and then:
// - every frame the peer received for the stream is accounted for: Data bytes equal
//   what the model says left (in order, checked byte by byte), exactly one FIN if
//   one was due, exactly one RST if one was due, nothing once the stream is gone;
// - window updates follow Rust's rule (§8.4): each plain one grants at least half the
//   maximum window, the grant never exceeds max − buffered, and no update is owed
//   (max − buffered − credit < max/2) whenever the application has read;
// - sendState / recvState / sendWindow / isClosed / streamCount equal the model's;
// - every write/close promise is settled exactly as the model says (resolved,
//   rejected with which code, or still pending because the window is exhausted);
// - reads return the peer's bytes in order (any chunking allowed), then EOF, the
//   reset or the session's end, in the order tokio-yamux gives them (§8.3); an
//   onReadable() waiter runs exactly once per registration, at the next read event.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  GO_AWAY_NORMAL,
  GO_AWAY_PROTOCOL_ERROR,
  INITIAL_STREAM_WINDOW,
  Session,
  TYPE_DATA,
  TYPE_GO_AWAY,
  TYPE_WINDOW_UPDATE,
  encodeHeader,
  type DirectionState,
  type SessionEndReason,
  type Stream,
  type YamuxErrorCode,
} from '../src/index.js'
import { duplexPair, RawPeer, within } from './helpers.js'

// The codes the model predicts (typed: a renamed code fails the type check here).
const STREAM_RESET: YamuxErrorCode = 'YAMUX_ERR_STREAM_RESET'
const STREAM_CLOSED: YamuxErrorCode = 'YAMUX_ERR_STREAM_CLOSED'
const SESSION_CLOSED: YamuxErrorCode = 'YAMUX_ERR_SESSION_CLOSED'
const RECV_WINDOW_EXCEEDED: YamuxErrorCode = 'YAMUX_ERR_RECV_WINDOW_EXCEEDED'
const FRAME_TOO_LARGE: YamuxErrorCode = 'YAMUX_ERR_FRAME_TOO_LARGE'
const WINDOW_OVERFLOW: YamuxErrorCode = 'YAMUX_ERR_WINDOW_OVERFLOW'
const DUPLICATE_STREAM: YamuxErrorCode = 'YAMUX_ERR_DUPLICATE_STREAM'
const GO_AWAY: YamuxErrorCode = 'YAMUX_ERR_GO_AWAY'

const U32_MAX = 0xffffffff
/** Bounds every wait: a hang fails the run instead of the test timing out. */
const WAIT_MS = 10_000

// Stream bytes are a known pattern (byte k of a direction is k mod 251), so every byte
// delivered can be checked against its position. Writes are views of one buffer.
const PATTERN = Buffer.alloc(1024 * 1024 + 251, 0)
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = i % 251
const pattern = (offset: number, n: number): Buffer => PATTERN.subarray(offset % 251, (offset % 251) + n)

// ------------------------------------------------------------------ records of promises

type Outcome = { ok: true; value?: Buffer | null } | { ok: false; code: string | undefined }
/** A write() or close() promise: what happened, and what the model says must have happened. */
interface OpRecord {
  what: string
  outcome: Outcome | undefined
  /** 'pending', 'ok', or the rejection code. */
  expect: string
}
interface ReadRecord {
  max: number
  outcome: Outcome | undefined
}

function track<T>(p: Promise<T>, rec: { outcome: Outcome | undefined }): void {
  p.then(
    (value) => {
      rec.outcome = { ok: true, value: value as Buffer | null | undefined }
    },
    (err: { code?: string }) => {
      rec.outcome = { ok: false, code: err?.code }
    },
  )
}

// ------------------------------------------------------------------ the model

interface Model {
  readonly max: number
  /** 'closing': close() was called, our GoAway is out, the peer has not answered. */
  session: 'open' | 'closing' | 'ended'
  /** How the session ended (checked against Session.endReason and Session.error). */
  end: { reason: SessionEndReason; code: string | undefined } | undefined
  /** GoAway codes we must have sent, in order (§8.6: at most one). */
  goAways: number[]
  /** The promise of Session.close(): pending until the session ends. */
  sessionClose: OpRecord | undefined
  send: DirectionState
  recv: DirectionState
  /** Out of the session (closed both ways, or the session ended): no frame may follow. */
  removed: boolean
  /** Stream frames the peer had received when the stream was removed. */
  framesAtRemoval: number | undefined

  // Send side.
  credit: number
  queue: { rec: OpRecord; remaining: number }[]
  closeWaiters: OpRecord[] | null
  /** Bytes handed to write() and not refused: the pattern offset of the next write. */
  written: number
  /** Bytes that must have reached the peer. */
  bytesOut: number
  finDue: boolean
  rstDue: boolean
  /** RSTs refusing a SYN after our GoAway (§8.3): on the wire for this id, not a reset of the stream. */
  refusals: number
  ops: OpRecord[]

  // Receive side.
  /** What the peer may still send (the stream's receive window), from the frames it received. */
  peerCredit: number
  /** Bytes received and not yet read. */
  buffered: number
  /** Bytes the stream accepted from the peer: the pattern offset of the peer's next data. */
  bytesIn: number
  /** Bytes the application read (pattern offset of the next read). */
  consumed: number
  reads: ReadRecord[]
  /** An onReadable() waiter is registered and has not run. */
  armed: boolean
  /** Times the waiter must have run. */
  fired: number
}

interface Real {
  session: Session
  peer: RawPeer
  stream: Stream
  id: number
  /** Index of the next peer frame not yet accounted for. */
  cursor: number
  /** Observed on the wire, for the stream. */
  seen: { dataBytes: number; fin: number; rst: number; frames: number; goAway: number[] }
  /** Times the onReadable() waiter ran. */
  fired: number
}

/** A read event (data, EOF, reset, the session's end) runs the registered waiter, once. */
function readEvent(m: Model): void {
  if (!m.armed) return
  m.armed = false
  m.fired++
}

/** The stream leaves the session once closed both ways (LESSONS #8). */
function transition(m: Model): void {
  if (m.removed || m.send === 'open' || m.recv === 'open') return
  m.removed = true
  m.framesAtRemoval = undefined // fixed at the next barrier: the frame that closed it is still due
}

function failWrites(m: Model, code: string): void {
  for (const q of m.queue) q.rec.expect = code
  m.queue = []
  if (m.closeWaiters !== null) for (const c of m.closeWaiters) c.expect = code
  m.closeWaiters = null
}

function finishClose(m: Model): void {
  const waiters = m.closeWaiters ?? []
  m.closeWaiters = null
  if (m.send === 'open') {
    m.send = 'closed'
    m.finDue = true
    transition(m)
  }
  for (const w of waiters) w.expect = 'ok'
}

/** Queued writes continue as far as the credit allows (§8.4), then a requested close. */
function pump(m: Model): void {
  while (m.queue.length > 0 && m.credit > 0) {
    const head = m.queue[0]
    const k = Math.min(m.credit, head.remaining)
    m.credit -= k
    m.bytesOut += k
    head.remaining -= k
    if (head.remaining > 0) return
    m.queue.shift()
    head.rec.expect = 'ok'
  }
  if (m.queue.length === 0 && m.closeWaiters !== null) finishClose(m)
}

/** Why a new write is refused, in the order the stream checks. */
function writeRefusal(m: Model): string | undefined {
  if (m.closeWaiters !== null && m.send === 'open') return STREAM_CLOSED
  if (m.send === 'reset') return STREAM_RESET
  if (m.send === 'closed') return STREAM_CLOSED
  if (m.session !== 'open') return SESSION_CLOSED
  return undefined
}

function remoteFin(m: Model): void {
  if (m.recv !== 'open') return // §8.3: a FIN once the receive side is closed is ignored
  m.recv = 'closed'
  readEvent(m)
  transition(m)
}

function remoteRst(m: Model): void {
  if (m.send === 'reset' && m.recv !== 'open') return
  m.send = 'reset'
  if (m.recv === 'open') m.recv = 'reset'
  failWrites(m, STREAM_RESET)
  readEvent(m)
  transition(m)
}

/** A protocol error from the peer (§8.6): GoAway(ProtocolError) unless ours is out, then the end. */
function protocolError(m: Model, code: string): void {
  if (m.goAways.length === 0) m.goAways.push(GO_AWAY_PROTOCOL_ERROR)
  sessionEnded(m, { reason: 'error', code })
}

/** The session is over: streams still in it see YAMUX_ERR_SESSION_CLOSED. */
function sessionEnded(m: Model, end: NonNullable<Model['end']>): void {
  m.session = 'ended'
  m.end = end
  if (m.sessionClose !== undefined) m.sessionClose.expect = 'ok'
  if (!m.removed) {
    m.removed = true
    m.framesAtRemoval = undefined
    failWrites(m, SESSION_CLOSED)
    readEvent(m)
  }
}

// ------------------------------------------------------------------ barrier and checks

/** Waits until the real system has handled everything the last command caused. */
async function barrier(m: Model, r: Real): Promise<void> {
  if (m.session !== 'ended') {
    await r.peer.ping(WAIT_MS)
  } else {
    // No ping once the session is over: the frames it sent end with its GoAway, if any.
    const goAways = (): number => r.peer.frames.filter((f) => f.type === TYPE_GO_AWAY).length
    await r.peer.waitFor(() => goAways() >= m.goAways.length, WAIT_MS, `${m.goAways.length} GoAway`)
    await within(r.session.closed, WAIT_MS, 'session closed')
    await new Promise<void>((resolve) => setImmediate(resolve)) // settled promises' handlers run
  }
  accountFrames(m, r)
  checkReads(m)
  checkState(m, r)
}

/** Accounts for every frame the peer received since the last barrier. */
function accountFrames(m: Model, r: Real): void {
  const frames = r.peer.frames
  for (; r.cursor < frames.length; r.cursor++) {
    const f = frames[r.cursor]
    if (f.type === TYPE_GO_AWAY) {
      r.seen.goAway.push(f.length)
      continue
    }
    assert.equal(f.streamId, r.id, `a frame for stream ${f.streamId} (type ${f.type})`)
    r.seen.frames++
    if (f.type === TYPE_DATA) {
      assert.equal(f.flags, 0, 'data frames carry no flags (SYN/ACK went on the first update)')
      const body = f.body ?? Buffer.alloc(0)
      assert.ok(body.equals(pattern(r.seen.dataBytes, body.length)), `stream bytes at ${r.seen.dataBytes}`)
      r.seen.dataBytes += body.length
      continue
    }
    assert.equal(f.type, TYPE_WINDOW_UPDATE, `frame type ${f.type}`)
    if (f.flags & FLAG_FIN) r.seen.fin++
    if (f.flags & FLAG_RST) r.seen.rst++
    if (f.flags & (FLAG_FIN | FLAG_RST)) {
      assert.equal(f.length, 0, 'FIN and RST travel on zero-delta updates (§8.9)')
      assert.equal(f.flags & (FLAG_SYN | FLAG_ACK), 0, 'SYN/ACK were sent on the first frame')
      continue
    }
    assert.equal(f.flags, 0, `window update flags ${f.flags}`)
    // §8.4: Rust sends a plain update only for at least half the maximum window.
    assert.ok(f.length >= m.max / 2, `window update of ${f.length} < max/2`)
    m.peerCredit += f.length
  }
}

/** Pending reads, in order, against the model's receive side (readNow's order: data, EOF, reset, session). */
function checkReads(m: Model): void {
  while (m.reads.length > 0) {
    const rec = m.reads[0]
    const o = rec.outcome
    if (o === undefined) {
      assert.ok(
        m.buffered === 0 && m.recv === 'open' && m.session !== 'ended',
        `a read still waits although buffered=${m.buffered} recv=${m.recv} session=${m.session}`,
      )
      for (const later of m.reads) assert.equal(later.outcome, undefined, 'reads settle in order')
      return
    }
    m.reads.shift()
    if (o.ok && o.value) {
      const n = o.value.length
      assert.ok(
        n >= 1 && n <= Math.min(rec.max, m.buffered),
        `read ${n} bytes (max ${rec.max}, buffered ${m.buffered})`,
      )
      assert.ok(o.value.equals(pattern(m.consumed, n)), `read bytes at ${m.consumed}`)
      m.buffered -= n
      m.consumed += n
    } else if (o.ok) {
      assert.equal(o.value, null)
      assert.ok(m.buffered === 0 && m.recv === 'closed', `EOF with buffered=${m.buffered} recv=${m.recv}`)
    } else {
      assert.equal(m.buffered, 0, `read failed (${o.code}) with ${m.buffered} bytes still buffered`)
      const want = m.recv === 'reset' ? STREAM_RESET : m.recv === 'open' && m.session === 'ended' ? SESSION_CLOSED : '?'
      assert.equal(o.code, want, `read rejected; recv=${m.recv} session=${m.session}`)
    }
  }
}

function checkState(m: Model, r: Real): void {
  const s = r.stream
  assert.equal(s.sendState, m.send, 'sendState')
  assert.equal(s.recvState, m.recv, 'recvState')
  assert.equal(s.isClosed, m.send !== 'open' && m.recv !== 'open', 'isClosed')
  assert.equal(s.sendWindow, m.credit, 'sendWindow')
  assert.equal(r.session.streamCount, m.removed ? 0 : 1, 'streamCount')
  assert.equal(r.session.state, m.session, 'session state')
  assert.equal(r.fired, m.fired, 'onReadable() waiter runs')
  // The wire.
  assert.equal(r.seen.dataBytes, m.bytesOut, 'data bytes the peer received')
  assert.equal(r.seen.fin, m.finDue ? 1 : 0, 'FIN frames')
  assert.equal(r.seen.rst, (m.rstDue ? 1 : 0) + m.refusals, 'RST frames')
  if (m.removed) {
    if (m.framesAtRemoval === undefined) m.framesAtRemoval = r.seen.frames - m.refusals
    assert.equal(r.seen.frames - m.refusals, m.framesAtRemoval, 'no frame for a stream that is gone (js-libp2p #2505)')
  }
  // Receive window (§8.4), while the peer may still send.
  if (m.recv === 'open' && m.session !== 'ended') {
    assert.ok(m.peerCredit >= 0, `credit ${m.peerCredit}`)
    assert.ok(m.peerCredit + m.buffered <= m.max, `granted ${m.peerCredit} with ${m.buffered} buffered > max`)
    assert.ok(m.max - m.buffered - m.peerCredit < m.max / 2, `an update is owed: credit ${m.peerCredit}`)
  }
  // Every write/close promise.
  for (const op of m.ops) {
    const o = op.outcome
    const got = o === undefined ? 'pending' : o.ok ? 'ok' : String(o.code)
    assert.equal(got, op.expect, op.what)
  }
  m.ops = m.ops.filter((op) => op.expect === 'pending')
  // The session.
  assert.deepEqual(r.seen.goAway, m.goAways, 'our GoAway frames')
  assert.equal(r.session.endReason, m.end?.reason, 'endReason')
  assert.equal(r.session.error?.code, m.end?.code, 'session error')
}

// ------------------------------------------------------------------ commands

type Cmd = fc.AsyncCommand<Model, Real>

/** Records a WriteCallback's outcome as track() records a promise's. */
function callback(rec: OpRecord): (err?: { code?: string }) => void {
  return (err) => {
    assert.equal(rec.outcome, undefined, `${rec.what}: its callback ran twice`)
    rec.outcome = err === undefined ? { ok: true } : { ok: false, code: err.code }
  }
}

/** write(), or its callback flavour writeCb() (what tentacle uses). */
class Write implements Cmd {
  constructor(
    readonly n: number,
    readonly viaCallback = false,
  ) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const rec: OpRecord = { what: `${this.toString()} #${m.ops.length}`, outcome: undefined, expect: 'pending' }
    const refusal = writeRefusal(m)
    const data = pattern(m.written, this.n)
    if (this.viaCallback) r.stream.writeCb(data, callback(rec))
    else track(r.stream.write(data), rec)
    if (refusal !== undefined) rec.expect = refusal
    else {
      m.written += this.n
      if (this.n === 0) rec.expect = 'ok'
      else if (m.queue.length === 0) {
        const k = Math.min(m.credit, this.n)
        m.credit -= k
        m.bytesOut += k
        if (k === this.n) rec.expect = 'ok'
        else m.queue.push({ rec, remaining: this.n - k })
      } else m.queue.push({ rec, remaining: this.n })
    }
    m.ops.push(rec)
    await barrier(m, r)
  }
  toString = (): string => `${this.viaCallback ? 'writeCb' : 'write'}(${this.n})`
}

/** close(), or closeCb(). */
class Close implements Cmd {
  constructor(readonly viaCallback = false) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const rec: OpRecord = { what: this.toString(), outcome: undefined, expect: 'pending' }
    if (this.viaCallback) r.stream.closeCb(callback(rec))
    else track(r.stream.close(), rec)
    if (m.send !== 'open') rec.expect = 'ok'
    else if (m.session === 'ended')
      rec.expect = SESSION_CLOSED // (while closing, a FIN still goes out)
    else if (m.closeWaiters !== null) m.closeWaiters.push(rec)
    else {
      m.closeWaiters = [rec]
      if (m.queue.length === 0) finishClose(m)
    }
    m.ops.push(rec)
    await barrier(m, r)
  }
  toString = (): string => (this.viaCallback ? 'closeCb()' : 'close()')
}

class Reset implements Cmd {
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    r.stream.reset()
    if (!(m.send === 'reset' && m.recv === 'reset')) {
      if (!m.removed) m.rstDue = true
      m.send = 'reset'
      m.recv = 'reset'
      m.buffered = 0 // a local reset drops what was not read
      failWrites(m, STREAM_RESET)
      readEvent(m)
      transition(m)
    }
    await barrier(m, r)
  }
  toString = (): string => 'reset()'
}

class Read implements Cmd {
  constructor(readonly max: number) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const rec: ReadRecord = { max: this.max, outcome: undefined }
    track(r.stream.read(this.max), rec)
    m.reads.push(rec)
    await barrier(m, r)
  }
  toString = (): string => `read(${this.max})`
}

/** readNow(): what is there now, without waiting (tentacle's way to read, with onReadable()). */
class ReadNow implements Cmd {
  constructor(readonly max: number) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    let got: Uint8Array | null | undefined
    let code: string | undefined
    try {
      got = r.stream.readNow(this.max)
    } catch (err) {
      code = (err as { code?: string }).code ?? String(err)
    }
    if (m.buffered > 0) {
      assert.ok(got instanceof Uint8Array, `readNow with ${m.buffered} buffered gave ${String(got)} ${code ?? ''}`)
      const n = got.length
      assert.ok(n >= 1 && n <= Math.min(this.max, m.buffered), `readNow ${n} bytes`)
      assert.ok(Buffer.from(got).equals(pattern(m.consumed, n)), `readNow bytes at ${m.consumed}`)
      m.buffered -= n
      m.consumed += n
    } else if (m.recv === 'closed') assert.equal(got, null, 'readNow at EOF')
    else if (m.recv === 'reset') assert.equal(code, STREAM_RESET, 'readNow after a reset')
    else if (m.session === 'ended') assert.equal(code, SESSION_CLOSED, 'readNow after the session ended')
    else assert.ok(got === undefined && code === undefined, `readNow with nothing there: ${String(got)} ${code}`)
    await barrier(m, r) // taking data may send a window update
  }
  toString = (): string => `readNow(${this.max})`
}

/** onReadable(): one waiter, run once at the next read event (it replaces an earlier one). */
class OnReadable implements Cmd {
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    r.stream.onReadable(() => {
      r.fired++
    })
    m.armed = true
    await barrier(m, r)
  }
  toString = (): string => 'onReadable()'
}

/** Data from the peer: `permille` of its credit (or `bytes`, capped by it), with flags. */
class RemoteData implements Cmd {
  constructor(
    readonly size: { permille: number } | { bytes: number },
    readonly flags: number,
    /** Where the frame (header and body) is cut into separate writes, as fractions. */
    readonly cuts: number[] = [],
  ) {}
  check = (m: Readonly<Model>): boolean => m.session !== 'ended'
  async run(m: Model, r: Real): Promise<void> {
    const credit = Math.min(m.peerCredit, m.max)
    const n =
      'permille' in this.size ? Math.floor((credit * this.size.permille) / 1000) : Math.min(this.size.bytes, credit)
    // Once the peer's FIN is in, the body is dropped, but a RST still resets the stream, as
    // it does on a WindowUpdate. A stream that is gone drops everything.
    const registered = !m.removed
    const accepted = registered && m.recv === 'open'
    const frame = Buffer.concat([
      encodeHeader({ type: TYPE_DATA, flags: this.flags, streamId: r.id, length: n }),
      pattern(accepted ? m.bytesIn : 0, n),
    ])
    let from = 0
    for (const at of [...this.cuts.map((c) => Math.floor(c * frame.length)), frame.length]) {
      if (at > from) r.peer.conn.write(frame.subarray(from, at))
      from = Math.max(from, at)
    }
    if (accepted) {
      m.peerCredit -= n
      m.buffered += n
      m.bytesIn += n
      readEvent(m)
      if (this.flags & FLAG_FIN) remoteFin(m)
    }
    if (registered && this.flags & FLAG_RST) remoteRst(m)
    await barrier(m, r)
  }
  toString = (): string => `remoteData(${JSON.stringify(this.size)}, flags ${this.flags}, cuts ${this.cuts})`
}

/** Data past the peer's credit (§8.4): fatal for the session if the stream still takes data. */
class RemoteOverrun implements Cmd {
  constructor(readonly extra: number) {}
  check = (m: Readonly<Model>): boolean => m.session !== 'ended'
  async run(m: Model, r: Real): Promise<void> {
    const n = m.peerCredit + 1 + this.extra
    r.peer.send(TYPE_DATA, 0, r.id, n, pattern(0, n))
    if (n > m.max) {
      // §8.1: the decoder refuses a Data frame longer than the maximum window, whatever the stream.
      protocolError(m, FRAME_TOO_LARGE)
    } else if (!m.removed && m.recv === 'open') {
      protocolError(m, RECV_WINDOW_EXCEEDED)
    }
    await barrier(m, r)
  }
  toString = (): string => `remoteOverrun(+${this.extra + 1})`
}

/** A WindowUpdate from the peer: credit, FIN, RST (FIN/RST handled before the delta). */
class RemoteWindowUpdate implements Cmd {
  constructor(
    readonly delta: number,
    readonly flags: number,
  ) {}
  check = (m: Readonly<Model>): boolean => m.session !== 'ended'
  async run(m: Model, r: Real): Promise<void> {
    r.peer.send(TYPE_WINDOW_UPDATE, this.flags, r.id, this.delta)
    if (!m.removed) {
      if (this.flags & FLAG_FIN) remoteFin(m)
      if (this.flags & FLAG_RST) remoteRst(m)
      if (this.delta > 0 && m.send === 'open') {
        if (m.credit + this.delta > U32_MAX) {
          protocolError(m, WINDOW_OVERFLOW)
        } else {
          m.credit += this.delta
          pump(m)
        }
      }
    }
    await barrier(m, r)
  }
  toString = (): string => `remoteWindowUpdate(${this.delta}, flags ${this.flags})`
}

/** A SYN for the stream's id while it is open (§8.2), on a WindowUpdate or on Data: GoAway(ProtocolError). */
class RemoteDuplicateSyn implements Cmd {
  constructor(readonly onData: boolean) {}
  // (A SYN for a gone id while open would be a new stream, outside this model.)
  check = (m: Readonly<Model>): boolean => m.session === 'closing' || (m.session === 'open' && !m.removed)
  async run(m: Model, r: Real): Promise<void> {
    if (this.onData) r.peer.send(TYPE_DATA, FLAG_SYN, r.id, 4, pattern(0, 4))
    else r.peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, r.id, 0)
    // After our GoAway any SYN is refused with RST and goes no further, as in tokio-yamux
    // (even for an id that is open here); before it, an open id is a protocol error.
    if (m.session === 'closing') m.refusals++
    else protocolError(m, DUPLICATE_STREAM)
    await barrier(m, r)
  }
  toString = (): string => `remoteDuplicateSyn(${this.onData ? 'data' : 'window update'})`
}

/** Frames without SYN for a stream id that is not open (§8.2): dropped silently, whatever they carry. */
class RemoteStray implements Cmd {
  constructor(
    readonly type: number,
    readonly flags: number,
    readonly length: number,
  ) {}
  check = (m: Readonly<Model>): boolean => m.session !== 'ended'
  async run(m: Model, r: Real): Promise<void> {
    const id = r.id + 1000
    if (this.type === TYPE_DATA) r.peer.send(TYPE_DATA, this.flags, id, this.length, pattern(0, this.length))
    else r.peer.send(TYPE_WINDOW_UPDATE, this.flags, id, this.length)
    await barrier(m, r)
  }
  toString = (): string => `remoteStray(type ${this.type}, flags ${this.flags}, ${this.length})`
}

/**
 * GoAway from the peer (§8.6): the session is over, answered with GoAway(0) unless ours is
 * out already (then it is the answer to our close()).
 */
class RemoteGoAway implements Cmd {
  constructor(readonly code: number) {}
  check = (m: Readonly<Model>): boolean => m.session !== 'ended'
  async run(m: Model, r: Real): Promise<void> {
    r.peer.send(TYPE_GO_AWAY, 0, 0, this.code)
    const answer = m.session === 'closing'
    if (!answer) m.goAways.push(GO_AWAY_NORMAL)
    if (this.code !== GO_AWAY_NORMAL) sessionEnded(m, { reason: 'error', code: GO_AWAY })
    else sessionEnded(m, { reason: answer ? 'local-close' : 'remote-go-away', code: undefined })
    await barrier(m, r)
  }
  toString = (): string => `remoteGoAway(${this.code})`
}

/**
 * Session.close() (§8.6): queued writes fail at once, GoAway(0) goes out, and the session
 * stays 'closing' (still reading, still answering pings) until the peer's GoAway.
 */
class SessionClose implements Cmd {
  check = (m: Readonly<Model>): boolean => m.session === 'open'
  async run(m: Model, r: Real): Promise<void> {
    const rec: OpRecord = { what: 'session.close()', outcome: undefined, expect: 'pending' }
    track(r.session.close(), rec)
    m.session = 'closing'
    m.sessionClose = rec
    m.ops.push(rec)
    if (m.queue.length > 0) failWrites(m, SESSION_CLOSED)
    m.goAways.push(GO_AWAY_NORMAL)
    await barrier(m, r)
  }
  toString = (): string => 'session.close()'
}

class SessionDestroy implements Cmd {
  check = (m: Readonly<Model>): boolean => m.session !== 'ended'
  async run(m: Model, r: Real): Promise<void> {
    r.session.destroy()
    sessionEnded(m, { reason: 'destroyed', code: undefined })
    await barrier(m, r)
  }
  toString = (): string => 'session.destroy()'
}

/** Flags a peer puts on a stream's frames; a repeated ACK changes nothing (§8.3). */
const flagsArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.constant(FLAG_FIN) },
  { weight: 1, arbitrary: fc.constantFrom(FLAG_RST, FLAG_FIN | FLAG_RST) },
  { weight: 1, arbitrary: fc.constantFrom(FLAG_ACK, FLAG_ACK | FLAG_FIN, FLAG_ACK | FLAG_RST) },
)
const readArb = fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 70_000 })).map((max) => new Read(max))
/** One arbitrary, weighted so that runs last: the commands that end the session are rare. */
const commandArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 50_000, max: 300_000 })), fc.boolean())
      .map(([n, viaCallback]) => new Write(n, viaCallback)),
  },
  { weight: 2, arbitrary: fc.boolean().map((viaCallback) => new Close(viaCallback)) },
  { weight: 1, arbitrary: fc.constant(new Reset()) },
  { weight: 4, arbitrary: readArb },
  {
    weight: 2,
    arbitrary: fc.oneof(fc.constant(Infinity), fc.integer({ min: 1, max: 70_000 })).map((max) => new ReadNow(max)),
  },
  { weight: 1, arbitrary: fc.constant(new OnReadable()) },
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.oneof(
          fc.integer({ min: 0, max: 1000 }).map((permille) => ({ permille })),
          fc.integer({ min: 0, max: 3000 }).map((bytes) => ({ bytes })),
        ),
        flagsArb,
        fc.oneof(
          { weight: 3, arbitrary: fc.constant<number[]>([]) },
          fc
            .array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 })
            .map((c) => c.sort((a, b) => a - b)),
        ),
      )
      .map(([size, flags, cuts]) => new RemoteData(size, flags, cuts)),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 1, max: 400_000 })),
        flagsArb,
      )
      .map(([delta, flags]) => new RemoteWindowUpdate(delta, flags)),
  },
  // Rare, one weight for all: a delta near 2^32 (overflows the send window unless it is
  // small), an overrun, a duplicate SYN, GoAway, destroying the session.
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.integer({ min: U32_MAX - 600_000, max: U32_MAX }).map((delta) => new RemoteWindowUpdate(delta, 0)),
      fc.integer({ min: 0, max: 300_000 }).map((extra) => new RemoteOverrun(extra)),
      fc.boolean().map((onData) => new RemoteDuplicateSyn(onData)),
      fc.constantFrom(0, 1, 2, 7).map((code) => new RemoteGoAway(code)),
      fc.constant(new SessionDestroy()),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(TYPE_DATA, TYPE_WINDOW_UPDATE), flagsArb, fc.integer({ min: 0, max: 3000 }))
      .map(([type, flags, length]) => new RemoteStray(type, flags, length)),
  },
  // Not terminal: the session goes on 'closing' until the peer's GoAway.
  { weight: 1, arbitrary: fc.constant(new SessionClose()) },
)

// ------------------------------------------------------------------ setup

interface Setup {
  /** The stream under test was opened by the peer (we ACK) or by us (we SYN). */
  inbound: boolean
  /** maxStreamWindowSize: the default, or CKB-like larger. */
  max: number
  /** The delta on the peer's SYN or ACK: extra send credit from the start. */
  initialDelta: number
}

async function setup(cfg: Setup): Promise<{ model: Model; real: Real }> {
  const [a, b] = duplexPair()
  const session = new Session(a, {
    role: cfg.inbound ? 'server' : 'client',
    enableKeepalive: false,
    maxStreamWindowSize: cfg.max,
    maxQueuedBytes: 64 * 1024 * 1024, // only the window holds writes back, never queue space
    connectionWriteTimeoutMs: 60_000, // a 'closing' session waits for the peer's GoAway for the whole run
  })
  const peer = new RawPeer(b)
  let stream: Stream
  if (cfg.inbound) {
    peer.send(TYPE_WINDOW_UPDATE, FLAG_SYN, 1, cfg.initialDelta)
    const s = await within(session.accept(), WAIT_MS, 'accept')
    assert.ok(s !== null)
    stream = s
  } else {
    stream = session.openStreamSync()
    peer.send(TYPE_WINDOW_UPDATE, FLAG_ACK, stream.id, cfg.initialDelta)
  }
  await peer.ping(WAIT_MS)
  // §8.3: the first frame is the SYN or ACK, with delta = max − 256 KiB.
  const first = peer.frames[0]
  assert.ok(first !== undefined && first.type === TYPE_WINDOW_UPDATE && first.streamId === stream.id)
  assert.equal(first.flags, cfg.inbound ? FLAG_ACK : FLAG_SYN)
  assert.equal(first.length, cfg.max - INITIAL_STREAM_WINDOW)
  const real: Real = {
    session,
    peer,
    stream,
    id: stream.id,
    cursor: 1,
    seen: { dataBytes: 0, fin: 0, rst: 0, frames: 1, goAway: [] },
    fired: 0,
  }
  const model: Model = {
    max: cfg.max,
    session: 'open',
    end: undefined,
    goAways: [],
    sessionClose: undefined,
    send: 'open',
    recv: 'open',
    removed: false,
    framesAtRemoval: undefined,
    credit: INITIAL_STREAM_WINDOW + cfg.initialDelta,
    queue: [],
    closeWaiters: null,
    written: 0,
    bytesOut: 0,
    finDue: false,
    rstDue: false,
    refusals: 0,
    ops: [],
    peerCredit: cfg.max,
    buffered: 0,
    bytesIn: 0,
    consumed: 0,
    reads: [],
    armed: false,
    fired: 0,
  }
  checkState(model, real)
  return { model, real }
}

async function teardown(real: Real): Promise<void> {
  real.session.destroy()
  await within(real.session.closed, WAIT_MS, 'session closed at teardown')
  real.peer.conn.destroy()
}

const setupArb: fc.Arbitrary<Setup> = fc.record({
  inbound: fc.boolean(),
  max: fc.constantFrom(INITIAL_STREAM_WINDOW, 2 * INITIAL_STREAM_WINDOW),
  initialDelta: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 300_000 })),
})

// 200 runs take ~3 s on a quiet machine; STREAM_MODEL_RUNS=5000 for a longer search.
const NUM_RUNS = Number(process.env.STREAM_MODEL_RUNS ?? 200)

test('a yamux stream follows the reference model under arbitrary local and remote commands', async () => {
  await fc.assert(
    fc.asyncProperty(setupArb, fc.commands([commandArb], { maxCommands: 40, size: 'max' }), async (cfg, cmds) => {
      let real: Real | undefined
      try {
        await fc.asyncModelRun(async () => {
          const s = await setup(cfg)
          real = s.real
          return s
        }, cmds)
      } finally {
        if (real !== undefined) await teardown(real)
      }
    }),
    { numRuns: NUM_RUNS },
  )
})

test("a RST on a Data frame after the peer's FIN resets the stream, as a RST on a WindowUpdate does", async () => {
  for (const rst of [new RemoteData({ bytes: 3 }, FLAG_RST), new RemoteWindowUpdate(0, FLAG_RST)]) {
    const { model, real } = await setup({ inbound: false, max: INITIAL_STREAM_WINDOW, initialDelta: 0 })
    try {
      const cmds = [new RemoteWindowUpdate(0, FLAG_FIN), new Write(10), rst, new Write(1), new Read(Infinity)]
      await fc.asyncModelRun(() => ({ model, real }), cmds)
      assert.equal(real.stream.sendState, 'reset', rst.toString())
      assert.equal(real.session.streamCount, 0)
    } finally {
      await teardown(real)
    }
  }
})

test('after our GoAway a SYN is refused with RST, even for the id of an open stream, which goes on (tokio-yamux)', async () => {
  const { model, real } = await setup({ inbound: true, max: INITIAL_STREAM_WINDOW, initialDelta: 0 })
  try {
    const cmds = [
      new SessionClose(),
      new RemoteDuplicateSyn(false),
      new RemoteData({ bytes: 5 }, 0),
      new Read(Infinity),
    ]
    await fc.asyncModelRun(() => ({ model, real }), cmds)
    assert.equal(model.refusals, 1)
    assert.equal(real.stream.recvState, 'open')
    assert.equal(model.consumed, 5, 'the stream still delivers')
  } finally {
    await teardown(real)
  }
})
