/**
 * Identify (§11.2; CKB `network/src/protocols/identify/`). On open each side
 * sends one IdentifyMessage (high priority): its global listen addresses (at
 * most 10), the address it sees the peer at, and CKB's Identify blob. On
 * receipt, in CKB's order: a duplicate is misbehaviour; the blob must carry
 * our network name and non-zero flags (else `network-mismatch`, which CKB
 * answers with a 5-minute ban of the peer's IP); on an outbound session the
 * address is recorded as live and the dialer opens the other protocols (or
 * only feeler, for a feeler connection), or drops a peer whose flags miss
 * `requiredFlags`; more than 10 listen addresses is misbehaviour, the global
 * ones go to the address book; a reachable observed address (with our /p2p/)
 * is kept for the session and announced in later IdentifyMessages after our
 * public addresses. Nothing received within the timeout (8 s, checked every
 * second) is misbehaviour.
 */
import type { ProtocolContext, ProtocolSessionContext, ServiceProtocolHandler } from '@tentacle-ts/tentacle'
import { addressPeerId } from './address-book.js'
import { isGlobalListenAddr, withPeer } from './address-filter.js'
import type { Core } from './core.js'
import { requiredFlagsFilter } from './flags.js'
import type { ObservedAddresses } from './observed-addresses.js'
import {
  decodeIdentifyBlob,
  decodeIdentifyMessage,
  encodeIdentifyBlob,
  encodeIdentifyMessage,
} from './messages/identify.js'
import type { SessionState } from './session-state.js'

/** At most this many listen addresses are sent or accepted (CKB `MAX_ADDRS`). */
export const MAX_IDENTIFY_ADDRS = 10
/** CKB bans a peer of another network for 5 minutes (`BAN_ON_NOT_SAME_NET`). */
export const BAN_ON_NOT_SAME_NET_MS = 5 * 60 * 1000
const CHECK_TIMEOUT_INTERVAL_MS = 1000
const CHECK_TIMEOUT_TOKEN = 100
/** Token of the outbound tick, run on identify's queue (the service owns the timer). */
export const OUTBOUND_TOKEN = 101

/**
 * `observed`: the addresses peers observed for us, per session; the owner
 * forgets a session's entry when it drops the session.
 */
export function identifyHandler(core: Core, observed: ObservedAddresses): ServiceProtocolHandler {
  const { opts } = core
  const name = opts.names.identify
  const blob = encodeIdentifyBlob({ flag: opts.flags, name: opts.networkName, clientVersion: opts.clientVersion })

  /**
   * CKB `local_listen_addrs`: our public addresses, then observed ones, reachable only, at most 10, each once.
   * Costs O(public addresses + returned ones): observed addresses were filtered when recorded.
   */
  const localListenAddrs = (): string[] => {
    const out: string[] = []
    const seen = new Set<string>()
    for (const a of core.publicAddrs()) {
      if (out.length >= MAX_IDENTIFY_ADDRS) return out
      if (!seen.has(a) && isGlobalListenAddr(a)) {
        seen.add(a)
        out.push(a)
      }
    }
    for (const a of observed.values()) {
      if (out.length >= MAX_IDENTIFY_ADDRS) break
      if (!seen.has(a)) {
        seen.add(a)
        out.push(a)
      }
    }
    return out
  }

  const onIdentify = (ctx: ProtocolSessionContext, s: SessionState, data: Uint8Array): void => {
    let msg
    try {
      msg = decodeIdentifyMessage(data)
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
    const state = s.identify!
    if (state.received) {
      if (
        core.misbehave(ctx.control, s, {
          kind: 'duplicate-identify',
          protocol: name,
          detail: 'a second IdentifyMessage',
          ckbVerdict: 'disconnect',
        }) !== 'continue'
      )
        return
    }
    state.received = true

    // CKB `Identify::verify`: the blob must decode strictly, carry our name and non-zero flags.
    let remote
    try {
      remote = decodeIdentifyBlob(msg.identify)
    } catch (err) {
      remote = err as Error
    }
    if (remote instanceof Error || remote.name !== opts.networkName || remote.flag === 0n) {
      const detail =
        remote instanceof Error
          ? `Identify blob does not decode: ${remote.message}`
          : remote.flag === 0n
            ? `zero flags from ${JSON.stringify(remote.name)}`
            : `network ${JSON.stringify(remote.name)}, ours is ${JSON.stringify(opts.networkName)}`
      const verdict = core.misbehave(ctx.control, s, {
        kind: 'network-mismatch',
        protocol: name,
        detail,
        ...(remote instanceof Error ? { error: remote } : {}),
        ckbVerdict: 'ban',
        banMs: BAN_ON_NOT_SAME_NET_MS,
        message: 'The nodes are not on the same network',
      })
      if (verdict !== 'continue') return
    }
    const flags = remote instanceof Error ? 0n : remote.flag & 0b111111n
    const info = {
      name: remote instanceof Error ? '' : remote.name,
      clientVersion: remote instanceof Error ? '' : remote.clientVersion,
      flags,
      listenAddrs: [] as string[],
      observedAddr: msg.observedAddr,
    }
    s.identified = info

    if (s.info.direction === 'outbound') {
      core.book.addOutbound(s.address, flags)
      if (s.feeler) {
        // The address is live: that was the feeler's purpose. Open feeler, which closes the session on both sides.
        core.emit('feeler', { sessionId: s.info.id, peerId: s.info.remotePeerId, address: s.address })
        core.drop(s, 'feeler')
        ctx.control.openProtocol(s.info.id, opts.ids.feeler)
      } else if (requiredFlagsFilter(opts.requiredFlags, flags)) {
        const feeler = opts.ids.feeler
        ctx.control.openProtocols(s.info.id, { kind: 'filter', filter: (id) => id !== feeler })
      } else {
        const detail = `flags ${flags} miss the required ${opts.requiredFlags}`
        if (
          core.misbehave(ctx.control, s, {
            kind: 'insufficient-flags',
            protocol: name,
            detail,
            ckbVerdict: 'disconnect',
          }) !== 'continue'
        )
          return
      }
    }

    if (msg.listenAddrs.length > MAX_IDENTIFY_ADDRS) {
      const detail = `${msg.listenAddrs.length} listen addresses, at most ${MAX_IDENTIFY_ADDRS}`
      if (
        core.misbehave(ctx.control, s, {
          kind: 'too-many-addresses',
          protocol: name,
          detail,
          ckbVerdict: 'disconnect',
        }) !== 'continue'
      )
        return
    } else {
      info.listenAddrs = msg.listenAddrs.filter(isGlobalListenAddr)
      const self = core.localPeerId()
      const added = info.listenAddrs.filter((a) => addressPeerId(a) !== self && core.book.add(a, flags))
      if (added.length > 0) core.emit('discovered', { sessionId: s.info.id, addresses: added })
    }

    // CKB `add_observed_addr` (both directions, once the message passed the checks above): our /p2p/ appended
    // when missing, kept per session until it is dropped. Only what CKB would send on is kept (global_ip_only).
    if (s.dropReason === undefined && isGlobalListenAddr(msg.observedAddr)) {
      const self = core.localPeerId()
      observed.set(s.info.id, self === undefined ? msg.observedAddr : withPeer(msg.observedAddr, self))
    }
    core.emit('identified', {
      sessionId: s.info.id,
      peerId: s.info.remotePeerId,
      direction: s.info.direction,
      info: { ...info },
    })
  }

  return {
    init(ctx: ProtocolContext) {
      ctx.control.setServiceNotify(ctx.protoId, CHECK_TIMEOUT_INTERVAL_MS, CHECK_TIMEOUT_TOKEN)
    },
    connected(ctx: ProtocolSessionContext) {
      const s = core.session(ctx.session)
      s.identify = { openedAt: opts.now(), received: false, timeoutReported: false }
      ctx.send(encodeIdentifyMessage({ listenAddrs: localListenAddrs(), observedAddr: s.address, identify: blob }), {
        priority: 'high',
      })
    },
    disconnected(ctx: ProtocolSessionContext) {
      const s = core.sessionById(ctx.session.id)
      if (s === undefined) return
      s.identify = undefined
      // CKB `unregister`: a long-lived outbound peer stays fresh in the address book.
      if (s.info.direction === 'outbound' && s.identified !== undefined) core.book.touchConnected(s.address)
    },
    received(ctx: ProtocolSessionContext, data: Uint8Array) {
      const s = core.session(ctx.session)
      s.identify ??= { openedAt: opts.now(), received: false, timeoutReported: false }
      onIdentify(ctx, s, data)
    },
    notify(ctx: ProtocolContext, token: number) {
      if (token === OUTBOUND_TOKEN) {
        core.outboundTick(ctx.control)
        return
      }
      const now = opts.now()
      for (const s of core.sessions()) {
        const st = s.identify
        if (st === undefined || st.received || st.timeoutReported || st.openedAt + opts.identifyTimeoutMs > now)
          continue
        st.timeoutReported = true
        core.misbehave(ctx.control, s, {
          kind: 'identify-timeout',
          protocol: name,
          detail: `nothing within ${opts.identifyTimeoutMs} ms`,
          ckbVerdict: 'disconnect',
        })
      }
    },
  }
}
