/**
 * A TCP tap for kill tests against peers we cannot stop at a phase from the
 * inside (Rust tentacle): it sits between the survivor and the peer,
 * forwards bytes both ways, reads the peer's bytes as they pass, and once it
 * has forwarded the peer's bytes up to the chosen point it holds everything
 * after it and calls `onCut` (the test SIGKILLs the peer there). When the
 * dead peer's socket then closes, the tap closes the survivor's side the
 * same way: FIN after a FIN, RST after a reset; and, as the kernel of a dead
 * process does, it answers any later byte from the survivor with RST.
 *
 * Cut points (`TapPhase`), in the peer's byte stream:
 *   tcp          both legs connected, nothing of the peer forwarded
 *   propose      its first secio frame (Propose, §3.1 step 1)
 *   exchange     its first two frames (Propose, Exchange): no nonce echo
 *   nonce        its first three frames (… and the nonce echo, §3.1 step 3)
 *   secio-frame  … then the 4-byte length and half of its next (encrypted) frame
 *   select       plaintext yamux: every frame before its first Data frame with a
 *                body (the selection's ProtocolInfo or its answer, §9.2)
 *   message      plaintext yamux: its first protocol message (the second
 *                length-delimited frame on a stream, §10.1), cut after half of
 *                the message; the Data frame carrying it is re-headed to end there
 *   yamux-frame  the same half message, but inside the Data frame: its header
 *                keeps the full length, so the yamux frame is cut too
 *   idle         everything, until `cutNow()` (the test kills the peer when it
 *                chooses: quiet, or frozen with our bytes unread in its kernel)
 */
import net from 'node:net'

export type TapPhase =
  'tcp' | 'propose' | 'exchange' | 'nonce' | 'secio-frame' | 'select' | 'message' | 'yamux-frame' | 'idle'

/** Where to cut: forward `at` bytes of the peer's stream, then `tail` (a rewritten frame), then nothing. */
interface Cut {
  at: number
  tail?: Buffer
}

/** The cut point, if the bytes so far decide it; otherwise how many bytes are surely before it. */
type Decision = { cut: Cut } | { safe: number }

const YAMUX_HEADER = 12
const TYPE_DATA = 0

/** Length-delimited (u32be) frame boundaries in `b`: [start, end) of each complete frame, and the next start. */
function ldFrames(b: Buffer, max: number): { frames: [number, number][]; next: number } {
  const frames: [number, number][] = []
  let off = 0
  while (frames.length < max && off + 4 <= b.length) {
    const end = off + 4 + b.readUInt32BE(off)
    if (end > b.length) break
    frames.push([off, end])
    off = end
  }
  return { frames, next: off }
}

function decideSecio(phase: TapPhase, b: Buffer): Decision {
  const n = phase === 'propose' ? 1 : phase === 'exchange' ? 2 : 3
  const { frames, next } = ldFrames(b, n)
  if (phase !== 'secio-frame') return frames.length === n ? { cut: { at: frames[n - 1]![1] } } : { safe: next }
  if (frames.length < 3 || next + 4 > b.length) return { safe: next }
  const len = b.readUInt32BE(next)
  // At least one byte of the frame, never all of it.
  return { cut: { at: next + 4 + Math.max(1, Math.floor(len / 2)) } }
}

/** Plaintext yamux (§8.1) with each stream's bodies read as u32be length-delimited frames (§9.2, §10.1). */
function decideYamux(phase: TapPhase, b: Buffer): Decision {
  const streams = new Map<number, Buffer>()
  let off = 0
  for (;;) {
    if (off + YAMUX_HEADER > b.length) return { safe: off }
    const type = b[off + 1]!
    const id = b.readUInt32BE(off + 4)
    const length = b.readUInt32BE(off + 8)
    const body = type === TYPE_DATA ? length : 0
    if (phase === 'select' && type === TYPE_DATA && length > 0) return { cut: { at: off } }
    if (phase === 'message' || phase === 'yamux-frame') {
      if (type === TYPE_DATA && length > 0) {
        // The stream's bytes before this frame, and where its first frame (the selection) ends.
        const before = streams.get(id) ?? Buffer.alloc(0)
        const available = b.subarray(off + YAMUX_HEADER, Math.min(b.length, off + YAMUX_HEADER + length))
        const joined = Buffer.concat([before, available])
        const sel = ldFrames(joined, 1)
        const m = sel.next // where the stream's first message starts (after its selection frame)
        if (sel.frames.length === 1 && m < joined.length) {
          if (m < before.length || m + 4 > length + before.length) {
            throw new Error('tap: a message header split across yamux frames is not handled')
          }
          if (m + 4 > joined.length) return { safe: off }
          // The message starts in this frame: cut after half of it.
          const half = m + 4 + Math.max(1, Math.floor(joined.readUInt32BE(m) / 2)) - before.length
          if (half > length) throw new Error('tap: a message spread over several yamux frames is not handled')
          if (half > available.length) return { safe: off }
          if (phase === 'yamux-frame') return { cut: { at: off + YAMUX_HEADER + half } }
          const head = Buffer.from(b.subarray(off, off + YAMUX_HEADER))
          head.writeUInt32BE(half, 8)
          const kept = b.subarray(off + YAMUX_HEADER, off + YAMUX_HEADER + half)
          return { cut: { at: off, tail: Buffer.concat([head, kept]) } }
        }
      }
    }
    if (off + YAMUX_HEADER + body > b.length) return { safe: off }
    if (body > 0) {
      streams.set(
        id,
        Buffer.concat([streams.get(id) ?? Buffer.alloc(0), b.subarray(off + YAMUX_HEADER, off + YAMUX_HEADER + body)]),
      )
    }
    off += YAMUX_HEADER + body
  }
}

function decide(phase: TapPhase, b: Buffer): Decision {
  switch (phase) {
    case 'tcp':
      return { cut: { at: 0 } }
    case 'idle':
      return { safe: b.length }
    case 'propose':
    case 'exchange':
    case 'nonce':
    case 'secio-frame':
      return decideSecio(phase, b)
    default:
      return decideYamux(phase, b)
  }
}

export interface TapOptions {
  /** Where the tap connects for each connection it accepts. */
  target: { host: string; port: number }
  /** Which side of the tap the peer (the one to kill) is on: it dials the tap, or the tap dials it. */
  peerIs: 'accepted' | 'target'
  phase: TapPhase
  /** Called once, when the tap has forwarded the peer's bytes up to the cut point. */
  onCut: () => void
}

/** One tap: one listening socket, at most one tapped connection (a second one is refused). */
export class KillTap {
  readonly #opts: TapOptions
  readonly #server: net.Server
  readonly #sockets = new Set<net.Socket>()
  #used = false
  #cutDone = false
  #cutNow: (() => void) | undefined
  #toPeerWaiters: (() => void)[] = []
  /** How the peer's side closed after the cut ('fin' or 'reset'); undefined until it did. */
  peerClosed: 'fin' | 'reset' | undefined
  /** Bytes of the peer forwarded to the survivor (the tail included). */
  forwarded = 0

  constructor(opts: TapOptions) {
    this.#opts = opts
    this.#server = net.createServer((socket) => this.#accepted(socket))
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(0, '127.0.0.1', () => resolve())
    })
    return (this.#server.address() as net.AddressInfo).port
  }

  /** For `idle`: cut now (everything received so far was forwarded). */
  cutNow(): void {
    if (this.#cutNow === undefined) throw new Error('tap: no connection to cut')
    this.#cutNow()
  }

  /** Resolves once the survivor's next bytes were handed to the peer's socket (its kernel has them). */
  nextToPeer(): Promise<void> {
    return new Promise((resolve) => this.#toPeerWaiters.push(resolve))
  }

  /** Closes the listening socket and destroys what is left; resolves once every handle closed. */
  async close(): Promise<void> {
    const closed = [...this.#sockets].map(
      (s) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r()))),
    )
    for (const s of this.#sockets) s.destroy()
    await Promise.all([...closed, new Promise<void>((r) => this.#server.close(() => r()))])
  }

  #track(s: net.Socket): void {
    this.#sockets.add(s)
    s.once('close', () => this.#sockets.delete(s))
  }

  #accepted(accepted: net.Socket): void {
    this.#track(accepted)
    // Errors are seen through 'close' (and, once wired, the reset flag): never an unhandled 'error'.
    accepted.on('error', () => {})
    if (this.#used) {
      accepted.resetAndDestroy()
      return
    }
    this.#used = true
    accepted.pause()
    const connected = net.connect({ ...this.#opts.target, noDelay: true })
    this.#track(connected)
    connected.once('connect', () => {
      const [peer, survivor] = this.#opts.peerIs === 'accepted' ? [accepted, connected] : [connected, accepted]
      this.#wire(peer, survivor)
      accepted.resume()
    })
    connected.on('error', () => accepted.resetAndDestroy())
  }

  #wire(peer: net.Socket, survivor: net.Socket): void {
    peer.setNoDelay(true)
    survivor.setNoDelay(true)
    const phase = this.#opts.phase
    let seen = Buffer.alloc(0)
    const cut = (c: Cut): void => {
      if (this.#cutDone) return
      this.#cutDone = true
      if (c.at > this.forwarded) survivor.write(seen.subarray(this.forwarded, c.at))
      if (c.tail !== undefined) survivor.write(c.tail)
      this.forwarded = Math.max(this.forwarded, c.at) + (c.tail?.length ?? 0)
      this.#opts.onCut()
    }
    // idle: everything received was forwarded, and `seen` is not kept.
    this.#cutNow = () => cut({ at: this.forwarded })
    peer.on('data', (chunk: Buffer) => {
      if (this.#cutDone) return // held: the dead never said it
      if (phase === 'idle') {
        survivor.write(chunk)
        this.forwarded += chunk.length
        return
      }
      seen = Buffer.concat([seen, chunk])
      const d = decide(phase, seen)
      if ('cut' in d) return cut(d.cut)
      if (d.safe > this.forwarded) {
        survivor.write(seen.subarray(this.forwarded, d.safe))
        this.forwarded = d.safe
      }
    })
    survivor.on('data', (chunk: Buffer) => {
      if (this.#cutDone) return // lost in the dead peer's buffers
      peer.write(chunk, () => {
        for (const w of this.#toPeerWaiters.splice(0)) w()
      })
    })
    // The peer's end, mirrored to the survivor once the cut happened (before it, a close is a failure of the test).
    let reset = false
    peer.on('error', () => (reset = true))
    peer.once('close', () => {
      this.peerClosed = reset ? 'reset' : 'fin'
      if (reset) return void survivor.resetAndDestroy()
      survivor.end()
      // A byte after the FIN reaches a socket nobody owns: the kernel answers with RST.
      survivor.on('data', () => survivor.resetAndDestroy())
      survivor.once('end', () => survivor.destroy())
    })
    survivor.on('error', () => {})
    survivor.once('close', () => peer.destroy())
    if (phase === 'tcp') cut({ at: 0 })
  }
}
