import { isIP } from 'node:net'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { TentacleError } from './errors.js'

/** A TCP endpoint taken from a multiaddr (§5.3): /ip4|/ip6|/dns4|/dns6 then /tcp, then optional /p2p. */
export interface TcpTarget {
  host: string
  port: number
  /** 4 or 6 for /ip4, /dns4, /ip6, /dns6. */
  family: 4 | 6
  /** True for /dns4 and /dns6 (host is a name to resolve). */
  dns: boolean
  /** The base58 text of the /p2p/ component, if any (§5.2). */
  peerId?: string
}

const IP4 = 4
const TCP = 6
const IP6 = 41
const DNS4 = 54
const DNS6 = 55
const P2P = 421

/** Parses text or a Multiaddr; throws TENTACLE_ERR_INVALID_MULTIADDR on malformed input. */
export function toMultiaddr(addr: string | Multiaddr): Multiaddr {
  if (typeof addr !== 'string') return addr
  try {
    return multiaddr(addr)
  } catch (err) {
    throw new TentacleError(
      'TENTACLE_ERR_INVALID_MULTIADDR',
      `invalid multiaddr "${addr}": ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
}

/**
 * The TCP endpoint of `addr`, or TENTACLE_ERR_UNSUPPORTED_MULTIADDR when it is not
 * `<ip4|ip6|dns4|dns6>/tcp[/p2p]` (ws, tls, memory, onion are not transports here).
 */
export function tcpTarget(addr: Multiaddr): TcpTarget {
  const comps = addr.getComponents()
  const [host, port, ...rest] = comps
  const unsupported = (): never => {
    throw new TentacleError(
      'TENTACLE_ERR_UNSUPPORTED_MULTIADDR',
      `unsupported multiaddr ${addr.toString()} (want /ip4|ip6|dns4|dns6/.../tcp/PORT[/p2p/ID])`,
    )
  }
  if (host === undefined || port === undefined || port.code !== TCP || port.value === undefined) return unsupported()
  let family: 4 | 6
  let dns = false
  switch (host.code) {
    case IP4:
      family = 4
      break
    case IP6:
      family = 6
      break
    case DNS4:
      family = 4
      dns = true
      break
    case DNS6:
      family = 6
      dns = true
      break
    default:
      return unsupported()
  }
  if (host.value === undefined || host.value.length === 0) return unsupported()
  const portNum = Number(port.value)
  if (!Number.isInteger(portNum) || portNum < 0 || portNum > 65535) return unsupported()
  let peerId: string | undefined
  for (const c of rest) {
    if (c.code === P2P && c.value !== undefined && peerId === undefined) peerId = c.value
    else return unsupported()
  }
  return { host: host.value, port: portNum, family, dns, peerId }
}

/**
 * `/ip4|ip6/<host>/tcp/<port>` for a socket address. A scoped IPv6 address
 * (a link-local peer: "fe80::1%eth0") loses its zone, as in tentacle
 * (`Protocol::Ip6(addr.ip())`): a multiaddr cannot carry it.
 */
export function socketMultiaddr(host: string, port: number): Multiaddr {
  const v = isIP(host)
  if (v === 6) {
    const zone = host.indexOf('%')
    if (zone >= 0) host = host.slice(0, zone)
  }
  // IPv4-mapped IPv6 (::ffff:1.2.3.4) is shown as ip4, as the Rust side does.
  if (v === 6 && host.startsWith('::ffff:') && isIP(host.slice(7)) === 4) {
    return multiaddr(`/ip4/${host.slice(7)}/tcp/${port}`)
  }
  return multiaddr(`/${v === 6 ? 'ip6' : 'ip4'}/${host}/tcp/${port}`)
}

/** `addr` without any /p2p component. */
export function withoutPeerId(addr: Multiaddr): Multiaddr {
  return multiaddr(addr.getComponents().filter((c) => c.code !== P2P))
}

/** `addr` ending in `/p2p/<peerId>` (§5.2: appended to session addresses). */
export function withPeerId(addr: Multiaddr, peerId: string): Multiaddr {
  return withoutPeerId(addr).encapsulate(`/p2p/${peerId}`)
}
