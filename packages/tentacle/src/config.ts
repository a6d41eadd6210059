import { TentacleError } from './errors.js'

/**
 * Service configuration. Defaults mirror tentacle 0.7 (§12.4) except where
 * a number only exists here (handshake concurrency, listen backlog).
 */
export interface ServiceConfig {
  /**
   * The service timeout (§12.4): TCP connect, the whole upgrade (TCP connected
   * -> secio done -> yamux ready), each protocol selection, and the
   * session-without-protocol check. Default 10 000 ms (CKB uses 5 000).
   */
  timeoutMs: number
  /** Max secio frame length (§2.2). Default 8 MiB. */
  maxFrameLength: number
  /**
   * Hard cap on connections: sessions + connections still in handshake +
   * pending dials (§12.4 `max_connection_number`, tentacle #200/#463).
   * Inbound connections over the cap are accepted and closed at once.
   * Default 65 535.
   */
  maxConnections: number
  /**
   * Cap on connections in the secio handshake at once (rule 4: handshake
   * crypto is bounded). Inbound connections over it are closed at once.
   * Default 256.
   */
  maxConcurrentHandshakes: number
  /** Unsent bytes allowed per session before it is killed (§12.2 SessionBlocked). Default 24 MiB. */
  sendBufferSize: number
  /** Kernel listen backlog passed to listen(2). Default 4096 (capped by net.core.somaxconn). */
  listenBacklog: number
  /**
   * Messages queued for one protocol handler before the session stops
   * reading that protocol's stream (backpressure to the peer). Default 128
   * (tentacle's `channel_size`).
   */
  channelSize: number
  /** yamux settings (§8.7). */
  yamux: {
    maxStreamWindowSize: number
    maxStreamCount: number
    acceptBacklog: number
    enableKeepalive: boolean
    keepaliveIntervalMs: number
    connectionWriteTimeoutMs: number
  }
  /** secio proposal lists (§3.5); tentacle's defaults when omitted. */
  secio: {
    agreements?: string[]
    ciphers?: string[]
    digests?: string[]
  }
}

export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_FRAME_LENGTH = 8 * 1024 * 1024 // §2.2
export const DEFAULT_MAX_CONNECTIONS = 65_535 // §12.4
export const DEFAULT_SEND_BUFFER_SIZE = 24 * 1024 * 1024 // §12.4
export const DEFAULT_CHANNEL_SIZE = 128 // §12.4

export function defaultConfig(): ServiceConfig {
  return {
    timeoutMs: DEFAULT_TIMEOUT_MS,
    maxFrameLength: DEFAULT_MAX_FRAME_LENGTH,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxConcurrentHandshakes: 256,
    sendBufferSize: DEFAULT_SEND_BUFFER_SIZE,
    listenBacklog: 4096,
    channelSize: DEFAULT_CHANNEL_SIZE,
    yamux: {
      maxStreamWindowSize: 256 * 1024, // §8.7
      maxStreamCount: 65_535,
      acceptBacklog: 256,
      enableKeepalive: true,
      keepaliveIntervalMs: 30_000,
      connectionWriteTimeoutMs: 10_000,
    },
    secio: {},
  }
}

export type ServiceConfigInput = Partial<Omit<ServiceConfig, 'yamux' | 'secio'>> & {
  yamux?: Partial<ServiceConfig['yamux']>
  secio?: ServiceConfig['secio']
}

/** Merges `input` over the defaults and validates the result. */
export function resolveConfig(input: ServiceConfigInput = {}): ServiceConfig {
  const base = defaultConfig()
  const cfg: ServiceConfig = {
    ...base,
    ...stripUndefined(input),
    yamux: { ...base.yamux, ...stripUndefined(input.yamux ?? {}) },
    secio: { ...base.secio, ...(input.secio ?? {}) },
  }
  const positive: Array<[string, number]> = [
    ['timeoutMs', cfg.timeoutMs],
    ['maxFrameLength', cfg.maxFrameLength],
    ['maxConnections', cfg.maxConnections],
    ['maxConcurrentHandshakes', cfg.maxConcurrentHandshakes],
    ['sendBufferSize', cfg.sendBufferSize],
    ['listenBacklog', cfg.listenBacklog],
    ['channelSize', cfg.channelSize],
  ]
  for (const [name, v] of positive) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new TentacleError('ERR_INVALID_CONFIG', `${name} must be a positive integer, got ${v}`)
    }
  }
  if (cfg.yamux.maxStreamWindowSize < 256 * 1024) {
    throw new TentacleError('ERR_INVALID_CONFIG', 'yamux.maxStreamWindowSize must be >= 262144 (§8.7)')
  }
  // §2.2: tentacle asserts max_frame_length >= yamux max_stream_window_size.
  if (cfg.maxFrameLength < cfg.yamux.maxStreamWindowSize) {
    throw new TentacleError('ERR_INVALID_CONFIG', 'maxFrameLength must be >= yamux.maxStreamWindowSize (§2.2)')
  }
  return cfg
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && k !== 'yamux' && k !== 'secio') (out as Record<string, unknown>)[k] = v
  }
  return out
}
