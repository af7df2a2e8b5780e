// Sections and tags: the same service over two tables.
import { and, asc, eq, inArray, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { entityChange, recordChange } from '../changes/record.js'
import { articleTags, articles, sections, tags } from '../../db/schema.js'
import { assertVersion, type IfMatch } from '../../http/caching.js'
import { notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf, type SortField } from '../../http/pagination.js'
import { uniqueSlug } from '../../lib/slug.js'
import { assertUnreferenced, type Reference } from '../../lib/references.js'
import { withSlug } from '../../lib/writes.js'
import { assertNotReserved, dropRedirectsOf, slugChanged } from '../redirects/service.js'
import type { TaxonomyCreate, TaxonomyListQuery, TaxonomyUpdate } from './schemas.js'

export type TaxonomyKind = 'section' | 'tag'
type Table = typeof sections | typeof tags
export type TaxonomyRow = typeof sections.$inferSelect

// Both tables have the same columns, so one type serves for queries over either.
const tables = { section: sections, tag: tags as unknown as typeof sections } satisfies Record<TaxonomyKind, Table>
const label: Record<TaxonomyKind, string> = { section: 'Section', tag: 'Tag' }

function sortFields (t: Table): Record<string, SortField> {
  return { name: { expr: t.name, kind: 'string' }, createdAt: { expr: t.createdAt, kind: 'date' } }
}

export async function listTaxonomy (db: Db, kind: TaxonomyKind, query: TaxonomyListQuery) {
  const t = tables[kind]
  const sort = parseSort(query.sort, sortFields(t), 'name')
  const { where, orderBy } = keyset(sort, t.id, decodeCursor(query.cursor, sort))
  const rows = await db.select().from(t).where(where).orderBy(...orderBy).limit(query.limit + 1)
  return paginate(rows, query.limit, sort, (r) => sort.field.expr === t.name ? r.name : r.createdAt, await totalOf(db, query.total, t, undefined))
}

export async function getTaxonomy (db: Db, kind: TaxonomyKind, by: { id: string } | { slug: string }) {
  const t = tables[kind]
  const cond: SQL = 'id' in by ? eq(t.id, by.id) : eq(t.slug, by.slug)
  const [row] = await db.select().from(t).where(cond)
  if (!row) throw notFound(label[kind])
  return row
}

/** Every id must exist; returns the ones missing. */
export async function missingTaxonomy (db: Db, kind: TaxonomyKind, ids: string[]) {
  if (ids.length === 0) return []
  const t = tables[kind]
  const found = new Set<string>((await db.select({ id: t.id }).from(t).where(inArray(t.id, ids))).map((r) => r.id))
  return ids.filter((id) => !found.has(id))
}

// createdAt comes from the app clock (millisecond precision), not the database's now()
// (microseconds): a list cursor carries milliseconds, so a finer stored value would make
// `sort=createdAt` repeat the last row of a page on the next one.
export async function createTaxonomy (db: Db, kind: TaxonomyKind, input: TaxonomyCreate, now: Date = new Date()) {
  const t = tables[kind]
  if (input.slug !== undefined) await assertNotReserved(db, kind, input.slug)
  return withSlug(db, `${kind}s_slug_key`, input.slug, (tx, attempt) => uniqueSlug(tx, t, t.slug, input.name, attempt, kind), async (tx, slug) => {
    const [row] = await tx.insert(t).values({ name: input.name, slug, description: input.description ?? null, createdAt: now, updatedAt: now }).returning()
    await recordChange(tx, now, entityChange(kind, row, 'created'))
    return row
  })
}

export async function updateTaxonomy (db: Db, kind: TaxonomyKind, id: string, input: TaxonomyUpdate, ifMatch: IfMatch | undefined, now: Date) {
  const t = tables[kind]
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(t).where(eq(t.id, id)).for('update')
    if (!current) throw notFound(label[kind])
    assertVersion(current, ifMatch)
    if (input.slug !== undefined && input.slug !== current.slug) await assertNotReserved(tx as unknown as Db, kind, input.slug, id)
    return withSlug(tx as unknown as Db, `${kind}s_slug_key`, input.slug, async () => current.slug, async (w, slug) => {
      const [row] = await w.update(t).set({
        ...input,
        slug,
        version: current.version + 1,
        updatedAt: now
      }).where(eq(t.id, id)).returning()
      await recordChange(w, now, entityChange(kind, row, 'updated'))
      // Sections and tags are always public: the slug left behind keeps leading here.
      await slugChanged(w, kind, id, current.slug, row.slug, true, now)
      return row
    })
  })
}

async function references (db: Db, kind: TaxonomyKind, id: string): Promise<Reference[]> {
  const rows = kind === 'section'
    ? await db.select({ id: articles.id, label: articles.headline }).from(articles)
      .where(eq(articles.sectionId, id)).orderBy(asc(articles.createdAt)).limit(50)
    : await db.select({ id: articles.id, label: articles.headline }).from(articleTags)
      .innerJoin(articles, eq(articles.id, articleTags.articleId))
      .where(eq(articleTags.tagId, id)).orderBy(asc(articles.createdAt)).limit(50)
  return rows.map((r) => ({ resource: 'article', ...r }))
}

export async function deleteTaxonomy (db: Db, kind: TaxonomyKind, id: string, ifMatch: IfMatch | undefined, now: Date) {
  const t = tables[kind]
  await db.transaction(async (tx) => {
    const [current] = await tx.select().from(t).where(eq(t.id, id)).for('update')
    if (!current) throw notFound(label[kind])
    assertVersion(current, ifMatch)
    assertUnreferenced(`${label[kind]} "${current.name}"`, await references(tx as unknown as Db, kind, id))
    await tx.delete(t).where(and(eq(t.id, id)))
    await dropRedirectsOf(tx as unknown as Db, kind, id, now)
    await recordChange(tx as unknown as Db, now, entityChange(kind, current, 'deleted'))
  })
}
