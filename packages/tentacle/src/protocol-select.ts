import { encodeFrame, LengthDelimitedDecoder } from '@tentacle-ts/codec'
import type { Stream } from '@tentacle-ts/yamux'
import { TentacleError } from './errors.js'
import { decodeProtocolInfo, encodeProtocolInfo, type ProtocolInfo } from './protocol-info.js'
import { selectVersion } from './select-version.js'

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

// ------------------------------------------------------------ the session's selections

/**
 * A protocol's own selection messages, encoded once (§9.1, §9.2): the
 * dialer's request and the listener's reply per version. Only replies naming
 * one of the protocol's versions are kept, so the cache is bounded by the
 * protocol's definition, whatever peers send.
 */
export class SelectMessages {
  readonly #name: string
  readonly #versions: readonly string[]
  #request: Uint8Array | undefined
  #replies: Map<string | undefined, Uint8Array> | undefined

  constructor(name: string, versions: readonly string[]) {
    this.#name = name
    this.#versions = versions
  }

  /** The request (§9.2 step 1), length prefix included. */
  request(): Uint8Array {
    return (this.#request ??= encodeFrame(
      encodeProtocolInfo({ name: this.#name, supportVersions: [...this.#versions] }),
    ))
  }

  /** The reply (§9.2 step 2) to a request for this protocol choosing `version` (none: an empty list), prefix included. */
  reply(version: string | undefined): Uint8Array {
    let r = this.#replies?.get(version)
    if (r !== undefined) return r
    r = encodeFrame(encodeProtocolInfo({ name: this.#name, supportVersions: version === undefined ? [] : [version] }))
    if (version === undefined || this.#versions.includes(version)) (this.#replies ??= new Map()).set(version, r)
    return r
  }
}

/** The protocol a selection is about: what the session's registry holds. */
export interface SelectableProtocol {
  readonly name: string
  readonly versions: string[]
  readonly selectVersion?: (local: readonly string[], remote: readonly string[]) => string | undefined
  readonly select: SelectMessages
}

/** What a {@link Selection} reports to its session. */
export interface SelectionHost<P extends SelectableProtocol> {
  /** Listener side: the local protocol with this wire name. */
  protocolByName(name: string): P | undefined
  /** §9.2 done: `sel.decoder` holds the bytes that followed the selection (step 4). */
  selected(sel: Selection<P>, proto: P, version: string): void
  /**
   * The selection failed (the stream is reset already): `protoName` as
   * protocol-select-error reports it, the message and its cause.
   */
  selectFailed(sel: Selection<P>, protoName: string | undefined, message: string, cause?: unknown): void
  /** §9.2 step 3: the listener answered with another protocol's name (the stream is reset already). */
  selectWrongName(sel: Selection<P>, answered: string): void
}

const WRITING = 0
const READING = 1
const DONE = 2

/**
 * One protocol selection on one yamux stream (§9.2), either side, without a
 * promise, an AbortController or a timer of its own: a named-state machine
 * driven by the stream's read and write callbacks, under the deadline its
 * {@link SelectionSet} keeps (§9.4). It reports exactly what the promise
 * version (`clientSelect`, `readOneFrame`) would: the same errors, messages
 * and causes.
 */
export class Selection<P extends SelectableProtocol> {
  readonly stream: Stream
  /** Reads the selection; then the selected protocol's messages (it keeps what followed, §9.2 step 4). */
  readonly decoder = new LengthDelimitedDecoder(MAX_SELECT_FRAME)
  /** `performance.now()` at which the selection times out. */
  readonly deadline: number
  /** The dialer's protocol; undefined on the listener's side. */
  readonly #proto: P | undefined
  readonly #host: SelectionHost<P>
  readonly #set: SelectionSet<P>
  #state = WRITING
  /** The deadline passed or the session ended (the AbortSignal of the promise version). */
  #expired = false
  /** Listener side, between reading the request and the reply's write: the answer. */
  #answerProto: P | undefined
  #answerVersion: string | undefined
  #answerName = ''
  /** The dialer's protocol; undefined on the listener's side. */
  get proto(): P | undefined {
    return this.#proto
  }

  /** The one callback: read wake-up (no argument) and write completion. */
  readonly #stepBound: (err?: Error) => void

  constructor(set: SelectionSet<P>, host: SelectionHost<P>, stream: Stream, proto: P | undefined, deadline: number) {
    this.#set = set
    this.#host = host
    this.stream = stream
    this.#proto = proto
    this.deadline = deadline
    this.#stepBound = (err?: Error) => this.#step(err)
  }

  /** Dialer: send the request, then read the reply. Listener: read the request. */
  start(): void {
    const proto = this.#proto
    if (proto === undefined) {
      this.#state = READING
      this.#pump()
    } else {
      let request: Uint8Array
      try {
        request = proto.select.request()
      } catch (err) {
        return this.#fail(undefined, (err as Error).message, err)
      }
      this.#state = WRITING
      this.stream.writeCb(request, this.#stepBound)
    }
  }

  /** The deadline passed or the session ended: a pending read ends with "timed out" (the stream reset). */
  expire(): void {
    if (this.#expired || this.#state === DONE) return
    this.#expired = true
    if (this.#state === READING) {
      // Wakes the pending read: readNow() throws YAMUX_ERR_STREAM_RESET, the pump reports "timed out".
      this.stream.reset()
      if (this.#state === READING) this.#pump()
    }
  }

  #step(err: Error | undefined): void {
    if (this.#state === READING) return this.#pump()
    if (this.#state !== WRITING) return
    if (err !== undefined) return this.#fail(undefined, err.message, err)
    if (this.#proto !== undefined) {
      // Dialer: request sent, read the reply.
      this.#state = READING
      this.#pump()
      return
    }
    // Listener: reply sent (§9.4: reply first, then drop the stream when nothing matched).
    const proto = this.#answerProto
    const version = this.#answerVersion
    if (proto === undefined || version === undefined) {
      return this.#fail(this.#answerName, `no common protocol/version for "${this.#answerName}"`)
    }
    this.#succeed(proto, version)
  }

  /** readOneFrame's loop. */
  #pump(): void {
    const decoder = this.decoder
    for (;;) {
      if (this.#expired) return this.#readFailed('timed out')
      let frame: Uint8Array | null
      try {
        frame = decoder.next()
      } catch (err) {
        return this.#readFailed('bad frame', err)
      }
      if (frame !== null) return this.#gotFrame(frame)
      let chunk: Uint8Array | null | undefined
      try {
        chunk = this.stream.readNow()
      } catch (err) {
        return this.#readFailed(this.#expired ? 'timed out' : 'stream reset', err)
      }
      if (chunk === undefined) {
        this.stream.onReadable(this.#stepBound)
        return
      }
      if (chunk === null) return this.#readFailed('unexpected EOF')
      decoder.push(chunk)
    }
  }

  #readFailed(why: string, cause?: unknown): void {
    const err = new TentacleError('TENTACLE_ERR_PROTOCOL_SELECT', `protocol selection: ${why}`, { cause })
    this.#fail(undefined, err.message, err)
  }

  #gotFrame(frame: Uint8Array): void {
    const proto = this.#proto
    let info: ProtocolInfo
    try {
      info = decodeProtocolInfo(frame)
    } catch (err) {
      return this.#fail(undefined, (err as Error).message, err)
    }
    if (proto !== undefined) {
      // Dialer (§9.2 step 3): the reply's last version.
      if (info.name !== proto.name) {
        this.#end()
        this.stream.reset()
        this.#host.selectWrongName(this, info.name)
        return
      }
      const version = info.supportVersions[info.supportVersions.length - 1]
      if (version === undefined) {
        return this.#fail(proto.name, `the peer does not support "${proto.name}" ${JSON.stringify(proto.versions)}`)
      }
      return this.#succeed(proto, version)
    }
    // Listener (§9.2 step 2, §9.3): our choice of version, or none.
    let reply: Uint8Array
    try {
      const local = this.#host.protocolByName(info.name)
      const version =
        local === undefined
          ? undefined
          : local.selectVersion
            ? local.selectVersion(local.versions, info.supportVersions)
            : selectVersion(local.versions, info.supportVersions)
      this.#answerProto = local
      this.#answerVersion = version
      this.#answerName = info.name
      reply =
        local !== undefined
          ? local.select.reply(version)
          : encodeFrame(encodeProtocolInfo({ name: info.name, supportVersions: [] }))
    } catch (err) {
      return this.#fail(undefined, (err as Error).message, err)
    }
    this.#state = WRITING
    this.stream.writeCb(reply, this.#stepBound)
  }

  #succeed(proto: P, version: string): void {
    this.#end()
    this.#host.selected(this, proto, version)
  }

  #fail(protoName: string | undefined, message: string, cause?: unknown): void {
    this.#end()
    this.stream.reset()
    this.#host.selectFailed(this, protoName, message, cause)
  }

  #end(): void {
    this.#state = DONE
    this.#set.delete(this)
  }
}

/**
 * A session's selections in progress, under one deadline for all of them
 * (§9.4: each selection has the service timeout). Every selection gets the
 * same timeout, so deadlines come in start order. The session's own timer
 * (its SessionTimeout, armed when it starts, before any selection) calls
 * {@link tick} when it fires, at or before the first deadline: most sessions
 * select in time and no timer is made here at all. A tick expires every
 * selection due and arms this set's timer for the next one, if any.
 * {@link expireAll} (the session's end) expires the rest.
 */
export class SelectionSet<P extends SelectableProtocol> {
  readonly #timeoutMs: number
  readonly #host: SelectionHost<P>
  /** In start order (a Set iterates in insertion order). */
  readonly #live = new Set<Selection<P>>()
  #timer: NodeJS.Timeout | undefined
  /** The owner's timer will call {@link tick} (see {@link tickComing}). */
  #tickComing = false

  constructor(host: SelectionHost<P>, timeoutMs: number) {
    this.#host = host
    this.#timeoutMs = timeoutMs
  }

  get size(): number {
    return this.#live.size
  }

  /**
   * The owner armed a timer of this set's timeout that will call {@link tick}:
   * selections started from now on are due no earlier than it fires.
   */
  tickComing(): void {
    this.#tickComing = true
  }

  /** Starts a selection (the session is open): the dialer's for `proto`, or (proto undefined) the listener's. */
  start(stream: Stream, proto: P | undefined): Selection<P> {
    const sel = new Selection(this, this.#host, stream, proto, performance.now() + this.#timeoutMs)
    this.#live.add(sel)
    // Without the owner's tick, one timer for the set, left armed while the session lives
    // (a timer per selection costs more than an idle one).
    if (!this.#tickComing) this.#timer ??= setTimeout(onDeadline, this.#timeoutMs, this)
    sel.start()
    return sel
  }

  /** @internal A selection finished. */
  delete(sel: Selection<P>): void {
    this.#live.delete(sel)
  }

  /** The session ended: every selection in progress fails (stream reset); no timer is left. */
  expireAll(): void {
    this.#tickComing = false
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#live.size > 0) for (const sel of [...this.#live]) sel.expire()
  }

  /** The owner's timer fired: expire what is due; this set's own timer takes over the rest. */
  tick(): void {
    this.#tickComing = false
    this.onDeadline()
  }

  /** @internal A deadline passed (this set's timer fired, or the owner's tick). */
  onDeadline(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    if (this.#live.size === 0) return
    const now = performance.now()
    for (const sel of [...this.#live]) {
      // Node timers may fire up to a millisecond before performance.now() says they are due.
      const left = sel.deadline - now
      if (left > 1) {
        this.#timer = setTimeout(onDeadline, Math.ceil(left), this)
        return
      }
      sel.expire()
    }
  }
}

function onDeadline(set: SelectionSet<SelectableProtocol>): void {
  set.onDeadline()
}
