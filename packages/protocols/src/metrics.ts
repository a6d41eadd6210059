/**
 * The protocols' Prometheus metrics, registered in the service's registry
 * (`service.metrics.registry`) so `service.metrics.text()` shows them.
 * Per-peer gauges are read from the live sessions at scrape time, so a closed
 * session's series disappear with it.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { SessionState } from './session-state.js'

export class ProtocolsMetrics {
  readonly rtt: Histogram
  readonly misbehaviour: Counter<'kind' | 'verdict'>

  constructor(
    registry: Registry,
    sessions: () => Iterable<SessionState>,
    addressBookSize: () => number,
    prefix = 'tentacle_',
  ) {
    const registers = [registry]
    this.rtt = new Histogram({
      name: `${prefix}ping_rtt_seconds`,
      help: 'Ping round-trip times (every answered ping)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    })
    this.misbehaviour = new Counter({
      name: `${prefix}peer_misbehaviour_total`,
      help: 'Misbehaviour reports by kind and the verdict applied',
      labelNames: ['kind', 'verdict'],
      registers,
    })
    new Gauge({
      name: `${prefix}peer_ping_rtt_seconds`,
      help: 'Last ping round-trip time per connected peer',
      labelNames: ['session', 'peer_id'],
      registers,
      collect() {
        this.reset()
        for (const s of sessions()) {
          if (s.pingRttMs !== undefined)
            this.set({ session: String(s.info.id), peer_id: s.info.remotePeerId ?? '' }, s.pingRttMs / 1000)
        }
      },
    })
    new Gauge({
      name: `${prefix}peer_last_seen_timestamp_seconds`,
      help: 'When the last ping-protocol message of each connected peer arrived (Unix seconds; the session open time before any)',
      labelNames: ['session', 'peer_id'],
      registers,
      collect() {
        this.reset()
        for (const s of sessions())
          this.set({ session: String(s.info.id), peer_id: s.info.remotePeerId ?? '' }, s.lastSeenAt / 1000)
      },
    })
    new Gauge({
      name: `${prefix}address_book_addresses`,
      help: 'Addresses in the address book',
      registers,
      collect() {
        this.set(addressBookSize())
      },
    })
  }
}
