/**
 * Where interop/build.sh installs the driver binaries:
 * $TENTACLE_TS_CACHE/bin, default $HOME/.cache/tentacle-ts/bin.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'

/** The directory holding the built drivers. */
export function binDir(): string {
  const cache = process.env.TENTACLE_TS_CACHE ?? join(homedir(), '.cache', 'tentacle-ts')
  return join(cache, 'bin')
}

/** Full path of a driver binary by name (e.g. "secio-peer"). */
export function binPath(name: string): string {
  return join(binDir(), name)
}
