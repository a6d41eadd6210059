// Test nodes: a tentacle-ts service with the network protocols, and a way to
// wait for a protocols event (past or future) with a deadline.
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder, type ProtocolSpec, type Service } from '@tentacle-ts/tentacle'
import {
  createNetworkProtocols,
  type NetworkProtocols,
  type NetworkProtocolsEvents,
  type NetworkProtocolsOptions,
} from '../src/index.js'

export const TEST_NETWORK = '/ckb/testnet0'

type EventName = keyof NetworkProtocolsEvents
type Payload<E extends EventName> = NetworkProtocolsEvents[E][0]

export class TestNode {
  readonly key = SecioKeyPair.generate()
  readonly net: NetworkProtocols
  readonly service: Service
  readonly log: Array<{ event: EventName; payload: unknown; at: number }> = []
  address = ''

  /** `apps`: the application's own protocols, registered beside the preset's. */
  constructor(opts: Partial<NetworkProtocolsOptions> = {}, apps: ProtocolSpec[] = []) {
    this.net = createNetworkProtocols({ networkName: TEST_NETWORK, allowLocalAddresses: true, ...opts })
    const builder = new ServiceBuilder().key(this.key).timeout(5000)
    for (const spec of [...this.net.protocols, ...apps]) builder.protocol(spec)
    this.service = builder.build(this.net.serviceHandler())
    for (const e of [
      'identified',
      'ping',
      'misbehaviour',
      'discovered',
      'peer-dropped',
      'disconnect-message',
      'feeler',
    ] as const) {
      this.net.on(e, (payload: unknown) => this.log.push({ event: e, payload, at: Date.now() }))
    }
  }

  get peerId(): string {
    return this.service.peerId!
  }

  async start(): Promise<this> {
    this.net.attach(this.service)
    this.address = `${(await this.service.listen('/ip4/127.0.0.1/tcp/0')).toString()}/p2p/${this.peerId}`
    return this
  }

  /** Resolves with the first event `e` (past or future) whose payload matches `pred`. */
  waitFor<E extends EventName>(
    e: E,
    pred: (p: Payload<E>) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<Payload<E>> {
    const past = this.log.find((l) => l.event === e && pred(l.payload as Payload<E>))
    if (past !== undefined) return Promise.resolve(past.payload as Payload<E>)
    return new Promise((resolve, reject) => {
      const listener = (p: Payload<E>): void => {
        if (!pred(p)) return
        clearTimeout(timer)
        this.net.off(e, listener as never)
        resolve(p)
      }
      const timer = setTimeout(() => {
        this.net.off(e, listener as never)
        reject(new Error(`timed out waiting for ${e}; log: ${this.log.map((l) => l.event).join(', ')}`))
      }, timeoutMs)
      this.net.on(e, listener as never)
    })
  }

  /** Resolves once `cond()` holds, re-checked on every protocols event (no polling timer). */
  until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (cond()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const events = ['identified', 'ping', 'misbehaviour', 'discovered', 'peer-dropped', 'feeler'] as const
      const check = (): void => {
        if (!cond()) return
        done()
        resolve()
      }
      const done = (): void => {
        clearTimeout(timer)
        for (const e of events) this.net.off(e, check)
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting until ${what}`))
      }, timeoutMs)
      for (const e of events) this.net.on(e, check)
    })
  }

  /** Peer ids of identified, non-feeler peers. */
  identifiedPeers(): Set<string> {
    return new Set(
      this.net
        .peers()
        .filter((p) => p.identified !== undefined && !p.feeler && p.peerId !== undefined)
        .map((p) => p.peerId!),
    )
  }

  async stop(): Promise<void> {
    try {
      await this.net.close()
    } finally {
      await this.service.shutdown()
    }
  }
}

/** Fast timings for loopback tests. */
export const FAST: Partial<NetworkProtocolsOptions> = {
  pingIntervalMs: 200,
  pingTimeoutMs: 3000,
  pingCheckIntervalMs: 200,
  discoveryIntervalMs: 200,
  outboundIntervalMs: 200,
  dialIntervalMs: 300,
  feelerRetryMs: 1000,
}
