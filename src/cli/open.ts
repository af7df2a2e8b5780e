// How a command opens the database: the config checked, and a folder held by the running server
// or a database that cannot be reached said in one line (exit code 2), not a stack trace.
import { ConfigError, loadConfig, type Config } from '../config.js'
import { openDatabase, type Database } from '../db/client.js'
import { DatabaseStartError } from '../db/connect-errors.js'
import { DataDirBusyError } from '../db/data-dir-lock.js'

export function stop (message: string): never {
  console.error(message)
  process.exit(2)
}

export function commandConfig (): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) stop(`A setting is wrong.\n${error.message}`)
    throw error
  }
}

/** `busy` says what to do instead when a running server holds the embedded folder. */
export async function openForCommand (config: Config, holder: string, busy: string): Promise<Database> {
  try {
    return await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, holder, connectWaitMs: 5_000 })
  } catch (error) {
    if (error instanceof DataDirBusyError) stop(`${error.message}: ${busy}`)
    if (error instanceof DatabaseStartError) stop(error.message)
    throw error
  }
}
