/**
 * Feeler (CKB `network/src/protocols/feeler.rs`): opened by the dialer of a
 * feeler connection once identify succeeded; on open the address is recorded
 * as live (outbound side) and the session is closed with the message
 * "feeler connection" (both sides do this, whichever is first).
 */
import type { ProtocolSessionContext, ServiceProtocolHandler } from '@tentacle-ts/tentacle'
import type { Core } from './core.js'
import { Flags } from './flags.js'

export function feelerHandler(core: Core): ServiceProtocolHandler {
  return {
    connected(ctx: ProtocolSessionContext) {
      const s = core.session(ctx.session)
      // CKB records the address again here; the 'feeler' event went out when identify succeeded.
      if (s.info.direction === 'outbound') core.book.addOutbound(s.address, s.identified?.flags ?? Flags.COMPATIBILITY)
      core.drop(s, 'feeler')
      core.disconnectVia(ctx.control, s.info.id, 'feeler connection')
    },
  }
}
