import { decodePingMessage, encodePingMessage, PRESETS as PROTOCOL_PRESETS } from '@tentacle-ts/protocols'
import type { PingCodec } from './dial/probe.js'

export const PRESETS = ['tentacle', 'ckb'] as const
export type Preset = (typeof PRESETS)[number]

/** The identify network name a preset uses unless --network-name says otherwise (ckb: mainnet's). */
export const DEFAULT_NETWORK_NAME: Record<Preset, string> = { ckb: '/ckb/92b197aa', tentacle: '/tentacle-ts' }

/** The ping protocol of a preset (§11.1, §11.4), as the dial probe speaks it. */
export function presetPing(preset: Preset): PingCodec {
  const p = PROTOCOL_PRESETS[preset]
  return {
    name: p.names.ping,
    versions: [...p.versions],
    encodePing: (nonce) => encodePingMessage({ type: 'ping', nonce }),
    pongNonce: (message) => {
      try {
        const m = decodePingMessage(message)
        return m.type === 'pong' ? m.nonce : undefined
      } catch {
        return undefined
      }
    },
  }
}
