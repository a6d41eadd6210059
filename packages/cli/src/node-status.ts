import type { Service } from '@tentacle-ts/tentacle'
import type { NetworkProtocols } from '@tentacle-ts/protocols'
import { peerViews, type PeerView } from './network.js'

/** GET /status of `tentacle node`: what a test net or an operator asks a node. */
export interface NodeStatus {
  peerId: string | undefined
  pid: number
  uptimeSeconds: number
  listen: string[]
  /** Sessions open now. */
  sessions: number
  /** One entry per session, from the protocols package: identify, last ping RTT, last seen. */
  peers: PeerView[]
  /** Failed upgrades (inbound and outbound) by the phase they failed in; "" = before any phase. */
  handshakeFailures: Record<string, number>
  /** Failed upgrades by error code. */
  handshakeFailuresByCode: Record<string, number>
  connectionsRejected: Record<string, number>
  acceptErrors: Record<string, number>
}

const started = performance.now()

export async function nodeStatus(service: Service, network: NetworkProtocols, listen: string[]): Promise<NodeStatus> {
  const byPhase: Record<string, number> = {}
  const byCode: Record<string, number> = {}
  for (const { labels, value } of (await service.metrics.handshakes.get()).values) {
    if (labels.outcome === 'ok' || value === 0) continue
    const phase = String(labels.phase ?? '')
    byPhase[phase] = (byPhase[phase] ?? 0) + value
    const code = String(labels.outcome)
    byCode[code] = (byCode[code] ?? 0) + value
  }
  const sum = async (
    c: { get(): Promise<{ values: Array<{ labels: Record<string, string | number>; value: number }> }> },
    label: string,
  ): Promise<Record<string, number>> => {
    const out: Record<string, number> = {}
    for (const { labels, value } of (await c.get()).values)
      out[String(labels[label])] = (out[String(labels[label])] ?? 0) + value
    return out
  }
  const sessions = service.sessions()
  const peers = peerViews(network)
  return {
    peerId: service.peerId,
    pid: process.pid,
    uptimeSeconds: Math.round((performance.now() - started) / 100) / 10,
    listen,
    sessions: sessions.length,
    peers,
    handshakeFailures: byPhase,
    handshakeFailuresByCode: byCode,
    connectionsRejected: await sum(service.metrics.rejected, 'reason'),
    acceptErrors: await sum(service.metrics.acceptErrors, 'code'),
  }
}
