// The process's logger: pino JSON for machines (one line a request), or readable lines on a
// terminal (LOG_FORMAT=auto picks by whether stdout is one).
import { pino, type Logger } from 'pino'
import pretty from 'pino-pretty'
import type { Config } from './config.js'

export function createLogger (config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>, stdoutIsTerminal = Boolean(process.stdout.isTTY)): Logger {
  const readable = config.LOG_FORMAT === 'pretty' || (config.LOG_FORMAT === 'auto' && stdoutIsTerminal)
  if (!readable) return pino({ level: config.LOG_LEVEL })
  // Synchronous, so the lines of a failed start are written before the process exits.
  return pino({ level: config.LOG_LEVEL }, pretty({ sync: true, colorize: stdoutIsTerminal, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' }))
}
