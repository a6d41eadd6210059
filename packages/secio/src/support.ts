/**
 * Algorithm names, tentacle's default propositions (§3.5), the ordering rule
 * (§3.6) and the selection of agreement, cipher and digest (§3.7).
 * Mirrors `secio/src/support.rs`.
 */
import { SecioError } from './errors.js'

/** Key agreements (§3.5, §3.8). */
export const AGREEMENTS = ['P-256', 'P-384', 'X25519'] as const
/** AEAD ciphers (§3.5, §4.1). Note the underscore in CHACHA20_POLY1305. */
export const CIPHERS = ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20_POLY1305'] as const
/** Digests used for key stretching (§3.5, §3.10). */
export const DIGESTS = ['SHA256', 'SHA512'] as const

export type AgreementName = (typeof AGREEMENTS)[number]
export type CipherName = (typeof CIPHERS)[number]
export type DigestName = (typeof DIGESTS)[number]

/** tentacle's native defaults, in preference order (§3.5). */
export const DEFAULT_AGREEMENTS: readonly AgreementName[] = ['P-256', 'P-384', 'X25519']
export const DEFAULT_CIPHERS: readonly CipherName[] = ['AES-128-GCM', 'AES-256-GCM', 'CHACHA20_POLY1305']
export const DEFAULT_DIGESTS: readonly DigestName[] = ['SHA256', 'SHA512']

/** Key size per cipher (§3.10); every cipher uses a 12-byte nonce and a 16-byte tag (§4). */
export const CIPHER_KEY_SIZE: Readonly<Record<CipherName, number>> = {
  'AES-128-GCM': 16,
  'AES-256-GCM': 32,
  CHACHA20_POLY1305: 32,
}
export const CIPHER_IV_SIZE = 12
export const AEAD_TAG_SIZE = 16

/** Ephemeral public key length per agreement; the Rust side rejects any other (§3.8). */
export const EPHEMERAL_KEY_SIZE: Readonly<Record<AgreementName, number>> = {
  'P-256': 65,
  'P-384': 97,
  X25519: 32,
}

/** The negotiated suite. */
export interface Suite {
  agreement: AgreementName
  cipher: CipherName
  digest: DigestName
}

/** -1 Less, 0 Equal, 1 Greater: unsigned lexicographic comparison (§3.6). */
export type Ordering = -1 | 0 | 1

export function compareBytes(a: Uint8Array, b: Uint8Array): Ordering {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}

/**
 * Validates a configured list and returns its proposition string (comma-separated, §3.5).
 * Throws SecioError SECIO_ERR_INVALID_OPTION for an empty list, an unknown or a duplicate name;
 * `field` is the option (`ciphers`, or `ciphers[1]` for one name), `kind` being its singular.
 */
export function propositionString<T extends string>(
  kind: string,
  list: readonly string[] | undefined,
  known: readonly T[],
  defaults: readonly T[],
): string {
  const names = (list ?? defaults) as readonly string[]
  if (!Array.isArray(names) || names.length === 0) {
    throw new SecioError('SECIO_ERR_INVALID_OPTION', `${kind} list must not be empty`, { field: `${kind}s` })
  }
  const seen = new Set<string>()
  names.forEach((n, i) => {
    const field = `${kind}s[${i}]`
    if (!(known as readonly string[]).includes(n)) {
      throw new SecioError('SECIO_ERR_INVALID_OPTION', `unknown ${kind} "${n}"; known: ${known.join(', ')}`, { field })
    }
    if (seen.has(n)) throw new SecioError('SECIO_ERR_INVALID_OPTION', `duplicate ${kind} "${n}"`, { field })
    seen.add(n)
  })
  return names.join(',')
}

const sameListChoice = new WeakMap<readonly string[], Map<string, string | undefined>>()

/**
 * Picks the first known name common to both propositions (§3.7): with ordering
 * Greater walk ours, otherwise (Less or Equal) walk theirs. Returns undefined
 * when there is none (the caller raises SECIO_ERR_NO_COMMON_SUITE).
 */
export function selectBest<T extends string>(
  ordering: Ordering,
  ours: string,
  theirs: string,
  known: readonly T[],
): T | undefined {
  // The usual case, both sides on the same propositions: whatever the ordering, the
  // first known name of the list (kept per list; one Map per known-name table).
  if (ours === theirs) {
    let perList = sameListChoice.get(known)
    if (perList === undefined) sameListChoice.set(known, (perList = new Map()))
    if (perList.has(ours)) return perList.get(ours) as T | undefined
    const choice = ours.split(',').find((x) => (known as readonly string[]).includes(x)) as T | undefined
    if (perList.size < 16) perList.set(ours, choice)
    return choice
  }
  const [a, b] = ordering === 1 ? [ours, theirs] : [theirs, ours]
  const other = b.split(',')
  for (const x of a.split(',')) {
    if (other.includes(x) && (known as readonly string[]).includes(x)) return x as T
  }
  return undefined
}
