import { DEFAULT_MAX_FRAME_LENGTH } from '@tentacle-ts/codec'
import { TentacleError } from './errors.js'
import { SelectMessages } from './protocol-select.js'
import type { ProtocolId, ProtocolSpec, ServiceProtocolHandler, SessionProtocolHandler } from './types.js'

/** A protocol with tentacle's defaults filled in (§10.2, §12.4 MetaBuilder). */
export interface ResolvedProtocol {
  id: ProtocolId
  name: string
  versions: string[]
  maxFrameLength: number
  selectVersion?: (local: readonly string[], remote: readonly string[]) => string | undefined
  handler?: ServiceProtocolHandler
  sessionHandler?: () => SessionProtocolHandler
  beforeSend?: (data: Uint8Array) => Uint8Array
  beforeReceive?: (data: Uint8Array) => Uint8Array
  /** Its selection messages, encoded once (§9.2). */
  select: SelectMessages
}

export const DEFAULT_PROTOCOL_VERSIONS = ['0.0.1'] // §10.2
/** A protocol's default frame limit (§10.1): the length-delimited codec's own default, 8 MiB. */
export const DEFAULT_PROTOCOL_MAX_FRAME = DEFAULT_MAX_FRAME_LENGTH

export function resolveProtocol(spec: ProtocolSpec): ResolvedProtocol {
  if (!Number.isInteger(spec.id) || spec.id < 0) {
    throw new TentacleError(
      'TENTACLE_ERR_INVALID_OPTION',
      `protocol id must be a non-negative integer, got ${spec.id}`,
      {
        field: 'protocol.id',
      },
    )
  }
  const name = spec.name ?? `/p2p/${spec.id}`
  if (name.length === 0)
    throw new TentacleError('TENTACLE_ERR_INVALID_OPTION', `protocol ${spec.id} has an empty name`, {
      field: 'protocol.name',
    })
  const versions = spec.versions ?? DEFAULT_PROTOCOL_VERSIONS
  const maxFrameLength = spec.maxFrameLength ?? DEFAULT_PROTOCOL_MAX_FRAME
  if (!Number.isInteger(maxFrameLength) || maxFrameLength <= 0 || maxFrameLength > 0xffffffff) {
    throw new TentacleError('TENTACLE_ERR_INVALID_OPTION', `protocol ${name}: maxFrameLength must be a positive u32`, {
      field: 'protocol.maxFrameLength',
    })
  }
  if (spec.handler !== undefined && spec.sessionHandler !== undefined) {
    throw new TentacleError(
      'TENTACLE_ERR_INVALID_OPTION',
      `protocol ${name}: give a service handler or a session handler factory, not both`,
      { field: 'protocol.sessionHandler' },
    )
  }
  const ownVersions = [...versions]
  return {
    id: spec.id,
    name,
    versions: ownVersions,
    maxFrameLength,
    selectVersion: spec.selectVersion,
    handler: spec.handler,
    sessionHandler: spec.sessionHandler,
    beforeSend: spec.beforeSend,
    beforeReceive: spec.beforeReceive,
    select: new SelectMessages(name, ownVersions),
  }
}

/** Protocols by id and by wire name (§10.2: names travel, ids are local). */
export class ProtocolRegistry {
  readonly #byId = new Map<ProtocolId, ResolvedProtocol>()
  readonly #byName = new Map<string, ResolvedProtocol>()

  add(spec: ProtocolSpec): ResolvedProtocol {
    const p = resolveProtocol(spec)
    if (this.#byId.has(p.id))
      throw new TentacleError('TENTACLE_ERR_INVALID_OPTION', `protocol id ${p.id} registered twice`, {
        field: 'protocol.id',
      })
    if (this.#byName.has(p.name))
      throw new TentacleError('TENTACLE_ERR_INVALID_OPTION', `protocol name ${p.name} registered twice`, {
        field: 'protocol.name',
      })
    this.#byId.set(p.id, p)
    this.#byName.set(p.name, p)
    return p
  }

  get(id: ProtocolId): ResolvedProtocol | undefined {
    return this.#byId.get(id)
  }

  byWireName(name: string): ResolvedProtocol | undefined {
    return this.#byName.get(name)
  }

  all(): IterableIterator<ResolvedProtocol> {
    return this.#byId.values()
  }

  get size(): number {
    return this.#byId.size
  }
}
