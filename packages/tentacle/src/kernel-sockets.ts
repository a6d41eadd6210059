import { readFile } from 'node:fs/promises'

/** TCP states as numbered in /proc/net/tcp (include/net/tcp_states.h). */
export const TCP_STATES: Record<number, string> = {
  1: 'ESTABLISHED',
  2: 'SYN_SENT',
  3: 'SYN_RECV',
  4: 'FIN_WAIT1',
  5: 'FIN_WAIT2',
  6: 'TIME_WAIT',
  7: 'CLOSE',
  8: 'CLOSE_WAIT',
  9: 'LAST_ACK',
  10: 'LISTEN',
  11: 'CLOSING',
}

export interface KernelSocket {
  localPort: number
  remotePort: number
  state: string
  /** For LISTEN sockets: the accept-queue depth; otherwise bytes in the receive queue. */
  rxQueue: number
  txQueue: number
  /** The socket's inode: /proc/PID/fd/N links to `socket:[inode]` for the process that owns it (0 once orphaned). */
  inode: number
}

/**
 * Reads the kernel's view of TCP sockets (/proc/net/tcp and tcp6), the way
 * an operator would with `ss -tan`. Linux only; returns [] elsewhere.
 * Optionally filtered to sockets whose local port is `localPort`.
 */
export async function kernelSockets(localPort?: number): Promise<KernelSocket[]> {
  const out: KernelSocket[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch {
      continue
    }
    const lines = text.split('\n')
    for (let i = 1; i < lines.length; i++) {
      const f = lines[i].trim().split(/\s+/)
      if (f.length < 5) continue
      const local = f[1].split(':')
      const remote = f[2].split(':')
      const lp = parseInt(local[local.length - 1], 16)
      if (localPort !== undefined && lp !== localPort) continue
      const [tx, rx] = f[4].split(':').map((h) => parseInt(h, 16))
      out.push({
        localPort: lp,
        remotePort: parseInt(remote[remote.length - 1], 16),
        state: TCP_STATES[parseInt(f[3], 16)] ?? 'UNKNOWN',
        txQueue: tx,
        rxQueue: rx,
        inode: Number(f[9] ?? 0),
      })
    }
  }
  return out
}

/** Count of sockets per state for one local port. */
export async function socketStateCounts(localPort: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  for (const s of await kernelSockets(localPort)) counts.set(s.state, (counts.get(s.state) ?? 0) + 1)
  return counts
}
