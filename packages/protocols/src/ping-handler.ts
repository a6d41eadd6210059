/**
 * Ping (§11.1; CKB `network/src/protocols/ping.rs`), one handler for every
 * session. Every interval each session with no ping outstanding gets
 * Ping{nonce} (nonce = whole seconds since start, the same for one round);
 * a Ping is answered with Pong{nonce}; a Pong with the outstanding nonce
 * records the RTT, any other Pong is misbehaviour. Every check interval
 * (CKB: the timeout itself) a ping outstanding for ≥ timeout drops the peer.
 */
import { performance } from 'node:perf_hooks'
import type { ProtocolContext, ProtocolSessionContext, ServiceProtocolHandler } from '@tentacle-ts/tentacle'
import type { Core } from './core.js'
import { decodePingMessage, encodePingMessage } from './messages/ping.js'

const SEND_PING_TOKEN = 0
const CHECK_TIMEOUT_TOKEN = 1

export function pingHandler(core: Core): ServiceProtocolHandler {
  const { opts } = core
  const name = opts.names.ping
  const startedAt = performance.now()
  return {
    init(ctx: ProtocolContext) {
      ctx.control.setServiceNotify(ctx.protoId, opts.pingIntervalMs, SEND_PING_TOKEN)
      ctx.control.setServiceNotify(ctx.protoId, opts.pingCheckIntervalMs, CHECK_TIMEOUT_TOKEN)
    },
    connected(ctx: ProtocolSessionContext) {
      const s = core.session(ctx.session)
      s.ping ??= {
        processing: false,
        sentAt: opts.now(),
        sentAtHr: performance.now(),
        nonce: 0,
        timeoutReported: false,
      }
    },
    disconnected(ctx: ProtocolSessionContext) {
      const s = core.sessionById(ctx.session.id)
      if (s !== undefined) s.ping = undefined
    },
    received(ctx: ProtocolSessionContext, data: Uint8Array) {
      const s = core.session(ctx.session)
      let msg
      try {
        msg = decodePingMessage(data)
      } catch (err) {
        core.misbehave(ctx.control, s, {
          kind: 'invalid-data',
          protocol: name,
          detail: (err as Error).message,
          error: err as Error,
          ckbVerdict: 'disconnect',
          message: 'ping failed',
        })
        return
      }
      if (msg.type === 'ping') {
        s.lastSeenAt = opts.now()
        ctx.send(encodePingMessage({ type: 'pong', nonce: msg.nonce }))
        return
      }
      const p = s.ping
      if (p !== undefined && p.processing && p.nonce === msg.nonce) {
        p.processing = false
        const rttMs = performance.now() - p.sentAtHr
        s.pingRttMs = rttMs
        s.lastSeenAt = opts.now()
        core.observeRtt(rttMs)
        core.emit('ping', { sessionId: s.info.id, peerId: s.info.remotePeerId, rttMs })
        return
      }
      const detail = p?.processing
        ? `pong nonce ${msg.nonce}, expected ${p.nonce}`
        : `pong nonce ${msg.nonce} with no ping outstanding`
      core.misbehave(ctx.control, s, {
        kind: 'unexpected-pong',
        protocol: name,
        detail,
        ckbVerdict: 'disconnect',
        message: 'ping failed',
      })
    },
    notify(ctx: ProtocolContext, token: number) {
      if (token === SEND_PING_TOKEN) {
        const nonce = Math.floor((performance.now() - startedAt) / 1000) >>> 0
        const ids: number[] = []
        for (const s of core.sessions()) {
          const p = s.ping
          if (p === undefined || p.processing) continue
          p.processing = true
          p.sentAt = opts.now()
          p.sentAtHr = performance.now()
          p.nonce = nonce
          p.timeoutReported = false
          ids.push(s.info.id)
        }
        if (ids.length > 0)
          ctx.control.broadcast({ kind: 'multi', ids }, ctx.protoId, encodePingMessage({ type: 'ping', nonce }))
      } else if (token === CHECK_TIMEOUT_TOKEN) {
        const now = performance.now()
        for (const s of core.sessions()) {
          const p = s.ping
          if (p === undefined || !p.processing || p.timeoutReported || now - p.sentAtHr < opts.pingTimeoutMs) continue
          p.timeoutReported = true
          core.misbehave(ctx.control, s, {
            kind: 'ping-timeout',
            protocol: name,
            detail: `no pong for ${Math.round(now - p.sentAtHr)} ms`,
            ckbVerdict: 'disconnect',
            message: 'ping timeout',
          })
        }
      }
    },
  }
}
