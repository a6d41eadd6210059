import { CliError, UsageError } from './errors.js'
import { USAGE } from './usage.js'

type Command = (argv: string[]) => Promise<number>

/** Commands, loaded on demand so `tentacle keygen` does not load the network stack. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  keygen: async () => (await import('./commands/keygen.js')).keygen,
  node: async () => (await import('./commands/node.js')).node,
  dial: async () => (await import('./commands/dial.js')).dial,
  doctor: async () => (await import('./commands/doctor.js')).doctor,
  testnet: async () => (await import('./testnet/index.js')).run,
}

/**
 * Runs the `tentacle` command line; resolves with the exit code. User
 * mistakes print one line and the usage (2), failures one line (1); only a
 * bug prints a stack.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined) {
    process.stderr.write(USAGE.main + '\n')
    return 2
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' && rest[0] !== undefined ? USAGE[rest[0]] : undefined
    process.stdout.write((topic ?? USAGE.main) + '\n')
    return 0
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  try {
    if (load === undefined)
      throw new UsageError(name.startsWith('-') ? `unknown option '${name}'` : `unknown command '${name}'`)
    const run = await load()
    return await run(rest)
  } catch (err) {
    return report(err, load === undefined ? undefined : name)
  }
}

/** A code of the libraries' error families (docs/errors.md); matched by name so no library is loaded here. */
const LIBRARY_CODE = /^(CODEC|SECIO|YAMUX|TENTACLE|PROTOCOLS)_ERR_[A-Z0-9_]+$/

function report(err: unknown, command: string | undefined): number {
  if (err instanceof UsageError) {
    const usage = USAGE[err.command ?? command ?? 'main'] ?? USAGE.main
    process.stderr.write(`tentacle${command ? ' ' + command : ''}: ${err.message}\n\n${usage}\n`)
    return 2
  }
  if (err instanceof CliError) {
    process.stderr.write(`tentacle${command ? ' ' + command : ''}: ${err.message}\n`)
    return err.exitCode
  }
  const code = (err as { code?: unknown })?.code
  if (typeof code === 'string' && LIBRARY_CODE.test(code)) {
    // A typed error from the library: its code and message say it all.
    process.stderr.write(`tentacle${command ? ' ' + command : ''}: ${code}: ${(err as Error).message}\n`)
    return 1
  }
  process.stderr.write(`tentacle: internal error (please report): ${(err as Error)?.stack ?? String(err)}\n`)
  return 1
}
