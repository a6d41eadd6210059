/**
 * A tentacle-ts node running @tentacle-ts/protocols, for the ckb-network
 * interop tests: records every protocols event and service event, and waits
 * for one (past or future) with a deadline, re-checking only when something
 * happens (no polling timer).
 */
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder, type Service, type ServiceErrorEvent, type ServiceEvent } from '@tentacle-ts/tentacle'
import {
  createNetworkProtocols,
  type NetworkProtocols,
  type NetworkProtocolsEvents,
  type NetworkProtocolsOptions,
} from '@tentacle-ts/protocols'

type EventName = keyof NetworkProtocolsEvents
type Payload<E extends EventName> = NetworkProtocolsEvents[E][0]

const EVENTS: EventName[] = [
  'identified',
  'ping',
  'misbehaviour',
  'discovered',
  'peer-dropped',
  'disconnect-message',
  'feeler',
]

/** Loopback timings close to the ckb-network-peer FAST options (CKB's own timers are whole seconds). */
export const TS_FAST: Partial<NetworkProtocolsOptions> = {
  pingIntervalMs: 1000,
  pingTimeoutMs: 5000,
  discoveryIntervalMs: 1000,
  outboundIntervalMs: 1000,
  allowLocalAddresses: true,
}

export class CkbNetworkTsNode {
  readonly key = SecioKeyPair.generate()
  readonly net: NetworkProtocols
  readonly service: Service
  readonly log: Array<{ event: EventName; payload: unknown; at: number }> = []
  readonly serviceEvents: Array<(ServiceEvent | ServiceErrorEvent) & { at: number }> = []
  /** Protocol opens seen by the protocols' handlers, in order. */
  readonly opens: Array<{ session: number; proto: number; at: number }> = []
  address = ''
  private readonly wakers = new Set<() => void>()

  constructor(opts: Partial<NetworkProtocolsOptions> & { networkName?: string } = {}) {
    this.net = createNetworkProtocols({ networkName: '/ckb/92b197aa', ...TS_FAST, ...opts })
    const builder = new ServiceBuilder().key(this.key)
    const wake = (): void => {
      for (const w of [...this.wakers]) w()
    }
    // Each protocol's connected() is wrapped to record the open first.
    for (const spec of this.net.protocols) {
      const h = spec.handler
      builder.protocol({
        ...spec,
        handler: h && {
          ...h,
          connected: (ctx, version) => {
            this.opens.push({ session: ctx.session.id, proto: ctx.protoId, at: Date.now() })
            wake()
            return h.connected?.call(h, ctx, version)
          },
        },
      })
    }
    this.service = builder.build(
      this.net.serviceHandler({
        handleEvent: (e) => {
          this.serviceEvents.push({ ...e, at: Date.now() })
          wake()
        },
        handleError: (e) => {
          this.serviceEvents.push({ ...e, at: Date.now() })
          wake()
        },
      }),
    )
    for (const e of EVENTS) {
      this.net.on(e, (payload: unknown) => {
        this.log.push({ event: e, payload, at: Date.now() })
        wake()
      })
    }
  }

  get peerId(): string {
    return this.service.peerId!
  }

  /** Attaches the protocols (dials bootnodes) and listens on 127.0.0.1. */
  async start(): Promise<this> {
    this.net.attach(this.service)
    this.address = `${(await this.service.listen('/ip4/127.0.0.1/tcp/0')).toString()}/p2p/${this.peerId}`
    return this
  }

  /** Resolves once `cond()` holds; re-checked on every event. */
  until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (cond()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return
        clearTimeout(timer)
        this.wakers.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.wakers.delete(check)
        reject(
          new Error(
            `ts node ${this.peerId}: timed out (${timeoutMs} ms) waiting until ${what}; log: ${this.describe()}`,
          ),
        )
      }, timeoutMs)
      this.wakers.add(check)
    })
  }

  /** The first protocols event `e` (past or future) matching `pred`. */
  async waitFor<E extends EventName>(
    e: E,
    pred: (p: Payload<E>) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<Payload<E> & { at: number }> {
    const find = (): { payload: unknown; at: number } | undefined =>
      this.log.find((l) => l.event === e && pred(l.payload as Payload<E>))
    await this.until(() => find() !== undefined, `event ${e}`, timeoutMs)
    const hit = find()!
    return { ...(hit.payload as Payload<E>), at: hit.at }
  }

  /** The log in short (pings left out): event(detail peer…), for failure messages. */
  describe(): string {
    return this.log
      .filter((l) => l.event !== 'ping')
      .map((l) => {
        const p = l.payload as {
          peerId?: string
          reason?: string
          direction?: string
          sessionId?: number
          report?: { kind: string }
          addresses?: string[]
        }
        const detail = p.reason ?? p.report?.kind ?? p.direction ?? p.addresses?.join(' ') ?? ''
        return `${l.event}(s${p.sessionId} ${detail} ${p.peerId?.slice(-6) ?? ''})`
      })
      .join(', ')
  }

  eventsOf<E extends EventName>(e: E): Array<Payload<E>> {
    return this.log.filter((l) => l.event === e).map((l) => l.payload as Payload<E>)
  }

  async stop(): Promise<void> {
    await this.net.close()
    await this.service.shutdown()
  }
}
