// A tentacle client node for the session-setup figures (bench/service.ts,
// bench/rust.ts): one session at a time, and the lanes that run them.
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext, type SessionId } from '@tentacle-ts/tentacle'

const PING = new Uint8Array(32).fill(7)

/** A tentacle client node that runs one session at a time. */
export function tentacleClient() {
  const opened = new Map<SessionId, (ctx: ProtocolSessionContext) => void>()
  const replies = new Map<SessionId, () => void>()
  const closed = new Map<SessionId, () => void>()
  const failed = new Set<(err: Error) => void>()
  const service = new Service({
    key: SecioKeyPair.generate(),
    protocols: [
      {
        id: 1,
        handler: {
          connected: (ctx) => opened.get(ctx.session.id)?.(ctx),
          received: (ctx) => replies.get(ctx.session.id)?.(),
        },
      },
    ],
    handler: {
      handleEvent: (e) => {
        if (e.type === 'session-close') closed.get(e.session.id)?.()
      },
      // Any error fails the measurement rather than hanging it.
      handleError: (e) => {
        for (const f of failed) f(e.error)
      },
    },
  })
  const waitFor = <T>(m: Map<SessionId, (v: T) => void>, id: SessionId): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      failed.add(reject)
      m.set(id, (v: T) => {
        failed.delete(reject)
        m.delete(id)
        resolve(v)
      })
    })
  return {
    service,
    async session(addr: string): Promise<void> {
      const info = await service.dial(addr, { kind: 'single', id: 1 })
      // Handlers for this session run only after dial() resolved (session-open comes first, §10.3).
      const isClosed = waitFor<void>(closed, info.id)
      // A failure rejects every wait; the earlier one then must not be an unhandled rejection.
      isClosed.catch(() => {})
      const ctx = await waitFor<ProtocolSessionContext>(opened, info.id)
      const reply = waitFor<void>(replies, info.id)
      ctx.send(PING)
      await reply
      service.disconnect(info.id)
      await isClosed
    },
  }
}

/**
 * Runs jobs in `concurrency` lanes: a few warm-up jobs per lane (at least 10 in
 * all), then new jobs for `ms` milliseconds; returns jobs completed per second
 * (until the last one ended). `onClock` is called when the clock starts.
 */
export async function lanes(
  ms: number,
  concurrency: number,
  job: (lane: number) => () => Promise<void>,
  onClock?: () => void,
): Promise<number> {
  const warmUp = Math.max(2, Math.ceil(10 / concurrency))
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      for (let k = 0; k < warmUp; k++) await job(i)()
    }),
  )
  let done = 0
  onClock?.()
  const t0 = performance.now()
  const until = t0 + ms
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const run = job(i)
      while (performance.now() < until) {
        await run()
        done++
      }
    }),
  )
  return done / ((performance.now() - t0) / 1000)
}
