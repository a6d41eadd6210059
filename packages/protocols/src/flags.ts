/**
 * CKB's node function flags (`ckb: network/src/protocols/identify/mod.rs`,
 * `Flags`), carried in Identify and in discovery's Node2 / GetNodes2.
 */
export const Flags = {
  /** Compatibility reserved; a peer with it passes CKB's default required-flags check. */
  COMPATIBILITY: 0b1n,
  /** Serves discovery. */
  DISCOVERY: 0b10n,
  /** Serves block and header download (sync). */
  SYNC: 0b100n,
  /** Relays compact blocks and transactions. */
  RELAY: 0b1000n,
  /** Serves light clients. */
  LIGHT_CLIENT: 0b10000n,
  /** Serves block filters. */
  BLOCK_FILTER: 0b100000n,
} as const

/** Every flag CKB knows; others are dropped on receipt (`from_bits_truncate`). */
export const KNOWN_FLAGS = 0b111111n

/** CKB's default required flags (`NetworkState::required_flags`). */
export const DEFAULT_REQUIRED_FLAGS = Flags.SYNC | Flags.DISCOVERY | Flags.RELAY

/**
 * CKB's `required_flags_filter`: with the default requirement a peer passes
 * when it has all of it OR the COMPATIBILITY bit; otherwise it must have all
 * of `required`.
 */
export function requiredFlagsFilter(required: bigint, flags: bigint): boolean {
  if (required === DEFAULT_REQUIRED_FLAGS) {
    return (flags & required) === required || (flags & Flags.COMPATIBILITY) !== 0n
  }
  return (flags & required) === required
}
