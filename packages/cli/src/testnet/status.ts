import { parsePrometheus } from '../doctor/metrics.js'

/** One node as the driver sees it, from its own GET /status and GET /metrics. */
export interface NodeStatus {
  /** Service name (node1, …). */
  name: string
  /** Whether the node answered. */
  up: boolean
  /** Why it did not answer (timeout, refused, frozen, killed). */
  error?: string
  peerId?: string
  /** Its p2p address as the other nodes dial it. */
  address?: string
  /** Peer ids of the peers it has a session with (feeler probes left out). */
  peers: string[]
  /** Sessions open now. */
  sessions: number
  /** The most recent ping round trip, any peer, in ms. */
  lastPingRttMs?: number
  /** Failed handshakes (both directions) by the phase they failed in. */
  handshakeFailures: Record<string, number>
  /** Sockets on its p2p port in CLOSE_WAIT (LESSONS #25: the net watches these). */
  closeWait?: number
}

type Json = Record<string, unknown>
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/**
 * Reads what `tentacle node` serves on its metrics address: /status (JSON) and /metrics
 * (Prometheus text). Bounded by `timeoutMs`: a frozen node is reported down, not waited for.
 */
export async function fetchNodeStatus(name: string, baseUrl: string, timeoutMs = 1500): Promise<NodeStatus> {
  // A ref'd timer, not AbortSignal.timeout: a peer that accepts and closes at once (docker-proxy
  // before the container listens) can leave fetch pending on no handle, and an unref'd timer
  // would then let the process exit with the promise unsettled.
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs)
  const signal = abort.signal
  try {
    const [status, metrics] = await Promise.all([
      fetch(`${baseUrl}/status`, { signal }).then(async (r) => {
        if (!r.ok) throw new Error(`GET /status: HTTP ${r.status}`)
        return (await r.json()) as unknown
      }),
      fetch(`${baseUrl}/metrics`, { signal }).then(async (r) => (r.ok ? r.text() : '')),
    ])
    return statusFrom(name, status, metrics)
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    const why =
      e.name === 'TimeoutError' || e.name === 'AbortError'
        ? `no answer in ${timeoutMs} ms`
        : (e.cause?.code ?? e.message)
    return { name, up: false, error: why, peers: [], sessions: 0, handshakeFailures: {} }
  } finally {
    clearTimeout(timer)
  }
}

/** Builds a {@link NodeStatus} from the /status JSON and the /metrics text. */
export function statusFrom(name: string, status: unknown, metricsText: string): NodeStatus {
  const s = isObj(status) ? status : {}
  const peerList = Array.isArray(s.peers) ? s.peers : []
  const peers: string[] = []
  let rtt: number | undefined
  let rttAt = -Infinity
  for (const p of peerList) {
    if (typeof p === 'string') {
      peers.push(p)
      continue
    }
    if (!isObj(p)) continue
    // A feeler session only probes an address and closes (§11): not a peer of the mesh.
    if (p.feeler === true) continue
    const id = str(p.peerId) ?? str(p.peer_id) ?? str(p.id)
    if (id !== undefined && !peers.includes(id)) peers.push(id)
    const r = num(p.pingRttMs) ?? num(p.rttMs) ?? num(p.ping_rtt_ms)
    const at = num(p.lastPingAt) ?? num(p.lastSeenAt) ?? 0
    if (r !== undefined && at >= rttAt) {
      rtt = r
      rttAt = at
    }
  }
  const listen = Array.isArray(s.listen)
    ? s.listen
    : Array.isArray(s.listenAddrs)
      ? s.listenAddrs
      : Array.isArray(s.addresses)
        ? s.addresses
        : []
  const sessions =
    num(s.sessions) ??
    (Array.isArray(s.sessions) ? s.sessions.length : undefined) ??
    num(s.sessionCount) ??
    peers.length
  const metrics = parsePrometheus(metricsText)
  if (rtt === undefined) {
    // tentacle_ping_rtt_seconds{peer=…} (gauge) when /status does not carry it.
    for (const m of metrics)
      if (m.name === 'tentacle_ping_rtt_seconds' && Number.isFinite(m.value)) rtt = m.value * 1000
  }
  const handshakeFailures: Record<string, number> = {}
  if (isObj(s.handshakeFailures)) {
    // `tentacle node` sums them by phase already; "" is a failure before any phase (TCP connect).
    for (const [phase, n] of Object.entries(s.handshakeFailures)) {
      if (typeof n === 'number' && n > 0) handshakeFailures[phase || 'connect'] = n
    }
  } else
    for (const m of metrics) {
      if (m.name !== 'tentacle_handshakes_total') continue
      const outcome = m.labels.outcome ?? ''
      if (outcome === 'ok' || outcome === 'success' || outcome === 'succeeded' || m.value === 0) continue
      const phase = m.labels.phase || outcome || 'unknown'
      handshakeFailures[phase] = (handshakeFailures[phase] ?? 0) + m.value
    }
  return {
    name,
    up: true,
    peerId: str(s.peerId) ?? str(s.peer_id) ?? str(s.id),
    address: listen.map(String)[0],
    peers,
    sessions,
    lastPingRttMs: rtt,
    handshakeFailures,
  }
}

/**
 * True when every node answered and sees every other node: a full mesh.
 * `expected` are the nodes that should be up (a killed node is not expected).
 */
export function isFullMesh(
  rows: readonly NodeStatus[],
  expected: readonly string[] = rows.map((r) => r.name),
): boolean {
  const want = rows.filter((r) => expected.includes(r.name))
  if (want.length !== expected.length || want.some((r) => !r.up || r.peerId === undefined)) return false
  for (const r of want) {
    for (const o of want) if (o !== r && !r.peers.includes(o.peerId!)) return false
  }
  return true
}

/** Which of `names` each node sees, as a readable line per node, for failure messages. */
export function meshReport(rows: readonly NodeStatus[]): string {
  const byId = new Map(rows.filter((r) => r.peerId !== undefined).map((r) => [r.peerId!, r.name]))
  return rows
    .map((r) =>
      r.up
        ? `${r.name}: sees ${r.peers.map((p) => byId.get(p) ?? p.slice(0, 8)).join(',') || 'none'}`
        : `${r.name}: down (${r.error})`,
    )
    .join('; ')
}

/** The status table `tentacle testnet status` prints. */
export function renderTable(rows: readonly NodeStatus[]): string {
  const byId = new Map(rows.filter((r) => r.peerId !== undefined).map((r) => [r.peerId!, r.name]))
  const head = ['node', 'peer id', 'address', 'peers', 'sessions', 'ping rtt', 'handshake failures', 'close-wait']
  const body = rows.map((r) => {
    if (!r.up) return [r.name, '-', '-', `down: ${r.error ?? ''}`, '-', '-', '-', '-']
    const fails = Object.entries(r.handshakeFailures)
      .map(([phase, n]) => `${phase}=${n}`)
      .join(' ')
    return [
      r.name,
      r.peerId === undefined ? '?' : `${r.peerId.slice(0, 10)}…`,
      r.address === undefined ? '?' : r.address.replace(/\/p2p\/.*$/, ''),
      r.peers
        .map((p) => byId.get(p) ?? `${p.slice(0, 6)}…`)
        .sort()
        .join(',') || 'none',
      String(r.sessions),
      r.lastPingRttMs === undefined ? '-' : `${r.lastPingRttMs.toFixed(1)} ms`,
      fails || '0',
      r.closeWait === undefined ? '-' : String(r.closeWait),
    ]
  })
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cols: string[]): string =>
    cols
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd()
  return [line(head), ...body.map(line)].join('\n')
}

/**
 * A status row for a node that serves no /status: the Rust node (ckb-network-peer), followed
 * through the JSON events it prints (ready, peer_open/peer_close from its peer registry,
 * ping_rtt). Lines that are not such events are ignored.
 */
export class EventStatus {
  #peerId: string | undefined
  #listen: string[] = []
  readonly #peers = new Map<number, string>()
  #rtt: number | undefined

  feed(line: string): void {
    if (!line.startsWith('{')) return
    let e: Json
    try {
      const v: unknown = JSON.parse(line)
      if (!isObj(v)) return
      e = v
    } catch {
      return
    }
    switch (e.event) {
      case 'ready':
        this.#peerId = str(e.peer_id)
        this.#listen = Array.isArray(e.listen) ? e.listen.map(String) : []
        this.#peers.clear()
        break
      case 'peer_open': {
        const p = isObj(e.peer) ? e.peer : {}
        const id = str(p.peer_id)
        if (typeof p.session === 'number' && id !== undefined) this.#peers.set(p.session, id)
        this.#rtt = num(p.ping_rtt_ms) ?? this.#rtt
        break
      }
      case 'peer_close':
        if (typeof e.session === 'number') this.#peers.delete(e.session)
        break
      case 'ping_rtt':
        this.#rtt = num(e.rtt_ms) ?? this.#rtt
        break
    }
  }

  row(name: string): NodeStatus {
    const peers = [...new Set(this.#peers.values())]
    return {
      name,
      up: this.#peerId !== undefined,
      ...(this.#peerId === undefined ? { error: 'not ready' } : {}),
      peerId: this.#peerId,
      address: this.#listen[0],
      peers,
      sessions: this.#peers.size,
      lastPingRttMs: this.#rtt,
      handshakeFailures: {},
    }
  }
}
