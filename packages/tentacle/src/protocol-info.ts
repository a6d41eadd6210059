import { dynvec, string, table, isMoleculeError } from '@tentacle-ts/codec'
import { TentacleError } from './errors.js'

/**
 * `table ProtocolInfo { name: String, support_versions: StringVec }` (§9.1),
 * the one message of protocol selection.
 */
const ProtocolInfoCodec = table('ProtocolInfo', [
  ['name', string('String')],
  ['supportVersions', dynvec('StringVec', string('String'))],
] as const)

export interface ProtocolInfo {
  name: string
  supportVersions: string[]
}

export function encodeProtocolInfo(info: ProtocolInfo): Uint8Array {
  return ProtocolInfoCodec.encode({ name: info.name, supportVersions: info.supportVersions })
}

/** Decodes in compatible mode (extra fields ignored, §3.1/§9.1); TENTACLE_ERR_PROTOCOL_SELECT on malformed bytes. */
export function decodeProtocolInfo(bytes: Uint8Array): ProtocolInfo {
  try {
    const v = ProtocolInfoCodec.decode(bytes)
    return { name: v.name, supportVersions: v.supportVersions }
  } catch (err) {
    if (isMoleculeError(err)) {
      throw new TentacleError('TENTACLE_ERR_PROTOCOL_SELECT', `malformed ProtocolInfo: ${err.message}`, { cause: err })
    }
    throw err
  }
}
