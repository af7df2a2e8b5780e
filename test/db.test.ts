// The database layer: migrations are idempotent and safe to run from several instances at
// once; the embedded database keeps its data in its folder across restarts.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import { sql } from 'drizzle-orm'
import { migrationsFolder, openDatabase } from '../src/db/client.js'
import { sections } from '../src/db/schema.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { openTestDatabase, testDatabaseUrl } from './helper.js'
import { buildApp } from '../src/app.js'
import { createToken } from '../src/modules/tokens/service.js'
import { createUser } from '../src/modules/users/service.js'

t.test('the embedded database is created (parents too), migrated, and keeps its data', { skip: !!testDatabaseUrl && 'PGlite only' }, async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'dateline-db-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  const dataDir = path.join(root, 'missing', 'parent')
  const first = await openDatabase({ dataDir })
  await first.migrate()
  await first.db.insert(sections).values({ slug: 'kept', name: 'Kept' })
  await first.close()
  const second = await openDatabase({ dataDir })
  await second.migrate()
  const rows = await second.db.select().from(sections)
  t.same(rows.map((r) => r.slug), ['kept'], 'data survives a restart and a second migrate')
  await second.close()
})

t.test('several instances can migrate the same PostgreSQL database at once', { skip: !testDatabaseUrl && 'needs TEST_DATABASE_URL' }, async (t) => {
  const { database, url } = await openTestDatabase(t)
  const others = await Promise.all([1, 2, 3].map(() => openDatabase({ url, poolSize: 2 })))
  t.teardown(() => Promise.all(others.map((d) => d.close())))
  await Promise.all([database.migrate(), ...others.map((d) => d.migrate())])
  const applied = await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)
  const n = Number((applied as unknown as { rows: Array<{ n: number }> }).rows[0].n)
  t.ok(n >= 1, 'migrations recorded')
  await database.migrate()
  const again = await database.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)
  t.equal(Number((again as unknown as { rows: Array<{ n: number }> }).rows[0].n), n, 'each migration applied once')
})

t.test('a pool of one connection migrates and serves (the migration has a connection of its own)', { skip: !testDatabaseUrl && 'needs TEST_DATABASE_URL' }, async (t) => {
  const { url } = await openTestDatabase(t)
  const database = await openDatabase({ url: url!, poolSize: 1 })
  t.teardown(() => database.close())
  const { applied, total } = await database.migrate()
  t.ok(applied > 0 && applied === total, `${applied} migrations applied`)
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', DATABASE_POOL_SIZE: '1' }), database })
  t.teardown(() => app.close())
  const res = await app.inject('/v1/articles')
  t.equal(res.statusCode, 200, res.body)
  t.equal((await app.inject('/health/ready')).statusCode, 200)

  // Writes too, several at once, beside the change log's follower: nothing holds the one
  // connection for good (a LISTEN on it would leave every request waiting).
  const editor = await createUser(database.db, { name: 'Pool Editor', email: 'pool.editor@example.test', role: 'editor', authorId: null })
  const { secret } = await createToken(database.db, { userId: editor.id, label: 'pool of one' })
  const headers = { authorization: `Bearer ${secret}` }
  const created = await Promise.all([1, 2, 3].map((n) => app.inject({ method: 'POST', url: '/v1/articles', headers, payload: { headline: `Story ${n} on one connection`, body: [{ type: 'paragraph', text: 'Text.' }] } })))
  t.same(created.map((r) => r.statusCode), [201, 201, 201])
  const ids = created.map((r) => r.json().id as string)
  const [published, reads] = await Promise.all([
    Promise.all(ids.map((id) => app.inject({ method: 'POST', url: `/v1/articles/${id}/publish`, headers }))),
    Promise.all([1, 2, 3, 4].map(() => app.inject('/v1/sections')))
  ])
  t.same(published.map((r) => r.statusCode), [200, 200, 200])
  t.same(reads.map((r) => r.statusCode), [200, 200, 200, 200])
  const comment = await app.inject({ method: 'POST', url: `/v1/articles/${ids[0]}/comments`, payload: { authorName: 'Rita Reader', authorEmail: 'rita@reader.test', body: 'A remark on one connection.' } })
  t.equal(comment.statusCode, 201, comment.body)
  const list = (await app.inject('/v1/articles?limit=10')).json()
  t.same(list.data.map((a: { id: string }) => a.id).sort(), [...ids].sort(), 'the three are public')
})

t.test('the firstPublishedAt migration fills in the articles that had gone public', async (t) => {
  // The schema as it was before the migration: a migrations folder that stops at 0000.
  const before = await mkdtemp(path.join(os.tmpdir(), 'dateline-migrations-'))
  t.teardown(() => rm(before, { recursive: true, force: true }))
  const journal = JSON.parse(await readFile(path.join(migrationsFolder, 'meta/_journal.json'), 'utf8'))
  const upTo = journal.entries.findIndex((e: { tag: string }) => e.tag.endsWith('_first_published_at'))
  t.ok(upTo > 0)
  await mkdir(path.join(before, 'meta'))
  await writeFile(path.join(before, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, upTo) }))
  for (const e of journal.entries.slice(0, upTo)) await copyFile(path.join(migrationsFolder, `${e.tag}.sql`), path.join(before, `${e.tag}.sql`))

  const { database } = await openTestDatabase(t)
  const { migrate } = database.driver === 'pg' ? await import('drizzle-orm/node-postgres/migrator') : await import('drizzle-orm/pglite/migrator')
  await migrate(database.db as never, { migrationsFolder: before })
  const rows = [
    ['published', '2020-01-01T00:00:00Z'], ['scheduled', '2099-01-01T00:00:00Z'], ['archived', '2021-01-01T00:00:00Z'],
    ['archived', '2099-01-01T00:00:00Z'], ['archived', null], ['draft', null]
  ] as const
  for (const [i, [status, at]] of rows.entries()) {
    await database.db.execute(sql`insert into articles (slug, headline, status, published_at) values (${`a-${i}`}, 'A', ${status}::article_status, ${at}::timestamptz)`)
  }
  await database.migrate()
  const result = await database.db.execute(sql`select slug, status, published_at = first_published_at as same, first_published_at is null as unset from articles order by slug`)
  const got = (result as unknown as { rows: Array<{ slug: string, same: boolean | null, unset: boolean }> }).rows
  t.strictSame(got.map((r) => r.unset ? 'none' : r.same ? 'publishedAt' : 'other'), ['publishedAt', 'publishedAt', 'publishedAt', 'none', 'none', 'none'],
    'published and scheduled ones from publishedAt, archived ones that had gone out too; the rest none')
})

t.test('config is validated at start', async (t) => {
  t.equal(loadConfig({}).PORT, 3000)
  t.equal(loadConfig({ PORT: '8080' }).PORT, 8080)
  t.equal(loadConfig({ DATA_DIR: '' }).DATA_DIR, './data', 'empty means default')
  t.throws(() => loadConfig({ PORT: 'eighty' }), /^PORT="eighty" is not allowed: PORT takes a whole number from 0 to 65535\.$/)
  t.ok((() => { try { loadConfig({ PORT: '-1' }) } catch (e) { return e instanceof ConfigError } })(), 'a ConfigError')
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL/)
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /^LOG_LEVEL="loud" is not allowed: LOG_LEVEL takes one of fatal, error, warn, info, debug, trace, silent\.$/, 'one line, not one per branch of the union')
  const many = (() => { try { loadConfig({ LOG_LEVEL: 'verbose', SEED_DEMO: 'maybe', DATABASE_URL: 'postgres:nope', CLIENT_HASH_SECRET: 'short' }) } catch (e) { return (e as Error).message } })()
  t.same(many?.split('\n'), [
    'LOG_LEVEL="verbose" is not allowed: LOG_LEVEL takes one of fatal, error, warn, info, debug, trace, silent.',
    'DATABASE_URL="postgres:nope" is not allowed: DATABASE_URL takes a URL that starts with postgres:// or postgresql://.',
    'SEED_DEMO="maybe" is not allowed: SEED_DEMO takes true or false.',
    'CLIENT_HASH_SECRET=(hidden) is not allowed: CLIENT_HASH_SECRET takes text of at least 16 characters.'
  ], 'one line a setting: its name, its value (secrets hidden) and what it takes')
  const url = (() => { try { loadConfig({ DATABASE_URL: 'mysql://editor:hunter2@db/news' }) } catch (e) { return (e as Error).message } })()
  t.notMatch(url, /hunter2/, 'a password in a URL is not repeated')
})
