// Entry point: read the config, open and migrate the database, serve, and shut down gracefully.
// Each step of the start says what it did in one line; a start that fails says why in one line.
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { openDatabase, type Database } from './db/client.js'
import { DatabaseStartError } from './db/connect-errors.js'
import { DataDirBusyError } from './db/data-dir-lock.js'
import { hasContent, seedDemo } from './cli/seed-data.js'
import { serveLocalChannel, type LocalChannel } from './local-channel.js'
import { createLogger } from './logger.js'
import { mediaStoreOf, mediaWhere } from './modules/photos/media-store.js'
import { IssueRefused, checkIssueRequest, issueToken } from './modules/tokens/issue.js'
import { firstAdmin } from './modules/users/service.js'

// How this copy runs its commands: compiled (the Docker image) or from source through npm.
const compiled = fileURLToPath(import.meta.url).endsWith('.js')
export const tokenCommand = compiled
  ? 'node dist/src/cli/token.js create --role admin --label bootstrap'
  : 'npm run token -- create --role admin --label bootstrap'

let config: Config
try {
  config = loadConfig()
} catch (error) {
  if (!(error instanceof ConfigError)) throw error
  console.error(`Dateline cannot start: a setting is wrong.\n${error.message}`)
  process.exit(1)
}
const log = createLogger(config)

/** A start that cannot go on: one line, the resources released, exit code 1. */
async function giveUp (message: string, database?: Database): Promise<never> {
  log.fatal(message)
  await database?.close().catch(() => {})
  process.exit(1)
}

let database: Database | undefined
try {
  database = await openDatabase({
    url: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolSize: config.DATABASE_POOL_SIZE,
    holder: 'server',
    connectWaitMs: config.DATABASE_CONNECT_WAIT_SECONDS * 1000,
    onRetry: (error, ms) => log.warn(`${error.message} Retrying in ${ms} ms.`)
  })
} catch (error) {
  if (error instanceof DataDirBusyError) {
    await giveUp(`${error.message}. It keeps serving; stop it first, or set DATA_DIR to another folder. ` +
      `A token can be made while it runs: ${tokenCommand}`)
  }
  if (error instanceof DatabaseStartError) await giveUp(error.message)
  throw error
}
const db: Database = database
log.info(`Database: ${db.where}`)
log.info(`Media: ${mediaWhere(config)}`)
const mediaStore = mediaStoreOf(config)

const migrations = await database.migrate()
log.info(`Migrations: ${migrations.applied === 0 ? 'none pending' : `${migrations.applied} applied`} (${migrations.total} in all)`)

// A new user's first start on the embedded database gets demo content to explore.
if (!config.DATABASE_URL && config.SEED_DEMO) {
  if (await hasContent(database.db)) log.info('Demo content: not needed, the database has articles')
  else {
    const s = await seedDemo(database.db, new Date(), mediaStore)
    log.info(`Demo content: seeded ${s.articles.total} articles (${s.articles.published} published), ${s.authors} authors, ${s.photos} photos`)
  }
}

const app = await buildApp({ config, database, loggerInstance: log, mediaStore })
// Connections that have not sent a byte yet (clients open them ahead of need, or give up on a
// request before sending it): Node does not count them idle, so at shutdown they are closed here.
const sockets = new Set<Socket>()
app.server.on('connection', (socket: Socket) => {
  sockets.add(socket)
  socket.once('close', () => sockets.delete(socket))
})

// The embedded folder is this process's alone: other commands ask it over the local channel.
let channel: LocalChannel | undefined
if (database.lock) {
  const db = database.db
  channel = await serveLocalChannel(config.DATA_DIR, {
    '/tokens': async (body) => {
      try {
        const issued = await issueToken(db, checkIssueRequest(body as Record<string, unknown>), new Date())
        app.log.info({ tokenId: issued.tokenId, role: issued.role }, 'token issued over the local channel')
        return { status: 201, body: issued }
      } catch (error) {
        if (error instanceof IssueRefused) return { status: 422, body: { error: error.message } }
        throw error
      }
    }
  })
  await database.lock.advertise(channel.socket)
}

// Asked before listening, so the start's last lines come together.
const noAdmin = !(await firstAdmin(database.db))

// Shutdown: readiness turns 503 at once; after SHUTDOWN_DELAY_SECONDS (time for balancers to
// notice) new work is refused, running requests finish, every connection closes as its last
// answer goes out, then the database. A second signal, or the time limit, ends it at once.
let stopping = false
async function shutdown (reason: string, code: number) {
  if (stopping) {
    log.warn(`${reason} again: exiting now`)
    process.exit(code || 1)
  }
  stopping = true
  const started = Date.now()
  app.drain.leaving = true
  if (config.SHUTDOWN_DELAY_SECONDS > 0) {
    log.info(`Shutting down (${reason}): not ready from now; serving ${config.SHUTDOWN_DELAY_SECONDS} s more while balancers notice`)
    await new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_DELAY_SECONDS * 1000))
  }
  app.drain.draining = true
  log.info(`Shutting down (${reason}): ${app.drain.inFlight} request(s) in flight; new requests get 503 with Retry-After`)
  const limit = setTimeout(() => {
    log.error(`Shutdown took longer than ${config.SHUTDOWN_TIMEOUT_SECONDS} s: ${app.drain.inFlight} request(s) were cut off`)
    process.exit(1)
  }, config.SHUTDOWN_TIMEOUT_SECONDS * 1000)
  // A connection that went idle between two of Node's own sweeps is closed at the next one.
  const sweep = setInterval(() => {
    app.server.closeIdleConnections()
    for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy()
  }, 100)
  try {
    await channel?.close()
    await app.close()
    await db.close()
    log.info(`Stopped after ${Date.now() - started} ms: every request answered, connections and database closed`)
  } catch (err) {
    log.error({ err }, 'shutdown failed')
    code = 1
  } finally {
    clearTimeout(limit)
    clearInterval(sweep)
  }
  process.exit(code)
}
process.on('SIGTERM', () => { void shutdown('SIGTERM', 0) })
process.on('SIGINT', () => { void shutdown('SIGINT', 0) })
// A fault nothing handled is an unknown state: finish what is running, then exit 1 so a
// supervisor starts a clean process. (Lost database connections are handled where they occur.)
process.on('uncaughtException', (err) => { log.fatal({ err }, 'unexpected error'); void shutdown('an unexpected error', 1) })
process.on('unhandledRejection', (err) => { log.fatal({ err }, 'unexpected error'); void shutdown('an unexpected error', 1) })

try {
  await app.listen({ port: config.PORT, host: config.HOST, listenTextResolver: (address) => `Listening on ${address}` })
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code
  await channel?.close()
  if (code === 'EADDRINUSE') await giveUp(`Port ${config.PORT} on ${config.HOST} is in use: stop what listens there, or set PORT to another port.`, database)
  if (code === 'EACCES') await giveUp(`Port ${config.PORT} on ${config.HOST} needs privileges this user lacks: set PORT above 1023.`, database)
  if (code === 'EADDRNOTAVAIL') await giveUp(`HOST=${config.HOST} is not an address of this machine: set HOST to one (0.0.0.0 for all).`, database)
  throw error
}
const address = app.server.address()
const port = typeof address === 'object' && address ? address.port : config.PORT
// An address that listens everywhere is reached as localhost from this machine.
const host = ['0.0.0.0', '::', ''].includes(config.HOST) ? 'localhost' : config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST
log.info(`API docs: http://${host}:${port}/docs`)
if (noAdmin) log.info(`No admin yet: create a first token with  ${tokenCommand}`)
