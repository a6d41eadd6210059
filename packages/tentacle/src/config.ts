import { DEFAULT_MAX_FRAME_LENGTH } from '@tentacle-ts/codec'
import { AGREEMENTS, CIPHERS, DIGESTS, type AgreementName, type CipherName, type DigestName } from '@tentacle-ts/secio'
import {
  DEFAULT_CONFIG as YAMUX_DEFAULTS,
  isYamuxError,
  resolveConfig as resolveYamuxConfig,
  type YamuxConfig,
} from '@tentacle-ts/yamux'
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
  /** Max secio frame length (§2.2). Default 8 MiB (`DEFAULT_MAX_FRAME_LENGTH` of `@tentacle-ts/codec`). */
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
  /**
   * yamux settings (§8.7): every {@link YamuxConfig} field, with yamux's own
   * defaults (`DEFAULT_CONFIG` of `@tentacle-ts/yamux`).
   */
  yamux: YamuxConfig
  /**
   * secio proposal lists (§3.5), in preference order; tentacle's defaults when
   * omitted. Names are the wire names, case-sensitive (`AES-128-GCM`,
   * `CHACHA20_POLY1305`, `SHA256`, `X25519`).
   */
  secio: {
    agreements?: AgreementName[]
    ciphers?: CipherName[]
    digests?: DigestName[]
  }
}

export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_MAX_CONNECTIONS = 65_535 // §12.4
export const DEFAULT_MAX_CONCURRENT_HANDSHAKES = 256
export const DEFAULT_SEND_BUFFER_SIZE = 24 * 1024 * 1024 // §12.4
export const DEFAULT_LISTEN_BACKLOG = 4096
export const DEFAULT_CHANNEL_SIZE = 128 // §12.4

/** A fresh copy of the defaults. Frame limit and yamux settings are the lower layers' own defaults. */
export function defaultConfig(): ServiceConfig {
  return {
    timeoutMs: DEFAULT_TIMEOUT_MS,
    maxFrameLength: DEFAULT_MAX_FRAME_LENGTH, // §2.2, @tentacle-ts/codec's
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxConcurrentHandshakes: DEFAULT_MAX_CONCURRENT_HANDSHAKES,
    sendBufferSize: DEFAULT_SEND_BUFFER_SIZE,
    listenBacklog: DEFAULT_LISTEN_BACKLOG,
    channelSize: DEFAULT_CHANNEL_SIZE,
    yamux: { ...YAMUX_DEFAULTS },
    secio: {},
  }
}

/** What a user passes: any subset; secio names as strings (checked against the known names). */
export type ServiceConfigInput = Partial<Omit<ServiceConfig, 'yamux' | 'secio'>> & {
  yamux?: Partial<YamuxConfig>
  secio?: {
    agreements?: readonly string[]
    ciphers?: readonly string[]
    digests?: readonly string[]
  }
}

/**
 * Merges `input` over the defaults and validates the result, so that a bad
 * setting fails when the service is built, not at the first handshake.
 * Throws TentacleError TENTACLE_ERR_INVALID_OPTION; its `field` names the setting
 * (`timeoutMs`, `yamux.maxQueuedBytes`, `secio.ciphers[0]`).
 */
export function resolveConfig(input: ServiceConfigInput = {}): ServiceConfig {
  const base = defaultConfig()
  const merged = { ...base, ...stripUndefined(input) }
  const positive = [
    'timeoutMs',
    'maxFrameLength',
    'maxConnections',
    'maxConcurrentHandshakes',
    'sendBufferSize',
    'listenBacklog',
    'channelSize',
  ] as const
  for (const name of positive) {
    const v: unknown = merged[name]
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw invalid(name, `must be a positive integer, got ${String(v)}`)
  }
  const cfg: ServiceConfig = { ...merged, yamux: resolveYamux(input.yamux), secio: resolveSecio(input.secio) }
  // §2.2: tentacle asserts max_frame_length >= yamux max_stream_window_size.
  if (cfg.maxFrameLength < cfg.yamux.maxStreamWindowSize) {
    throw invalid('maxFrameLength', `must be >= yamux.maxStreamWindowSize (${cfg.yamux.maxStreamWindowSize}) (§2.2)`)
  }
  return cfg
}

function invalid(field: string, problem: string, cause?: unknown): TentacleError {
  return new TentacleError('TENTACLE_ERR_INVALID_OPTION', `${field} ${problem}`, { field, cause })
}

/** yamux checks its own settings; its error is re-raised naming the service field. */
function resolveYamux(input: Partial<YamuxConfig> = {}): YamuxConfig {
  const defined = stripUndefined(input) as Partial<YamuxConfig>
  for (const key of Object.keys(defined)) {
    if (!(key in YAMUX_DEFAULTS)) throw invalid(`yamux.${key}`, 'is not a yamux setting')
  }
  try {
    return resolveYamuxConfig(defined)
  } catch (err) {
    const field = isYamuxError(err) ? err.field : undefined
    throw invalid(`yamux.${field ?? '?'}`, err instanceof Error ? err.message.replace(/^\w+ /, '') : String(err), err)
  }
}

const SECIO_NAMES = { agreements: AGREEMENTS, ciphers: CIPHERS, digests: DIGESTS } as const

function resolveSecio(input: ServiceConfigInput['secio'] = {}): ServiceConfig['secio'] {
  const out: Record<string, string[]> = {}
  for (const [list, known] of Object.entries(SECIO_NAMES) as Array<[keyof typeof SECIO_NAMES, readonly string[]]>) {
    const names = input[list]
    if (names === undefined) continue
    if (!Array.isArray(names) || names.length === 0)
      throw invalid(`secio.${list}`, `must be a non-empty list of ${known.join(', ')}`)
    names.forEach((name: unknown, i: number) => {
      if (typeof name !== 'string' || !known.includes(name)) {
        throw invalid(
          `secio.${list}[${i}]`,
          `is ${JSON.stringify(name)}, not one of ${known.join(', ')} (names are case-sensitive)`,
        )
      }
    })
    out[list] = [...names]
  }
  return out as ServiceConfig['secio']
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && k !== 'yamux' && k !== 'secio') (out as Record<string, unknown>)[k] = v
  }
  return out
}
