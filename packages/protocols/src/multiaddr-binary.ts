/**
 * Binary multiaddrs (§5.3) as identify and discovery carry them: a sequence of
 * (unsigned-varint protocol code, payload). The decoder accepts exactly what
 * tentacle-multiaddr 0.3's `Multiaddr::try_from(Vec<u8>)` accepts — the
 * thirteen protocols of §5.3, minimal varints, p2p payloads that are sha2-256
 * multihashes (§5.1) — and gives the canonical text form; anything else is a
 * ProtocolsError `PROTOCOLS_ERR_INVALID_MULTIADDR`. Text → bytes goes through
 * `@multiformats/multiaddr`, then back through this decoder, so every address
 * this package stores has one canonical spelling.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { base58Encode } from '@tentacle-ts/secio'
import { ProtocolsError } from './errors.js'

/** Protocol codes of §5.3. */
export const MA = {
  IP4: 0x04,
  TCP: 0x06,
  IP6: 0x29,
  DNS4: 0x36,
  DNS6: 0x37,
  UDP: 0x0111,
  P2P: 0x01a5,
  ONION3: 0x01bd,
  TLS: 0x01c0,
  QUIC_V1: 0x01cd,
  WS: 0x01dd,
  WSS: 0x01de,
  MEMORY: 0x0309,
} as const

/** One decoded component. */
export interface MultiaddrComponent {
  code: number
  /** Text value (`ip4` dotted, `tcp` decimal, `p2p` base58, …); undefined for ws/wss/quic-v1. */
  value: string | undefined
}

/** A decoded binary multiaddr. */
export interface DecodedMultiaddr {
  components: MultiaddrComponent[]
  /** Canonical text form, e.g. `/ip4/127.0.0.1/tcp/8115/p2p/Qm…`. */
  text: string
}

const NAMES = new Map<number, string>([
  [MA.IP4, 'ip4'],
  [MA.TCP, 'tcp'],
  [MA.IP6, 'ip6'],
  [MA.DNS4, 'dns4'],
  [MA.DNS6, 'dns6'],
  [MA.UDP, 'udp'],
  [MA.P2P, 'p2p'],
  [MA.ONION3, 'onion3'],
  [MA.TLS, 'tls'],
  [MA.QUIC_V1, 'quic-v1'],
  [MA.WS, 'ws'],
  [MA.WSS, 'wss'],
  [MA.MEMORY, 'memory'],
])

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

function bad(why: string): ProtocolsError {
  return new ProtocolsError('PROTOCOLS_ERR_INVALID_MULTIADDR', `invalid binary multiaddr: ${why}`)
}

/**
 * Reads an unsigned varint (as the `unsigned-varint` crate: at most `maxBytes`
 * bytes, no non-minimal trailing zero byte, no overflow past 2^53 here).
 */
function readVarint(b: Uint8Array, at: number, maxBytes: number): [value: number, next: number] {
  let value = 0
  let mul = 1
  for (let i = 0; i < maxBytes; i++) {
    const byte = b[at + i]
    if (byte === undefined) throw bad('truncated varint')
    value += (byte & 0x7f) * mul
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw bad('non-minimal varint')
      if (value > Number.MAX_SAFE_INTEGER) throw bad('varint overflow')
      return [value, at + i + 1]
    }
    mul *= 128
  }
  throw bad('varint overflow')
}

function take(b: Uint8Array, at: number, n: number, what: string): Uint8Array {
  if (at + n > b.length) throw bad(`${what}: ${n} bytes needed, ${b.length - at} left`)
  return b.subarray(at, at + n)
}

function ip6Text(p: Uint8Array): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((p[i]! << 8) | p[i + 1]!)
  // RFC 5952: the longest run (>= 2) of zero groups becomes "::", the first one on ties.
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let acc = 0
  for (const byte of bytes) {
    acc = (acc << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31]
      bits -= 5
    }
    acc &= (1 << bits) - 1
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31]
  return out
}

/** A p2p payload must be a sha2-256 multihash: varint 0x12, then 0x20 and 32 bytes (§5.1). */
function checkP2p(p: Uint8Array): void {
  const [code, next] = readVarint(p, 0, 10)
  if (code !== 0x12) throw bad(`p2p multihash code ${code} is not sha2-256`)
  if (p.length - next !== 33 || p[next] !== 32) throw bad('p2p multihash is not 32 bytes of sha2-256')
}

/** Decodes a binary multiaddr (§5.3); throws ProtocolsError PROTOCOLS_ERR_INVALID_MULTIADDR. */
export function decodeMultiaddr(bytes: Uint8Array): DecodedMultiaddr {
  const components: MultiaddrComponent[] = []
  let at = 0
  while (at < bytes.length) {
    const [code, next] = readVarint(bytes, at, 5)
    if (code > 0xffffffff) throw bad('protocol code overflow')
    at = next
    let value: string | undefined
    switch (code) {
      case MA.IP4: {
        const p = take(bytes, at, 4, 'ip4')
        value = `${p[0]}.${p[1]}.${p[2]}.${p[3]}`
        at += 4
        break
      }
      case MA.IP6: {
        value = ip6Text(take(bytes, at, 16, 'ip6'))
        at += 16
        break
      }
      case MA.TCP:
      case MA.UDP: {
        const p = take(bytes, at, 2, 'port')
        value = String((p[0]! << 8) | p[1]!)
        at += 2
        break
      }
      case MA.DNS4:
      case MA.DNS6:
      case MA.TLS:
      case MA.P2P: {
        const [n, start] = readVarint(bytes, at, 10)
        const p = take(bytes, start, n, NAMES.get(code)!)
        at = start + n
        if (code === MA.P2P) {
          checkP2p(p)
          value = base58Encode(p)
        } else {
          try {
            value = utf8.decode(p)
          } catch {
            throw bad(`${NAMES.get(code)} is not UTF-8`)
          }
          // Rust keeps such names in binary form; we keep text, where an empty
          // name or a "/" would read back as other components (found by fuzzing).
          if (value === '' || value.includes('/'))
            throw bad(`${NAMES.get(code)} name ${JSON.stringify(value)} has no text form`)
        }
        break
      }
      case MA.ONION3: {
        const p = take(bytes, at, 37, 'onion3')
        const port = (p[35]! << 8) | p[36]!
        // Port 0 has no text form that parses back (found by fuzzing: decode, then encode).
        if (port === 0) throw bad('onion3 port 0')
        value = `${base32(p.subarray(0, 35))}:${port}`
        at += 37
        break
      }
      case MA.MEMORY: {
        const p = take(bytes, at, 8, 'memory')
        value = new DataView(p.buffer, p.byteOffset, 8).getBigUint64(0, false).toString()
        at += 8
        break
      }
      case MA.WS:
      case MA.WSS:
      case MA.QUIC_V1:
        break
      default:
        throw bad(`unknown protocol code ${code}`)
    }
    components.push({ code, value })
  }
  return { components, text: multiaddrText(components) }
}

/** The text form of decoded components. */
export function multiaddrText(components: readonly MultiaddrComponent[]): string {
  let text = ''
  for (const { code, value } of components)
    text += value === undefined ? `/${NAMES.get(code)}` : `/${NAMES.get(code)}/${value}`
  return text
}

const utf8Encoder = new TextEncoder()
/** Protocols of §5.3 whose text form has no value. */
const NO_VALUE = new Set(['ws', 'wss', 'quic-v1'])

function varintBytes(n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return out
}

/**
 * Text to bytes through `@multiformats/multiaddr`, except two components whose
 * form in tentacle differs from that library's (§5.3): `/tls/<name>` (the
 * library knows /tls as a protocol without a value, tentacle's carries a
 * server name) and `/memory/<u64>` (tentacle: 8 bytes big-endian). The text is
 * walked component by component (a dns4 name may itself be "tls"); those two
 * are encoded here and the runs of other components by the library. Throws on
 * text neither accepts. Both were found by fuzzing (decode, then encode).
 */
function textToBytes(text: string): Uint8Array {
  if (!text.includes('/tls/') && !text.includes('/memory/')) return multiaddr(text).bytes
  const tokens = text.split('/')
  if (tokens[0] !== '') throw new Error('a multiaddr starts with "/"')
  const parts: Uint8Array[] = []
  let runStart = 1
  const flush = (end: number): void => {
    if (end > runStart) parts.push(multiaddr('/' + tokens.slice(runStart, end).join('/')).bytes)
  }
  let i = 1
  while (i < tokens.length) {
    const name = tokens[i]!
    if (name === 'tls') {
      flush(i)
      const value = utf8Encoder.encode(tokens[i + 1] ?? '')
      if (value.length === 0) throw new Error('tls has an empty name')
      parts.push(Uint8Array.from([...varintBytes(MA.TLS), ...varintBytes(value.length)]), value)
      i += 2
      runStart = i
    } else if (name === 'memory') {
      flush(i)
      const text = tokens[i + 1] ?? ''
      if (!/^[0-9]+$/.test(text) || BigInt(text) > 0xffffffffffffffffn) throw new Error(`memory ${text} is not a u64`)
      const value = new Uint8Array(8)
      new DataView(value.buffer).setBigUint64(0, BigInt(text), false)
      parts.push(Uint8Array.from(varintBytes(MA.MEMORY)), value)
      i += 2
      runStart = i
    } else i += NO_VALUE.has(name) ? 1 : 2
  }
  flush(tokens.length)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Encodes a multiaddr text (§5.3); throws ProtocolsError PROTOCOLS_ERR_INVALID_MULTIADDR for text the decoder would not accept back. */
export function encodeMultiaddr(text: string): Uint8Array {
  const hit = parsedCache.get(text)
  if (hit) return hit.bytes
  let bytes: Uint8Array
  try {
    bytes = textToBytes(text)
  } catch (err) {
    throw new ProtocolsError(
      'PROTOCOLS_ERR_INVALID_MULTIADDR',
      `invalid multiaddr "${text}": ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  decodeMultiaddr(bytes)
  return bytes
}

/** The canonical text of a multiaddr given as text (see the module comment); throws PROTOCOLS_ERR_INVALID_MULTIADDR. */
export function canonicalMultiaddr(text: string): string {
  const parsed = parseMultiaddr(text)
  if (parsed === undefined) encodeMultiaddr(text) // throws the reason
  return parsed!.text
}

/** Parsed texts (and their bytes), most recent last; bounded so a flood of addresses cannot grow it. */
const parsedCache = new Map<string, { decoded: DecodedMultiaddr; bytes: Uint8Array } | null>()
const PARSED_CACHE_MAX = 20_000

function remember(text: string, value: { decoded: DecodedMultiaddr; bytes: Uint8Array } | null): void {
  parsedCache.delete(text)
  if (parsedCache.size >= PARSED_CACHE_MAX) parsedCache.delete(parsedCache.keys().next().value as string)
  parsedCache.set(text, value)
}

/**
 * A multiaddr text parsed (text → bytes → components), or undefined when it
 * is not one. Memoized: addresses are parsed again and again (address book,
 * filters, dial checks), and parsing through `@multiformats/multiaddr` takes
 * tens of microseconds; addresses decoded from the wire are remembered with
 * their bytes by {@link decodeMultiaddrBytes}.
 */
export function parseMultiaddr(text: string): DecodedMultiaddr | undefined {
  const hit = parsedCache.get(text)
  if (hit !== undefined) {
    remember(text, hit)
    return hit?.decoded
  }
  let value: { decoded: DecodedMultiaddr; bytes: Uint8Array } | null
  try {
    const bytes = textToBytes(text)
    value = { decoded: decodeMultiaddr(bytes), bytes }
  } catch {
    value = null
  }
  remember(text, value)
  return value?.decoded
}

/** {@link decodeMultiaddr} for addresses from the wire: the result (and a copy of its bytes) is remembered for later parses and encodes. */
export function decodeMultiaddrBytes(bytes: Uint8Array): DecodedMultiaddr {
  const decoded = decodeMultiaddr(bytes)
  remember(decoded.text, { decoded, bytes: Uint8Array.from(bytes) })
  return decoded
}
