/**
 * Discovery (§11.3; CKB `network/src/protocols/discovery/`). The outbound side
 * sends GetNodes{version 0, count 1000, listen_port, required_flags} on open.
 * The inbound side answers once with Nodes{announce: false} (up to
 * min(1000, count) addresses connected within 7 days, one per item); a
 * listen_port turns the peer's address into its listen address, which goes to
 * the address book and is announced later. Received Nodes are checked
 * (announce: ≤ 10 items and addresses; first reply: ≤ 1000; ≤ 3 addresses per
 * item) and their addresses go to the address book. Every check tick the
 * queued announcements go out, and each peer's listen address is queued for up
 * to 3 random sessions once per announce interval (24 h).
 */
import type { ProtocolContext, ProtocolSessionContext, ServiceProtocolHandler } from '@tentacle-ts/tentacle'
import { addressPeerId } from './address-book.js'
import { socketOf, withTcpPort } from './address-filter.js'
import { shuffle } from './shuffle.js'
import type { Core } from './core.js'
import { Flags } from './flags.js'
import { decodeDiscoveryMessage, encodeDiscoveryMessage, type DiscoveryNode } from './messages/discovery.js'
import { ANNOUNCE_FANOUT, KnownAddresses, type DiscoveryState, type SessionState } from './session-state.js'
import type { MisbehaviourKind } from './types.js'

/** Max addresses in a first Nodes reply (CKB `MAX_ADDR_TO_SEND`). */
export const MAX_ADDR_TO_SEND = 1000
/** Max items (and addresses) in an announce Nodes, and announcements queued per session (CKB `ANNOUNCE_THRESHOLD`). */
export const ANNOUNCE_THRESHOLD = 10
/** Max addresses in one Nodes item (CKB `MAX_ADDRS`). */
export const MAX_ADDRS_PER_NODE = 3
/**
 * GetNodes version sent: 0 (CKB's `FIRST_VERSION`). CKB on Linux sends 1
 * (`REUSE_PORT_VERSION`: "my dials leave from my listen port, so the address
 * you see is my listen address"); tentacle-ts dials from ephemeral ports, so
 * claiming it would make peers announce an address nobody listens on.
 */
export const GET_NODES_VERSION = 0
/** From this version on, a peer's source address is its listen address (CKB `REUSE_PORT_VERSION`). */
export const REUSE_PORT_VERSION = 1
/** Addresses asked of the address book before sampling (CKB: 2500). */
const FETCH_FOR_REPLY = 2500

/** CKB `verify_nodes_message`: the first misbehaviour of a Nodes message, if any. */
export function verifyNodes(
  announce: boolean,
  items: readonly DiscoveryNode[],
): { kind: MisbehaviourKind; detail: string } | undefined {
  const maxItems = announce ? ANNOUNCE_THRESHOLD : MAX_ADDR_TO_SEND
  if (items.length > maxItems)
    return { kind: 'too-many-items', detail: `${items.length} items (announce=${announce}), at most ${maxItems}` }
  let total = 0
  for (const item of items) {
    if (item.addresses.length > MAX_ADDRS_PER_NODE)
      return {
        kind: 'too-many-addresses',
        detail: `${item.addresses.length} addresses in one item, at most ${MAX_ADDRS_PER_NODE}`,
      }
    total += item.addresses.length
  }
  if (total > maxItems)
    return {
      kind: 'too-many-addresses',
      detail: `${total} addresses in all (announce=${announce}), at most ${maxItems}`,
    }
  return undefined
}

export function discoveryHandler(core: Core): ServiceProtocolHandler {
  const { opts } = core
  const name = opts.names.discovery

  const addAddresses = (s: SessionState, addrs: Array<[string, bigint]>): void => {
    const added: string[] = []
    const self = core.localPeerId()
    for (const [a, flags] of addrs)
      if (core.isValidAddr(a) && addressPeerId(a) !== self && core.book.add(a, flags)) added.push(a)
    if (added.length > 0) core.emit('discovered', { sessionId: s.info.id, addresses: added })
  }

  const onGetNodes = (
    ctx: ProtocolSessionContext,
    s: SessionState,
    d: DiscoveryState,
    msg: { version: number; count: number; listenPort: number | undefined; requiredFlags: bigint },
  ): void => {
    if (d.receivedGetNodes) {
      if (
        core.misbehave(ctx.control, s, {
          kind: 'duplicate-get-nodes',
          protocol: name,
          detail: 'a second GetNodes',
          ckbVerdict: 'disconnect',
        }) !== 'continue'
      )
        return
    }
    d.receivedGetNodes = true
    // Taken before the peer's own listen address is added, as CKB does.
    let items = core.book
      .fetchRandom(FETCH_FOR_REPLY, msg.requiredFlags)
      .filter((e) => core.isValidAddr(e.address))
      .map((e): [string, bigint] => [e.address, BigInt(e.flags)])
    if (msg.listenPort !== undefined && d.remote.kind === 'init') {
      d.remote = { kind: 'listen', address: withTcpPort(d.remote.address, msg.listenPort) }
      d.known.add(d.remote.address)
      addAddresses(s, [[d.remote.address, s.identified?.flags ?? Flags.COMPATIBILITY]])
    }
    if (msg.version >= REUSE_PORT_VERSION && d.remote.kind === 'init')
      d.remote = { kind: 'listen', address: d.remote.address }
    const max = Math.min(MAX_ADDR_TO_SEND, msg.count)
    if (items.length > max) items = shuffle(items).slice(0, max)
    for (const [a] of items) d.known.add(a)
    ctx.send(
      encodeDiscoveryMessage(
        { type: 'nodes', announce: false, items: items.map(([a, flags]) => ({ addresses: [a], flags })) },
        opts.discoveryForm,
      ),
    )
  }

  return {
    init(ctx: ProtocolContext) {
      ctx.control.setServiceNotify(ctx.protoId, opts.discoveryIntervalMs, 0)
    },
    connected(ctx: ProtocolSessionContext) {
      const s = core.session(ctx.session)
      const d: DiscoveryState = {
        remote: { kind: 'init', address: s.address },
        known: new KnownAddresses(),
        announce: [],
        lastAnnounceAt: undefined,
        announcedTo: 0,
        receivedGetNodes: false,
        receivedNodes: false,
      }
      s.discovery = d
      if (s.info.direction === 'outbound') {
        let listenPort: number | undefined
        for (const a of core.listenAddrs()) {
          const sock = core.isValidAddr(a) ? socketOf(a) : undefined
          if (sock !== undefined) {
            listenPort = sock.port
            break
          }
        }
        ctx.send(
          encodeDiscoveryMessage(
            {
              type: 'get-nodes',
              version: GET_NODES_VERSION,
              count: MAX_ADDR_TO_SEND,
              listenPort,
              requiredFlags: opts.requiredFlags,
            },
            opts.discoveryForm,
          ),
        )
        d.known.add(s.address)
        d.remote = { kind: 'listen', address: s.address }
      }
    },
    disconnected(ctx: ProtocolSessionContext) {
      const s = core.sessionById(ctx.session.id)
      if (s !== undefined) s.discovery = undefined
    },
    received(ctx: ProtocolSessionContext, data: Uint8Array) {
      const s = core.session(ctx.session)
      const d = s.discovery
      let msg
      try {
        msg = decodeDiscoveryMessage(data, opts.discoveryForm)
      } catch (err) {
        core.misbehave(ctx.control, s, {
          kind: 'invalid-data',
          protocol: name,
          detail: (err as Error).message,
          error: err as Error,
          ckbVerdict: 'disconnect',
        })
        return
      }
      if (msg.type === 'get-nodes') {
        if (d !== undefined) onGetNodes(ctx, s, d, msg)
        return
      }
      const bad = verifyNodes(msg.announce, msg.items)
      if (bad !== undefined) {
        if (core.misbehave(ctx.control, s, { ...bad, protocol: name, ckbVerdict: 'disconnect' }) !== 'continue') return
      }
      if (d === undefined) return
      if (!msg.announce && d.receivedNodes) {
        core.misbehave(ctx.control, s, {
          kind: 'duplicate-first-nodes',
          protocol: name,
          detail: 'a second Nodes (announce=false)',
          ckbVerdict: 'disconnect',
        })
        return
      }
      const addrs: Array<[string, bigint]> = []
      for (const item of msg.items) for (const a of item.addresses) addrs.push([a, item.flags])
      for (const [a] of addrs) d.known.add(a)
      if (!msg.announce) d.receivedNodes = true
      addAddresses(s, addrs)
    },
    notify(ctx: ProtocolContext) {
      const now = opts.now()
      const announceList: Array<[DiscoveryState, string, bigint]> = []
      const states: DiscoveryState[] = []
      for (const s of core.sessions()) {
        const d = s.discovery
        if (d === undefined) continue
        states.push(d)
        if (d.announce.length > 0) {
          const items = d.announce.splice(0).map(([a, flags]) => ({ addresses: [a], flags }))
          ctx.control.send(
            s.info.id,
            ctx.protoId,
            encodeDiscoveryMessage({ type: 'nodes', announce: true, items }, opts.discoveryForm),
          )
        }
        // A round begins once the listen address and flags are known (CKB starts it at the first
        // tick even without them, and then announces nothing for a day), and lasts until the
        // address reached ANNOUNCE_FANOUT sessions that did not know it (CKB: 3 random sessions
        // at that one tick, which may be none when the peer was our only one).
        const flags = s.identified?.flags
        if (d.remote.kind !== 'listen' || flags === undefined || !core.isValidAddr(d.remote.address)) continue
        if (d.lastAnnounceAt === undefined || now - d.lastAnnounceAt > opts.announceIntervalMs) {
          d.lastAnnounceAt = now
          d.announcedTo = 0
        }
        if (d.announcedTo < ANNOUNCE_FANOUT) announceList.push([d, d.remote.address, flags])
      }
      for (const [source, address, flags] of announceList) {
        for (const d of shuffle(
          states.filter((x) => x !== source && x.announce.length < ANNOUNCE_THRESHOLD && !x.known.has(address)),
        )) {
          if (source.announcedTo >= ANNOUNCE_FANOUT) break
          d.announce.push([address, flags])
          d.known.add(address)
          source.announcedTo++
        }
      }
    },
  }
}
