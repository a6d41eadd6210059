import type { PingCodec } from './dial/probe.js'

export const PRESETS = ['tentacle', 'ckb'] as const
export type Preset = (typeof PRESETS)[number]

/** The ping protocol of a preset, as the dial probe speaks it (from @tentacle-ts/protocols). */
export async function presetPing(preset: Preset): Promise<PingCodec | undefined> {
  void preset
  return undefined
}
