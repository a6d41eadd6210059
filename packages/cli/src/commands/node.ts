import { constants as osConstants } from 'node:os'
import type { LevelWithSilent, Logger } from 'pino'
import { SecioKeyPair } from '@tentacle-ts/secio'
import {
  serveMetrics,
  ServiceBuilder,
  tcpTarget,
  toMultiaddr,
  type MetricsServer,
  type Service,
  type ServiceHandler,
} from '@tentacle-ts/tentacle'
import { choice, hostPort, intOption, parse } from '../args.js'
import { CliError, UsageError } from '../errors.js'
import { loadKey } from '../key-file.js'
import { createLogger, LOG_LEVELS, type LogFormat } from '../logger.js'
import { isProtocolsError, type NetworkProtocols } from '@tentacle-ts/protocols'
import { createNetwork } from '../network.js'
import { nodeStatus } from '../node-status.js'
import { PRESETS, type Preset } from '../preset.js'
import { printHelp } from '../usage.js'

const CLIENT_VERSION = 'tentacle-ts/0.1.0'

const OPTIONS = {
  listen: { type: 'string', multiple: true },
  bootnode: { type: 'string', multiple: true },
  key: { type: 'string' },
  preset: { type: 'string' },
  'network-name': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-outbound': { type: 'string' },
  'ping-interval': { type: 'string' },
  'ping-timeout': { type: 'string' },
  'discovery-interval': { type: 'string' },
  'outbound-interval': { type: 'string' },
  'dial-interval': { type: 'string' },
  'allow-local-addresses': { type: 'boolean' },
  'address-book': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  'listen-backlog': { type: 'string' },
  metrics: { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
} as const

/** `tentacle node --listen ADDR... [options]`: runs until SIGINT/SIGTERM; resolves with the exit code. */
export async function node(argv: string[]): Promise<number> {
  const { values: v, help } = parse('node', argv, OPTIONS, { min: 0, max: 0 })
  if (help) return printHelp('node')
  const cmd = 'node'
  const listen = (v.listen as string[] | undefined) ?? []
  const bootnodes = (v.bootnode as string[] | undefined) ?? []
  if (listen.length === 0 && bootnodes.length === 0)
    throw new UsageError('give at least one --listen (or a --bootnode to dial)', cmd)
  for (const [flag, addrs] of [
    ['listen', listen],
    ['bootnode', bootnodes],
  ] as const) {
    for (const a of addrs) {
      try {
        tcpTarget(toMultiaddr(a))
      } catch (err) {
        throw new UsageError(`--${flag} '${a}': ${(err as Error).message}`, cmd)
      }
    }
  }
  const preset: Preset = choice(cmd, 'preset', v.preset, PRESETS) ?? 'tentacle'
  const level = choice(cmd, 'log-level', v['log-level'], LOG_LEVELS) ?? 'info'
  const format = choice<LogFormat>(cmd, 'log-format', v['log-format'], ['json', 'pretty'])
  // On by default, on a free loopback port (the ready line says which); `--metrics off` turns it off.
  const metricsAddr =
    v.metrics === 'off' ? undefined : hostPort(cmd, 'metrics', (v.metrics as string | undefined) ?? '127.0.0.1:0')
  const int = (name: keyof typeof OPTIONS, min = 1): number | undefined => intOption(cmd, name, v[name], { min })
  const config = {
    timeoutMs: int('handshake-timeout'),
    maxConnections: int('max-connections'),
    listenBacklog: int('listen-backlog'),
  }
  const shutdownTimeoutMs = int('shutdown-timeout') ?? 5_000
  const networkOptions = {
    preset,
    networkName: v['network-name'] as string | undefined,
    clientVersion: CLIENT_VERSION,
    pingIntervalMs: int('ping-interval'),
    pingTimeoutMs: int('ping-timeout'),
    bootnodes,
    maxOutbound: int('max-outbound', 0),
    discoveryIntervalMs: int('discovery-interval'),
    outboundIntervalMs: int('outbound-interval'),
    dialIntervalMs: int('dial-interval'),
    allowLocalAddresses: v['allow-local-addresses'] === true ? true : undefined,
    addressBookFile: v['address-book'] as string | undefined,
  }

  const logger = createLogger(level as LevelWithSilent, format)
  const key = v.key === undefined ? SecioKeyPair.generate() : await loadKey(v.key as string)

  let network: NetworkProtocols
  try {
    network = createNetwork(networkOptions, logger.child({ component: 'protocols' }))
  } catch (err) {
    // The protocols package validates what we pass on (bootnodes without /p2p/, ...).
    if (
      isProtocolsError(err, 'PROTOCOLS_ERR_INVALID_OPTION') ||
      isProtocolsError(err, 'PROTOCOLS_ERR_INVALID_MULTIADDR')
    )
      throw new UsageError(err.message, cmd)
    throw err
  }
  if (v.key === undefined)
    logger.warn({ peerId: key.peerId.toString() }, 'no --key: using a new identity for this run only')
  const builder = new ServiceBuilder()
    .key(key)
    .configure(config)
    .logger(logger.child({ component: 'service' }))
  for (const spec of network.protocols) builder.protocol(spec)
  const service = builder.build(network.serviceHandler(logEvents(logger)))
  const stopping = onStopSignal(logger)

  let metrics: MetricsServer | undefined
  const bound: string[] = []
  try {
    for (const a of listen) {
      try {
        bound.push((await service.listen(a)).toString() + `/p2p/${service.peerId}`)
      } catch (err) {
        throw new CliError('CLI_ERR_LISTEN', `cannot listen on ${a}: ${(err as Error).message}`, { cause: err })
      }
    }
    // Dial (bootnodes, address book) only once listening, as CKB's NetworkService::start does:
    // a dial can then leave from the listen address, which the peer sees and discovery shares.
    network.attach(service)
    if (metricsAddr !== undefined) {
      try {
        metrics = await serveMetrics({
          ...metricsAddr,
          metrics: () => service.metrics.text(),
          json: { '/status': () => nodeStatus(service, network, bound) },
        })
      } catch (err) {
        throw new CliError('CLI_ERR_METRICS_LISTEN', (err as Error).message, { cause: err })
      }
    }
  } catch (err) {
    await closeAll(service, network, metrics, logger, shutdownTimeoutMs)
    stopping.dispose()
    throw err
  }
  const ready = {
    event: 'ready',
    peerId: service.peerId,
    listen: bound,
    metrics: metrics ? `${metrics.url}/metrics` : null,
    status: metrics ? `${metrics.url}/status` : null,
    pid: process.pid,
  }
  process.stdout.write(JSON.stringify(ready) + '\n')
  logger.info({ ...ready, event: undefined, preset }, 'node ready')

  const signal = await stopping.signal
  logger.info({ signal, budgetMs: shutdownTimeoutMs }, 'shutting down (a second signal exits at once)')
  await closeAll(service, network, metrics, logger, shutdownTimeoutMs)
  stopping.dispose()
  process.stdout.write(JSON.stringify({ event: 'stopped', signal }) + '\n')
  logger.info('stopped')
  // Whatever a dependency left running must not keep a stopped node alive.
  setTimeout(() => process.exit(0), 1_000).unref()
  return 0
}

/** Graceful close within `budgetMs`, then the immediate one. */
async function closeAll(
  service: Service,
  network: NetworkProtocols,
  metrics: MetricsServer | undefined,
  logger: Logger,
  budgetMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const graceful = Promise.all([service.close(), network.close()]).then(() => 'closed' as const)
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), budgetMs)
  })
  const how = await Promise.race([graceful, late])
  clearTimeout(timer)
  if (how === 'late') {
    logger.warn({ budgetMs }, 'graceful close took too long: closing every connection now')
    await service.shutdown()
  }
  await metrics?.close()
}

/** The first SIGINT/SIGTERM resolves `signal`; a second one exits at once. */
function onStopSignal(logger: Logger): { signal: Promise<NodeJS.Signals>; dispose(): void } {
  let first: NodeJS.Signals | undefined
  let resolve!: (s: NodeJS.Signals) => void
  const signal = new Promise<NodeJS.Signals>((r) => (resolve = r))
  const on = (sig: NodeJS.Signals): void => {
    if (first !== undefined) {
      logger.warn({ signal: sig }, 'second signal: exiting now')
      process.exit(128 + (osConstants.signals[sig] ?? 1))
    }
    first = sig
    resolve(sig)
  }
  process.on('SIGINT', on)
  process.on('SIGTERM', on)
  return {
    signal,
    dispose: () => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
    },
  }
}

/** Service events and errors as log lines: sessions at info, failures at warn (handshakes at info: scanners are common). */
function logEvents(logger: Logger): ServiceHandler {
  return {
    handleEvent(e) {
      switch (e.type) {
        case 'session-open':
        case 'session-close':
          logger.info(
            {
              session: e.session.id,
              peerId: e.session.remotePeerId,
              address: e.session.address.toString(),
              direction: e.session.direction,
            },
            e.type,
          )
          break
        case 'listen-started':
        case 'listen-close':
          logger.info({ address: e.address.toString() }, e.type)
          break
      }
    },
    handleError(e) {
      const fields: Record<string, unknown> = { code: e.error.code, err: e.error.message }
      if ('address' in e) fields.address = e.address.toString()
      if ('session' in e && e.session !== undefined) fields.session = e.session.id
      if (e.error.phase !== undefined) fields.phase = e.error.phase
      if (e.type === 'handshake-error') logger.info(fields, e.type)
      else logger.warn(fields, e.type)
    },
  }
}
