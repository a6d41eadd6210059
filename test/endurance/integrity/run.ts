/**
 * Data integrity over secio + yamux: many streams, random pauses, slow
 * readers, window exhaustion and resets; every byte of every stream that was
 * not reset must arrive whole and in order, and every reset stream must
 * report a typed error on both sides.
 *
 *   node --conditions=source --import tsx test/endurance/integrity/run.ts [--quick] [--mib N]
 *        [--streams N] [--seed N] [--reset-percent P]
 *
 * Default 1024 MiB over 100 streams; --quick 64 MiB. Two peers in this
 * process over TCP on 127.0.0.1: secio handshake (§3), yamux (§8) on the
 * encrypted stream, each peer opening half the streams. A stream carries
 * bytes from its opener to its acceptor; both ends keep a running SHA-256,
 * compared at the end. The acceptor half-closes after reading EOF, the opener
 * reads that EOF, so a reset by either side is seen by the other.
 * One JSON line per figure: {bench, value, unit, target, ok}; exit 1 when a
 * target is missed.
 */
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { SecioKeyPair, handshake } from '@tentacle-ts/secio'
import { Session, YamuxError, INITIAL_STREAM_WINDOW, type Stream } from '@tentacle-ts/yamux'
import { Rng } from '../fuzz/mutate.js'
import { figure, flag, option } from '../lib/figures.js'

export interface IntegrityOptions {
  totalBytes: number
  streams: number
  seed: number
  /** Share of streams reset mid-transfer (half by the sender, half by the receiver). */
  resetPercent: number
  /** Share of streams whose reader is slow (small reads and pauses). */
  slowPercent: number
  window: number
}

export interface StreamOutcome {
  index: number
  size: number
  plan: 'whole' | 'reset-by-sender' | 'reset-by-receiver'
  sentHash: string
  recvHash: string
  sent: number
  received: number
  /** Error code the sender's side saw (undefined: none). */
  senderError: string | undefined
  receiverError: string | undefined
  /** For reset streams: SHA-256 of the first `received` bytes the sender sent (filled in by runIntegrity). */
  sentPrefixHash?: string
  /** For reset streams: the pieces of POOL the sender wrote, in order. */
  pieces?: [number, number][]
}

export interface IntegrityResult {
  outcomes: StreamOutcome[]
  ms: number
  maxStreamBuffered: number
  maxSessionQueued: number
  rssBaseline: number
  rssPeak: number
  sessionErrors: string[]
}

const POOL = randomBytes(1 << 20)

function codeOf(err: unknown): string {
  return err instanceof YamuxError ? err.code : `untyped:${(err as Error)?.message ?? String(err)}`
}

/** Writes `size` bytes (slices of POOL at random offsets) with random pauses; resets at `resetAt` if set. */
async function send(stream: Stream, o: StreamOutcome, rng: Rng, resetAt: number | undefined): Promise<void> {
  const h = createHash('sha256')
  try {
    while (o.sent < o.size) {
      if (resetAt !== undefined && o.sent >= resetAt) {
        stream.reset()
        o.senderError = 'YAMUX_ERR_STREAM_RESET(local)'
        return
      }
      // Never write past the reset point in one go, so the reset always comes mid-stream.
      const n = Math.min(
        o.size - o.sent,
        (resetAt ?? Infinity) - o.sent,
        1 + rng.below(rng.oneIn(4) ? 256 * 1024 : 16 * 1024),
      )
      const at = rng.below(POOL.length - n + 1)
      const chunk = POOL.subarray(at, at + n)
      h.update(chunk)
      o.pieces?.push([at, n])
      o.sent += n
      await stream.write(chunk)
      if (rng.oneIn(64)) await sleep(1 + rng.below(10))
    }
    await stream.close()
    // The acceptor half-closes once it has read everything: EOF here, or a reset.
    for (let c = await stream.read(); c !== null; c = await stream.read()) {
      throw new Error(`stream ${o.index}: unexpected data back`)
    }
  } catch (err) {
    o.senderError ??= codeOf(err)
  } finally {
    o.sentHash = h.digest('hex')
  }
}

async function receive(
  stream: Stream,
  o: StreamOutcome,
  rng: Rng,
  slow: boolean,
  resetAt: number | undefined,
): Promise<void> {
  const h = createHash('sha256')
  try {
    for (;;) {
      if (resetAt !== undefined && o.received >= resetAt) {
        stream.reset()
        o.receiverError = 'YAMUX_ERR_STREAM_RESET(local)'
        return
      }
      const c = await stream.read(slow ? 1 + rng.below(8192) : Infinity)
      if (c === null) break
      h.update(c)
      o.received += c.length
      if (slow && rng.oneIn(8)) await sleep(1 + rng.below(5))
    }
    await stream.close()
  } catch (err) {
    o.receiverError ??= codeOf(err)
  } finally {
    o.recvHash = h.digest('hex')
  }
}

async function connectedPair(window: number): Promise<{ a: Session; b: Session; close: () => Promise<void> }> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const dialed = net.connect(port, '127.0.0.1')
  const [sa, sb] = [dialed, await accepted]
  server.close()
  const [ha, hb] = await Promise.all([
    handshake(sa, { key: SecioKeyPair.generate() }),
    handshake(sb, { key: SecioKeyPair.generate() }),
  ])
  const opts = { enableKeepalive: false, maxStreamWindowSize: window }
  const a = new Session(ha.stream, { role: 'client', ...opts })
  const b = new Session(hb.stream, { role: 'server', ...opts })
  return {
    a,
    b,
    async close() {
      await Promise.all([a.close(), b.close()])
    },
  }
}

export async function runIntegrity(opts: IntegrityOptions): Promise<IntegrityResult> {
  const rng = new Rng(opts.seed)
  const { a, b, close } = await connectedPair(opts.window)
  // Sizes: random weights scaled to the total.
  const weights = Array.from({ length: opts.streams }, () => 1 + rng.below(1000))
  const wsum = weights.reduce((x, y) => x + y, 0)
  const outcomes: StreamOutcome[] = weights.map((w, index) => ({
    index,
    size: Math.floor((opts.totalBytes * w) / wsum),
    plan: 'whole',
    sentHash: '',
    recvHash: '',
    sent: 0,
    received: 0,
    senderError: undefined,
    receiverError: undefined,
  }))
  const resets = Math.round((opts.streams * opts.resetPercent) / 100)
  for (let k = 0; k < resets; k++) {
    const o = outcomes[(k * 7919) % opts.streams]!
    o.plan = k % 2 === 0 ? 'reset-by-sender' : 'reset-by-receiver'
    o.pieces = []
  }

  let maxStreamBuffered = 0
  let maxSessionQueued = 0
  let rssPeak = 0
  const rssBaseline = process.memoryUsage().rss
  const live = new Set<Stream>()
  const sampler = setInterval(() => {
    for (const s of live) maxStreamBuffered = Math.max(maxStreamBuffered, s.bufferedBytes)
    maxSessionQueued = Math.max(maxSessionQueued, a.queuedBytes, b.queuedBytes)
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss)
  }, 20)

  const t0 = performance.now()
  const unattributed: string[] = []
  const acceptLoop = async (s: Session): Promise<void> => {
    for (let st = await s.accept(); st !== null; st = await s.accept()) {
      const stream = st
      // The first 4 bytes name the stream (its index), as an application header would.
      let head: Buffer
      try {
        head = await readExactly(stream, 4)
      } catch (err) {
        unattributed.push(codeOf(err))
        continue
      }
      const o = outcomes[head.readUInt32BE(0)]!
      live.add(stream)
      const slow = rng.below(100) < opts.slowPercent
      const resetAt = o.plan === 'reset-by-receiver' ? rng.below(Math.max(1, o.size >> 1)) : undefined
      void receive(stream, o, rng, slow, resetAt).finally(() => {
        live.delete(stream)
        done(o)
      })
    }
  }
  let finished = 0
  let allDone!: () => void
  const all = new Promise<void>((resolve) => (allDone = resolve))
  const halves = new Map<number, number>()
  const done = (o: StreamOutcome): void => {
    const n = (halves.get(o.index) ?? 0) + 1
    halves.set(o.index, n)
    if (n === 2 && ++finished === opts.streams) allDone()
  }
  const accepting = [acceptLoop(a), acceptLoop(b)]
  for (const o of outcomes) {
    const opener = o.index % 2 === 0 ? a : b
    const stream = await opener.openStream()
    live.add(stream)
    const hdr = Buffer.alloc(4)
    hdr.writeUInt32BE(o.index)
    await stream.write(hdr)
    const resetAt = o.plan === 'reset-by-sender' ? rng.below(Math.max(1, o.size >> 1)) : undefined
    void send(stream, o, new Rng(opts.seed + o.index), resetAt).finally(() => {
      live.delete(stream)
      done(o)
    })
  }
  // A stall is a failure, not a hang: give up after a generous deadline (≥ 5 MiB/s plus a minute).
  const deadlineMs = 60_000 + opts.totalBytes / (5 * 1024)
  let watchdog: NodeJS.Timeout | undefined
  const stalled = await Promise.race([
    all.then(() => false),
    new Promise<boolean>((resolve) => (watchdog = setTimeout(() => resolve(true), deadlineMs))),
  ])
  clearTimeout(watchdog)
  if (stalled) {
    console.error(`integrity: stalled after ${deadlineMs} ms with ${opts.streams - finished} streams unfinished`)
    a.destroy()
    b.destroy()
  }
  const ms = performance.now() - t0
  for (const o of outcomes) if (o.pieces !== undefined) o.sentPrefixHash = prefixHash(o.pieces, o.received)
  clearInterval(sampler)
  const sessionErrors = stalled ? ['stalled'] : [a.error, b.error].filter((e) => e !== undefined).map((e) => e!.code)
  sessionErrors.push(...unattributed.map((c) => `stream header: ${c}`))
  await close()
  await Promise.all(accepting)
  return { outcomes, ms, maxStreamBuffered, maxSessionQueued, rssBaseline, rssPeak, sessionErrors }
}

/** SHA-256 of the first `n` bytes of the POOL pieces. */
function prefixHash(pieces: readonly [number, number][], n: number): string {
  const h = createHash('sha256')
  for (const [at, len] of pieces) {
    if (n <= 0) break
    const take = Math.min(len, n)
    h.update(POOL.subarray(at, at + take))
    n -= take
  }
  return h.digest('hex')
}

async function readExactly(stream: Stream, n: number): Promise<Buffer> {
  const parts: Uint8Array[] = []
  let have = 0
  while (have < n) {
    const c = await stream.read(n - have)
    if (c === null) throw new Error('EOF before the stream header')
    parts.push(c)
    have += c.length
  }
  return Buffer.concat(parts)
}

/** Checks the outcomes; returns the figures (and prints them). */
export function judge(opts: IntegrityOptions, r: IntegrityResult): boolean {
  let ok = true
  const put = (bench: string, value: number, unit: string, target: number | string | null, pass: boolean): void => {
    figure({ bench, value, unit, target, ok: pass })
    if (!pass) ok = false
  }
  const whole = r.outcomes.filter((o) => o.plan === 'whole')
  const reset = r.outcomes.filter((o) => o.plan !== 'whole')
  const intact = whole.filter(
    (o) =>
      o.senderError === undefined &&
      o.receiverError === undefined &&
      o.sent === o.size &&
      o.received === o.size &&
      o.sentHash === o.recvHash,
  )
  for (const o of whole) {
    if (!intact.includes(o))
      console.error(
        `stream ${o.index}: size ${o.size} sent ${o.sent} received ${o.received} hashes ${o.sentHash === o.recvHash ? 'equal' : 'DIFFER'} errors ${o.senderError}/${o.receiverError}`,
      )
  }
  // A reset stream: the side that reset knows; the other side must see YAMUX_ERR_STREAM_RESET;
  // the bytes the receiver did get must be exactly the first bytes sent (prefix hash).
  const reported = reset.filter((o) => {
    const remote = o.plan === 'reset-by-sender' ? o.receiverError : o.senderError
    const local = o.plan === 'reset-by-sender' ? o.senderError : o.receiverError
    const good =
      remote === 'YAMUX_ERR_STREAM_RESET' &&
      local === 'YAMUX_ERR_STREAM_RESET(local)' &&
      o.received <= o.sent &&
      o.recvHash === o.sentPrefixHash
    if (!good)
      console.error(
        `reset stream ${o.index} (${o.plan}): sender ${o.senderError}, receiver ${o.receiverError}, sent ${o.sent} received ${o.received}, prefix ${o.recvHash === o.sentPrefixHash ? 'intact' : 'DIFFERS'}`,
      )
    return good
  })
  const verified = intact.reduce((s, o) => s + o.size, 0)
  const wanted = whole.reduce((s, o) => s + o.size, 0)
  put('integrity.streams_intact', intact.length, 'streams', whole.length, intact.length === whole.length)
  put(
    'integrity.bytes_verified',
    verified / 2 ** 20,
    'MiB',
    Math.round((wanted / 2 ** 20) * 100) / 100,
    verified === wanted,
  )
  put(
    'integrity.resets_reported_both_sides',
    reported.length,
    'streams',
    reset.length,
    reported.length === reset.length,
  )
  put('integrity.session_errors', r.sessionErrors.length, 'errors', 0, r.sessionErrors.length === 0)
  put(
    'integrity.max_stream_buffered',
    r.maxStreamBuffered / 1024,
    'KiB',
    opts.window / 1024,
    r.maxStreamBuffered <= opts.window,
  )
  put(
    'integrity.max_session_queued',
    r.maxSessionQueued / 1024,
    'KiB',
    1024 + 256,
    r.maxSessionQueued <= (1024 + 256) * 1024,
  )
  // Memory: both peers' receive windows full, plus the secio/socket buffers and the
  // 1 MiB pool; 2× the windows + 96 MiB for the runtime is the bound.
  const rssBound = 2 * opts.streams * opts.window + 96 * 2 ** 20
  put(
    'integrity.rss_growth',
    (r.rssPeak - r.rssBaseline) / 2 ** 20,
    'MiB',
    Math.round(rssBound / 2 ** 20),
    r.rssPeak - r.rssBaseline <= rssBound,
  )
  put(
    'integrity.throughput',
    r.outcomes.reduce((s, o) => s + o.received, 0) / 2 ** 20 / (r.ms / 1000),
    'MiB/s',
    null,
    true,
  )
  return ok
}

export function parseIntegrityArgs(args: readonly string[]): IntegrityOptions {
  const quick = flag(args, '--quick')
  return {
    totalBytes: Number(option(args, '--mib') ?? (quick ? 64 : 1024)) * 2 ** 20,
    streams: Number(option(args, '--streams') ?? 100),
    seed: Number(option(args, '--seed') ?? 1),
    resetPercent: Number(option(args, '--reset-percent') ?? 10),
    slowPercent: 20,
    window: INITIAL_STREAM_WINDOW,
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const opts = parseIntegrityArgs(process.argv.slice(2))
  console.error(
    `integrity: ${opts.totalBytes / 2 ** 20} MiB over ${opts.streams} streams (secio + yamux, TCP 127.0.0.1), ${opts.resetPercent}% reset, seed ${opts.seed}`,
  )
  const r = await runIntegrity(opts)
  process.exitCode = judge(opts, r) ? 0 : 1
}
