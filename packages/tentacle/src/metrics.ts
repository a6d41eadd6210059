import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { Counter, Gauge, Registry } from 'prom-client'
import type { Direction } from './types.js'

const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound']

/** Where the metrics read live values from. */
export interface MetricsSource {
  sessionCount(): number
  streamCount(): number
  handshakingCount(): number
  listenerTotals(): { accepted: number; closedBeforeHandled: number }
}

/** Where a service's metrics go (ServiceOptions.metrics). */
export interface MetricsOptions {
  /**
   * A prom-client registry to register in, e.g. the program's own or
   * prom-client's global `register`. Default: a registry of the service's own,
   * so several services can live in one process (give each its own `prefix`
   * when they share a registry).
   */
  registry?: Registry
  /** Metric name prefix. Default `tentacle_`. */
  prefix?: string
}

/**
 * Prometheus metrics of one service. `text()` gives the exposition format of
 * its registry.
 */
export class ServiceMetrics {
  readonly registry: Registry
  /** The metric name prefix in use, for code that adds its own metrics next to these. */
  readonly prefix: string
  readonly acceptErrors: Counter<'code'>
  readonly rejected: Counter<'reason'>
  readonly handshakes: Counter<'direction' | 'outcome' | 'phase'>
  readonly bytes: Counter<'direction' | 'protocol'>
  /**
   * Message bytes per protocol id, counted as plain numbers and handed to `bytes` at scrape
   * time: prom-client hashes the labels on every inc(), even on a bound series, which cost
   * 7 % of the receiver's allocations when done per message (bench/alloc).
   */
  readonly #bytesBound = new Map<number, { protocol: string; in: number; out: number }>()
  readonly sessionsTotal: Counter<'direction'>
  /**
   * Successful handshakes and opened sessions per direction, counted as plain numbers and
   * added to `handshakes` / `sessionsTotal` at scrape time (a labelled inc() hashes its
   * labels: ~1 µs per session and side).
   */
  readonly #perSession = {
    inbound: { ok: 0, okReported: 0, opened: 0, openedReported: 0 },
    outbound: { ok: 0, okReported: 0, opened: 0, openedReported: 0 },
  }
  readonly #loopDelay: IntervalHistogram

  constructor(source: MetricsSource, opts: MetricsOptions = {}) {
    this.registry = opts.registry ?? new Registry()
    const prefix = (this.prefix = opts.prefix ?? 'tentacle_')
    const registers = [this.registry]
    this.#loopDelay = monitorEventLoopDelay({ resolution: 20 })
    this.#loopDelay.enable()
    // Counters and gauges read from the service at scrape time.
    const liveTotal = (name: string, help: string, read: () => number): void => {
      new Counter({
        name: `${prefix}${name}`,
        help,
        registers,
        collect() {
          this.reset()
          this.inc(read())
        },
      })
    }
    const liveGauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name: `${prefix}${name}`,
        help,
        registers,
        collect() {
          this.set(read())
        },
      })
    }
    liveTotal(
      'connections_accepted_total',
      'TCP connections accepted by listeners',
      () => source.listenerTotals().accepted,
    )
    liveTotal(
      'connections_closed_before_handled_total',
      'Accepted sockets that the peer had already closed or reset (no remote address)',
      () => source.listenerTotals().closedBeforeHandled,
    )
    this.acceptErrors = new Counter({
      name: `${prefix}accept_errors_total`,
      help: 'accept(2) errors seen by Node (EMFILE, ENFILE, ...); accepting continued',
      labelNames: ['code'],
      registers,
    })
    this.rejected = new Counter({
      name: `${prefix}connections_rejected_total`,
      help: 'Connections closed at once because a limit was reached',
      labelNames: ['reason'],
      registers,
    })
    const perSession = this.#perSession
    this.handshakes = new Counter({
      name: `${prefix}handshakes_total`,
      help: 'Upgrades (TCP -> secio -> yamux) by outcome and, for failures, the phase they were in',
      labelNames: ['direction', 'outcome', 'phase'],
      registers,
      collect() {
        for (const direction of DIRECTIONS) {
          const c = perSession[direction]
          if (c.ok > c.okReported) this.inc({ direction, outcome: 'ok', phase: '' }, c.ok - c.okReported)
          c.okReported = c.ok
        }
      },
    })
    this.sessionsTotal = new Counter({
      name: `${prefix}sessions_opened_total`,
      help: 'Sessions opened',
      labelNames: ['direction'],
      registers,
      collect() {
        for (const direction of DIRECTIONS) {
          const c = perSession[direction]
          if (c.opened > c.openedReported) this.inc({ direction }, c.opened - c.openedReported)
          c.openedReported = c.opened
        }
      },
    })
    const bytesBound = this.#bytesBound
    this.bytes = new Counter({
      name: `${prefix}message_bytes_total`,
      help: 'Protocol message bytes, by direction and protocol name',
      labelNames: ['direction', 'protocol'],
      registers,
      collect() {
        this.reset()
        for (const b of bytesBound.values()) {
          this.inc({ direction: 'in', protocol: b.protocol }, b.in)
          this.inc({ direction: 'out', protocol: b.protocol }, b.out)
        }
      },
    })
    liveGauge('sessions_open', 'Sessions open now', () => source.sessionCount())
    liveGauge('handshakes_in_progress', 'Connections in the upgrade now', () => source.handshakingCount())
    liveGauge('streams_open', 'yamux streams open now, all sessions', () => source.streamCount())
    const loop = this.#loopDelay
    new Gauge({
      name: `${prefix}event_loop_delay_seconds`,
      help: 'Event-loop delay since the last scrape',
      labelNames: ['quantile'],
      registers,
      collect() {
        this.set({ quantile: '0.5' }, loop.percentile(50) / 1e9)
        this.set({ quantile: '0.99' }, loop.percentile(99) / 1e9)
        this.set({ quantile: '1' }, loop.max / 1e9)
        loop.reset()
      },
    })
  }

  /** Counts one message of `n` bytes on protocol `id` (its wire name is the label: one series per registered protocol). */
  countBytes(dir: 'in' | 'out', n: number, id: number, names: { get(id: number): { name: string } | undefined }): void {
    let b = this.#bytesBound.get(id)
    if (b === undefined) {
      b = { protocol: names.get(id)?.name ?? String(id), in: 0, out: 0 }
      this.#bytesBound.set(id, b)
    }
    b[dir] += n
  }

  /** Counts one successful handshake (`handshakes_total{outcome="ok"}`). */
  handshakeOk(direction: Direction): void {
    this.#perSession[direction].ok++
  }

  /** Counts one opened session (`sessions_opened_total`). */
  sessionOpened(direction: Direction): void {
    this.#perSession[direction].opened++
  }

  /** Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics()
  }

  close(): void {
    this.#loopDelay.disable()
  }
}
