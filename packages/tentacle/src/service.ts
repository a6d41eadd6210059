import net from 'node:net'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { pino, type Logger } from 'pino'
import { PeerId, type SecioKeyPair } from '@tentacle-ts/secio'
import { resolveConfig, type ServiceConfig, type ServiceConfigInput } from './config.js'
import { errorCode, TentacleError } from './errors.js'
import { TcpListener } from './listener.js'
import { NotifyTimers } from './notify-timers.js'
import { ServiceMetrics, type MetricsOptions } from './metrics.js'
import { ProtocolRegistry } from './protocol-registry.js'
import { SerialQueue } from './serial-queue.js'
import { TentacleSession, type SessionHost } from './session.js'
import type { SessionEnd } from './close-reason.js'
import { socketMultiaddr, tcpTarget, toMultiaddr, withPeerId, type TcpTarget } from './address.js'
import { upgrade, type Upgraded } from './upgrade.js'
import type {
  Direction,
  ProtocolContext,
  ProtocolId,
  ProtocolSpec,
  SendOptions,
  ServiceControl,
  ServiceErrorEvent,
  ServiceEvent,
  ServiceHandler,
  SessionId,
  SessionInfo,
  TargetProtocol,
  TargetSession,
} from './types.js'

export interface ServiceOptions {
  /** Our identity. Without one the service runs plaintext yamux (tentacle's Noop handshake, §12.4). */
  key?: SecioKeyPair
  protocols: ProtocolSpec[]
  handler?: ServiceHandler
  config?: ServiceConfigInput
  /** pino logger; default: silent. */
  logger?: Logger
  /** Where metrics are registered (prom-client); default: a registry of the service's own, served by nothing. */
  metrics?: MetricsOptions
}

/** A dial address taken apart (#parseDial). */
interface ParsedDial {
  /** The text it was parsed from (undefined for a Multiaddr argument). */
  readonly text: string | undefined
  readonly ma: Multiaddr
  readonly t: TcpTarget
  readonly expected: PeerId | undefined
  readonly keys: readonly string[]
}

interface ListenEntry {
  listener: TcpListener
  address: Multiaddr
}

type State = 'running' | 'closing' | 'closed'

/**
 * White-box view of a service's live sessions for this package's own tests
 * (finalization and queued-bytes checks). Not exported from the package index.
 * @internal
 */
export let sessionsForTest!: (service: Service) => ReadonlyMap<SessionId, TentacleSession>

/**
 * A tentacle service (§12): listens, dials, upgrades every connection
 * (secio, then yamux), selects protocols by name and hands messages to
 * protocol handlers. Every control method only queues work and returns, so
 * calling one from inside a handler never deadlocks (ckb #3738).
 */
export class Service implements ServiceControl {
  static {
    sessionsForTest = (service) => service.#sessionsById
  }

  readonly config: ServiceConfig
  readonly key: SecioKeyPair | undefined
  readonly metrics: ServiceMetrics
  readonly logger: Logger
  readonly control: ServiceControl = this
  readonly #registry = new ProtocolRegistry()
  readonly #handler: ServiceHandler
  #state: State = 'running'
  readonly #listeners = new Map<string, ListenEntry>()
  readonly #sessionsById = new Map<SessionId, TentacleSession>()
  /**
   * The same sessions by remote peer id (secio sessions only), for the repeated-connection and
   * crossing-dial checks (§12.2). Usually one per peer; two while a crossing dial replaces a session.
   */
  readonly #sessionsByPeer = new Map<string, TentacleSession[]>()
  /** Sockets from accept (or connect) until their session exists: tracked so close() can destroy them (js-libp2p #2995). */
  readonly #upgrading = new Set<net.Socket>()
  /**
   * Sockets of dials from connect() until the upgrade starts (one per dial, however many dedup keys
   * it has), each with what fails its connect() when close() stops it (undefined once connected).
   */
  readonly #dials = new Map<net.Socket, ((err: TentacleError) => void) | undefined>()
  /** The same dials by dedup key (§5.2): the address, and the peer id when the address has one. */
  readonly #dialing = new Map<string, net.Socket>()
  /** The last text address dialed, parsed (see #parseDial). */
  #lastDial: ParsedDial | undefined
  #nextSessionId = 1
  /** Service events and errors, delivered one at a time, in order (§12.1). */
  readonly #events: SerialQueue
  readonly #protoQueues = new Map<ProtocolId, SerialQueue>()
  readonly #serviceNotify = new NotifyTimers()

  constructor(opts: ServiceOptions) {
    this.config = resolveConfig(opts.config)
    this.key = opts.key
    this.#handler = opts.handler ?? {}
    this.logger = opts.logger ?? pino({ level: 'silent' })
    for (const spec of opts.protocols) this.#registry.add(spec)
    this.#events = new SerialQueue((err) => this.logger.error({ err }, 'service handler failed'))
    this.metrics = new ServiceMetrics(
      {
        sessionCount: () => this.#sessionsById.size,
        streamCount: () => {
          let n = 0
          for (const s of this.#sessionsById.values()) n += s.mux.streamCount
          return n
        },
        handshakingCount: () => this.#upgrading.size,
        listenerTotals: () => {
          const t = { accepted: 0, closedBeforeHandled: 0 }
          for (const { listener } of this.#listeners.values()) {
            t.accepted += listener.stats.accepted
            t.closedBeforeHandled += listener.stats.closedBeforeHandled
          }
          return t
        },
      },
      opts.metrics,
    )
    for (const p of this.#registry.all()) {
      const init = p.handler?.init
      if (init) this.#handlerQueue(p.id).push(() => init.call(p.handler, this.#protoContext(p.id)))
    }
  }

  /** Our PeerId in base58 (undefined in plaintext mode). */
  get peerId(): string | undefined {
    return this.key?.peerId.toString()
  }

  /** Connections counted against `maxConnections`: sessions + upgrades + dials (§12.4, tentacle #463). */
  get connectionCount(): number {
    return this.#sessionsById.size + this.#upgrading.size + this.#dials.size
  }

  /** Listeners' counters, by listen address. */
  listenerStats(): Map<string, TcpListener['stats']> {
    const out = new Map<string, TcpListener['stats']>()
    for (const [addr, { listener }] of this.#listeners) out.set(addr, listener.stats)
    return out
  }

  // ------------------------------------------------------------ ServiceControl

  listen(address: string | Multiaddr): Promise<Multiaddr> {
    return handled(this.#doListen(address))
  }

  async #doListen(address: string | Multiaddr): Promise<Multiaddr> {
    let ma: Multiaddr | string = address
    try {
      this.#assertRunning()
      ma = toMultiaddr(address)
      return await this.#bind(ma)
    } catch (err) {
      const error =
        err instanceof TentacleError
          ? err
          : new TentacleError('TENTACLE_ERR_LISTEN_FAILED', String(err), { cause: err })
      if (error.code !== 'TENTACLE_ERR_SERVICE_CLOSED') this.#emitError({ type: 'listen-error', address: ma, error })
      throw error
    }
  }

  async #bind(ma: Multiaddr): Promise<Multiaddr> {
    const target = tcpTarget(ma)
    const listener = new TcpListener({
      host: target.host,
      port: target.port,
      backlog: this.config.listenBacklog,
      admit: () => this.#admitInbound(),
      onSocket: ({ socket, remoteAddress, remotePort }) => this.#acceptInbound(socket, remoteAddress, remotePort),
      onAcceptError: (err) => {
        this.metrics.acceptErrors.inc({ code: err.code ?? 'UNKNOWN' })
        this.logger.warn({ err }, 'accept failed; still accepting')
      },
    })
    let bound: { host: string; port: number }
    try {
      bound = await listener.listen()
    } catch (err) {
      throw err instanceof TentacleError
        ? err
        : new TentacleError('TENTACLE_ERR_LISTEN_FAILED', String(err), { cause: err })
    }
    if (this.#state !== 'running') {
      await listener.close()
      throw new TentacleError('TENTACLE_ERR_SERVICE_CLOSED', 'the service closed while binding')
    }
    const real = socketMultiaddr(bound.host, bound.port)
    this.#listeners.set(real.toString(), { listener, address: real })
    this.#emitEvent({ type: 'listen-started', address: real })
    return real
  }

  dial(address: string | Multiaddr, target: TargetProtocol = { kind: 'all' }): Promise<SessionInfo> {
    return handled(this.#doDial(address, target))
  }

  async #doDial(address: string | Multiaddr, target: TargetProtocol): Promise<SessionInfo> {
    let ma: Multiaddr | string = address
    try {
      this.#assertRunning()
      const parsed = this.#parseDial(address)
      ma = parsed.ma
      const { t, expected, keys } = parsed
      // §5.2: skip a dial to an address, or a peer id, already being dialed.
      if (keys.some((k) => this.#dialing.has(k))) {
        throw new TentacleError('TENTACLE_ERR_ALREADY_DIALING', `${ma.toString()} is already being dialed`)
      }
      if (this.connectionCount >= this.config.maxConnections) {
        throw new TentacleError(
          'TENTACLE_ERR_TOO_MANY_CONNECTIONS',
          `at maxConnections (${this.config.maxConnections})`,
        )
      }
      const localAddress = this.#loopbackSource(t.host)
      const socket = net.connect({
        host: t.host,
        port: t.port,
        family: t.family,
        noDelay: true,
        ...(localAddress ? { localAddress } : {}),
      })
      this.#dials.set(socket, undefined)
      for (const k of keys) this.#dialing.set(k, socket)
      let up: Upgraded
      try {
        await this.#connect(socket, ma)
        this.#dials.delete(socket)
        for (const k of keys) this.#dialing.delete(k)
        up = await this.#upgradeTracked(socket, 'outbound', expected)
      } finally {
        this.#dials.delete(socket)
        for (const k of keys) if (this.#dialing.get(k) === socket) this.#dialing.delete(k)
      }
      // A dialed /p2p/ id is the one the handshake verified: the address already names the peer.
      return await this.#sessionUp(up, ma, 'outbound', target, t.peerId !== undefined)
    } catch (err) {
      const error =
        err instanceof TentacleError ? err : new TentacleError('TENTACLE_ERR_DIAL_FAILED', String(err), { cause: err })
      if (error.code !== 'TENTACLE_ERR_SERVICE_CLOSED') this.#emitError({ type: 'dial-error', address: ma, error })
      throw error
    }
  }

  /**
   * The parts of a dial address. The last text address is kept parsed: a node redials the
   * same peers (and Multiaddr, its TCP target and PeerId are immutable), so a reconnect costs
   * no multiaddr parse, base58 decode or key strings.
   */
  #parseDial(address: string | Multiaddr): ParsedDial {
    const last = this.#lastDial
    if (last !== undefined && last.text === address) return last
    const ma = toMultiaddr(address)
    const t = tcpTarget(ma)
    let expected: PeerId | undefined
    if (t.peerId !== undefined) {
      // Without a key there is no handshake to check the id (plaintext yamux):
      // accepting the session would claim an identity nobody verified.
      if (this.key === undefined) {
        throw new TentacleError(
          'TENTACLE_ERR_UNVERIFIABLE_PEER_ID',
          `${ma.toString()} names a peer id, which a service without a key cannot verify`,
        )
      }
      try {
        expected = PeerId.parse(t.peerId)
      } catch (err) {
        throw new TentacleError('TENTACLE_ERR_INVALID_MULTIADDR', `bad /p2p/ id in ${ma.toString()}`, { cause: err })
      }
    }
    // The dedup keys (§5.2): the address, and the peer id when the address has one.
    const keys = [`${t.host}:${t.port}`, ...(t.peerId ? [`p2p:${t.peerId}`] : [])]
    const parsed = { text: typeof address === 'string' ? address : undefined, ma, t, expected, keys }
    if (parsed.text !== undefined) this.#lastDial = parsed
    return parsed
  }

  /**
   * A dial to a loopback address leaves from the 127.x address this service listens on, if any.
   * The kernel would pick 127.0.0.1, and the peer would see (and discovery would share, §11)
   * an address nobody listens at; Rust tentacle as CKB runs it binds outbound sockets to its
   * listen address (reuse_port) and gets the same effect. Nodes on distinct 127.0.0.x
   * addresses (the local test net) need it to find each other.
   */
  #loopbackSource(host: string): string | undefined {
    if (!net.isIPv4(host) || !host.startsWith('127.')) return undefined
    for (const { address } of this.#listeners.values()) {
      const own = tcpTarget(address).host
      if (net.isIPv4(own) && own.startsWith('127.')) return own
    }
    return undefined
  }

  /** TCP connect under the service timeout (§12.4); close() fails it (SERVICE_CLOSED) through #dials. */
  #connect(socket: net.Socket, ma: Multiaddr): Promise<void> {
    return new Promise((resolve, reject) => {
      const wait = new ConnectWait(socket, ma, this.#dials, resolve, reject, this.config.timeoutMs)
      this.#dials.set(socket, wait.fail)
    })
  }

  disconnect(session: SessionId): void {
    this.#sessionsById.get(session)?.disconnect()
  }

  send(session: SessionId, proto: ProtocolId, data: Uint8Array, opts?: SendOptions): void {
    this.#sessionsById.get(session)?.send(proto, data, opts)
  }

  sendAsync(session: SessionId, proto: ProtocolId, data: Uint8Array, opts?: SendOptions): Promise<boolean> {
    const s = this.#sessionsById.get(session)
    return s === undefined ? Promise.resolve(false) : s.sendAsync(proto, data, opts)
  }

  broadcast(target: TargetSession, proto: ProtocolId, data: Uint8Array, opts?: SendOptions): void {
    switch (target.kind) {
      case 'all':
        for (const s of this.#sessionsById.values()) s.send(proto, data, opts)
        break
      case 'single':
        this.send(target.id, proto, data, opts)
        break
      case 'multi':
        for (const id of target.ids) this.send(id, proto, data, opts)
        break
      case 'filter':
        for (const s of this.#sessionsById.values()) if (target.filter(s.info)) s.send(proto, data, opts)
        break
    }
  }

  openProtocol(session: SessionId, proto: ProtocolId): void {
    this.#sessionsById.get(session)?.openProtocol(proto)
  }

  openProtocols(session: SessionId, target: TargetProtocol): void {
    this.#sessionsById.get(session)?.openProtocols(target)
  }

  closeProtocol(session: SessionId, proto: ProtocolId): void {
    this.#sessionsById.get(session)?.closeProtocol(proto)
  }

  setServiceNotify(proto: ProtocolId, intervalMs: number, token: number): void {
    if (this.#state !== 'running') return
    const handler = this.#registry.get(proto)?.handler
    if (handler?.notify === undefined) return
    const target = { queue: this.#handlerQueue(proto), call: () => handler.notify?.(this.#protoContext(proto), token) }
    this.#serviceNotify.set(proto, token, intervalMs, () => target)
  }

  removeServiceNotify(proto: ProtocolId, token: number): void {
    this.#serviceNotify.remove(proto, token)
  }

  setSessionNotify(session: SessionId, proto: ProtocolId, intervalMs: number, token: number): void {
    this.#sessionsById.get(session)?.setNotify(proto, intervalMs, token)
  }

  removeSessionNotify(session: SessionId, proto: ProtocolId, token: number): void {
    this.#sessionsById.get(session)?.removeNotify(proto, token)
  }

  sessions(): SessionInfo[] {
    return [...this.#sessionsById.values()].map((s) => s.info)
  }

  session(id: SessionId): SessionInfo | undefined {
    return this.#sessionsById.get(id)?.info
  }

  /**
   * Graceful close (§12.3 `close()`): stop listening (listen-close events),
   * abort upgrades, disconnect every session (protocols flush and FIN, yamux
   * GoAway, bounded wait for the peer). Resolves once every socket is closed;
   * it does not wait for handlers, so awaiting it inside one is safe.
   */
  async close(): Promise<void> {
    if (this.#state !== 'running') return this.#closedSockets()
    this.#beginClose()
    for (const s of this.#sessionsById.values()) s.disconnect()
    return this.#closedSockets()
  }

  /** Quick close (§12.3 `shutdown()`): like close() but sessions are torn down without waiting for peers. */
  async shutdown(): Promise<void> {
    if (this.#state === 'running') this.#beginClose()
    for (const s of this.#sessionsById.values()) s.destroy()
    return this.#closedSockets()
  }

  #beginClose(): void {
    this.#state = 'closing'
    for (const [key, { listener, address }] of this.#listeners) {
      void listener.close()
      this.#listeners.delete(key)
      this.#emitEvent({ type: 'listen-close', address })
    }
    for (const socket of this.#upgrading) socket.destroy()
    for (const [socket, failConnect] of this.#dials) {
      if (failConnect !== undefined) failConnect(new TentacleError('TENTACLE_ERR_SERVICE_CLOSED', 'the service closed'))
      else socket.destroy()
    }
    this.#serviceNotify.clear()
  }

  async #closedSockets(): Promise<void> {
    await Promise.all([...this.#sessionsById.values()].map((s) => s.mux.closed))
    this.#state = 'closed'
    this.metrics.close()
  }

  // ------------------------------------------------------------ inbound

  /** Limits, checked synchronously for each accepted socket (rule 1: close the excess at once). */
  #admitInbound(): string | undefined {
    if (this.#state !== 'running') {
      this.metrics.rejected.inc({ reason: 'closing' })
      return 'TENTACLE_ERR_SERVICE_CLOSED'
    }
    if (this.connectionCount >= this.config.maxConnections) {
      this.metrics.rejected.inc({ reason: 'max_connections' })
      return 'TENTACLE_ERR_TOO_MANY_CONNECTIONS'
    }
    if (this.#upgrading.size >= this.config.maxConcurrentHandshakes) {
      this.metrics.rejected.inc({ reason: 'max_handshakes' })
      return 'TENTACLE_ERR_TOO_MANY_HANDSHAKES'
    }
    return undefined
  }

  /**
   * Owns an admitted socket from now on. Never throws, and nothing it starts
   * can end in an unhandled rejection (the listener must keep going, the
   * process must not crash).
   */
  #acceptInbound(socket: net.Socket, remoteAddress: string, remotePort: number): void {
    // The remote multiaddr is built after the upgrade, not on the accept path.
    this.#upgradeTracked(socket, 'inbound', undefined)
      .then(
        (up) => {
          // Built once, with the peer id, for the common case (IPv4, secio): one parse per session, not three.
          const withId = up.remotePeerId !== undefined && net.isIPv4(remoteAddress)
          const address = withId
            ? multiaddr(`/ip4/${remoteAddress}/tcp/${remotePort}/p2p/${up.remotePeerId}`)
            : socketMultiaddr(remoteAddress, remotePort)
          return this.#sessionUp(up, address, 'inbound', undefined, withId)
        },
        (error: TentacleError) => {
          this.#emitError({ type: 'handshake-error', address: socketMultiaddr(remoteAddress, remotePort), error })
        },
      )
      .catch((err: unknown) => {
        // TENTACLE_ERR_REPEATED_CONNECTION and TENTACLE_ERR_SERVICE_CLOSED were reported (or are expected); anything else is a bug.
        const code = errorCode(err)
        if (code !== 'TENTACLE_ERR_REPEATED_CONNECTION' && code !== 'TENTACLE_ERR_SERVICE_CLOSED')
          this.logger.error({ err }, 'inbound connection failed after accept')
      })
  }

  /** Runs the upgrade with the socket tracked from first to last (js-libp2p #2995). */
  async #upgradeTracked(
    socket: net.Socket,
    direction: Direction,
    expectedPeerId: PeerId | undefined,
  ): Promise<Upgraded> {
    this.#upgrading.add(socket)
    try {
      const up = await upgrade(socket, {
        direction,
        key: this.key,
        config: this.config,
        timeoutMs: this.config.timeoutMs,
        expectedPeerId,
        // No abort signal: close() destroys every socket in #upgrading, which ends its handshake.
      })
      this.metrics.handshakeOk(direction)
      return up
    } catch (err) {
      const e = err as TentacleError
      this.metrics.handshakes.inc({ direction, outcome: errorCode(e) ?? 'error', phase: e.phase ?? '' })
      if (this.#state !== 'running')
        throw new TentacleError('TENTACLE_ERR_SERVICE_CLOSED', 'the service closed during the handshake', {
          cause: err,
        })
      throw e
    } finally {
      this.#upgrading.delete(socket)
    }
  }

  // ------------------------------------------------------------ sessions

  /** Service checks after the handshake (§12.2), then the session, then `session-open` (§10.3). */
  #sessionUp(
    up: Upgraded,
    address: Multiaddr,
    direction: Direction,
    target: TargetProtocol | undefined,
    /** `address` already ends in the remote peer's /p2p/ id. */
    hasPeerId = false,
  ): Promise<SessionInfo> {
    if (this.#state !== 'running') {
      up.mux.destroy()
      return Promise.reject(new TentacleError('TENTACLE_ERR_SERVICE_CLOSED', 'the service closed during the handshake'))
    }
    // The sessions with this peer (its id is the hash of its public key): a Map lookup, not a walk over every
    // session, which made each new session cost O(sessions) (issue 12: 224 -> 75 sessions/s at 10 000).
    const samePeer = up.remotePeerId !== undefined ? this.#sessionsByPeer.get(up.remotePeerId) : undefined
    if (samePeer !== undefined) {
      for (const s of [...samePeer]) {
        if (this.#winsCrossing(s, direction, up.remotePeerId)) {
          // §12.2: two crossing dials; both sides keep the one dialed by the smaller peer id.
          this.logger.debug(
            { session: s.id, peer: up.remotePeerId },
            'crossing dial: the new connection replaces the session',
          )
          s.disconnect('replaced')
          continue
        }
        up.mux.destroy()
        const error = new TentacleError(
          'TENTACLE_ERR_REPEATED_CONNECTION',
          `already connected to ${up.remotePeerId} as session ${s.id}`,
        )
        if (direction === 'inbound') {
          const listen = [...this.#listeners.values()][0]?.address ?? address
          this.#emitError({ type: 'listen-error', address: listen, error })
        }
        return Promise.reject(error)
      }
    }
    const id = this.#allocSessionId()
    const sessionAddress = up.remotePeerId !== undefined && !hasPeerId ? withPeerId(address, up.remotePeerId) : address
    const session = new TentacleSession(id, this.#host, up.mux, {
      address: sessionAddress,
      direction,
      remotePublicKey: up.remotePublicKey,
      remotePeerId: up.remotePeerId,
      suite: up.suite,
      handshakeMs: up.durationMs,
    })
    this.#sessionsById.set(id, session)
    if (up.remotePeerId !== undefined) {
      const list = this.#sessionsByPeer.get(up.remotePeerId)
      if (list === undefined) this.#sessionsByPeer.set(up.remotePeerId, [session])
      else list.push(session)
    }
    session.upAt = performance.now()
    this.metrics.sessionOpened(direction)
    // Guarded: the arguments (the address as text) cost even when the level is off.
    if (this.logger.isLevelEnabled('debug'))
      this.logger.debug(
        { session: id, address: session.info.address.toString(), direction, suite: up.suite },
        'session up',
      )
    // §10.3: session-open is handled before any protocol runs.
    this.#events.push(
      () => this.#handler.handleEvent?.({ type: 'session-open', session: session.info }, this),
      () => session.start(target),
    )
    return Promise.resolve(session.info)
  }

  /**
   * Crossing dials (§12.2): a connection to a peer whose session in the other
   * direction came up within the handshake timeout. Rust tentacle keeps the
   * first established on each side, so two nodes dialing each other at once
   * can each keep a different one and lose both. Here both sides keep the
   * connection dialed by the smaller peer id (true: the new one replaces `s`).
   */
  #winsCrossing(s: TentacleSession, direction: Direction, remotePeerId: string | undefined): boolean {
    const self = this.peerId
    if (s.isClosed || s.info.direction === direction || self === undefined || remotePeerId === undefined) return false
    if (performance.now() - s.upAt > this.config.timeoutMs) return false
    const newDialer = direction === 'outbound' ? self : remotePeerId
    const oldDialer = direction === 'outbound' ? remotePeerId : self
    return newDialer < oldDialer
  }

  #allocSessionId(): SessionId {
    // §10.3: first id 1, then increments, skipping ids in use.
    for (;;) {
      const id = this.#nextSessionId
      this.#nextSessionId = id >= 0x7fffffff ? 1 : id + 1
      if (!this.#sessionsById.has(id)) return id
    }
  }

  // ------------------------------------------------------------ SessionHost

  /**
   * What the sessions of this service see of it. A separate object so that
   * the session-host methods stay off Service's public surface.
   */
  readonly #host: SessionHost = this.#makeSessionHost()

  #makeSessionHost(): SessionHost {
    const config = (): ServiceConfig => this.config
    return {
      control: this,
      get timeoutMs() {
        return config().timeoutMs
      },
      get sendBufferSize() {
        return config().sendBufferSize
      },
      get channelSize() {
        return config().channelSize
      },
      protocol: (id) => this.#registry.get(id),
      protocolByName: (name) => this.#registry.byWireName(name),
      protocols: () => this.#registry.all(),
      handlerQueue: (id) => this.#handlerQueue(id),
      newQueue: (id) => this.#newQueue(id),
      emitError: (ev) => this.#emitError(ev),
      sessionEnded: (session, end) => this.#sessionEnded(session, end),
      countBytes: (dir, n, proto) => this.metrics.countBytes(dir, n, proto, this.#registry),
    }
  }

  #handlerQueue(id: ProtocolId): SerialQueue {
    let q = this.#protoQueues.get(id)
    if (q === undefined) {
      q = this.#newQueue(id)
      this.#protoQueues.set(id, q)
    }
    return q
  }

  #newQueue(id: ProtocolId): SerialQueue {
    return new SerialQueue((err) => {
      this.#emitError({
        type: 'protocol-handle-error',
        session: undefined,
        protoId: id,
        error: new TentacleError(
          'TENTACLE_ERR_PROTOCOL_HANDLER',
          `protocol ${id} handler failed: ${(err as Error)?.message ?? String(err)}`,
          { cause: err },
        ),
      })
    })
  }

  #emitError(ev: ServiceErrorEvent): void {
    if (this.logger.isLevelEnabled('debug'))
      this.logger.debug({ type: ev.type, code: ev.error.code, err: ev.error.message }, 'service error')
    const h = this.#handler.handleError
    if (h) this.#events.push(() => h.call(this.#handler, ev, this))
  }

  #emitEvent(ev: ServiceEvent): void {
    const h = this.#handler.handleEvent
    if (h) this.#events.push(() => h.call(this.#handler, ev, this))
  }

  #sessionEnded(session: TentacleSession, end: SessionEnd): void {
    if (this.#sessionsById.get(session.id) === session) this.#sessionsById.delete(session.id)
    const peer = session.info.remotePeerId
    const list = peer !== undefined ? this.#sessionsByPeer.get(peer) : undefined
    if (list !== undefined) {
      const i = list.indexOf(session)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) this.#sessionsByPeer.delete(peer!)
    }
    this.#emitEvent({ type: 'session-close', session: session.info, ...end })
  }

  // ------------------------------------------------------------ helpers

  #protoContext(protoId: ProtocolId): ProtocolContext {
    return { control: this, protoId }
  }

  #assertRunning(): void {
    if (this.#state !== 'running') throw new TentacleError('TENTACLE_ERR_SERVICE_CLOSED', 'the service is closed')
  }
}

/**
 * One TCP connect being waited for (#connect): its timer, its two socket listeners and the
 * fail hook close() calls through `dials`. A class with bound methods rather than closures:
 * run from source through tsx, esbuild's keepNames names each named closure at run time, per dial.
 */
class ConnectWait {
  /** Fails the connect (destroys the socket, rejects); what close() calls through `dials`. */
  readonly fail = this.#fail.bind(this)
  readonly #onConnect = this.#connected.bind(this)
  readonly #onError = this.#errored.bind(this)
  readonly #timer: NodeJS.Timeout

  constructor(
    readonly socket: net.Socket,
    readonly ma: Multiaddr,
    readonly dials: Map<net.Socket, ((err: TentacleError) => void) | undefined>,
    readonly resolve: () => void,
    readonly reject: (err: TentacleError) => void,
    timeoutMs: number,
  ) {
    this.#timer = setTimeout(ConnectWait.#timedOut, timeoutMs, this, timeoutMs)
    socket.on('connect', this.#onConnect)
    socket.on('error', this.#onError)
  }

  static #timedOut(this: void, w: ConnectWait, timeoutMs: number): void {
    w.#fail(
      new TentacleError('TENTACLE_ERR_DIAL_FAILED', `connect to ${w.ma.toString()} timed out after ${timeoutMs} ms`, {
        phase: 'connecting',
      }),
    )
  }

  #cleanup(): void {
    clearTimeout(this.#timer)
    this.socket.off('connect', this.#onConnect)
    this.socket.off('error', this.#onError)
    if (this.dials.has(this.socket)) this.dials.set(this.socket, undefined)
  }

  #fail(err: TentacleError): void {
    this.#cleanup()
    this.socket.destroy()
    this.reject(err)
  }

  #connected(): void {
    this.#cleanup()
    this.resolve()
  }

  #errored(err: NodeJS.ErrnoException): void {
    this.#fail(
      new TentacleError(
        'TENTACLE_ERR_DIAL_FAILED',
        `connect to ${this.ma.toString()} failed: ${err.code ?? err.message}`,
        {
          cause: err,
          phase: 'connecting',
        },
      ),
    )
  }
}

/**
 * Returns `p` with a no-op rejection handler attached, so a caller that
 * ignores the promise never gets an unhandled rejection (a crash under
 * Node's default), while a caller that awaits it still sees the error.
 */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {})
  return p
}
