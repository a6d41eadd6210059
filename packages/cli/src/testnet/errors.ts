/** What failed in the test-net driver; callers branch on it. */
export type TestnetErrorCode =
  | 'ERR_TESTNET_USAGE'
  | 'ERR_TESTNET_COMPOSE'
  | 'ERR_TESTNET_UNKNOWN_NODE'
  | 'ERR_TESTNET_NODE_START'
  | 'ERR_TESTNET_STATE'
  | 'ERR_TESTNET_DOCKER'
  | 'ERR_TESTNET_TIMEOUT'

/** A test-net failure: one line for the user, a stable `code` for programs. */
export class TestnetError extends Error {
  override readonly name = 'TestnetError'
  readonly code: TestnetErrorCode
  constructor(code: TestnetErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
  }
}
