// Shared test helpers: in-memory duplex pairs with real backpressure, TCP loopback pairs,
// a raw frame-level peer for wire tests, and small utilities. Not a test file.
import { Duplex } from 'node:stream'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import assert from 'node:assert/strict'
import {
  YamuxFrameDecoder,
  DECODED_BODY,
  DECODED_HEADER,
  NEED_MORE,
  Session,
  encodeHeader,
  type SessionOptions,
  type Stream,
  FLAG_ACK,
  FLAG_SYN,
  TYPE_DATA,
  TYPE_PING,
} from '../src/index.js'

export { sleep }

export interface PairOptions {
  /** Readable buffer of each side before push() says stop. */
  highWaterMark?: number
  /** Split every write into random pieces of 1..maxPiece bytes (chaotic chunking). */
  chaoticMaxPiece?: number
}

class PipeEnd extends Duplex {
  peer!: PipeEnd
  #waitingCb: ((err?: Error | null) => void) | null = null
  readonly #chaotic: number

  constructor(opts: PairOptions) {
    super({ readableHighWaterMark: opts.highWaterMark ?? 64 * 1024, writableHighWaterMark: 16 * 1024 })
    this.#chaotic = opts.chaoticMaxPiece ?? 0
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer
    if (peer.destroyed || peer.readableEnded) return cb(new Error('peer closed'))
    let ok = true
    if (this.#chaotic > 0) {
      let off = 0
      while (off < chunk.length) {
        const n = Math.min(chunk.length - off, 1 + Math.floor(Math.random() * this.#chaotic))
        ok = peer.push(chunk.subarray(off, off + n))
        off += n
      }
    } else {
      ok = peer.push(chunk)
    }
    if (ok) cb()
    else this.#waitingCb = cb
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    // Deliver a gathered write as one contiguous chunk, as a socket would.
    this._write(chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk)), 'binary', cb)
  }

  override _read(): void {
    const w = this.peer.#waitingCb
    if (w !== null) {
      this.peer.#waitingCb = null
      w()
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null)
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const w = this.#waitingCb
    this.#waitingCb = null
    if (w) w(new Error('destroyed'))
    const peer = this.peer
    if (!peer.destroyed) process.nextTick(() => peer.destroy())
    cb(err)
  }
}

/** Two connected in-memory Duplexes with backpressure (a write completes when the peer's reader has room). */
export function duplexPair(opts: PairOptions = {}): [Duplex, Duplex] {
  const a = new PipeEnd(opts)
  const b = new PipeEnd(opts)
  a.peer = b
  b.peer = a
  return [a, b]
}

/** A connected TCP loopback pair. `close()` closes the listener (the sockets belong to the sessions). */
export async function tcpPair(): Promise<{ client: net.Socket; server: net.Socket; close: () => Promise<void> }> {
  const srv = net.createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const port = (srv.address() as net.AddressInfo).port
  const accepted = new Promise<net.Socket>((resolve) => srv.once('connection', resolve))
  const client = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  const server = await accepted
  client.setNoDelay(true)
  server.setNoDelay(true)
  return { client, server, close: () => new Promise((resolve) => srv.close(() => resolve())) }
}

export type Transport = 'memory' | 'tcp'

/** Client and server sessions over `transport`; `cleanup()` destroys both and waits for them. */
export async function sessionPair(
  transport: Transport = 'memory',
  clientOpts: Partial<SessionOptions> = {},
  serverOpts: Partial<SessionOptions> = {},
  pairOpts: PairOptions = {},
): Promise<{ client: Session; server: Session; cleanup: () => Promise<void> }> {
  let a: Duplex
  let b: Duplex
  let closeListener = async (): Promise<void> => {}
  if (transport === 'tcp') {
    const p = await tcpPair()
    a = p.client
    b = p.server
    closeListener = p.close
  } else {
    ;[a, b] = duplexPair(pairOpts)
  }
  const client = new Session(a, { enableKeepalive: false, ...clientOpts, role: 'client' })
  const server = new Session(b, { enableKeepalive: false, ...serverOpts, role: 'server' })
  return {
    client,
    server,
    cleanup: async () => {
      client.destroy()
      server.destroy()
      await Promise.all([client.closed, server.closed])
      await closeListener()
    },
  }
}

/** Rejects after `ms` with a message naming what was awaited. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

/**
 * A barrier between two sessions: a stream round trip from `a` to `b` and back.
 * When it resolves, `b` has handled every frame `a` queued before the call (frames
 * leave a session in order and are handled in order), and `a` every frame `b` queued
 * before it answered (a stream write still waiting for queue space, maxQueuedBytes, is not
 * queued yet). The probe stream ends closed both ways, so stream counts are as
 * before. `b` must have no other accept() pending, and room for one more stream.
 */
export async function roundTrip(a: Session, b: Session, ms = 5000): Promise<void> {
  const probe = (async () => {
    const x = await a.openStream()
    await x.write(PROBE)
    await x.close()
    const y = await b.accept()
    if (y === null) throw new Error('round trip: the session ended')
    assert.deepEqual(await readAll(y), PROBE, 'round trip: probe bytes')
    await y.close()
    assert.equal((await readAll(x)).length, 0, 'round trip: EOF')
  })()
  await within(probe, ms, 'round trip')
}
const PROBE = Buffer.from('round-trip')

/** Reads a stream to EOF, returning all bytes. */
export async function readAll(s: Stream): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for (;;) {
    const c = await s.read()
    if (c === null) return Buffer.concat(parts)
    parts.push(c)
  }
}

/** Reads exactly n bytes (or fewer at EOF). */
export async function readN(s: Stream, n: number): Promise<Buffer> {
  const parts: Uint8Array[] = []
  let got = 0
  while (got < n) {
    const c = await s.read(n - got)
    if (c === null) break
    parts.push(c)
    got += c.length
  }
  return Buffer.concat(parts)
}

/** Reads to EOF and returns the sha256 and byte count without keeping the data. */
export async function hashAll(s: Stream): Promise<{ hash: string; bytes: number }> {
  const h = createHash('sha256')
  let bytes = 0
  for (;;) {
    const c = await s.read()
    if (c === null) return { hash: h.digest('hex'), bytes }
    h.update(c)
    bytes += c.length
  }
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

export function random(n: number): Buffer {
  return randomBytes(n)
}

/** Writes `data` in pieces of random sizes up to `maxPiece`. */
export async function writeInPieces(s: Stream, data: Uint8Array, maxPiece: number): Promise<void> {
  let off = 0
  while (off < data.length) {
    const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * maxPiece))
    await s.write(data.subarray(off, off + n))
    off += n
  }
}

export interface RawFrame {
  type: number
  flags: number
  streamId: number
  length: number
  body?: Buffer
}

/**
 * A hand-driven yamux peer: sends arbitrary frames and records every frame it receives.
 * Used to check exact wire behaviour and to play hostile peers.
 */
export class RawPeer {
  readonly frames: RawFrame[] = []
  readonly conn: Duplex
  ended = false
  readonly #decoder = new YamuxFrameDecoder(0xffffffff)
  #body: Buffer[] = []
  #current: RawFrame | undefined
  #waiters: (() => void)[] = []
  /** Answers to our own probe pings (see ping()); kept out of `frames`. */
  readonly #probes = new Map<number, () => void>()
  #probeId = 0xa0000000

  constructor(conn: Duplex, opts: { read?: boolean } = {}) {
    this.conn = conn
    conn.on('error', () => {})
    conn.on('end', () => {
      this.ended = true
      this.#wake()
    })
    conn.on('close', () => {
      this.ended = true
      this.#wake()
    })
    if (opts.read !== false) this.startReading()
  }

  startReading(): void {
    this.conn.on('data', (chunk: Buffer) => {
      this.#decoder.push(chunk)
      for (;;) {
        const r = this.#decoder.next()
        if (r === NEED_MORE) break
        const d = this.#decoder
        if (r === DECODED_HEADER) {
          const f: RawFrame = { type: d.type, flags: d.flags, streamId: d.streamId, length: d.length }
          const probe = d.type === TYPE_PING && d.flags & FLAG_ACK ? this.#probes.get(d.length) : undefined
          if (probe) {
            this.#probes.delete(d.length)
            probe()
            continue
          }
          if (d.type === TYPE_DATA && d.length > 0) {
            this.#current = f
            this.#body = []
          } else {
            if (d.type === TYPE_DATA) f.body = Buffer.alloc(0)
            this.frames.push(f)
          }
        } else if (r === DECODED_BODY) {
          this.#body.push(Buffer.from(d.body))
          if (d.bodyDone && this.#current) {
            this.#current.body = Buffer.concat(this.#body)
            this.frames.push(this.#current)
            this.#current = undefined
          }
        }
      }
      this.#wake()
    })
  }

  send(type: number, flags: number, streamId: number, length: number, body?: Uint8Array): boolean {
    const h = encodeHeader({ type, flags, streamId, length })
    if (body && body.length > 0) return this.conn.write(Buffer.concat([h, body]))
    return this.conn.write(h)
  }

  /**
   * A barrier: sends a Ping and waits for its answer (§8.5). The session handles frames
   * in order and sends frames in order, so once the answer is here it has handled every
   * frame sent before the ping, and every frame it queued while doing so arrived before
   * the answer. The answer is not recorded in `frames`.
   */
  async ping(ms = 5000): Promise<void> {
    const id = ++this.#probeId >>> 0
    const answered = new Promise<void>((resolve) => this.#probes.set(id, resolve))
    this.send(TYPE_PING, FLAG_SYN, 0, id)
    await within(answered, ms, `answer to ping ${id}`).finally(() => this.#probes.delete(id))
  }

  /** Waits until a received frame matches `pred` (searching from index `from`); returns it. */
  async waitFor(pred: (f: RawFrame) => boolean, ms = 5000, what = 'frame'): Promise<RawFrame> {
    const deadline = Date.now() + ms
    for (;;) {
      const f = this.frames.find(pred)
      if (f) return f
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.frames.map(({ body: _body, ...x }) => x))}`,
        )
      await within(new Promise<void>((resolve) => this.#waiters.push(resolve)), left, what).catch(() => {})
    }
  }

  /** Waits until the connection ended or closed. */
  async waitEnd(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms
    while (!this.ended) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for the connection to end')
      await within(new Promise<void>((resolve) => this.#waiters.push(resolve)), left, 'end').catch(() => {})
    }
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }
}
