import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { encodeFrame, LengthDelimitedDecoder } from '@tentacle-ts/codec'
import { handshake, isSecioError, PeerId, SecioKeyPair, type HandshakePhase } from '@tentacle-ts/secio'
import { clientSelect, MAX_SELECT_FRAME, readOneFrame, tcpTarget, toMultiaddr } from '@tentacle-ts/tentacle'
import { Session as MuxSession, type Stream } from '@tentacle-ts/yamux'

/** The phases of a dial, in order (§1 timeline). */
export type DialPhase =
  'tcp-connect' | 'secio-propose' | 'secio-exchange' | 'secio-nonce-echo' | 'yamux' | 'protocol-select' | 'ping'

export interface PhaseTiming {
  phase: DialPhase
  /** Milliseconds spent in this phase. */
  ms: number
}

/** How to speak a ping protocol: enough to send one Ping and recognise its Pong. */
export interface PingCodec {
  name: string
  versions: string[]
  encodePing(nonce: number): Uint8Array
  /** The nonce of a Pong, or undefined for anything else. */
  pongNonce(message: Uint8Array): number | undefined
}

export interface ProbeOptions {
  /** `/ip4/H/tcp/P[/p2p/ID]` (or ip6, dns4/6). */
  address: string
  /** Our identity; default a new key. */
  key?: SecioKeyPair
  /** Protocol to select; default `ping`'s. */
  protocol?: { name: string; versions: string[] }
  /** Ping codec; when the selected protocol is its name, one ping is timed. */
  ping?: PingCodec
  /** Deadline of the TCP connect, of the handshake (§3.14), of the selection and of the ping, each. Default 10 000. */
  timeoutMs?: number
}

export interface ProbeResult {
  ok: boolean
  address: string
  /** The peer's id, once its Propose arrived. */
  peerId?: string
  suite?: { agreement: string; cipher: string; digest: string }
  phases: PhaseTiming[]
  /** The selected protocol, or undefined when the peer refused it. */
  protocol?: { name: string; version: string }
  pingRttMs?: number
  /** Facts worth saying that are not failures (e.g. the peer does not speak ping). */
  notes: string[]
  /** On failure: where, and the typed error. */
  failedPhase?: DialPhase
  error?: { code: string; message: string; bytesReceived?: number }
  totalMs: number
}

/** How long the default (unrequested) ping waits for its Pong. */
const DEFAULT_PING_WAIT_MS = 2_000

const SECIO_PHASE: Record<HandshakePhase, DialPhase> = {
  'awaiting-propose': 'secio-propose',
  'awaiting-exchange': 'secio-exchange',
  'awaiting-nonce-echo': 'secio-nonce-echo',
}

class PhaseError extends Error {
  constructor(
    readonly phase: DialPhase,
    readonly code: string,
    message: string,
    readonly bytesReceived?: number,
  ) {
    super(message)
  }
}

/**
 * Dials one peer the way a tentacle node does (TCP, secio, yamux, protocol
 * selection, §1) and times each phase; never throws for a network failure:
 * the result names the phase that failed and the error's stable code.
 * Throws only for a malformed address (TENTACLE_ERR_INVALID_MULTIADDR,
 * TENTACLE_ERR_UNSUPPORTED_MULTIADDR).
 */
export async function probe(opts: ProbeOptions): Promise<ProbeResult> {
  const target = tcpTarget(toMultiaddr(opts.address))
  const expectedPeerId = target.peerId === undefined ? undefined : PeerId.parse(target.peerId)
  const timeoutMs = opts.timeoutMs ?? 10_000
  const key = opts.key ?? SecioKeyPair.generate()
  const result: ProbeResult = { ok: false, address: opts.address, phases: [], notes: [], totalMs: 0 }
  const started = performance.now()
  let mark = started
  const done = (phase: DialPhase, at = performance.now()): void => {
    result.phases.push({ phase, ms: round(at - mark) })
    mark = at
  }
  let socket: net.Socket | undefined
  let mux: MuxSession | undefined
  try {
    socket = await connect(target.host, target.port, target.family, timeoutMs)
    done('tcp-connect')
    const hsStart = performance.now()
    let secured
    try {
      secured = await handshake(socket, {
        key,
        timeoutMs,
        expectedPeerId,
        onPhase: (completed, elapsedMs) => done(SECIO_PHASE[completed], hsStart + elapsedMs),
      })
    } catch (err) {
      if (!isSecioError(err)) throw err
      throw new PhaseError(SECIO_PHASE[err.phase ?? 'awaiting-propose'], err.code, err.message, err.bytesReceived)
    }
    result.peerId = secured.remotePeerId.toString()
    result.suite = { ...secured.suite }
    // yamux has no handshake of its own (§8): this is the session, plus the stream's SYN when a protocol is wanted.
    mux = new MuxSession(secured.stream, { role: 'client', enableKeepalive: false })
    const protocol = opts.protocol ?? (opts.ping ? { name: opts.ping.name, versions: opts.ping.versions } : undefined)
    if (protocol === undefined) {
      done('yamux')
      result.notes.push('no protocol to select (no --protocol, and no ping protocol in the preset)')
      result.ok = true
      return result
    }
    let stream: Stream
    try {
      stream = mux.openStreamSync()
    } catch (err) {
      throw new PhaseError('yamux', codeOf(err, 'CLI_ERR_DIAL_MUXER'), (err as Error).message)
    }
    done('yamux')
    const decoder = new LengthDelimitedDecoder(MAX_SELECT_FRAME)
    let selected
    try {
      selected = await withDeadline(timeoutMs, (signal) =>
        clientSelect(stream, { name: protocol.name, supportVersions: protocol.versions }, decoder, signal),
      )
    } catch (err) {
      const why = err instanceof DeadlineError ? `no answer within ${timeoutMs} ms` : (err as Error).message
      throw new PhaseError(
        'protocol-select',
        err instanceof DeadlineError
          ? 'CLI_ERR_DIAL_PROTOCOL_SELECT_TIMEOUT'
          : codeOf(err, 'CLI_ERR_DIAL_PROTOCOL_SELECT'),
        muxReason(mux, why),
      )
    }
    if (selected.version === undefined) {
      if (opts.protocol !== undefined) {
        throw new PhaseError(
          'protocol-select',
          'CLI_ERR_DIAL_PROTOCOL_SELECT',
          `the peer does not support ${protocol.name} ${JSON.stringify(protocol.versions)}`,
        )
      }
      // The default ping is only tried: a peer without it is still a good peer.
      done('protocol-select')
      result.notes.push(`the peer does not speak ${protocol.name} ${JSON.stringify(protocol.versions)}: no ping RTT`)
      result.ok = true
      return result
    }
    done('protocol-select')
    result.protocol = { name: selected.name, version: selected.version }
    const ping = opts.ping
    if (ping !== undefined && selected.name === ping.name) {
      // The default ping is a guess (tentacle's /p2p/1 may be another protocol): a short wait, and silence is a note.
      const guess = opts.protocol === undefined
      const pingTimeoutMs = guess ? Math.min(timeoutMs, DEFAULT_PING_WAIT_MS) : timeoutMs
      const nonce = (Math.random() * 0xffffffff) >>> 0
      const t0 = performance.now()
      let answered = true
      try {
        await withDeadline(pingTimeoutMs, async (signal) => {
          await stream.write(encodeFrame(ping.encodePing(nonce)))
          // The peer may send its own Ping first; wait for our Pong.
          for (;;) {
            const msg = await readOneFrame(stream, decoder, signal)
            if (ping.pongNonce(msg) === nonce) return
          }
        })
      } catch (err) {
        if (!(err instanceof DeadlineError))
          throw new PhaseError(
            'ping',
            'CLI_ERR_DIAL_PING',
            muxReason(mux, (err as Error).message.replace(/^protocol selection: /, '')),
          )
        if (!guess) throw new PhaseError('ping', 'CLI_ERR_DIAL_PING_TIMEOUT', `no Pong within ${pingTimeoutMs} ms`)
        result.notes.push(
          `the peer took ${selected.name} but sent no Pong within ${pingTimeoutMs} ms: it is not a ping protocol there; no ping RTT`,
        )
        answered = false
      }
      if (answered) {
        result.pingRttMs = round(performance.now() - t0)
        done('ping')
      }
    }
    result.ok = true
    return result
  } catch (err) {
    if (err instanceof PhaseError) {
      result.failedPhase = err.phase
      result.error = {
        code: err.code,
        message: err.message,
        ...(err.bytesReceived !== undefined ? { bytesReceived: err.bytesReceived } : {}),
      }
    } else {
      throw err
    }
    return result
  } finally {
    result.totalMs = round(performance.now() - started)
    if (mux !== undefined) {
      // Say goodbye properly (GoAway), but do not wait long for a peer that does not answer.
      const closing = mux.close()
      const timer = setTimeout(() => mux?.destroy(), 1_000)
      await closing
      clearTimeout(timer)
    }
    socket?.destroy()
  }
}

function connect(host: string, port: number, family: 4 | 6 | undefined, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, family, noDelay: true })
    const timer = setTimeout(
      () =>
        fail(
          new PhaseError(
            'tcp-connect',
            'CLI_ERR_DIAL_CONNECT_TIMEOUT',
            `no answer from ${host}:${port} within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    )
    const fail = (err: Error): void => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    }
    socket.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        new PhaseError(
          'tcp-connect',
          err.code ?? 'CLI_ERR_DIAL_CONNECT',
          `connect to ${host}:${port} failed: ${err.code ?? err.message}`,
        ),
      ),
    )
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      resolve(socket)
    })
  })
}

/** What {@link withDeadline} throws when the deadline, not `fn`, ended the wait. */
class DeadlineError extends Error {}

/** Runs `fn` with a signal aborted after `ms`; a failure after the abort is a {@link DeadlineError}. */
async function withDeadline<T>(ms: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(), ms)
  try {
    return await fn(ac.signal)
  } catch (err) {
    throw ac.signal.aborted ? new DeadlineError(`timed out after ${ms} ms`, { cause: err }) : err
  } finally {
    clearTimeout(timer)
  }
}

/** A stream failure is often the session's: say why the session ended when it did. */
function muxReason(mux: MuxSession, message: string): string {
  if (mux.state !== 'ended') return message
  const why =
    mux.error?.message ?? (mux.endReason === 'remote-go-away' ? 'the peer sent GoAway' : 'the connection closed')
  return `${message} (${why})`
}

function codeOf(err: unknown, fallback: string): string {
  const c = (err as { code?: unknown })?.code
  return typeof c === 'string' ? c : fallback
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
