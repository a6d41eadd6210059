import type { Logger } from 'pino'
import type { SecioKeyPair } from '@tentacle-ts/secio'
import type { ServiceConfigInput } from './config.js'
import type { MetricsOptions } from './metrics.js'
import { Service } from './service.js'
import type { ProtocolSpec, ServiceHandler } from './types.js'

/**
 * tentacle's `ServiceBuilder`, TypeScript-style:
 *
 * ```ts
 * const service = new ServiceBuilder()
 *   .key(SecioKeyPair.generate())
 *   .protocol({ id: 1, handler: { received: (ctx, data) => ctx.send(data) } })
 *   .timeout(5_000)
 *   .build({ handleError: (e) => console.error(e.type, e.error.code) })
 * ```
 */
export class ServiceBuilder {
  readonly #protocols: ProtocolSpec[] = []
  #config: ServiceConfigInput = {}
  #identity: SecioKeyPair | undefined
  #log: Logger | undefined
  #metricsOptions: MetricsOptions | undefined

  /** Registers a protocol (tentacle `insert_protocol`). */
  protocol(spec: ProtocolSpec): this {
    this.#protocols.push(spec)
    return this
  }

  /** Enables secio with this identity (tentacle `handshake_type(key)`); without it the service runs plaintext. */
  key(key: SecioKeyPair): this {
    this.#identity = key
    return this
  }

  timeout(ms: number): this {
    this.#config = { ...this.#config, timeoutMs: ms }
    return this
  }

  maxConnections(n: number): this {
    this.#config = { ...this.#config, maxConnections: n }
    return this
  }

  /** Any other setting; merged over earlier calls. */
  configure(config: ServiceConfigInput): this {
    this.#config = {
      ...this.#config,
      ...config,
      yamux: { ...this.#config.yamux, ...config.yamux },
      secio: { ...this.#config.secio, ...config.secio },
    }
    return this
  }

  logger(logger: Logger): this {
    this.#log = logger
    return this
  }

  /** Where metrics are registered (a prom-client registry, a name prefix). */
  metrics(opts: MetricsOptions): this {
    this.#metricsOptions = opts
    return this
  }

  build(handler?: ServiceHandler): Service {
    return new Service({
      key: this.#identity,
      protocols: this.#protocols,
      handler,
      config: this.#config,
      logger: this.#log,
      metrics: this.#metricsOptions,
    })
  }
}
