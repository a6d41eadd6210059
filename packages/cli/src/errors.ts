/**
 * The command's error family. A {@link UsageError} is a user mistake on the
 * command line (one line + usage, exit 2); a {@link CliError} is a failure
 * of the work itself (one line, exit 1). Neither prints a stack.
 */

/**
 * Every code the command reports; {@link CliErrorCode} is its union. The
 * `CLI_ERR_TESTNET_*` codes are `tentacle testnet`'s ({@link TestnetError});
 * the `CLI_ERR_DIAL_*` ones name the phase where `tentacle dial` failed when
 * no library error says more (its probe result's `error.code`).
 */
export const CLI_ERROR_CODES = [
  /** Bad arguments ({@link UsageError}, exit 2). */
  'CLI_ERR_USAGE',
  /** The key file cannot be read, written, or holds no key. */
  'CLI_ERR_KEY_FILE',
  /** `keygen` would overwrite an existing file. */
  'CLI_ERR_FILE_EXISTS',
  /** The node cannot listen. */
  'CLI_ERR_LISTEN',
  /** The node's metrics endpoint cannot listen. */
  'CLI_ERR_METRICS_LISTEN',
  // tentacle testnet (testnet/errors.ts)
  /** Bad testnet arguments, or a command the chosen back end cannot run. */
  'CLI_ERR_TESTNET_USAGE',
  /** The compose file cannot be read or describes no usable net. */
  'CLI_ERR_TESTNET_COMPOSE',
  /** No node of that name. */
  'CLI_ERR_TESTNET_UNKNOWN_NODE',
  /** A node did not start. */
  'CLI_ERR_TESTNET_NODE_START',
  /** The net is not up, a node is not running, or the state file is broken. */
  'CLI_ERR_TESTNET_STATE',
  /** A Docker command failed. */
  'CLI_ERR_TESTNET_DOCKER',
  /** A wait (mesh, sessions) did not end in time. */
  'CLI_ERR_TESTNET_TIMEOUT',
  // tentacle dial (dial/probe.ts): phases that failed with no library code
  /** The TCP connect failed without an errno code. */
  'CLI_ERR_DIAL_CONNECT',
  /** The TCP connect did not finish in time. */
  'CLI_ERR_DIAL_CONNECT_TIMEOUT',
  /** Opening the yamux stream failed without a yamux code. */
  'CLI_ERR_DIAL_MUXER',
  /** The peer refused the protocol asked for (or selection failed without a code). */
  'CLI_ERR_DIAL_PROTOCOL_SELECT',
  /** No selection answer in time. */
  'CLI_ERR_DIAL_PROTOCOL_SELECT_TIMEOUT',
  /** The ping failed (the stream ended or was reset). */
  'CLI_ERR_DIAL_PING',
  /** No Pong in time. */
  'CLI_ERR_DIAL_PING_TIMEOUT',
] as const

/** Every code the command reports. */
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number]

/**
 * Marks a CliError made by any installed copy of this package: `Symbol.for` is
 * shared by the whole process, so isCliError() holds for an error from a second
 * copy, where `instanceof` would not.
 */
const CLIERROR_BRAND = Symbol.for('@tentacle-ts/cli:CliError')

function hasCliErrorBrand(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[CLIERROR_BRAND] === true
}

/** A failure of the command's work: one line for the user, a stable `code` for programs. */
export class CliError extends Error {
  override readonly name: string = 'CliError'
  readonly code: CliErrorCode
  readonly exitCode: number
  constructor(code: CliErrorCode, message: string, opts: { cause?: unknown; exitCode?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    this.exitCode = opts.exitCode ?? 1
    Object.defineProperty(this, CLIERROR_BRAND, { value: true })
  }
}

/** Bad arguments: the message is one line; `command` picks the usage text shown with it. */
export class UsageError extends CliError {
  override readonly name = 'UsageError'
  readonly command: string | undefined
  constructor(message: string, command?: string) {
    super('CLI_ERR_USAGE', message, { exitCode: 2 })
    this.command = command
  }
}

/**
 * True when `err` is a {@link CliError} (a {@link UsageError} or a testnet
 * error included, from any installed copy), optionally with the given code.
 */
export function isCliError(err: unknown, code?: CliErrorCode): err is CliError {
  return hasCliErrorBrand(err) && (code === undefined || (err as CliError).code === code)
}
