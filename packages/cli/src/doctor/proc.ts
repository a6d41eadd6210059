/**
 * What an operator reads by hand from /proc (Linux): the kernel's TCP
 * counters, which process owns a socket, a process's file descriptors, limits
 * and run state. Every reader returns undefined (or empty) where the file is
 * missing or unreadable instead of throwing.
 */
import { readdir, readFile, readlink } from 'node:fs/promises'

/** TcpExt ListenOverflows / ListenDrops (/proc/net/netstat): per network namespace, since boot. */
export interface ListenCounters {
  listenOverflows: number
  listenDrops: number
}

export async function listenCounters(): Promise<ListenCounters | undefined> {
  let text: string
  try {
    text = await readFile('/proc/net/netstat', 'utf8')
  } catch {
    return undefined
  }
  const lines = text.split('\n')
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith('TcpExt:') || !lines[i + 1].startsWith('TcpExt:')) continue
    const names = lines[i].trim().split(/\s+/)
    const values = lines[i + 1].trim().split(/\s+/)
    const get = (n: string): number => Number(values[names.indexOf(n)] ?? 0)
    return { listenOverflows: get('ListenOverflows'), listenDrops: get('ListenDrops') }
  }
  return undefined
}

/** Inodes of the sockets `pid` has open (from /proc/PID/fd links `socket:[N]`). */
export async function socketInodes(pid: number): Promise<Set<number>> {
  const out = new Set<number>()
  let fds: string[]
  try {
    fds = await readdir(`/proc/${pid}/fd`)
  } catch {
    return out
  }
  await Promise.all(
    fds.map(async (fd) => {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`))
        if (m) out.add(Number(m[1]))
      } catch {
        // closed meanwhile
      }
    }),
  )
  return out
}

/** The process holding a socket with this inode, found the way `ss -p` does: by reading every /proc/PID/fd. */
export async function ownerOfInode(inode: number): Promise<number | undefined> {
  const target = `socket:[${inode}]`
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let fds: string[]
    try {
      fds = await readdir(`/proc/${name}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if ((await readlink(`/proc/${name}/fd/${fd}`)) === target) return Number(name)
      } catch {
        // gone
      }
    }
  }
  return undefined
}

export interface FdUsage {
  open: number
  /** Soft RLIMIT_NOFILE ("Max open files"); undefined when unlimited or unreadable. */
  limit: number | undefined
}

export async function fdUsage(pid: number): Promise<FdUsage | undefined> {
  let open: number
  try {
    open = (await readdir(`/proc/${pid}/fd`)).length
  } catch {
    return undefined
  }
  let limit: number | undefined
  try {
    const m = /^Max open files\s+(\S+)/m.exec(await readFile(`/proc/${pid}/limits`, 'utf8'))
    if (m && m[1] !== 'unlimited') limit = Number(m[1])
  } catch {
    // keep undefined
  }
  return { open, limit }
}

export interface ProcessInfo {
  pid: number
  /** Command name (/proc/PID/comm). */
  comm: string
  /** Run state letter from /proc/PID/stat: R, S, D, T (stopped), t (traced), Z ... */
  state: string
  /** Arguments (/proc/PID/cmdline). */
  argv: string[]
}

export async function processInfo(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) S ...": comm may hold spaces and parentheses; the state follows the last ')'.
    const close = stat.lastIndexOf(')')
    const comm = stat.slice(stat.indexOf('(') + 1, close)
    const state = stat.slice(close + 2, close + 3)
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '')
    return { pid, comm, state, argv }
  } catch {
    return undefined
  }
}
