import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { TentacleError } from './errors.js'

export interface MetricsServerOptions {
  /** Address to bind. Default 127.0.0.1: metrics are not for the whole network unless asked. */
  host?: string
  /** Port; 0 picks a free one. */
  port: number
  /** The Prometheus text served at GET /metrics, e.g. `() => service.metrics.text()`. */
  metrics: () => string | Promise<string>
  /** More GET endpoints answering JSON, by path (e.g. `{ '/status': () => ({ ... }) }`). */
  json?: Record<string, () => unknown>
}

export interface MetricsServer {
  /** `http://host:port` of the bound server (port 0 resolved). */
  readonly url: string
  readonly host: string
  readonly port: number
  /** Stops listening and closes every open connection. */
  close(): Promise<void>
}

/**
 * An HTTP server for Prometheus scrapes (GET /metrics) and, optionally, JSON
 * endpoints. The library starts none by itself; `tentacle node --metrics`
 * does. Rejects with TENTACLE_ERR_LISTEN_FAILED if the address cannot be bound.
 */
export async function serveMetrics(opts: MetricsServerOptions): Promise<MetricsServer> {
  const json = new Map(Object.entries(opts.json ?? {}))
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    const answer = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    const fail = (err: unknown): void =>
      answer(500, 'text/plain; charset=utf-8', `error: ${(err as Error)?.message ?? String(err)}\n`)
    if (path === '/metrics') {
      Promise.resolve()
        .then(opts.metrics)
        .then((text) => answer(200, 'text/plain; version=0.0.4; charset=utf-8', text), fail)
      return
    }
    const read = json.get(path)
    if (read !== undefined) {
      Promise.resolve()
        .then(read)
        .then((v) => answer(200, 'application/json', JSON.stringify(v) + '\n'), fail)
      return
    }
    answer(
      404,
      'text/plain; charset=utf-8',
      `not found; try /metrics${[...json.keys()].map((p) => ' or ' + p).join('')}\n`,
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new TentacleError(
          'TENTACLE_ERR_LISTEN_FAILED',
          `metrics server on ${opts.host ?? '127.0.0.1'}:${opts.port}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      ),
    )
    server.listen({ host: opts.host ?? '127.0.0.1', port: opts.port }, () => resolve())
  })
  const addr = server.address() as AddressInfo
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return {
    url: `http://${host}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
