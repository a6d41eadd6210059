/**
 * The side that survives a kill test (kill.test.ts, rust.interop.test.ts): a
 * Service in this process that records every event, error and protocol call,
 * waits on them with a bound, proves it freed everything, and proves it can
 * still open a session afterwards.
 */
import assert from 'node:assert/strict'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type SessionCloseReason, type TentacleErrorCode } from '@tentacle-ts/tentacle'

/** Far below the 10 s handshake/select/session timeouts that would also end things. */
export const PROMPT_MS = 3_000

/** What a kill may be reported as once a session was open: the connection was lost. */
export const LOST: readonly SessionCloseReason[] = ['connection-eof', 'connection-reset', 'truncated']

export interface Handles {
  sockets: number
  servers: number
  timers: number
}

/** The handles that keep this process alive (libuv's view). */
export function handles(): Handles {
  const r = process.getActiveResourcesInfo()
  const n = (k: string): number => r.filter((x) => x === k).length
  return { sockets: n('TCPSocketWrap'), servers: n('TCPServerWrap'), timers: n('Timeout') }
}

export interface Close {
  reason: SessionCloseReason
  code: TentacleErrorCode | undefined
}

export class Survivor {
  readonly service: Service
  readonly errors: { type: string; code: string }[] = []
  readonly events: string[] = []
  readonly closes: Close[] = []
  /** Calls of protocol 1's handler, in order. */
  readonly protocol: string[] = []
  readonly #wakers = new Set<() => void>()

  constructor(opts: { secio: boolean; onConnected?: (send: (data: Uint8Array) => void) => void }) {
    const wake = (): void => {
      for (const w of [...this.#wakers]) w()
    }
    this.service = new Service({
      key: opts.secio ? SecioKeyPair.generate() : undefined,
      protocols: [
        {
          id: 1,
          handler: {
            connected: (ctx) => {
              this.protocol.push('connected')
              opts.onConnected?.((data) => ctx.send(data))
              wake()
            },
            disconnected: () => void (this.protocol.push('disconnected'), wake()),
            received: () => void (this.protocol.push('received'), wake()),
          },
        },
      ],
      handler: {
        handleEvent: (e) => {
          this.events.push(e.type)
          if (e.type === 'session-close') this.closes.push({ reason: e.reason, code: e.error?.code })
          wake()
        },
        handleError: (e) => void (this.errors.push({ type: e.type, code: e.error.code }), wake()),
      },
    })
  }

  /** Everything seen so far, for failure messages and the test log. */
  describe(): string {
    return `errors ${JSON.stringify(this.errors)}, events ${this.events.join(',')}, closes ${JSON.stringify(this.closes)}, protocol ${this.protocol.join(',')}`
  }

  /** Resolves (with the ms it took) once `pred` holds, checked on every event; rejects after `ms`. */
  until(pred: () => boolean, what: string, ms = PROMPT_MS): Promise<number> {
    const t0 = performance.now()
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pred()) return
        this.#wakers.delete(check)
        clearTimeout(timer)
        resolve(performance.now() - t0)
      }
      const timer = setTimeout(() => {
        this.#wakers.delete(check)
        reject(new Error(`not within ${ms} ms: ${what}; ${this.describe()}`))
      }, ms)
      this.#wakers.add(check)
      check()
    })
  }

  /**
   * Waits (bounded) for the report of a dead peer — a typed error or a
   * session-close — and then for the end of the story: no connection
   * counted, and a session that opened also closed. Resolves with the ms the
   * first report took from this call.
   */
  async reported(): Promise<number> {
    const ms = await this.until(
      () => this.errors.length > 0 || this.closes.length > 0,
      'a typed error or a session-close after the kill',
    )
    await this.until(
      () => this.service.connectionCount === 0 && (!this.events.includes('session-open') || this.closes.length > 0),
      'the connection gone and reported',
    )
    return ms
  }

  /**
   * Asserts that the survivor holds nothing for the dead peer: no connection
   * counted (sessions, handshakes, dials), no session, no handshake in the
   * metrics, and no socket, server or timer beyond `base`. A destroyed socket
   * leaves libuv's list in its close phase, a few loop turns later: this
   * looks again once per turn (setImmediate, no timer), at most 200 turns.
   */
  async freed(base: Handles): Promise<void> {
    const ok = (): boolean => {
      const h = handles()
      return (
        this.service.connectionCount === 0 &&
        this.service.sessions().length === 0 &&
        h.sockets <= base.sockets &&
        h.servers <= base.servers &&
        h.timers <= base.timers
      )
    }
    for (let turn = 0; turn < 200 && !ok(); turn++) await new Promise((r) => setImmediate(r))
    const metrics = await this.service.metrics.registry.getMetricsAsJSON()
    const gauge = (name: string): number | undefined =>
      (metrics.find((m) => m.name === name) as { values?: { value: number }[] } | undefined)?.values?.[0]?.value
    assert.ok(
      ok(),
      `everything freed: connections ${this.service.connectionCount}, sessions ${this.service.sessions().length}, handles ${JSON.stringify(handles())} vs before ${JSON.stringify(base)}; ${this.describe()}`,
    )
    for (const name of ['sessions_open', 'handshakes_in_progress', 'streams_open']) {
      assert.equal(gauge(this.service.metrics.prefix + name), 0, `the service's metric ${name}`)
    }
  }

  /**
   * Proves the survivor still works: a fresh service in this process dials it
   * (when it listens at `listenAddress`) or is dialed by it, protocol 1 opens
   * on both sides, and the session is closed again, reason `local-close` on
   * the side that closed it.
   */
  async stillWorks(listenAddress: string | undefined): Promise<void> {
    const other = new Survivor({ secio: this.service.key !== undefined })
    const before = this.protocol.filter((p) => p === 'connected').length
    const closesBefore = this.closes.length
    try {
      if (listenAddress !== undefined) {
        await other.service.dial(listenAddress)
      } else {
        const at = await other.service.listen('/ip4/127.0.0.1/tcp/0')
        await this.service.dial(at.toString())
      }
      await this.until(
        () => this.protocol.filter((p) => p === 'connected').length > before,
        'protocol 1 open on a new session after the kill',
        10_000,
      )
      await other.until(() => other.protocol.includes('connected'), 'protocol 1 open on the other side', 10_000)
      const [info] = this.service.sessions()
      assert.ok(info !== undefined, 'the new session is listed')
      this.service.disconnect(info.id)
      await this.until(() => this.closes.length > closesBefore, 'the new session closed', 10_000)
      assert.equal(this.closes.at(-1)?.reason, 'local-close', 'we closed it: reason local-close')
      await other.until(() => other.closes.length > 0, 'the other side saw the close', 10_000)
      assert.equal(other.closes[0]!.reason, 'remote-close', 'the other side: the peer (we) closed cleanly')
    } finally {
      await other.service.shutdown()
    }
  }
}
