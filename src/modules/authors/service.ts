// Authors: bylines, with avatars; private email reaches staff only.
import { asc, eq, inArray, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { avatarTags, entityChange, recordChange } from '../changes/record.js'
import { articleAuthors, articles, authors, users } from '../../db/schema.js'
import { assertVersion, type IfMatch } from '../../http/caching.js'
import { invalidField, notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf, type SortField } from '../../http/pagination.js'
import { uniqueSlug } from '../../lib/slug.js'
import { assertUnreferenced, type Reference } from '../../lib/references.js'
import { withSlug } from '../../lib/writes.js'
import { assertNotReserved, dropRedirectsOf, slugChanged } from '../redirects/service.js'
import { wire } from '../../http/wire.js'
import type { PublicUrls } from '../../lib/public-urls.js'
import { presentPhoto } from '../photos/present.js'
import { photosByIds, type PhotoRow } from '../photos/service.js'
import type { CreateAuthor, ListAuthors, UpdateAuthor } from './schemas.js'

export type AuthorRow = typeof authors.$inferSelect
export type AuthorView = { include: Set<'avatar'>, staff: boolean, urls: PublicUrls }
export type AuthorOut = Omit<AuthorRow, 'version' | 'email'> & { email?: string | null, avatar?: Record<string, unknown> | null }

const sorts: Record<string, SortField> = {
  name: { expr: authors.name, kind: 'string' },
  createdAt: { expr: authors.createdAt, kind: 'date' }
}

const avatarOf = (avatars: Map<string, PhotoRow>, id: string | null, urls: PublicUrls) => {
  const photo = id ? avatars.get(id) : undefined
  return photo ? wire(presentPhoto(photo, urls)) : null
}

/** Shapes rows for a reader: embeds avatars with one query, hides email from the public. */
export async function presentAuthors (db: Db, rows: AuthorRow[], view: AuthorView): Promise<AuthorOut[]> {
  const avatars = view.include.has('avatar')
    ? await photosByIds(db, [...new Set(rows.flatMap((r) => (r.avatarId ? [r.avatarId] : [])))])
    : undefined
  return rows.map(({ version: _v, email, ...rest }) => ({
    ...rest,
    ...(view.staff && { email }),
    ...(avatars && { avatar: avatarOf(avatars, rest.avatarId, view.urls) })
  }))
}

export async function listAuthors (db: Db, query: ListAuthors) {
  const sort = parseSort(query.sort, sorts, 'name')
  const { where, orderBy } = keyset(sort, authors.id, decodeCursor(query.cursor, sort))
  const rows = await db.select().from(authors).where(where).orderBy(...orderBy).limit(query.limit + 1)
  return paginate(rows, query.limit, sort, (r) => (sort.field === sorts.name ? r.name : r.createdAt), await totalOf(db, query.total, authors, undefined))
}

export async function getAuthor (db: Db, by: { id: string } | { slug: string }) {
  const cond: SQL = 'id' in by ? eq(authors.id, by.id) : eq(authors.slug, by.slug)
  const [row] = await db.select().from(authors).where(cond)
  if (!row) throw notFound('Author')
  return row
}

async function assertAvatar (db: Db, avatarId: string | null | undefined) {
  if (avatarId && (await photosByIds(db, [avatarId])).size === 0) throw invalidField('/avatarId', 'is not the id of a photo')
}

// createdAt comes from the app clock (millisecond precision), not the database's now()
// (microseconds): a list cursor carries milliseconds, so a finer stored value would make
// `sort=createdAt` repeat the last row of a page on the next one.
export async function createAuthor (db: Db, input: CreateAuthor, now: Date = new Date()) {
  await assertAvatar(db, input.avatarId)
  if (input.slug !== undefined) await assertNotReserved(db, 'author', input.slug)
  return withSlug(db, 'authors_slug_key', input.slug, (tx, attempt) => uniqueSlug(tx, authors, authors.slug, input.name, attempt, 'author'), async (tx, slug) => {
    const [row] = await tx.insert(authors).values({ ...input, slug, links: input.links ?? {}, createdAt: now, updatedAt: now }).returning()
    await recordChange(tx, now, entityChange('author', row, 'created', avatarTags(row.avatarId)))
    return row
  })
}

export async function updateAuthor (db: Db, id: string, input: UpdateAuthor, ifMatch: IfMatch | undefined, now: Date) {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(authors).where(eq(authors.id, id)).for('update')
    if (!current) throw notFound('Author')
    assertVersion(current, ifMatch)
    await assertAvatar(tx as unknown as Db, input.avatarId)
    if (input.slug !== undefined && input.slug !== current.slug) await assertNotReserved(tx as unknown as Db, 'author', input.slug, id)
    return withSlug(tx as unknown as Db, 'authors_slug_key', input.slug, async () => current.slug, async (w, slug) => {
      const [row] = await w.update(authors).set({ ...input, slug, version: current.version + 1, updatedAt: now }).where(eq(authors.id, id)).returning()
      await recordChange(w, now, entityChange('author', row, 'updated', current.avatarId === row.avatarId ? [] : avatarTags(current.avatarId, row.avatarId)))
      // Authors are always public: the slug left behind keeps leading here.
      await slugChanged(w, 'author', id, current.slug, row.slug, true, now)
      return row
    })
  })
}

async function references (db: Db, id: string): Promise<Reference[]> {
  const bylines = await db.select({ id: articles.id, label: articles.headline }).from(articleAuthors)
    .innerJoin(articles, eq(articles.id, articleAuthors.articleId))
    .where(eq(articleAuthors.authorId, id)).orderBy(asc(articles.createdAt)).limit(50)
  return bylines.map((r) => ({ resource: 'article', ...r }))
}

export async function deleteAuthor (db: Db, id: string, ifMatch: IfMatch | undefined, now: Date) {
  await db.transaction(async (tx) => {
    const [current] = await tx.select().from(authors).where(eq(authors.id, id)).for('update')
    if (!current) throw notFound('Author')
    assertVersion(current, ifMatch)
    assertUnreferenced(`Author "${current.name}"`, await references(tx as unknown as Db, id))
    // A staff user linked to this byline keeps their account, unlinked.
    await tx.update(users).set({ authorId: null }).where(eq(users.authorId, id))
    await tx.delete(authors).where(eq(authors.id, id))
    await dropRedirectsOf(tx as unknown as Db, 'author', id, now)
    await recordChange(tx as unknown as Db, now, entityChange('author', current, 'deleted', avatarTags(current.avatarId)))
  })
}

export async function missingAuthors (db: Db, ids: string[]) {
  if (ids.length === 0) return []
  const found = new Set((await db.select({ id: authors.id }).from(authors).where(inArray(authors.id, ids))).map((r) => r.id))
  return ids.filter((id) => !found.has(id))
}
