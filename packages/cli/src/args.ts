import { parseArgs } from 'node:util'
import { UsageError } from './errors.js'

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>

/**
 * Parses `argv` strictly (unknown options and missing values are usage
 * errors). `--help`/`-h` is accepted by every command.
 */
export function parse<O extends OptionSpec>(
  command: string,
  argv: string[],
  options: O,
  positionals: { min: number; max: number },
): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[]; help: boolean } {
  let res: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }
  try {
    res = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    })
  } catch (err) {
    throw new UsageError(oneLine((err as Error).message), command)
  }
  const help = res.values.help === true
  if (!help) {
    if (res.positionals.length < positionals.min) throw new UsageError('missing argument', command)
    if (res.positionals.length > positionals.max)
      throw new UsageError(`unexpected argument '${res.positionals[positionals.max]}'`, command)
  }
  return { values: res.values, positionals: res.positionals, help }
}

function oneLine(s: string): string {
  // node:util's messages carry a hint on a second line ("To specify a positional argument ...").
  return s.split('\n')[0].split('. To specify')[0]
}

/** A non-negative integer option, or a usage error naming it. */
export function intOption(
  command: string,
  name: string,
  v: unknown,
  opts: { min?: number; max?: number } = {},
): number | undefined {
  if (v === undefined) return undefined
  const s = String(v)
  const n = /^\d+$/.test(s) ? Number(s) : NaN
  const min = opts.min ?? 0
  const max = opts.max ?? Number.MAX_SAFE_INTEGER
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got '${s}'`, command)
  }
  return n
}

/** `HOST:PORT` (IPv6 as `[::1]:PORT`), or a usage error. */
export function hostPort(command: string, name: string, v: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(v)
  const port = m ? Number(m[3]) : NaN
  if (m === null || port > 65535)
    throw new UsageError(`--${name} must be HOST:PORT (e.g. 127.0.0.1:9100), got '${v}'`, command)
  return { host: m[1] ?? m[2], port }
}

/** One of `choices`, or a usage error. */
export function choice<T extends string>(
  command: string,
  name: string,
  v: unknown,
  choices: readonly T[],
): T | undefined {
  if (v === undefined) return undefined
  if (!choices.includes(v as T))
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${String(v)}'`, command)
  return v as T
}
