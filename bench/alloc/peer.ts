// One side of `npm run bench -- alloc` (bench/alloc.ts), in its own process
// (run with --expose-gc), driven over IPC: parent -> {id, cmd, ...}; child -> {id, <event>}.
//   sink    {kind, total}       -> {listening: port | multiaddr}; once `total` bytes of one
//                                  connection arrived: {result: Usage} (then it answers 1 byte)
//   arm     {}                  -> {armed}: the sink measures from now (the next bytes it gets)
//   connect {kind, dial, total} -> {ready} once the connection (and protocol) is up
//   go      {}                  -> the sender measures from now, sends, {result: Usage} at the answer
//   stop    {}                  -> {stopped}: listeners closed
// kind: 'tcp' (raw node:net), 'secio' (secio alone, AES-128-GCM), 'service'
// (Service: secio + yamux + protocol 1, tentacle's length-delimited codec).
import net from 'node:net'
import { once } from 'node:events'
import v8 from 'node:v8'
import { Session as InspectorSession } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { handshake, SecioKeyPair, type SecureStream } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext } from '@tentacle-ts/tentacle'
import { listenTcp } from '../lib.ts'

export type Kind = 'tcp' | 'secio' | 'service'
export interface Command {
  id: number
  cmd: 'sink' | 'arm' | 'connect' | 'go' | 'stop'
  kind?: Kind
  total?: number
  dial?: string | number
}
/** What one side allocated over one measured transfer. */
export interface Usage {
  /** JS heap bytes allocated (young and old generation, large objects). */
  heapBytes: number
  /** Growth of V8's external memory between GCs (ArrayBuffer backing stores): a lower bound, frees overlap. */
  externalBytes: number
  scavenges: number
  markCompacts: number
  /** CPU time, user + system, µs. */
  cpuUs: number
}

const MSG = 64 * 1024
const ACK = Uint8Array.of(1)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('bench/alloc/peer.ts needs --expose-gc')

interface Stats {
  usedHeapSize: number
  externalMemory: number
}

/**
 * Allocation over an interval: the heap is collected at the start, then every
 * GC's before/after sizes (v8.GCProfiler) give what was allocated between GCs.
 */
class Meter {
  /** BENCH_ALLOC_PROFILE=<prefix>: also sample allocation sites (collected objects included) into <prefix>.<pid>.<n>.heapprofile. */
  #sampler: InspectorSession | undefined
  #profiles = 0
  #profiler: v8.GCProfiler | undefined
  #used0 = 0
  #ext0 = 0
  #cpu0 = 0

  start(): void {
    gc!()
    gc!()
    const h = v8.getHeapStatistics()
    this.#used0 = h.used_heap_size
    this.#ext0 = h.external_memory
    this.#profiler = new v8.GCProfiler()
    this.#profiler.start()
    if (process.env.BENCH_ALLOC_PROFILE) {
      this.#sampler ??= new InspectorSession()
      this.#sampler.connect()
      this.#sampler.post('HeapProfiler.startSampling', {
        samplingInterval: 4096,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      })
    }
    const c = process.cpuUsage()
    this.#cpu0 = c.user + c.system
  }

  stop(): Usage {
    const c = process.cpuUsage()
    const cpuUs = c.user + c.system - this.#cpu0
    const h = v8.getHeapStatistics()
    const sampler = this.#sampler
    if (sampler !== undefined) {
      const file = `${process.env.BENCH_ALLOC_PROFILE}.${process.pid}.${this.#profiles++}.heapprofile`
      sampler.post('HeapProfiler.stopSampling', (err, r) => {
        if (!err) writeFileSync(file, JSON.stringify((r as { profile: unknown }).profile))
        sampler.disconnect()
      })
    }
    const stats = (
      this.#profiler!.stop() as unknown as {
        statistics: Array<{ gcType: string; beforeGC: { heapStatistics: Stats }; afterGC: { heapStatistics: Stats } }>
      }
    ).statistics
    this.#profiler = undefined
    let heapBytes = 0
    let externalBytes = 0
    let used = this.#used0
    let ext = this.#ext0
    let scavenges = 0
    let markCompacts = 0
    for (const s of stats) {
      heapBytes += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - used)
      externalBytes += Math.max(0, s.beforeGC.heapStatistics.externalMemory - ext)
      used = s.afterGC.heapStatistics.usedHeapSize
      ext = s.afterGC.heapStatistics.externalMemory
      if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkCompact') scavenges++
      else if (s.gcType === 'MarkSweepCompact') markCompacts++
    }
    heapBytes += Math.max(0, h.used_heap_size - used)
    externalBytes += Math.max(0, h.external_memory - ext)
    return { heapBytes, externalBytes, scavenges, markCompacts, cpuUs }
  }
}

type Emit = (event: Record<string, unknown>) => void
const meter = new Meter()
const closers: Array<() => Promise<void>> = []
/** The sender's go signal. */
let go: (() => void) | undefined

/** Sink side: counts the bytes of each connection; the measured one reports and answers. */
function counter(total: number, emit: Emit, answer: () => void): (n: number) => void {
  let got = 0
  return (n) => {
    got += n
    if (got === total) {
      emit({ result: meter.stop() })
      answer()
    }
  }
}

const key = SecioKeyPair.generate()

async function sink(c: Command, emit: Emit): Promise<void> {
  const total = c.total!
  if (c.kind === 'service') {
    const got = new Map<number, (n: number) => void>()
    const service = new Service({
      key,
      protocols: [
        {
          id: 1,
          handler: {
            connected: (ctx: ProtocolSessionContext) => {
              got.set(
                ctx.session.id,
                counter(total, emit, () => ctx.send(ACK)),
              )
            },
            received: (ctx: ProtocolSessionContext, data: Uint8Array) => got.get(ctx.session.id)!(data.length),
            disconnected: (ctx: ProtocolSessionContext) => {
              got.delete(ctx.session.id)
            },
          },
        },
      ],
    })
    const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
    closers.push(() => service.shutdown())
    emit({ listening: `${addr.toString()}/p2p/${service.peerId}` })
    return
  }
  const secio = c.kind === 'secio'
  const { port, close } = await listenTcp((socket) => {
    if (!secio) {
      const count = counter(total, emit, () => socket.write(ACK))
      socket.on('data', (b: Buffer) => count(b.length))
      return
    }
    handshake(socket, { key, ciphers: ['AES-128-GCM'] }).then(
      ({ stream }) => {
        const count = counter(total, emit, () => stream.write(ACK))
        stream.on('error', () => {})
        stream.on('data', (b: Buffer) => count(b.length))
      },
      () => {},
    )
  })
  closers.push(close)
  emit({ listening: port })
}

async function connect(c: Command, emit: Emit): Promise<void> {
  const total = c.total!
  const chunk = Buffer.alloc(MSG, 0x5a)
  const started = new Promise<void>((resolve) => (go = resolve))
  if (c.kind === 'service') {
    let open!: (ctx: ProtocolSessionContext) => void
    let acked!: () => void
    const opened = new Promise<ProtocolSessionContext>((res) => (open = res))
    const ack = new Promise<void>((res) => (acked = res))
    const service = new Service({
      key: SecioKeyPair.generate(),
      protocols: [{ id: 1, handler: { connected: (ctx) => open(ctx), received: () => acked() } }],
    })
    try {
      await service.dial(c.dial as string, { kind: 'single', id: 1 })
      const ctx = await opened
      emit({ ready: true })
      await started
      meter.start()
      for (let sent = 0; sent < total; sent += MSG) {
        if (!(await ctx.sendAsync(chunk))) throw new Error('tentacle: message dropped')
      }
      await ack
      emit({ result: meter.stop() })
    } finally {
      await service.shutdown()
    }
    return
  }
  const socket = net.connect({ port: c.dial as number, host: '127.0.0.1', noDelay: true })
  socket.on('error', () => {})
  let s: net.Socket | SecureStream = socket
  if (c.kind === 'secio')
    s = (await handshake(socket, { key: SecioKeyPair.generate(), ciphers: ['AES-128-GCM'] })).stream
  else await once(socket, 'connect')
  s.on('error', () => {})
  const ack = once(s, 'data')
  emit({ ready: true })
  await started
  meter.start()
  for (let sent = 0; sent < total; sent += MSG) {
    if (!s.write(chunk)) await once(s, 'drain')
  }
  await ack
  emit({ result: meter.stop() })
  s.destroy()
}

const roles: Record<Command['cmd'], (c: Command, emit: Emit) => Promise<void>> = {
  sink,
  connect,
  arm: async (_c, emit) => {
    meter.start()
    emit({ armed: true })
  },
  go: async () => {
    go?.()
  },
  stop: async (_c, emit) => {
    for (const close of closers.splice(0)) await close()
    emit({ stopped: true })
  },
}

if (process.send !== undefined && process.argv.includes('--bench-alloc-peer')) {
  const send = process.send.bind(process)
  process.on('message', (c: Command) => {
    const emit: Emit = (e) => send({ id: c.id, ...e })
    roles[c.cmd](c, emit).catch((err: unknown) => emit({ error: String((err as Error)?.stack ?? err) }))
  })
  process.once('disconnect', () => process.exit(0))
  send({ ready: true })
}
