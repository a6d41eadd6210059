import type { NetSpec } from './compose.js'
import type { NodeStatus } from './status.js'

/** Options of a slowed link: a token-bucket filter on the node's interface (`tc … tbf`). */
export interface SlowOptions {
  /** Rate in kbit/s (default 256). */
  rateKbit?: number
  /** Burst in bytes (default 16 KiB). */
  burstBytes?: number
  /** Longest a packet may wait in the bucket, in ms (default 400). */
  latencyMs?: number
}

/**
 * A running test net, whatever runs it. Every fault names a service of the
 * compose file; every method resolves once the fault is in effect.
 */
export interface TestNet {
  readonly backend: 'local' | 'docker'
  readonly spec: NetSpec
  /** Service names, in compose order. */
  readonly nodes: readonly string[]
  /** Starts every node; resolves when each has printed its ready line (local) or is running (docker). */
  up(): Promise<void>
  /** Stops every node and removes what `up` made. Idempotent. */
  down(): Promise<void>
  /** Status of every node (or of `names`), read from its /status and /metrics. */
  status(names?: readonly string[]): Promise<NodeStatus[]>
  /** SIGKILL. */
  kill(name: string): Promise<void>
  /** Starts a killed node again with the same command. */
  restart(name: string): Promise<void>
  /** Stops the node's processes without closing anything (SIGSTOP / docker pause): the seed's stalled node. */
  freeze(name: string): Promise<void>
  thaw(name: string): Promise<void>
  /** Takes the node off the net's network (docker only). */
  cut(name: string): Promise<void>
  heal(name: string): Promise<void>
  /** Slows the node's link with a token-bucket filter (docker only). */
  slow(name: string, opts?: SlowOptions): Promise<void>
  unslow(name: string): Promise<void>
  /** The node's p2p address as the test process can dial it (`/ip4/…/tcp/…`). */
  p2pAddress(name: string): Promise<string>
  /** Counts of the node's sockets on its p2p port by TCP state (CLOSE_WAIT, …), from the kernel. */
  socketStates(name: string): Promise<Map<string, number>>
  /** The node's log (stdout + stderr) so far, for failure messages. */
  logs(name: string): Promise<string>
}
