/**
 * Data integrity against a Rust tentacle node (tentacle-peer from
 * test/interop, secio + yamux, `--echo`): one TS Service dials it with P
 * protocols open (one yamux stream each), sends messages of random sizes
 * (1 B – 256 KiB) with random pauses and awaits their echo; every echoed byte
 * must come back in order on its protocol (running SHA-256 per protocol,
 * compared with what was sent). The TS handlers are slow now and then, so
 * the Rust side meets a closed window too.
 *
 *   node --conditions=source --import tsx test/endurance/integrity/rust.ts [--quick] [--mib N] [--protocols P]
 *
 * Default 256 MiB each way over 100 protocols; --quick 16 MiB. Resets: a
 * tentacle protocol stream cannot be reset from the application on either
 * side, so this run has none (the TS–TS run covers them).
 */
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder, type Service } from '@tentacle-ts/tentacle'
import { binPath, startServer, killAll } from '../../interop/lib/index.js'
import { Rng } from '../fuzz/mutate.js'
import { figure, flag, option } from '../lib/figures.js'

const args = process.argv.slice(2)
const quick = flag(args, '--quick')
const total = Number(option(args, '--mib') ?? (quick ? 16 : 256)) * 2 ** 20
const P = Number(option(args, '--protocols') ?? 100)
const POOL = randomBytes(1 << 20)

interface Flow {
  sent: ReturnType<typeof createHash>
  recv: ReturnType<typeof createHash>
  sentBytes: number
  recvBytes: number
  target: number
  done: () => void
  finished: Promise<void>
}
const flows = new Map<number, Flow>()
for (let p = 1; p <= P; p++) {
  let done!: () => void
  const finished = new Promise<void>((r) => (done = r))
  flows.set(p, {
    sent: createHash('sha256'),
    recv: createHash('sha256'),
    sentBytes: 0,
    recvBytes: 0,
    target: Math.floor(total / P),
    done,
    finished,
  })
}

const protoArgs = [...flows.keys()].flatMap((p) => ['--protocol', String(p)])
const peer = await startServer(binPath('tentacle-peer'), ['--listen', '/ip4/127.0.0.1/tcp/0', '--echo', ...protoArgs])
const errors: string[] = []
const rng = new Rng(7)
let service: Service | undefined
const t0 = performance.now()
let opened = 0
let allOpen!: () => void
const allOpened = new Promise<void>((resolve) => (allOpen = resolve))
try {
  let b = new ServiceBuilder().key(SecioKeyPair.generate())
  for (const p of flows.keys()) {
    b = b.protocol({
      id: p,
      handler: {
        connected() {
          if (++opened === P) allOpen()
        },
        async received(_ctx, data) {
          const f = flows.get(p)!
          f.recv.update(data)
          f.recvBytes += data.length
          if (f.recvBytes >= f.target) f.done()
          if (rng.oneIn(200)) await sleep(2) // a slow handler: reads pause, the Rust writer meets the window
        },
      },
    })
  }
  service = b.build({ handleError: (e) => void errors.push(`${e.type}:${e.error.code}`) })
  const session = await service.dial(`/ip4/127.0.0.1/tcp/${peer.port}/p2p/${peer.peerId}`)
  // Every protocol's connected() has run (bounded: a protocol that never opens fails the run).
  let openTimer: NodeJS.Timeout | undefined
  await Promise.race([
    allOpened,
    new Promise<never>((_, reject) => {
      openTimer = setTimeout(() => reject(new Error(`only ${opened} of ${P} protocols opened`)), 30_000)
    }),
  ]).finally(() => clearTimeout(openTimer))
  await Promise.all(
    [...flows].map(async ([p, f]) => {
      const r = new Rng(p)
      while (f.sentBytes < f.target) {
        const n = Math.min(f.target - f.sentBytes, 1 + r.below(r.oneIn(8) ? 256 * 1024 : 8 * 1024))
        const at = r.below(POOL.length - n + 1)
        const msg = POOL.subarray(at, at + n)
        f.sent.update(msg)
        f.sentBytes += n
        if (!(await service!.sendAsync(session.id, p, msg))) throw new Error(`protocol ${p}: message dropped`)
        if (r.oneIn(100)) await sleep(1 + r.below(5))
      }
    }),
  )
  const deadline = 60_000 + total / 1024
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.all([...flows.values()].map((f) => f.finished)),
    new Promise((r) => (timer = setTimeout(r, deadline))),
  ])
  clearTimeout(timer)
} finally {
  await service?.shutdown()
  await killAll(peer.peer)
}
const ms = performance.now() - t0
let intact = 0
let bytes = 0
for (const [p, f] of flows) {
  const ok = f.recvBytes === f.sentBytes && f.sent.digest('hex') === f.recv.digest('hex')
  if (ok) intact++
  else
    console.error(
      `protocol ${p}: sent ${f.sentBytes}, echoed back ${f.recvBytes}${f.recvBytes === f.sentBytes ? ', bytes DIFFER' : ''}`,
    )
  bytes += f.recvBytes
}
let ok = true
const put = (bench: string, value: number, unit: string, target: number | null, pass: boolean): void => {
  figure({ bench, value, unit, target, ok: pass })
  ok &&= pass
}
put('integrity.rust.protocols_intact', intact, 'streams', P, intact === P)
put(
  'integrity.rust.bytes_echoed',
  bytes / 2 ** 20,
  'MiB',
  Math.round(((Math.floor(total / P) * P) / 2 ** 20) * 100) / 100,
  intact === P,
)
put('integrity.rust.errors', errors.length, 'errors', 0, errors.length === 0)
put('integrity.rust.throughput', (2 * bytes) / 2 ** 20 / (ms / 1000), 'MiB/s', null, true)
if (errors.length > 0) console.error(errors.slice(0, 10).join('\n'))
process.exitCode = ok ? 0 : 1
