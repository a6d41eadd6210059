// The tentacle-ts side of `npm run bench -- rust`: the same roles and the same
// result events as the Rust bench peer (bench/rust/src/main.rs), run in a
// long-lived child process (a Node start costs ~1 s, a Rust one ~1 ms) and
// driven over IPC: parent -> {id, cmd, ...} ; child -> {id, <event>}.
//   service-sink {total, window?, echo?} -> {listening: multiaddr}, per session {open: cpu}, {got: cpu}
//   service-send {dial, total, window?}  -> {start: cpu}, {done: ms, cpu}
//   setup        {dial, lanes, ms}       -> {clock: cpu} when the clock starts, {rate: sessions/s, cpu}
//   secio-sink   {total}                 -> {listening: port}, per connection {open: cpu}, {got: cpu}
//   secio-send   {port, total}           -> {start: cpu}, {done: ms, cpu}
//   stop         {job}                   -> {stopped: true} (closes a sink's listener)
//   cpu          {}                      -> {cpu}
//   phases       {on}                    -> {phases: true} (on: start tapping sockets) or
//                                           {phases: PhaseSummary} (off: stop, summarize; bench/rust/phases.ts)
// cpu = process.cpuUsage() user+system in microseconds (all threads); sinks and
// senders also report gc = major GCs of the process so far (the Rust peer has none).
import net from 'node:net'
import { once } from 'node:events'
import { constants, PerformanceObserver } from 'node:perf_hooks'
import { handshake, SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext } from '@tentacle-ts/tentacle'
import { listenTcp } from '../lib.ts'
import { startPhases, stopPhases } from './phases.ts'
import { lanes, tentacleClient } from '../service/client.ts'

export interface Command {
  id: number
  cmd: 'service-sink' | 'service-send' | 'setup' | 'secio-sink' | 'secio-send' | 'stop' | 'cpu' | 'phases'
  total?: number
  window?: number
  echo?: boolean
  dial?: string
  port?: number
  lanes?: number
  ms?: number
  job?: number
  on?: boolean
}

const MSG = 64 * 1024
const ACK = Uint8Array.of(1)
const cpu = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}
/** Major (mark-compact) GCs of this process so far (bench/rust.ts: receiver-major-gc). */
let majorGcs = 0
new PerformanceObserver((list) => {
  for (const e of list.getEntries())
    if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++
}).observe({ entryTypes: ['gc'] })

const yamuxConfig = (window?: number) => (window === undefined ? {} : { yamux: { maxStreamWindowSize: window } })

type Emit = (event: Record<string, unknown>) => void

/** Running listeners by job id. */
const sinks = new Map<number, () => Promise<void>>()

async function serviceSink(c: Command, emit: Emit): Promise<void> {
  const total = c.total ?? 0
  const got = new Map<number, number>()
  const service = new Service({
    key: SecioKeyPair.generate(),
    config: yamuxConfig(c.window),
    protocols: [
      {
        id: 1,
        handler: c.echo
          ? { received: (ctx: ProtocolSessionContext, data: Uint8Array) => ctx.send(data) }
          : {
              connected: (ctx: ProtocolSessionContext) => {
                got.set(ctx.session.id, 0)
                emit({ open: cpu(), gc: majorGcs })
              },
              received: (ctx: ProtocolSessionContext, data: Uint8Array) => {
                const n = (got.get(ctx.session.id) ?? 0) + data.length
                got.set(ctx.session.id, n)
                if (n === total) {
                  emit({ got: cpu(), gc: majorGcs })
                  ctx.send(ACK)
                }
              },
              disconnected: (ctx: ProtocolSessionContext) => {
                got.delete(ctx.session.id)
              },
            },
      },
    ],
  })
  const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
  sinks.set(c.id, () => service.shutdown())
  emit({ listening: `${addr.toString()}/p2p/${service.peerId}` })
}

async function serviceSend(c: Command, emit: Emit): Promise<void> {
  const total = c.total ?? 0
  const chunk = Buffer.alloc(MSG, 0x5a)
  let open!: (ctx: ProtocolSessionContext) => void
  let fail!: (e: unknown) => void
  let acked!: () => void
  const opened = new Promise<ProtocolSessionContext>((res, rej) => ((open = res), (fail = rej)))
  const ack = new Promise<void>((res) => (acked = res))
  const service = new Service({
    key: SecioKeyPair.generate(),
    config: yamuxConfig(c.window),
    protocols: [{ id: 1, handler: { connected: (ctx) => open(ctx), received: () => acked() } }],
    handler: { handleError: (e) => fail(e.error) },
  })
  try {
    await service.dial(c.dial!, { kind: 'single', id: 1 })
    const ctx = await opened
    emit({ start: cpu(), gc: majorGcs })
    const t0 = performance.now()
    // Backpressure: each message waits until the previous one was handed to yamux.
    for (let sent = 0; sent < total; sent += MSG) {
      if (!(await ctx.sendAsync(chunk))) throw new Error('tentacle: message dropped')
    }
    await ack
    const ms = performance.now() - t0
    emit({ done: ms, cpu: cpu(), gc: majorGcs })
  } finally {
    await service.shutdown()
  }
}

/**
 * Client keys per lane, used in turn, as the Rust dialer does: a Rust tentacle
 * listener refuses a session from a key it still has a session with (§12.2) and may
 * learn of the previous session's end after the dialer did. A refused session (a
 * few per run, against Rust only) is not counted.
 */
const KEYS = 4

async function setup(c: Command, emit: Emit): Promise<void> {
  const n = c.lanes ?? 1
  const clients = Array.from({ length: n }, () => Array.from({ length: KEYS }, tentacleClient))
  let clock = false
  let ok = 0
  let refused = 0
  try {
    const rate = await lanes(
      c.ms ?? 1000,
      n,
      (i) => {
        let k = 0
        return () =>
          clients[i]![k++ % KEYS]!.session(c.dial!).then(
            () => void (clock && ok++),
            () => void (clock && refused++),
          )
      },
      () => {
        clock = true
        emit({ clock: cpu() })
      },
    )
    emit({ rate: ok + refused === 0 ? rate : (rate * ok) / (ok + refused), refused, cpu: cpu() })
  } finally {
    await Promise.all(clients.flat().map((cl) => cl.service.shutdown()))
  }
}

const secioKey = SecioKeyPair.generate()

async function secioSink(c: Command, emit: Emit): Promise<void> {
  const total = c.total ?? 0
  const { port, close } = await listenTcp((socket) => {
    handshake(socket, { key: secioKey, ciphers: ['AES-128-GCM'] }).then(
      ({ stream }) => {
        emit({ open: cpu(), gc: majorGcs })
        stream.on('error', () => {})
        let got = 0
        stream.on('data', (b: Buffer) => {
          got += b.length
          if (got === total) {
            emit({ got: cpu(), gc: majorGcs })
            stream.write(ACK)
          }
        })
      },
      () => {},
    )
  })
  sinks.set(c.id, close)
  emit({ listening: port })
}

async function secioSend(c: Command, emit: Emit): Promise<void> {
  const total = c.total ?? 0
  const socket = net.connect({ port: c.port!, host: '127.0.0.1', noDelay: true })
  const { stream } = await handshake(socket, { key: secioKey, ciphers: ['AES-128-GCM'] })
  const chunk = Buffer.alloc(MSG, 0x5a)
  const ack = once(stream, 'data')
  emit({ start: cpu() })
  const t0 = performance.now()
  for (let sent = 0; sent < total; sent += MSG) {
    if (!stream.write(chunk)) await once(stream, 'drain')
  }
  await ack
  const ms = performance.now() - t0
  emit({ done: ms, cpu: cpu() })
  stream.destroy()
}

async function stop(c: Command, emit: Emit): Promise<void> {
  const close = sinks.get(c.job!)
  sinks.delete(c.job!)
  await close?.()
  emit({ stopped: true })
}

async function cpuNow(_: Command, emit: Emit): Promise<void> {
  emit({ cpu: cpu() })
}

async function phases(c: Command, emit: Emit): Promise<void> {
  if (c.on) {
    startPhases()
    emit({ phases: true })
  } else {
    emit({ phases: stopPhases() })
  }
}

const roles = {
  'service-sink': serviceSink,
  'service-send': serviceSend,
  setup,
  'secio-sink': secioSink,
  'secio-send': secioSend,
  stop,
  cpu: cpuNow,
  phases,
}

if (process.send !== undefined && process.argv.includes('--bench-rust-ts-peer')) {
  const send = process.send.bind(process)
  process.on('message', (c: Command) => {
    const emit: Emit = (e) => send({ id: c.id, ...e })
    roles[c.cmd](c, emit).catch((err: unknown) => emit({ error: String((err as Error)?.stack ?? err) }))
  })
  process.once('disconnect', () => process.exit(0))
  send({ ready: true })
}
