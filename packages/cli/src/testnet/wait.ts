import type { TestNet } from './backend.js'
import { TestnetError } from './errors.js'
import { isFullMesh, meshReport, type NodeStatus } from './status.js'

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number
  /** Time between two reads of every node's status (default 250 ms). */
  intervalMs?: number
  /** Called with every round of status rows (a live table, a log). */
  onRows?: (rows: NodeStatus[]) => void
  /** Nodes to read (default: all). */
  names?: readonly string[]
  /** Stops waiting early (Ctrl-C). */
  signal?: AbortSignal
}

/**
 * Reads the nodes' status until `done(rows)` holds; resolves with those rows.
 * The nodes publish no change events over HTTP, so this reads at an interval,
 * bounded by `timeoutMs`; a timeout is `CLI_ERR_TESTNET_TIMEOUT` with what each node saw.
 */
export async function waitForStatus(
  net: TestNet,
  done: (rows: NodeStatus[]) => boolean,
  what: string,
  opts: WaitOptions = {},
): Promise<NodeStatus[]> {
  const timeoutMs = opts.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  let rows: NodeStatus[]
  for (;;) {
    opts.signal?.throwIfAborted()
    rows = await net.status(opts.names)
    opts.onRows?.(rows)
    if (done(rows)) return rows
    if (Date.now() >= deadline) break
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250))
  }
  throw new TestnetError('CLI_ERR_TESTNET_TIMEOUT', `${what}: not within ${timeoutMs} ms (${meshReport(rows)})`)
}

/** Waits until `names` (default all) form a full mesh: each node has a session with every other. */
export function waitForMesh(net: TestNet, opts: WaitOptions = {}): Promise<NodeStatus[]> {
  const names = opts.names ?? net.nodes
  return waitForStatus(net, (rows) => isFullMesh(rows, names), `full mesh of ${names.join(', ')}`, { ...opts, names })
}
