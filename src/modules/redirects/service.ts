// Old slugs keep working. When an article (while public), author, section or tag changes its
// slug, the old one is kept in `slug_redirects`, pointing at the entity's id rather than at a
// slug: however often the slug changes again, every old one leads to the current one in one hop.
// An old slug stays reserved for its entity (no other of its kind may take it) until an editor
// releases it; the entity itself may take it back, which drops the redirect. Every write here
// runs in the caller's transaction and records its change there.
import { and, eq, ne, or, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { articles, authors, sections, slugRedirects, tags } from '../../db/schema.js'
import { AppError, notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, type SortField } from '../../http/pagination.js'
import { REDIRECTS, entityTag } from '../../lib/cache-tags.js'
import { recordChange } from '../changes/record.js'
import { publicArticles } from '../articles/present.js'
import type { ListRedirects, RedirectEntity } from './schemas.js'

export type RedirectRow = typeof slugRedirects.$inferSelect

const plural: Record<RedirectEntity, string> = { article: 'articles', author: 'authors', section: 'sections', tag: 'tags' }

/** The by-slug path of the API where an entity with this slug is read. */
export const bySlugPath = (entity: RedirectEntity, slug: string) => `/v1/${plural[entity]}/by-slug/${encodeURIComponent(slug)}`

/** A redirect written or dropped: the list of redirects changes, and so does its target's old-slug answer. */
async function recordRedirect (db: Db, row: RedirectRow, what: 'created' | 'deleted', now: Date) {
  await recordChange(db, now, {
    entity: 'redirect',
    entityId: row.id,
    event: `redirect.${what}`,
    tags: [REDIRECTS, entityTag(row.entity as RedirectEntity, row.targetId)],
    data: { entity: row.entity, slug: row.slug, targetId: row.targetId }
  })
}

/** The redirect that reserves this slug for another entity of the kind, if any. */
export async function reservation (db: Db, entity: RedirectEntity, slug: string, selfId?: string) {
  const [row] = await db.select().from(slugRedirects).where(and(
    eq(slugRedirects.entity, entity), eq(slugRedirects.slug, slug),
    selfId === undefined ? undefined : ne(slugRedirects.targetId, selfId)
  ))
  return row as RedirectRow | undefined
}

/** A slug the client chose that is another entity's old slug: a 409 naming the redirect. */
export async function assertNotReserved (db: Db, entity: RedirectEntity, slug: string, selfId?: string) {
  const row = await reservation(db, entity, slug, selfId)
  if (!row) return
  throw new AppError('SLUG_TAKEN', `The slug "${slug}" is reserved as a redirect to another ${entity} (redirect ${row.id}); an editor may release it with DELETE /v1/redirects/${row.id}.`, {
    errors: [{ path: '/slug', in: 'body', message: `is reserved as a redirect to another ${entity} (redirect ${row.id})` }]
  })
}

/**
 * An entity's slug went from `from` to `to`. Taking back one of its own old slugs drops that
 * redirect; the slug it leaves becomes one when readers could see it by that slug (`visible`).
 */
export async function slugChanged (db: Db, entity: RedirectEntity, targetId: string, from: string, to: string, visible: boolean, now: Date) {
  if (from === to) return
  const taken = await db.delete(slugRedirects)
    .where(and(eq(slugRedirects.entity, entity), eq(slugRedirects.slug, to), eq(slugRedirects.targetId, targetId))).returning()
  for (const row of taken) await recordRedirect(db, row, 'deleted', now)
  if (!visible) return
  const [row] = await db.insert(slugRedirects).values({ entity, slug: from, targetId, createdAt: now }).onConflictDoNothing().returning()
  if (row) await recordRedirect(db, row, 'created', now)
}

/** An entity deleted: its old slugs go with it. */
export async function dropRedirectsOf (db: Db, entity: RedirectEntity, targetId: string, now: Date) {
  const rows = await db.delete(slugRedirects).where(and(eq(slugRedirects.entity, entity), eq(slugRedirects.targetId, targetId))).returning()
  for (const row of rows) await recordRedirect(db, row, 'deleted', now)
}

export type Audience = { staff: boolean, now: Date }

/** The current slug of every target, joined in one query; articles only while public, unless staff ask. */
function withTargets (db: Db, audience: Audience) {
  const current = sql<string | null>`coalesce(${articles.slug}, ${authors.slug}, ${sections.slug}, ${tags.slug})`
  const query = db.select({
    id: slugRedirects.id,
    entity: slugRedirects.entity,
    slug: slugRedirects.slug,
    targetId: slugRedirects.targetId,
    createdAt: slugRedirects.createdAt,
    to: current
  }).from(slugRedirects)
    .leftJoin(articles, and(eq(slugRedirects.entity, 'article'), eq(articles.id, slugRedirects.targetId)))
    .leftJoin(authors, and(eq(slugRedirects.entity, 'author'), eq(authors.id, slugRedirects.targetId)))
    .leftJoin(sections, and(eq(slugRedirects.entity, 'section'), eq(sections.id, slugRedirects.targetId)))
    .leftJoin(tags, and(eq(slugRedirects.entity, 'tag'), eq(tags.id, slugRedirects.targetId)))
  const visible: SQL = audience.staff
    ? sql`${current} is not null`
    : or(and(ne(slugRedirects.entity, 'article'), sql`${current} is not null`), and(eq(slugRedirects.entity, 'article'), publicArticles(audience.now)))!
  return { query, visible }
}

/** Where an old slug leads now, if the caller may see it there. */
export async function redirectTarget (db: Db, entity: RedirectEntity, slug: string, audience: Audience) {
  const { query, visible } = withTargets(db, audience)
  const [row] = await query.where(and(eq(slugRedirects.entity, entity), eq(slugRedirects.slug, slug), visible))
  return row?.to ? { id: row.targetId, slug: row.to } : undefined
}

const sorts: Record<string, SortField> = { createdAt: { expr: slugRedirects.createdAt, kind: 'date' } }

export async function listRedirects (db: Db, query: ListRedirects, audience: Audience) {
  const sort = parseSort(query.sort, sorts, '-createdAt')
  const { where, orderBy } = keyset(sort, slugRedirects.id, decodeCursor(query.cursor, sort))
  const { query: select, visible } = withTargets(db, audience)
  const scope = and(visible, query.entity === undefined ? undefined : eq(slugRedirects.entity, query.entity))
  const rows = await select.where(and(scope, where)).orderBy(...orderBy).limit(query.limit + 1)
  // The count needs the same joins as the page: run over the page's query as a subquery.
  const total = query.total ? await countOf(db, audience, scope) : undefined
  return paginate(rows, query.limit, sort, (r) => r.createdAt, total)
}

async function countOf (db: Db, audience: Audience, scope: SQL | undefined) {
  const { query } = withTargets(db, audience)
  const sub = query.where(scope).as('visible_redirects')
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(sub)
  return Number(row.n)
}

/** Releases an old slug: another entity of its kind may take it from now on. */
export async function deleteRedirect (db: Db, id: string, now: Date) {
  await db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const [row] = await tx.delete(slugRedirects).where(eq(slugRedirects.id, id)).returning()
    if (!row) throw notFound('Redirect')
    await recordRedirect(tx, row, 'deleted', now)
  })
}
