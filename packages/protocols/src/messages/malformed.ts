import { isProtocolsError, ProtocolsError } from '../errors.js'

/** Wraps a decoding failure (MoleculeError, ProtocolsError, …) as PROTOCOLS_ERR_MALFORMED_MESSAGE, the cause kept. */
export function malformed(what: string, err: unknown): ProtocolsError {
  if (isProtocolsError(err, 'PROTOCOLS_ERR_MALFORMED_MESSAGE')) return err
  return new ProtocolsError(
    'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    `malformed ${what}: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  )
}
