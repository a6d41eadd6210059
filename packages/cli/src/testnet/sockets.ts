import { TCP_STATES } from '@tentacle-ts/tentacle'

/**
 * Counts sockets by TCP state in the text of /proc/net/tcp (and tcp6), for one
 * local port and, when given, one local IPv4 address (the local back end runs
 * every node on the same port on its own 127.0.0.x address). The docker back end
 * reads the same files inside the container's network namespace.
 */
export function socketStates(procNetTcp: string, localPort: number, localIp?: string): Map<string, number> {
  const counts = new Map<string, number>()
  const wantIp = localIp === undefined ? undefined : ipv4Hex(localIp)
  for (const line of procNetTcp.split('\n')) {
    const f = line.trim().split(/\s+/)
    if (f.length < 4 || !f[0].endsWith(':')) continue
    const colon = f[1].lastIndexOf(':')
    if (colon < 0) continue
    if (parseInt(f[1].slice(colon + 1), 16) !== localPort) continue
    if (wantIp !== undefined && !matchesIp(f[1].slice(0, colon), wantIp)) continue
    const state = TCP_STATES[parseInt(f[3], 16)] ?? 'UNKNOWN'
    counts.set(state, (counts.get(state) ?? 0) + 1)
  }
  return counts
}

/** /proc/net/tcp writes an IPv4 address as 8 hex digits in host (little-endian) order. */
function ipv4Hex(ip: string): string {
  return ip
    .split('.')
    .reverse()
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase()
}

function matchesIp(hex: string, want: string): boolean {
  if (hex.length === 8) return hex.toUpperCase() === want
  // tcp6: an IPv4-mapped address ::ffff:a.b.c.d ends with the same 8 digits.
  return (
    hex.length === 32 &&
    hex.toUpperCase().startsWith('0000000000000000FFFF0000') &&
    hex.slice(24).toUpperCase() === want
  )
}
