/**
 * The command's error family. A {@link UsageError} is a user mistake on the
 * command line (one line + usage, exit 2); a {@link CliError} is a failure
 * of the work itself (one line, exit 1). Neither prints a stack.
 */
export type CliErrorCode =
  | 'ERR_USAGE'
  | 'ERR_KEY_FILE'
  | 'ERR_FILE_EXISTS'
  | 'ERR_LISTEN'
  | 'ERR_METRICS_LISTEN'
  | 'ERR_DIAL'
  | 'ERR_DOCTOR'
  | 'ERR_NOT_IMPLEMENTED'

export class CliError extends Error {
  override readonly name: string = 'CliError'
  readonly code: CliErrorCode
  readonly exitCode: number
  constructor(code: CliErrorCode, message: string, opts: { cause?: unknown; exitCode?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    this.exitCode = opts.exitCode ?? 1
  }
}

/** Bad arguments: the message is one line; `command` picks the usage text shown with it. */
export class UsageError extends CliError {
  override readonly name = 'UsageError'
  readonly command: string | undefined
  constructor(message: string, command?: string) {
    super('ERR_USAGE', message, { exitCode: 2 })
    this.command = command
  }
}
