/**
 * `createNetworkProtocols`: the five protocols, the address book, outbound
 * dialing (feelers first, full dials later, up to maxOutbound, as CKB's
 * `OutboundPeerService`), misbehaviour verdicts, events and metrics, tied to
 * one tentacle-ts service.
 */
import { EventEmitter } from 'node:events'
import type {
  ProtocolSpec,
  Service,
  ServiceControl,
  ServiceErrorEvent,
  ServiceEvent,
  ServiceHandler,
  SessionId,
  SessionInfo,
} from '@tentacle-ts/tentacle'
import { AddressBook, addressIp, addressPeerId } from './address-book.js'
import { isDialable, isReachableIp, isValidDiscoveryAddr, socketOf, withPeer } from './address-filter.js'
import { shuffle } from './shuffle.js'
import type { Core, MisbehaviourInput } from './core.js'
import { discoveryHandler } from './discovery-handler.js'
import { disconnectMessageHandler } from './disconnect-message-handler.js'
import { ProtocolsError } from './errors.js'
import { feelerHandler } from './feeler-handler.js'
import { DEFAULT_REQUIRED_FLAGS, Flags } from './flags.js'
import { identifyHandler, OUTBOUND_TOKEN } from './identify-handler.js'
import { ProtocolsMetrics } from './metrics.js'
import { canonicalMultiaddr } from './multiaddr-binary.js'
import { ObservedAddresses } from './observed-addresses.js'
import { pingHandler } from './ping-handler.js'
import { PRESETS } from './presets.js'
import type { SessionState } from './session-state.js'
import type {
  MisbehaviourReport,
  MisbehaviourVerdict,
  NetworkProtocols,
  NetworkProtocolsEvents,
  NetworkProtocolsOptions,
  PeerDropReason,
  PeerInfo,
  ProtocolIds,
  ResolvedNetworkOptions,
} from './types.js'

/** CKB bans for 5 minutes on a protocol error (`ServiceError::ProtocolError`). */
const PROTOCOL_ERROR_BAN_MS = 300_000
const DEFAULT_CLIENT_VERSION = 'tentacle-ts/0.1.0'
/** An inbound session this recent from a peer we were dialing means the dials crossed. */
const CROSS_DIAL_WINDOW_MS = 10_000

function positive(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt
  if (!Number.isFinite(x) || x <= 0)
    throw new ProtocolsError('PROTOCOLS_ERR_INVALID_OPTION', `${name} must be a positive number, got ${String(v)}`, {
      field: name,
    })
  return x
}

function count(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt
  if (!Number.isInteger(x) || x < 0)
    throw new ProtocolsError(
      'PROTOCOLS_ERR_INVALID_OPTION',
      `${name} must be a non-negative integer, got ${String(v)}`,
      {
        field: name,
      },
    )
  return x
}

/** Applies the preset and the defaults; throws ProtocolsError PROTOCOLS_ERR_INVALID_OPTION. */
export function resolveNetworkOptions(o: NetworkProtocolsOptions): ResolvedNetworkOptions {
  const presetName = o.preset ?? 'ckb'
  const preset = PRESETS[presetName]
  if (preset === undefined)
    throw new ProtocolsError('PROTOCOLS_ERR_INVALID_OPTION', `unknown preset ${String(presetName)}`, {
      field: 'preset',
    })
  if (typeof o.networkName !== 'string' || o.networkName.length === 0)
    throw new ProtocolsError('PROTOCOLS_ERR_INVALID_OPTION', 'networkName is required', { field: 'networkName' })
  const ids: ProtocolIds = { ...preset.ids, ...o.ids }
  const idList = Object.values(ids)
  if (new Set(idList).size !== idList.length || idList.some((id) => !Number.isInteger(id) || id < 0)) {
    throw new ProtocolsError(
      'PROTOCOLS_ERR_INVALID_OPTION',
      `protocol ids must be distinct non-negative integers, got ${JSON.stringify(ids)}`,
      { field: 'ids' },
    )
  }
  const names = { ...preset.names }
  if (presetName === 'tentacle')
    for (const k of Object.keys(ids) as Array<keyof ProtocolIds>) names[k] = `/p2p/${ids[k]}`
  const flags = o.flags ?? Flags.COMPATIBILITY | Flags.DISCOVERY
  if (typeof flags !== 'bigint' || flags <= 0n || flags > 0xffffffffffffffffn)
    throw new ProtocolsError(
      'PROTOCOLS_ERR_INVALID_OPTION',
      'flags must be a non-zero u64 bigint (CKB refuses zero flags)',
      {
        field: 'flags',
      },
    )
  const requiredFlags = o.requiredFlags ?? DEFAULT_REQUIRED_FLAGS
  const canon = (field: string, a: string): string => {
    try {
      return canonicalMultiaddr(a)
    } catch (err) {
      throw new ProtocolsError('PROTOCOLS_ERR_INVALID_OPTION', `${field}: ${a} is not a multiaddr`, {
        cause: err,
        field,
      })
    }
  }
  const bootnodes = (o.bootnodes ?? []).map((b, i) => {
    const a = canon(`bootnodes[${i}]`, b)
    if (addressPeerId(a) === undefined)
      throw new ProtocolsError('PROTOCOLS_ERR_INVALID_OPTION', `bootnode ${b} has no /p2p/<peer id>`, {
        field: `bootnodes[${i}]`,
      })
    return a
  })
  const pingTimeoutMs = positive('pingTimeoutMs', o.pingTimeoutMs, preset.pingTimeoutMs)
  return {
    preset: presetName,
    networkName: o.networkName,
    clientVersion: o.clientVersion ?? DEFAULT_CLIENT_VERSION,
    flags,
    requiredFlags,
    ids,
    names,
    versions: [...preset.versions],
    maxFrameLengths: { ...preset.maxFrameLengths },
    discoveryForm: preset.discoveryForm,
    pingIntervalMs: positive('pingIntervalMs', o.pingIntervalMs, preset.pingIntervalMs),
    pingTimeoutMs,
    pingCheckIntervalMs: positive('pingCheckIntervalMs', o.pingCheckIntervalMs, pingTimeoutMs),
    identifyTimeoutMs: positive('identifyTimeoutMs', o.identifyTimeoutMs, 8000),
    discoveryIntervalMs: positive('discoveryIntervalMs', o.discoveryIntervalMs, preset.discoveryIntervalMs),
    announceIntervalMs: positive('announceIntervalMs', o.announceIntervalMs, 24 * 3600 * 1000),
    outboundIntervalMs: positive('outboundIntervalMs', o.outboundIntervalMs, 15_000),
    dialIntervalMs: count('dialIntervalMs', o.dialIntervalMs, 15_000),
    feelerRetryMs: count('feelerRetryMs', o.feelerRetryMs, 60_000),
    feelersPerTick: count('feelersPerTick', o.feelersPerTick, 10),
    maxOutbound: count('maxOutbound', o.maxOutbound, 8),
    bootnodes,
    publicAddresses: (o.publicAddresses ?? []).map((a, i) => canon(`publicAddresses[${i}]`, a)),
    allowLocalAddresses: o.allowLocalAddresses ?? false,
    maxAddresses: positive('maxAddresses', o.maxAddresses, 16_384),
    addressBookFile: o.addressBookFile,
    onMisbehaviour: o.onMisbehaviour ?? ((r: MisbehaviourReport) => r.ckbVerdict),
    now: o.now ?? Date.now,
  }
}

const utf8 = new TextEncoder()

class NetworkProtocolsImpl extends EventEmitter implements NetworkProtocols, Core {
  readonly opts: ResolvedNetworkOptions
  readonly book: AddressBook
  readonly protocols: ProtocolSpec[]
  readonly #sessions = new Map<SessionId, SessionState>()
  readonly #listen = new Set<string>()
  /** Our addresses as each session's peer observed them (identify); forgotten when the session is dropped. */
  readonly #observed = new ObservedAddresses()
  /** Peer ids being dialed → whether as a feeler. */
  readonly #dialing = new Map<string, boolean>()
  /** Peer ids of feeler dials until their session closes. */
  readonly #feelers = new Set<string>()
  #service: Service | undefined
  #metrics: ProtocolsMetrics | undefined
  #tryIdentifyCount = 0
  /** Tick dials waiting for their jittered start → how to release their reservation. */
  readonly #delayed = new Map<NodeJS.Timeout, () => void>()
  /** When each peer last opened an inbound session (to spot crossing dials); pruned every tick. */
  readonly #lastInbound = new Map<string, number>()
  #closed = false

  constructor(options: NetworkProtocolsOptions) {
    super()
    this.opts = resolveNetworkOptions(options)
    this.book = new AddressBook({
      maxAddresses: this.opts.maxAddresses,
      file: this.opts.addressBookFile,
      now: this.opts.now,
    })
    const { ids, names, versions, maxFrameLengths } = this.opts
    const spec = (k: keyof ProtocolIds, handler: ProtocolSpec['handler']): ProtocolSpec => ({
      id: ids[k],
      name: names[k],
      versions: [...versions],
      maxFrameLength: maxFrameLengths[k],
      handler,
    })
    this.protocols = [
      spec('ping', pingHandler(this)),
      spec('discovery', discoveryHandler(this)),
      spec('identify', identifyHandler(this, this.#observed)),
      spec('feeler', feelerHandler(this)),
      spec('disconnectMessage', disconnectMessageHandler(this)),
    ]
  }

  get ids(): Readonly<ProtocolIds> {
    return this.opts.ids
  }

  get options(): Readonly<ResolvedNetworkOptions> {
    return this.opts
  }

  get addressBook(): AddressBook {
    return this.book
  }

  // ------------------------------------------------------------ Core

  localPeerId(): string | undefined {
    return this.#service?.peerId
  }

  listenAddrs(): string[] {
    return [...this.#listen]
  }

  publicAddrs(): string[] {
    const self = this.localPeerId()
    const out: string[] = []
    for (const a of this.#listen) {
      const s = socketOf(a)
      if (s !== undefined && isReachableIp(s.ip)) out.push(self === undefined ? a : withPeer(a, self))
    }
    for (const a of this.opts.publicAddresses) out.push(self === undefined ? a : withPeer(a, self))
    return out
  }

  session(info: SessionInfo): SessionState {
    let s = this.#sessions.get(info.id)
    if (s === undefined) {
      const now = this.opts.now()
      const peerId = info.remotePeerId
      s = {
        info,
        address: canonicalOr(info.address.toString()),
        connectedAt: now,
        lastSeenAt: now,
        feeler: info.direction === 'outbound' && peerId !== undefined && this.#feelers.has(peerId),
        identified: undefined,
        identify: undefined,
        ping: undefined,
        pingRttMs: undefined,
        discovery: undefined,
        dropReason: undefined,
      }
      this.#sessions.set(info.id, s)
    }
    return s
  }

  sessionById(id: SessionId): SessionState | undefined {
    return this.#sessions.get(id)
  }

  *sessions(): Iterable<SessionState> {
    for (const s of this.#sessions.values()) if (s.dropReason === undefined) yield s
  }

  misbehave(control: ServiceControl, s: SessionState, input: MisbehaviourInput): MisbehaviourVerdict {
    const report: MisbehaviourReport = {
      kind: input.kind,
      sessionId: s.info.id,
      peerId: s.info.remotePeerId,
      address: s.address,
      protocol: input.protocol,
      detail: input.detail,
      ckbVerdict: input.ckbVerdict,
      ...(input.error !== undefined ? { error: input.error } : {}),
      ...(input.banMs !== undefined ? { banMs: input.banMs } : {}),
    }
    let verdict: MisbehaviourVerdict
    try {
      verdict = this.opts.onMisbehaviour(report)
    } catch {
      verdict = input.ckbVerdict
    }
    if (verdict !== 'continue' && verdict !== 'disconnect' && verdict !== 'ban') verdict = input.ckbVerdict
    this.#metrics?.misbehaviour.inc({ kind: input.kind, verdict })
    this.emit('misbehaviour', { report, verdict })
    if (verdict !== 'continue') this.drop(s, input.kind)
    if (verdict === 'ban') {
      const ms = input.banMs ?? PROTOCOL_ERROR_BAN_MS
      this.#banSession(control, s, ms, input.message ?? `${input.kind}: ${input.detail}`)
    } else if (verdict === 'disconnect') {
      if (input.message !== undefined) this.disconnectVia(control, s.info.id, input.message)
      else control.disconnect(s.info.id)
    }
    return verdict
  }

  drop(s: SessionState, reason: PeerDropReason): void {
    if (s.dropReason !== undefined) return
    s.dropReason = reason
    this.#observed.delete(s.info.id)
    this.emit('peer-dropped', { sessionId: s.info.id, peerId: s.info.remotePeerId, address: s.address, reason })
  }

  disconnectVia(control: ServiceControl, sessionId: SessionId, message: string): void {
    const info = control.session(sessionId)
    if (message.length > 0 && info?.openProtocols.has(this.opts.ids.disconnectMessage)) {
      control.send(sessionId, this.opts.ids.disconnectMessage, utf8.encode(message), { priority: 'high' })
    }
    control.disconnect(sessionId)
  }

  isValidAddr(address: string): boolean {
    return isValidDiscoveryAddr(address, this.opts.allowLocalAddresses)
  }

  observeRtt(ms: number): void {
    this.#metrics?.rtt.observe(ms / 1000)
  }

  override emit<E extends keyof NetworkProtocolsEvents>(event: E, ...args: NetworkProtocolsEvents[E]): boolean {
    // A throwing listener must not break the protocol handler that emitted.
    try {
      return super.emit(event, ...args)
    } catch {
      return true
    }
  }

  // ------------------------------------------------------------ bans

  /** CKB `ban_session`: ban the session's IP, disconnect with "Ban for N seconds, reason: R". */
  #banSession(control: ServiceControl, s: SessionState, ms: number, reason: string): void {
    const ip = addressIp(s.address)
    if (ip !== undefined) this.book.ban(ip, ms, reason)
    this.disconnectVia(control, s.info.id, `Ban for ${Math.round(ms / 1000)} seconds, reason: ${reason}`)
  }

  ban(address: string, ms: number, reason: string): void {
    const ip = addressIp(canonicalOr(address)) ?? address
    this.book.ban(ip, ms, reason)
    const control = this.#service
    if (control === undefined) return
    for (const s of this.#sessions.values()) {
      if (addressIp(s.address) === ip) {
        this.drop(s, 'banned')
        this.disconnectVia(control, s.info.id, `Ban for ${Math.round(ms / 1000)} seconds, reason: ${reason}`)
      }
    }
  }

  disconnectWithMessage(sessionId: SessionId, message: string): void {
    if (this.#service !== undefined) this.disconnectVia(this.#service, sessionId, message)
  }

  // ------------------------------------------------------------ peers

  peers(): PeerInfo[] {
    const out: PeerInfo[] = []
    for (const s of this.#sessions.values()) if (s.dropReason === undefined) out.push(peerInfo(s))
    return out
  }

  peer(sessionId: SessionId): PeerInfo | undefined {
    const s = this.#sessions.get(sessionId)
    return s === undefined || s.dropReason !== undefined ? undefined : peerInfo(s)
  }

  // ------------------------------------------------------------ service

  serviceHandler(user?: ServiceHandler): ServiceHandler {
    return {
      handleEvent: async (ev: ServiceEvent, control: ServiceControl) => {
        this.#onEvent(ev, control)
        await user?.handleEvent?.(ev, control)
      },
      handleError: async (ev: ServiceErrorEvent, control: ServiceControl) => {
        this.#onError(ev, control)
        await user?.handleError?.(ev, control)
      },
    }
  }

  #onEvent(ev: ServiceEvent, control: ServiceControl): void {
    switch (ev.type) {
      case 'session-open': {
        const s = this.session(ev.session)
        const peerId = ev.session.remotePeerId
        if (peerId !== undefined) {
          this.#dialing.delete(peerId)
          if (ev.session.direction === 'inbound') this.#lastInbound.set(peerId, this.opts.now())
        }
        // CKB `accept_peer`: a session from a banned IP is refused.
        if (this.book.isBanned(s.address)) {
          this.drop(s, 'banned')
          this.disconnectVia(control, s.info.id, 'reject peer connection')
        }
        break
      }
      case 'session-close': {
        const s = this.#sessions.get(ev.session.id)
        this.#sessions.delete(ev.session.id)
        const peerId = ev.session.remotePeerId
        if (peerId !== undefined && s?.feeler) this.#feelers.delete(peerId)
        if (s === undefined) break
        // Our dial died before identify while the same peer was dialing us: a crossing dial
        // (each side kept its own, §12.2 RepeatedConnection), not a dead address. Let the next tick retry.
        const inboundAt = peerId === undefined ? undefined : this.#lastInbound.get(peerId)
        if (
          s.info.direction === 'outbound' &&
          s.dropReason === undefined &&
          s.identified === undefined &&
          inboundAt !== undefined &&
          this.opts.now() - inboundAt <= CROSS_DIAL_WINDOW_MS
        ) {
          this.book.forgiveTry(s.address)
        }
        this.drop(s, 'closed')
        break
      }
      case 'listen-started':
        this.#listen.add(canonicalOr(ev.address.toString()))
        break
      case 'listen-close':
        this.#listen.delete(canonicalOr(ev.address.toString()))
        break
    }
  }

  #onError(ev: ServiceErrorEvent, control: ServiceControl): void {
    if (ev.type === 'protocol-select-error') {
      // A feeler whose peer cannot open the feeler protocol has done its job anyway: close it
      // (CKB leaves that to its protocol-type checker, 10 s later).
      const s = this.#sessions.get(ev.session.id)
      if (s?.feeler) control.disconnect(s.info.id)
    } else if (ev.type === 'protocol-error') {
      // CKB bans the peer for 5 minutes on any protocol error (e.g. a frame over the max).
      const s = this.session(ev.session)
      this.misbehave(control, s, {
        kind: 'protocol-error',
        protocol: String(ev.protoId),
        detail: ev.error.message,
        error: ev.error,
        ckbVerdict: 'ban',
        banMs: PROTOCOL_ERROR_BAN_MS,
        message: `ProtocolError id=${ev.protoId}`,
      })
    }
  }

  attach(service: Service): void {
    if (this.#service !== undefined)
      throw new ProtocolsError('PROTOCOLS_ERR_INVALID_OPTION', 'attach() was called already')
    this.#service = service
    this.#metrics = new ProtocolsMetrics(
      service.metrics.registry,
      () => this.sessions(),
      () => this.book.size,
    )
    service.setServiceNotify(this.opts.ids.identify, this.opts.outboundIntervalMs, OUTBOUND_TOKEN)
    // CKB `NetworkService::start`: dial max(maxOutbound / 2, 1) from the address book, topped up with bootnodes.
    const want = Math.max(this.opts.maxOutbound >> 1, 1)
    const cx = this.#dialContext()
    const addrs = this.book
      .fetchToAttempt(want, this.opts.requiredFlags, 0, (e) => this.#canDial(e.address, cx))
      .map((e) => e.address)
    for (const b of shuffle([...this.opts.bootnodes]).slice(0, Math.max(0, want - addrs.length))) addrs.push(b)
    for (const a of addrs) this.#dial(service, a, false)
  }

  // ------------------------------------------------------------ outbound (CKB OutboundPeerService)

  outboundTick(control: ServiceControl): void {
    if (this.#closed) return
    const now = this.opts.now()
    for (const [peerId, at] of this.#lastInbound) if (now - at > CROSS_DIAL_WINDOW_MS) this.#lastInbound.delete(peerId)
    this.book.purge()
    // Feelers: addresses never (recently) connected, not tried within feelerRetryMs.
    const cx = this.#dialContext()
    for (const e of this.book.fetchToFeeler(this.opts.feelersPerTick, this.opts.feelerRetryMs, (x) =>
      this.#canDial(x.address, cx),
    )) {
      this.book.markTried(e.address)
      this.#dial(control, e.address, true, this.#jitter())
    }
    this.#tryDialPeers(control)
    this.book.save().catch(() => undefined)
  }

  #outboundCount(): number {
    let n = 0
    for (const s of this.#sessions.values()) if (s.info.direction === 'outbound' && !s.feeler) n++
    for (const feeler of this.#dialing.values()) if (!feeler) n++
    return n
  }

  #tryDialPeers(control: ServiceControl): void {
    const want = this.opts.maxOutbound - this.#outboundCount()
    if (want <= 0) {
      this.#tryIdentifyCount = 0
      return
    }
    this.#tryIdentifyCount++
    const attempt = (n: number): string[] => {
      const out: string[] = []
      const cx = this.#dialContext()
      for (const e of this.book.fetchToAttempt(n, this.opts.requiredFlags, this.opts.dialIntervalMs, (x) =>
        this.#canDial(x.address, cx),
      )) {
        this.book.markTried(e.address)
        out.push(e.address)
      }
      return out
    }
    let addrs: string[]
    if (this.#tryIdentifyCount > 3) {
      this.#tryIdentifyCount = 0
      const boot = this.opts.bootnodes
      addrs = boot.length < want ? [...attempt(want - boot.length), ...boot] : shuffle([...boot]).slice(0, want)
    } else {
      addrs = attempt(want)
    }
    for (const a of addrs) this.#dial(control, a, false, this.#jitter())
  }

  /** What `#canDial` compares against, computed once per batch of dials. */
  #dialContext(): { pub: Set<string>; connected: Set<string> } {
    const connected = new Set<string>()
    for (const s of this.#sessions.values()) if (s.info.remotePeerId !== undefined) connected.add(s.info.remotePeerId)
    return { pub: new Set(this.publicAddrs()), connected }
  }

  /** CKB `can_dial`: has a peer id, not us, not our public address, not connected, not being dialed, not banned, dialable here. */
  #canDial(address: string, cx = this.#dialContext()): boolean {
    const peerId = addressPeerId(address)
    if (peerId === undefined || peerId === this.localPeerId()) return false
    if (cx.pub.has(address) || cx.connected.has(peerId) || this.#dialing.has(peerId) || this.#feelers.has(peerId))
      return false
    return isDialable(address) && !this.book.isBanned(address)
  }

  #dial(control: ServiceControl, address: string, feeler: boolean, delayMs = 0): void {
    if (!this.#canDial(address)) return
    const peerId = addressPeerId(address)!
    this.#dialing.set(peerId, feeler)
    if (feeler) this.#feelers.add(peerId)
    const release = (): void => {
      // CKB `dial_failed`: forget the feeler mark and the dialing entry.
      this.#dialing.delete(peerId)
      if (feeler) this.#feelers.delete(peerId)
    }
    const go = (): void => {
      control
        .dial(address, { kind: 'single', id: this.opts.ids.identify })
        .then(() => this.#dialing.delete(peerId), release)
    }
    if (delayMs <= 0) {
      go()
      return
    }
    const timer = setTimeout(() => {
      this.#delayed.delete(timer)
      if (this.#closed) release()
      else go()
    }, delayMs)
    // At most 2 s; it must not keep a process whose service closed without close() alive.
    timer.unref()
    this.#delayed.set(timer, release)
  }

  /**
   * Tick dials start at a random moment within half a tick (at most 2 s): two
   * nodes that learnt of each other together would otherwise dial each other
   * at once, and tentacle keeps neither of two crossing connections.
   */
  #jitter(): number {
    return Math.random() * Math.min(this.opts.outboundIntervalMs / 2, 2000)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const [timer, release] of this.#delayed) {
      clearTimeout(timer)
      release()
    }
    this.#delayed.clear()
    this.#service?.removeServiceNotify(this.opts.ids.identify, OUTBOUND_TOKEN)
    await this.book.save()
  }
}

function canonicalOr(text: string): string {
  try {
    return canonicalMultiaddr(text)
  } catch {
    return text
  }
}

function peerInfo(s: SessionState): PeerInfo {
  return {
    sessionId: s.info.id,
    peerId: s.info.remotePeerId,
    address: s.address,
    direction: s.info.direction,
    feeler: s.feeler,
    ...(s.identified !== undefined
      ? { identified: { ...s.identified, listenAddrs: [...s.identified.listenAddrs] } }
      : {}),
    ...(s.pingRttMs !== undefined ? { pingRttMs: s.pingRttMs } : {}),
    lastSeenAt: s.lastSeenAt,
    connectedAt: s.connectedAt,
  }
}

/**
 * Creates CKB's network protocols for one service (see the package README):
 * register `protocols`, build the service with `serviceHandler()`, then
 * `attach(service)`. Throws ProtocolsError PROTOCOLS_ERR_INVALID_OPTION (or
 * PROTOCOLS_ERR_ADDRESS_BOOK_FILE for an unreadable book).
 */
export function createNetworkProtocols(options: NetworkProtocolsOptions): NetworkProtocols {
  return new NetworkProtocolsImpl(options)
}
