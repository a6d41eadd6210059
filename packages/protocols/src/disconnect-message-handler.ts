/**
 * Disconnect message (CKB `network/src/protocols/disconnect_message.rs`): the
 * body is plain UTF-8 text (no molecule); whoever receives one logs it and
 * disconnects. We emit it as an event.
 */
import type { ProtocolSessionContext, ServiceProtocolHandler } from '@tentacle-ts/tentacle'
import type { Core } from './core.js'
import { ProtocolsError } from './errors.js'

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function disconnectMessageHandler(core: Core): ServiceProtocolHandler {
  return {
    received(ctx: ProtocolSessionContext, data: Uint8Array) {
      const s = core.session(ctx.session)
      let message: string
      try {
        message = utf8.decode(data)
      } catch (err) {
        // CKB only logs a malformed message, then disconnects as for any other.
        const error = new ProtocolsError('PROTOCOLS_ERR_MALFORMED_MESSAGE', 'disconnect message is not UTF-8', {
          cause: err,
        })
        core.misbehave(ctx.control, s, {
          kind: 'invalid-data',
          protocol: core.opts.names.disconnectMessage,
          detail: error.message,
          error,
          ckbVerdict: 'disconnect',
        })
        return
      }
      core.emit('disconnect-message', { sessionId: s.info.id, peerId: s.info.remotePeerId, message })
      core.drop(s, 'disconnect-message')
      ctx.control.disconnect(s.info.id)
    },
  }
}
