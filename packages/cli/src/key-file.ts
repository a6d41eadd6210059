import { SecioKeyPair } from '@tentacle-ts/secio'
import { CliError } from './errors.js'

/** Loads `--key FILE`; a missing or malformed file is a one-line error naming the fix. */
export async function loadKey(file: string): Promise<SecioKeyPair> {
  try {
    return await SecioKeyPair.load(file)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why =
      e.code === 'ENOENT'
        ? `${file} does not exist (create it with: tentacle keygen --out ${file})`
        : e.code?.startsWith('ERR_')
          ? e.message
          : `cannot read ${file}: ${e.code ?? e.message}`
    throw new CliError('ERR_KEY_FILE', why, { cause: err })
  }
}
