import { YamuxError } from './errors.js'
import { INITIAL_STREAM_WINDOW } from './frame.js'

/**
 * Session configuration. Defaults are tokio-yamux 0.3.20's (`yamux/src/config.rs`, §8.7),
 * plus two bounds of our own (`maxQueuedBytes`, `maxControlBacklogBytes`).
 */
export interface YamuxConfig {
  /** Inbound streams that may wait for `accept()`; beyond it a SYN is answered ACK|RST. Default 256. */
  acceptBacklog: number
  /** Send a keepalive ping every `keepaliveIntervalMs`. Default true. */
  enableKeepalive: boolean
  /** Keepalive period; the first ping goes out one period after the session starts. Default 30 000. */
  keepaliveIntervalMs: number
  /** A ping unanswered for this long, seen at a keepalive tick, ends the session. Default 30 000 (Rust's constant). */
  pingTimeoutMs: number
  /**
   * How long we wait for the peer's GoAway after sending ours, and how long the
   * connection may refuse our writes (measured from the first refused write) before
   * the session ends with YAMUX_ERR_WRITE_TIMEOUT. Default 10 000.
   */
  connectionWriteTimeoutMs: number
  /** Open streams (both directions) above which an inbound SYN is answered ACK|RST. Default 65 535. */
  maxStreamCount: number
  /** Maximum receive window per stream, ≥ 262 144. CKB uses 1 048 576. Default 262 144. */
  maxStreamWindowSize: number
  /**
   * Bytes the session may hold for the connection (our queue plus the connection's own
   * write buffer) before stream writes wait. Default 1 MiB.
   */
  maxQueuedBytes: number
  /**
   * Control frames (ping answers, window updates, resets) are never refused, but when
   * more than this many bytes of them wait for a connection that does not drain, the
   * session stops reading the connection until it drains. Default 256 KiB.
   */
  maxControlBacklogBytes: number
}

export const DEFAULT_CONFIG: Readonly<YamuxConfig> = Object.freeze({
  acceptBacklog: 256,
  enableKeepalive: true,
  keepaliveIntervalMs: 30_000,
  pingTimeoutMs: 30_000,
  connectionWriteTimeoutMs: 10_000,
  maxStreamCount: 65_535,
  maxStreamWindowSize: INITIAL_STREAM_WINDOW,
  maxQueuedBytes: 1024 * 1024,
  maxControlBacklogBytes: 256 * 1024,
})

/** Merges `partial` over the defaults and validates the result. */
export function resolveConfig(partial: Partial<YamuxConfig> = {}): YamuxConfig {
  const c: YamuxConfig = { ...DEFAULT_CONFIG }
  for (const key of Object.keys(DEFAULT_CONFIG) as (keyof YamuxConfig)[]) {
    const v = partial[key]
    if (v !== undefined) (c as unknown as Record<string, unknown>)[key] = v
  }
  const positive: (keyof YamuxConfig)[] = [
    'acceptBacklog',
    'keepaliveIntervalMs',
    'pingTimeoutMs',
    'connectionWriteTimeoutMs',
    'maxStreamCount',
    'maxQueuedBytes',
    'maxControlBacklogBytes',
  ]
  for (const key of positive) {
    const v = c[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new YamuxError('YAMUX_ERR_INVALID_OPTION', `${key} must be a positive number, got ${String(v)}`, {
        field: key,
      })
    }
  }
  // §8.7: max_stream_window_size must be ≥ 256 KiB (Rust asserts it) and fit the u32 length field.
  const w = c.maxStreamWindowSize
  if (!Number.isInteger(w) || w < INITIAL_STREAM_WINDOW || w > 0xffffffff) {
    throw new YamuxError(
      'YAMUX_ERR_INVALID_OPTION',
      `maxStreamWindowSize must be an integer in [${INITIAL_STREAM_WINDOW}, 2^32-1], got ${String(w)}`,
      { field: 'maxStreamWindowSize' },
    )
  }
  if (typeof c.enableKeepalive !== 'boolean') {
    throw new YamuxError('YAMUX_ERR_INVALID_OPTION', 'enableKeepalive must be a boolean', { field: 'enableKeepalive' })
  }
  return c
}
