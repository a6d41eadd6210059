/**
 * Presets (§11.4): CKB's ids, names, versions, frame limits and timings
 * (`ckb: network/src/protocols/support_protocols.rs`, `resource/ckb.toml`), and
 * tentacle's example defaults (`/p2p/<id>`, `0.0.1`, ping every 5 s, 15 s timeout).
 */
import type { Preset, PresetName, ProtocolIds } from './types.js'

const KIB = 1024

/** CKB (`support_protocols.rs`; versions `["3"]`; `ckb.toml`: ping 120 s / 1200 s; discovery check 60 s). */
export const CKB_PRESET: Preset = {
  ids: { ping: 0, discovery: 1, identify: 2, feeler: 3, disconnectMessage: 4 },
  names: {
    ping: '/ckb/ping',
    discovery: '/ckb/discovery',
    identify: '/ckb/identify',
    feeler: '/ckb/flr',
    disconnectMessage: '/ckb/disconnectmsg',
  },
  versions: ['3'],
  maxFrameLengths: { ping: KIB, discovery: 512 * KIB, identify: 2 * KIB, feeler: KIB, disconnectMessage: KIB },
  pingIntervalMs: 120_000,
  pingTimeoutMs: 1_200_000,
  discoveryIntervalMs: 60_000,
  discoveryForm: 'ckb',
}

const TENTACLE_IDS: ProtocolIds = { ping: 1, discovery: 2, identify: 3, feeler: 4, disconnectMessage: 5 }

/** tentacle's examples: default names `/p2p/<id>`, version `0.0.1`, 8 MiB frames, ping 5 s / 15 s, discovery check 3 s, tentacle-discovery's wire form. */
export const TENTACLE_PRESET: Preset = {
  ids: TENTACLE_IDS,
  names: {
    ping: `/p2p/${TENTACLE_IDS.ping}`,
    discovery: `/p2p/${TENTACLE_IDS.discovery}`,
    identify: `/p2p/${TENTACLE_IDS.identify}`,
    feeler: `/p2p/${TENTACLE_IDS.feeler}`,
    disconnectMessage: `/p2p/${TENTACLE_IDS.disconnectMessage}`,
  },
  versions: ['0.0.1'],
  maxFrameLengths: {
    ping: 8 * KIB * KIB,
    discovery: 8 * KIB * KIB,
    identify: 8 * KIB * KIB,
    feeler: 8 * KIB * KIB,
    disconnectMessage: 8 * KIB * KIB,
  },
  pingIntervalMs: 5_000,
  pingTimeoutMs: 15_000,
  discoveryIntervalMs: 3_000,
  discoveryForm: 'tentacle',
}

/** The preset of a name. */
export const PRESETS: Readonly<Record<PresetName, Preset>> = { ckb: CKB_PRESET, tentacle: TENTACLE_PRESET }
