// build(t): a real app over a real database of its own (in-memory PGlite, or a fresh
// PostgreSQL database when TEST_DATABASE_URL is set), with a staff user and token per role.
import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import pg from 'pg'
import { buildApp, type App } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import { openDatabase, type Database } from '../src/db/client.js'
import type { MediaStore } from '../src/modules/photos/storage.js'
import { createAuthor } from '../src/modules/authors/service.js'
import { createToken } from '../src/modules/tokens/service.js'
import { createUser } from '../src/modules/users/service.js'

export const testDatabaseUrl = process.env.TEST_DATABASE_URL

/** A database of this test's own: dropped again at teardown. */
export async function openTestDatabase (t: Test, onQuery?: (q: string) => void): Promise<{ database: Database, url?: string }> {
  if (!testDatabaseUrl) {
    const database = await openDatabase({ inMemory: true, onQuery })
    t.teardown(() => database.close())
    return { database }
  }
  const name = `dateline_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: testDatabaseUrl })
  await admin.connect()
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(testDatabaseUrl)
  url.pathname = `/${name}`
  const database = await openDatabase({ url: url.toString(), onQuery, poolSize: 5 })
  t.teardown(async () => {
    await database.close()
    const c = new pg.Client({ connectionString: testDatabaseUrl })
    await c.connect()
    await c.query(`drop database if exists ${name} with (force)`)
    await c.end()
  })
  return { database, url: url.toString() }
}

export type Staff = { token: string, userId: string, authorId: string | null }

export type Harness = {
  app: App
  database: Database
  /** Every SQL statement run since the last reset, but the change log's reads. */
  queries: string[]
  admin: Staff
  editor: Staff
  author: Staff
  otherAuthor: Staff
  config: Config
}

export type BuildOptions = { now?: () => Date, env?: Record<string, string>, database?: Database, mediaStore?: (dir: string) => MediaStore, onReplicaQuery?: (query: string) => void }

export async function build (t: Test, options: BuildOptions = {}): Promise<Harness> {
  const queries: string[] = []
  // The change log's reads (src/modules/changes: the follower, the scheduled-publication and
  // retention chores) run on timers and after writes, through change_cursors (and pruning old
  // webhook deliveries): counted apart, so a request's own statements can be counted exactly.
  const database = options.database ?? (await openTestDatabase(t, (q) => { if (!/change_cursors|change log chores|delete from webhook_deliveries/.test(q)) queries.push(q) })).database
  if (!options.database) await database.migrate()
  // Uploaded files go to this test's own folder, removed with it.
  // The public cache is off unless a test asks for it: most suites change rows directly and
  // count queries, and test/public-cache.test.ts covers the cache itself.
  // Webhooks are not sent unless a test asks (test/webhooks.test.ts): a dispatcher writes in the
  // background, which suites that count queries or compare database states would see.
  const config = loadConfig({ LOG_LEVEL: 'silent', MEDIA_DIR: t.testdir(), PUBLIC_CACHE: 'false', WEBHOOK_DISPATCH: 'false', ...options.env })
  const app = await buildApp({ config, database, now: options.now, mediaStore: options.mediaStore?.(config.MEDIA_DIR!), onReplicaQuery: options.onReplicaQuery })
  await app.ready()
  t.teardown(() => app.close())

  const staff = async (role: 'admin' | 'editor' | 'author', name: string): Promise<Staff> => {
    const author = role === 'author' ? await createAuthor(database.db, { name }) : null
    const email = `${name.toLowerCase().replace(/\W+/g, '.')}.${randomBytes(3).toString('hex')}@staff.test`
    const user = await createUser(database.db, { name, email, role, authorId: author?.id ?? null })
    const { secret } = await createToken(database.db, { userId: user.id, label: `${role} test token` })
    return { token: secret, userId: user.id, authorId: author?.id ?? null }
  }
  const harness: Harness = {
    app,
    database,
    queries,
    config,
    admin: await staff('admin', 'Ada Admin'),
    editor: await staff('editor', 'Eddie Editor'),
    author: await staff('author', 'Amal Author'),
    otherAuthor: await staff('author', 'Omar Other')
  }
  queries.length = 0
  return harness
}

type Call = { token?: string, body?: unknown, headers?: Record<string, string>, query?: Record<string, string> }

/** One HTTP request through the real app. */
export function call (app: App, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE' | 'HEAD', url: string, opts: Call = {}) {
  const headers: Record<string, string> = { ...opts.headers }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  return app.inject({ method, url, headers, query: opts.query, ...(opts.body !== undefined && { payload: opts.body as object }) })
}
