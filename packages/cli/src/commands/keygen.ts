import { existsSync } from 'node:fs'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { parse } from '../args.js'
import { CliError } from '../errors.js'
import { printHelp } from '../usage.js'

/** `tentacle keygen [--out FILE] [--force] [--json]` */
export async function keygen(argv: string[]): Promise<number> {
  const { values, help } = parse(
    'keygen',
    argv,
    { out: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
    { min: 0, max: 0 },
  )
  if (help) return printHelp('keygen')
  const key = SecioKeyPair.generate()
  const peerId = key.peerId.toString()
  const out = values.out as string | undefined
  if (out === undefined) {
    process.stdout.write(key.secretHex() + '\n')
    process.stderr.write(`peer id ${peerId}\n`)
    return 0
  }
  if (existsSync(out) && values.force !== true) {
    throw new CliError('CLI_ERR_FILE_EXISTS', `${out} exists; pass --force to overwrite it`)
  }
  try {
    await key.save(out)
  } catch (err) {
    throw new CliError(
      'CLI_ERR_KEY_FILE',
      `cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    )
  }
  process.stdout.write(values.json === true ? JSON.stringify({ peerId, file: out }) + '\n' : peerId + '\n')
  return 0
}
