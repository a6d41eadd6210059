import { pino, type Logger, type LevelWithSilent } from 'pino'
import pretty from 'pino-pretty'

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
export type LogFormat = 'json' | 'pretty'

/**
 * The node's logger: JSON lines on stderr, or pino-pretty when asked or when
 * stderr is a terminal. stdout stays free for machine-readable lines.
 * Synchronous writes, so the last lines before an exit are not lost.
 */
export function createLogger(level: LevelWithSilent, format: LogFormat | undefined): Logger {
  const usePretty = format === undefined ? process.stderr.isTTY === true : format === 'pretty'
  const dest = usePretty
    ? pretty({
        destination: 2,
        sync: true,
        colorize: process.stderr.isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
      })
    : pino.destination({ dest: 2, sync: true })
  return pino({ level, base: { pid: process.pid } }, dest)
}
