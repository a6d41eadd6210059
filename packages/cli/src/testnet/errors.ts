import { CliError, type CliErrorCode } from '../errors.js'

/** What failed in the test-net driver; callers branch on it. */
export type TestnetErrorCode = Extract<CliErrorCode, `CLI_ERR_TESTNET_${string}`>

/** A test-net failure: one line for the user, a stable `code` for programs (a {@link CliError}, exit 1). */
export class TestnetError extends CliError {
  override readonly name = 'TestnetError'
  declare readonly code: TestnetErrorCode
  constructor(code: TestnetErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(code, message, opts)
  }
}
