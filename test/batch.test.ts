// The group-commit batcher (src/db/batch.ts) against a real table: calls that arrive together
// share one statement, a quiet call goes at once, and a batch that one bad row breaks is run
// again call by call, so only that call fails. Then the multi-row insert the batches use.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { eq, getTableColumns, inArray, sql } from 'drizzle-orm'
import { batcher, insertRows, rowAfterInsert, rowsOf } from '../src/db/batch.js'
import type { Db } from '../src/db/client.js'
import { articles, comments, sections } from '../src/db/schema.js'
import { openTestDatabase } from './helper.js'

const queries: string[] = []
const { database } = await openTestDatabase(t, (q) => queries.push(q))
await database.migrate()
const db = database.db

type Item = { id: string, slug: string }
const batches: number[] = []
// One multi-row insert a batch; the unique slug is the constraint one row can break.
const insert = batcher(db, async (db: Db, items: Item[]) => {
  batches.push(items.length)
  await db.execute(sql`insert into ${sections} (id, slug, name)
    select id, slug, slug from unnest(${sql.param(items.map((i) => i.id))}::uuid[], ${sql.param(items.map((i) => i.slug))}::text[]) as t(id, slug)`)
  return items.map((i) => i.slug)
}, { max: 4, flights: 1 })

const item = (slug: string): Item => ({ id: randomUUID(), slug })
const count = async (slugs: string[]) => (await db.select().from(sections).where(inArray(sections.slug, slugs))).length

t.beforeEach(() => { batches.length = 0; queries.length = 0 })

t.test('a call alone goes at once, in a batch of its own', async (t) => {
  t.equal(await insert(item('alone')), 'alone')
  t.strictSame(batches, [1])
  t.equal(await count(['alone']), 1)
})

t.test('calls that arrive while a batch is in flight share the next statement, at most `max` a time', async (t) => {
  const slugs = Array.from({ length: 9 }, (_, i) => `together-${i}`)
  const results = await Promise.all(slugs.map((s) => insert(item(s))))
  t.strictSame(results, slugs, 'each caller gets its own result, in order')
  t.strictSame(batches, [1, 4, 4], 'the first goes alone; the eight that waited go in two batches of four')
  t.equal(queries.length, 3, 'three statements for nine rows')
  t.equal(await count(slugs), 9)
})

t.test('a batch that one row breaks is run again call by call: only that call fails', async (t) => {
  await insert(item('taken'))
  await new Promise(setImmediate) // the batcher is idle again
  batches.length = 0
  const slugs = ['first', 'second', 'taken', 'fourth']
  const settled = await Promise.allSettled([insert(item('lead')), ...slugs.map((s) => insert(item(s)))])
  t.equal(settled[0].status, 'fulfilled', 'the call alone went in')
  t.strictSame(settled.slice(1).map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
  const failure = settled[3] as PromiseRejectedResult
  const codeOf = (e: any): string | undefined => e?.code ?? (e?.cause ? codeOf(e.cause) : undefined)
  t.equal(codeOf(failure.reason), '23505', 'the duplicate gets the unique violation')
  t.strictSame(batches, [1, 4, 1, 1, 1, 1], 'the batch of four failed and its calls ran alone')
  t.equal(await count(['lead', 'first', 'second', 'fourth']), 4)
  t.equal(await count(['taken']), 1, 'the taken slug is still there once')
})

t.test('a failure that is not one row\'s (the statement itself) reaches every caller at once', async (t) => {
  let runs = 0
  const broken = batcher(db, async (db: Db, items: string[]) => { runs++; return rowsOf<{ n: number }>(db, sql`select ${items.length}::int + no_such_column as n`) }, { flights: 1 })
  const settled = await Promise.allSettled(['a', 'b', 'c'].map((s) => broken(s)))
  t.strictSame(settled.map((s) => s.status), ['rejected', 'rejected', 'rejected'])
  t.equal(runs, 2, 'an unknown column is no row\'s fault: the batch of two is not run again call by call')
  // Once it has failed, the batcher still works.
  const fine = batcher(db, async (db: Db, items: number[]) => { await rowsOf(db, sql`select 1`); return items.map(() => items.length) }, { flights: 1 })
  t.strictSame(await Promise.all([fine(1), fine(2), fine(3)]), [1, 2, 2])
  t.equal(await broken('again').catch(() => 'refused'), 'refused')
})

t.test('several batches fly at once: one that waits does not hold up the rest', async (t) => {
  let open!: () => void
  const gate = new Promise<void>((resolve) => { open = resolve })
  const seen: string[][] = []
  const run = batcher(db, async (db: Db, items: string[]) => {
    seen.push(items)
    if (items.includes('slow')) await gate
    await rowsOf(db, sql`select 1`)
    return items.map((i) => i.toUpperCase())
  }, { flights: 2 })
  const slow = run('slow')
  t.equal(await run('quick'), 'QUICK', 'answered while the first batch still waits')
  t.strictSame(await Promise.all(['a', 'b', 'c'].map((i) => run(i))), ['A', 'B', 'C'])
  open()
  t.equal(await slow, 'SLOW')
  t.strictSame(seen[0], ['slow'])
  t.ok(seen.slice(1).every((batch) => !batch.includes('slow')), 'the others went in the second flight')
})

t.test('a batch that answers for fewer calls than it carried is refused, not left hanging', async (t) => {
  const short = batcher(db, async (_db: Db, items: number[]) => items.slice(1), { flights: 1 })
  const settled = await Promise.allSettled([short(1), short(2), short(3)])
  t.strictSame(settled.map((s) => s.status), ['rejected', 'rejected', 'rejected'])
  t.match((settled[0] as PromiseRejectedResult).reason, { message: 'a batch of 1 gave 0 results' })
})

t.test('inside a transaction, every call runs alone on the transaction\'s connection', async (t) => {
  const sizes: number[] = []
  const slugs = await db.transaction(async (tx) => {
    const insert = batcher(tx as unknown as Db, async (db: Db, items: Item[]) => {
      sizes.push(items.length)
      await db.execute(sql`insert into ${sections} (id, slug, name) select id, slug, slug from unnest(${sql.param(items.map((i) => i.id))}::uuid[], ${sql.param(items.map((i) => i.slug))}::text[]) as t(id, slug)`)
      return items.map((i) => i.slug)
    })
    const out: string[] = []
    for (const slug of ['in-tx-1', 'in-tx-2']) out.push(await insert(item(slug)))
    return out
  })
  t.strictSame(slugs, ['in-tx-1', 'in-tx-2'])
  t.strictSame(sizes, [1, 1])
  t.equal(await count(['in-tx-1', 'in-tx-2']), 2)
})

t.test('insertRows: one statement of one shape for any number of rows, every type as the table has it', async (t) => {
  const articleId = randomUUID()
  const now = new Date('2026-03-04T05:06:07.089Z')
  await db.execute(insertRows(articles, ['id', 'slug', 'headline', 'createdAt', 'updatedAt'], [{ id: articleId, slug: 'batch-story', headline: 'Batch story', createdAt: now, updatedAt: now }]))
  const keys = ['id', 'articleId', 'parentId', 'threadId', 'depth', 'authorName', 'authorEmail', 'body', 'status', 'moderationReasons', 'clientHash', 'bodyHash', 'createdAt', 'updatedAt']
  const fresh = [0, 1, 2].map((i) => {
    const id = randomUUID()
    return {
      id, articleId, parentId: i === 1 ? id : null, threadId: id, depth: i, authorName: `Reader "${i}", {braces}`, authorEmail: 'r@example.org',
      body: `Line one\nline two, a quote " and a backslash \\ ${i}`, status: i === 2 ? 'spam' : 'pending',
      moderationReasons: i === 2 ? ['repeat', 'shouting'] : [], clientHash: 'c', bodyHash: `b${i}`, createdAt: now, updatedAt: now
    }
  })
  queries.length = 0
  await db.execute(insertRows(comments, keys, fresh))
  t.equal(queries.length, 1, 'three rows, one statement')
  const stored = await db.select().from(comments).where(eq(comments.articleId, articleId)).orderBy(comments.depth)
  t.strictSame(stored, fresh.map((f) => rowAfterInsert(getTableColumns(comments), f)), 'read back, each row is what rowAfterInsert said it would be')
  t.strictSame(stored[2].moderationReasons, ['repeat', 'shouting'], 'JSON as JSON')
  t.equal(stored[0].version, 1, 'a default the insert left out')
})

t.test('rowAfterInsert refuses to guess a default that only the database computes', async (t) => {
  t.throws(() => rowAfterInsert(getTableColumns(sections), { slug: 'x', name: 'X' }), /id has a default that only the database knows/)
  const row = rowAfterInsert<Record<string, unknown>>(getTableColumns(sections), { id: 'i', slug: 'x', name: 'X', createdAt: new Date(0), updatedAt: new Date(0) })
  t.equal(row.description, null, 'a column with no default is null')
})
