/**
 * Address rules CKB applies before an address travels (tentacle `utils.rs`:
 * `is_reachable`, `multiaddr_to_socketaddr`; CKB identify's
 * `is_remote_listen_addr_allowed`, discovery's `is_valid_addr`).
 */
import { isIPv6 } from 'node:net'
import { MA, multiaddrText, parseMultiaddr, type MultiaddrComponent } from './multiaddr-binary.js'

/** tentacle's `is_reachable`: a globally routable IP (not private, loopback, link-local, broadcast, documentation, unspecified…). */
export function isReachableIp(ip: string): boolean {
  if (!isIPv6(ip)) {
    const p = ip.split('.').map(Number)
    if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return false
    const [a, b, c] = p as [number, number, number, number]
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return false // private
    if (a === 127) return false // loopback
    if (a === 169 && b === 254) return false // link-local
    if (ip === '255.255.255.255') return false // broadcast
    if (
      (a === 192 && b === 0 && c === 2) ||
      (a === 198 && b === 51 && c === 100) ||
      (a === 203 && b === 0 && c === 113)
    )
      return false // documentation
    if (ip === '0.0.0.0') return false
    return true
  }
  const seg = ipv6Segments(ip)
  if (seg === undefined) return false
  const s0 = seg[0]!
  const multicast = (s0 & 0xff00) === 0xff00
  if (multicast) return (s0 & 0x000f) === 14 // global-scope multicast only
  if (seg.every((x) => x === 0)) return false // unspecified
  if (seg.slice(0, 7).every((x) => x === 0) && seg[7] === 1) return false // loopback
  if ((s0 & 0xffc0) === 0xfe80 || (s0 & 0xffc0) === 0xfec0 || (s0 & 0xfe00) === 0xfc00) return false // link/site-local, unique local
  if (s0 === 0x2001 && seg[1] === 0xdb8) return false // documentation
  return true
}

function ipv6Segments(ip: string): number[] | undefined {
  const halves = ip.split('::')
  if (halves.length > 2) return undefined
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)))
  const head = parse(halves[0]!)
  const tail = halves.length === 2 ? parse(halves[1]!) : []
  const fill = 8 - head.length - tail.length
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined
  const seg = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail]
  return seg.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffff) ? undefined : seg
}

/** The components of a multiaddr text, or undefined when it is not one. */
export function components(address: string): MultiaddrComponent[] | undefined {
  return parseMultiaddr(address)?.components
}

/** tentacle's `multiaddr_to_socketaddr`: the first ip4/ip6 directly followed by tcp. */
export function socketOf(address: string): { ip: string; port: number } | undefined {
  const c = components(address)
  if (c === undefined) return undefined
  for (let i = 0; i + 1 < c.length; i++) {
    if ((c[i]!.code === MA.IP4 || c[i]!.code === MA.IP6) && c[i + 1]!.code === MA.TCP)
      return { ip: c[i]!.value!, port: Number(c[i + 1]!.value) }
  }
  return undefined
}

/**
 * CKB identify's rule for listen addresses (`global_ip_only` is always on
 * outside CKB's tests): a socket address must be reachable; otherwise only
 * onion3 addresses pass (so `/dns4/localhost/...` never does).
 */
export function isGlobalListenAddr(address: string): boolean {
  const s = socketOf(address)
  if (s !== undefined) return isReachableIp(s.ip)
  return components(address)?.some((c) => c.code === MA.ONION3) ?? false
}

/** CKB discovery's `is_valid_addr`: anything with allowLocal; else a socket address must be reachable (non-socket addresses pass). */
export function isValidDiscoveryAddr(address: string, allowLocal: boolean): boolean {
  if (allowLocal) return true
  const s = socketOf(address)
  return s === undefined ? true : isReachableIp(s.ip)
}

/** True when tentacle-ts can dial it: `/ip4|ip6|dns4|dns6/<host>/tcp/<port>/p2p/<id>` and nothing else. */
export function isDialable(address: string): boolean {
  const c = components(address)
  if (c === undefined || c.length !== 3) return false
  const [host, tcp, p2p] = c as [MultiaddrComponent, MultiaddrComponent, MultiaddrComponent]
  return (
    (host.code === MA.IP4 || host.code === MA.IP6 || host.code === MA.DNS4 || host.code === MA.DNS6) &&
    tcp.code === MA.TCP &&
    p2p.code === MA.P2P
  )
}

/** The address with its tcp port replaced (CKB `RemoteAddress::update_port`). */
export function withTcpPort(address: string, port: number): string {
  const c = components(address)
  if (c === undefined) return address
  return multiaddrText(c.map((x) => (x.code === MA.TCP ? { code: x.code, value: String(port) } : x)))
}

/** The address with `/p2p/<peerId>` appended when it has none. */
export function withPeer(address: string, peerId: string): string {
  const c = components(address)
  if (c === undefined || c.some((x) => x.code === MA.P2P)) return address
  return `${address}/p2p/${peerId}`
}
