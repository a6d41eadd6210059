import { isSecioError, SecioKeyPair } from '@tentacle-ts/secio'
import { CliError } from './errors.js'

/** Loads `--key FILE`; a missing or malformed file is a one-line error naming the fix. */
export async function loadKey(file: string): Promise<SecioKeyPair> {
  try {
    return await SecioKeyPair.load(file)
  } catch (err) {
    // SecioKeyPair.load rejects with SECIO_ERR_INVALID_KEY_FILE, the fs error as its cause.
    const e = err as NodeJS.ErrnoException
    const fsCode = (e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.code
    const why =
      fsCode === 'ENOENT'
        ? `${file} does not exist (create it with: tentacle keygen --out ${file})`
        : isSecioError(e)
          ? e.message
          : `cannot read ${file}: ${e.code ?? e.message}`
    throw new CliError('CLI_ERR_KEY_FILE', why, { cause: err })
  }
}
