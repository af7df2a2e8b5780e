// Opens the database: PostgreSQL through pg when a URL is given, else the embedded PGlite.
// Both come back as the same drizzle interface, so every query runs unchanged on either.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'drizzle-orm/logger'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { sql } from 'drizzle-orm'
import * as schema from './schema.js'
import { lockDataDir, type DataDirLock } from './data-dir-lock.js'
import { waitForServer } from './connect-errors.js'

export type Schema = typeof schema
/** The database or a transaction: services accept either. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>

export type DatabaseOptions = {
  url?: string
  dataDir?: string
  /** Keep an embedded database in memory only (tests). */
  inMemory?: boolean
  poolSize?: number
  /** Called for every SQL statement; tests count queries with it. */
  onQuery?: (query: string) => void
  /** Who takes an embedded database folder (its lock says so to a second process). */
  holder?: string
  /** How long to wait for a PostgreSQL server that is starting or not yet reachable. */
  connectWaitMs?: number
  /** Told of each failed attempt while waiting. */
  onRetry?: (error: Error, waitMs: number) => void
}

export type Subscription = { close: () => Promise<void> }

export type Database = {
  db: Db
  driver: 'pg' | 'pglite'
  /**
   * LISTEN on a channel; `onLost` is told when the listening connection drops (messages may
   * have been missed), and `onMessage` again once it is back.
   */
  listen: (channel: string, onMessage: (payload: string) => void, onLost: () => void) => Promise<Subscription>
  /** PostgreSQL adds ` <WAL position>` to the payload: where the primary's log stood after it. */
  notify: (channel: string, payload: string) => Promise<void>
  /** Applies pending migrations; says how many it applied and how many there are. */
  migrate: () => Promise<{ applied: number, total: number }>
  ping: () => Promise<void>
  /** Where the data lives, for people: an embedded folder, or host, port and database. */
  where: string
  /** The embedded folder's lock, held until close. */
  lock?: DataDirLock
  close: () => Promise<void>
}

// Compiled code runs from dist/src/db, sources from src/db; migrations/ sits at the project root.
const here = path.dirname(fileURLToPath(import.meta.url))
const projectRoot = here.split(path.sep).includes('dist') ? path.resolve(here, '../../..') : path.resolve(here, '../..')
export const migrationsFolder = path.join(projectRoot, 'migrations')

// Any constant works; every instance must use the same one.
const MIGRATION_LOCK_KEY = 4_217_001

/** Closing twice (a test and its teardown, say) is harmless. */
function once (fn: () => Promise<void>) {
  let closing: Promise<void> | undefined
  return () => (closing ??= fn())
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const logger: Logger | undefined = options.onQuery
    ? { logQuery: (query) => options.onQuery!(query) }
    : undefined
  return options.url ? openPostgres(options.url, options, logger) : openPglite(options, logger)
}

const appliedMigrations = sql`select count(*)::int as n from drizzle.__drizzle_migrations`
const countApplied = async (run: () => Promise<unknown>) => {
  const result = await run().catch(() => ({ rows: [{ n: 0 }] })) as { rows: Array<{ n: number }> }
  return result.rows[0].n
}

/** Where a PostgreSQL URL points, without its password. */
export function describeUrl (url: string) {
  const u = new URL(url)
  return `PostgreSQL database "${decodeURIComponent(u.pathname.slice(1)) || '(default)'}" at ${u.hostname || 'localhost'}:${u.port || '5432'}`
}

async function openPostgres(url: string, options: DatabaseOptions, logger?: Logger): Promise<Database> {
  const pg = await import('pg')
  const { drizzle, NodePgSession, NodePgTransaction } = await import('drizzle-orm/node-postgres')
  const { migrate } = await import('drizzle-orm/node-postgres/migrator')
  const pool = new pg.default.Pool({ connectionString: url, max: options.poolSize ?? 10, connectionTimeoutMillis: 5000 })
  // A client that loses its server emits 'error'. The pool listens on idle clients only, and an
  // 'error' with no listener ends the process: a transaction's client between two statements
  // (a database restart, say) would take the whole API down. Every client gets a listener of
  // its own; the failed client's next query rejects, the request answers 503, and the pool
  // drops the client when it is released.
  pool.on('error', () => {})
  pool.on('connect', (client) => { client.on('error', () => {}) })
  try {
    await waitForServer(() => pool.query('select 1'), url, options.connectWaitMs ?? 0, options.onRetry)
  } catch (error) {
    await pool.end().catch(() => {})
    throw error
  }
  const db = drizzle(pool, { schema, logger }) as unknown as Db
  // drizzle-orm (0.45) sends BEGIN before its try block: a BEGIN that fails (on a pooled
  // connection the database dropped) never gives its client back, and pool.end() then waits for
  // it forever. The same transaction, with every step inside: a client is always given back,
  // a broken one destroyed, and a failed ROLLBACK does not hide the error that caused it.
  const session = (db as unknown as { session: any }).session
  session.transaction = async (run: (tx: unknown) => Promise<unknown>) => {
    const client = await pool.connect()
    // Set when the connection may be unusable: the client is then destroyed, not pooled again.
    let broken: Error | undefined
    const step = (statement: ReturnType<typeof sql>) => tx.execute(statement).catch((e: Error) => { broken = e; throw e })
    const tx = new NodePgTransaction(session.dialect, new NodePgSession(client, session.dialect, session.schema, session.options), session.schema)
    try {
      await step(sql`begin`)
      let result: unknown
      try {
        result = await run(tx)
      } catch (error) {
        await step(sql`rollback`).catch(() => {})
        throw error
      }
      await step(sql`commit`)
      return result
    } finally {
      client.release(broken)
    }
  }
  return {
    db,
    driver: 'pg',
    where: describeUrl(url),
    async migrate () {
      // Several instances may start together: one migrates, the others wait and find nothing to
      // do. On a connection of its own, outside the pool, so a pool of one is not held up by it.
      const client = new pg.default.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
      client.on('error', () => {})
      await client.connect()
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
        const migrator = drizzle(client, { schema })
        const before = await countApplied(() => migrator.execute(appliedMigrations))
        await migrate(migrator, { migrationsFolder })
        const total = await countApplied(() => migrator.execute(appliedMigrations))
        return { applied: total - before, total }
      } finally {
        await client.end().catch(() => {}) // ends the session, and with it the lock
      }
    },
    async ping () { await db.execute(sql`select 1`) },
    listen: (channel, onMessage, onLost) => listenPg(url, channel, onMessage, onLost),
    // With the primary's WAL position after the change, so read replicas know when they have it.
    async notify (channel, payload) { await db.execute(sql`select pg_notify(${channel}, ${payload} || ' ' || pg_current_wal_lsn()::text)`) },
    close: once(() => pool.end())
  }
}

/**
 * A streaming replica for reads (DATABASE_READ_URL): a pool, opened without waiting, since a
 * replica that is down at start is merely out of rotation (replicas.ts).
 */
export async function openReplica (url: string, poolSize: number, onQuery?: (query: string) => void) {
  const pg = await import('pg')
  const { drizzle } = await import('drizzle-orm/node-postgres')
  const pool = new pg.default.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 1000 })
  pool.on('error', () => {})
  pool.on('connect', (client) => { client.on('error', () => {}) })
  const logger: Logger | undefined = onQuery ? { logQuery: (query) => onQuery(query) } : undefined
  return { db: drizzle(pool, { schema, logger }) as unknown as Db, where: describeUrl(url), close: once(() => pool.end()) }
}

async function openPglite(options: DatabaseOptions, logger?: Logger): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite')
  const { drizzle } = await import('drizzle-orm/pglite')
  const { migrate } = await import('drizzle-orm/pglite/migrator')
  let dataDir: string | undefined
  let lock: DataDirLock | undefined
  if (!options.inMemory) {
    const folder = path.resolve(options.dataDir ?? './data')
    // Taken before PGlite touches the folder: a second process must never open it.
    lock = await lockDataDir(folder, options.holder ?? 'server')
    dataDir = path.join(folder, 'pglite')
  }
  let client: InstanceType<typeof PGlite>
  try {
    client = new PGlite(dataDir)
    await client.waitReady
  } catch (error) {
    await lock?.release()
    throw error
  }
  const db = drizzle(client, { schema, logger }) as unknown as Db
  return {
    db,
    driver: 'pglite',
    where: dataDir ? `embedded PGlite in ${path.join(options.dataDir ?? './data', 'pglite')}` : 'embedded PGlite in memory',
    lock,
    // The folder's lock keeps every other process out, so no database lock is needed.
    async migrate () {
      const before = await countApplied(() => db.execute(appliedMigrations))
      await migrate(drizzle(client, { schema }), { migrationsFolder })
      const total = await countApplied(() => db.execute(appliedMigrations))
      return { applied: total - before, total }
    },
    async ping () { await db.execute(sql`select 1`) },
    async listen (channel, onMessage) {
      const stop = await client.listen(channel, onMessage)
      // Closing the database first ends the listener with it.
      return { close: () => (client.closed ? Promise.resolve() : stop()) }
    },
    async notify (channel, payload) { await db.execute(sql`select pg_notify(${channel}, ${payload})`) },
    close: once(async () => {
      await client.close()
      await lock?.release()
    })
  }
}

/**
 * A dedicated connection that LISTENs, and reconnects (telling the caller) when it drops: it
 * keeps trying, every second at first and then every 5 s, for as long as the database is away.
 */
const PING_EVERY_MS = 10_000
const PING_TIMEOUT_MS = 5000

async function listenPg (url: string, channel: string, onMessage: (payload: string) => void, onLost: () => void): Promise<Subscription> {
  const pg = await import('pg')
  let closed = false
  let client: InstanceType<typeof pg.default.Client> | undefined
  let retry: NodeJS.Timeout | undefined
  const reconnect = (attempt: number) => {
    retry = setTimeout(() => {
      connect().catch(() => { if (!closed) reconnect(attempt + 1) })
    }, Math.min(1000 * 2 ** attempt, 5000))
  }
  const connect = async () => {
    const c = new pg.default.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
    c.on('notification', (n) => { if (n.channel === channel) onMessage(n.payload ?? '') })
    c.on('error', () => {})
    try {
      await c.connect()
      await c.query(`listen "${channel.replace(/"/g, '')}"`)
    } catch (error) {
      await c.end().catch(() => {})
      throw error
    }
    if (closed) { await c.end().catch(() => {}); return }
    // A connection can go silent without closing (a half-open TCP connection, a server process
    // paused): a ping that gets no answer in time ends it, and it reconnects like any other.
    let gone = false
    let pingTimeout: NodeJS.Timeout | undefined
    // Once a connection, whether it ended or stopped answering.
    const lost = () => {
      if (gone) return
      gone = true
      clearInterval(ping)
      clearTimeout(pingTimeout)
      if (closed) return
      onLost()
      reconnect(0)
    }
    const ping = setInterval(() => {
      pingTimeout = setTimeout(() => {
        // end() would wait for a peer that no longer answers: the socket goes at once.
        c.removeAllListeners('end')
        ;(c as unknown as { connection?: { stream?: { destroy: () => void } } }).connection?.stream?.destroy()
        lost()
      }, PING_TIMEOUT_MS)
      const answered = () => clearTimeout(pingTimeout)
      c.query('select 1').then(answered, answered)
    }, PING_EVERY_MS)
    ping.unref()
    c.on('end', lost)
    client = c
    // Whatever was missed while disconnected counts as a change.
    onMessage('')
  }
  await connect()
  return {
    async close () {
      closed = true
      clearTimeout(retry)
      await client?.end().catch(() => {})
    }
  }
}
