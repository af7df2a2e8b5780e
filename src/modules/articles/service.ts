// Articles: lists and reads by audience, writes that keep byline, tags, related links and
// body photos consistent in one transaction, status changes, and revisions.
import { randomUUID } from 'node:crypto'
import { and, asc, eq, gte, inArray, lte, ne, or, sql, type SQL } from 'drizzle-orm'
import { unionAll } from 'drizzle-orm/pg-core'
import type { Db } from '../../db/client.js'
import { batched, insertRows, rowAfterInsert, rowsOf } from '../../db/batch.js'
import { prepared } from '../../db/prepared.js'
import { articleAuthors, articleBodyPhotos, articleRelated, articleRevisions, articleTags, articles, authors, sections, slugRedirects, tags, users } from '../../db/schema.js'
import type { Principal } from '../../http/auth.js'
import { assertVersion, type IfMatch } from '../../http/caching.js'
import { AppError, notFound } from '../../http/errors.js'
import { anyOf } from '../../http/filters.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf, type SortField } from '../../http/pagination.js'
import { ARTICLE_LISTS, articleListTag } from '../../lib/cache-tags.js'
import { baseSlug, isReserved, uniqueSlug } from '../../lib/slug.js'
import { assertUnreferenced } from '../../lib/references.js'
import { insertWithSlug, withSlug } from '../../lib/writes.js'
import { missingAuthors } from '../authors/service.js'
import { photosByIds } from '../photos/service.js'
import { missingTaxonomy } from '../taxonomy/service.js'
import { assertNotReserved, dropRedirectsOf, slugChanged } from '../redirects/service.js'
import { cleanBlocks, cleanInline, derived, photoIdsOf, relatedIdsOf } from './body.js'
import { articleState, recordArticleChange } from './changes.js'
import { effectiveStatus, fullColumns, linkColumns, needsBody, publicArticles, summaryColumns, type LoadedRow, type View } from './present.js'
import type { Block, CreateArticle, ListArticles, UpdateArticle } from './schemas.js'

const isUuid = (s: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)

// ---- reads -----------------------------------------------------------------------------

function sortFields (q: string | undefined, staff: boolean): Record<string, SortField> {
  const fields: Record<string, SortField> = {
    // Only staff lists hold unpublished articles with no publishedAt; for the public the null
    // branch of the keyset could never match, and leaving it out lets the index answer alone.
    publishedAt: { expr: articles.publishedAt, kind: 'date', nullable: staff },
    createdAt: { expr: articles.createdAt, kind: 'date' },
    // As presented: the last substantive update, else the publication, else the last change.
    updatedAt: { expr: sql`coalesce(greatest(${articles.contentUpdatedAt}, ${articles.publishedAt}), ${articles.updatedAt})`, kind: 'date' },
    modifiedAt: { expr: articles.updatedAt, kind: 'date' },
    headline: { expr: articles.headline, kind: 'string' }
  }
  // float8 so the rank survives the round trip through a cursor exactly.
  if (q !== undefined) fields.relevance = { expr: sql`ts_rank(${articles.search}, websearch_to_tsquery('english', ${q}))::float8`, kind: 'number' }
  return fields
}

type Refs = { section?: string[], tag?: string[], author?: string[] }

/** The statuses a list asks for: `published` unless it says otherwise, for staff too. */
function statusesOf (status: string | undefined): Set<string> | 'any' {
  if (status === 'any') return 'any'
  return new Set(status === undefined ? ['published'] : status.split(','))
}

function filters (query: ListArticles, refs: Refs, view: View): SQL[] {
  const where: SQL[] = []
  const statuses = statusesOf(query.status)
  if (!view.staff || (statuses !== 'any' && statuses.size === 1 && statuses.has('published'))) where.push(publicArticles(view.now))
  else if (statuses !== 'any') {
    const wanted: SQL[] = []
    if (statuses.has('published')) wanted.push(publicArticles(view.now))
    if (statuses.has('scheduled')) wanted.push(and(eq(articles.status, 'scheduled'), sql`${articles.publishedAt} > ${view.now}`)!)
    for (const s of ['draft', 'archived'] as const) if (statuses.has(s)) wanted.push(eq(articles.status, s))
    where.push(or(...wanted)!)
  }
  if (refs.section) where.push(inArray(articles.sectionId, refs.section))
  // EXISTS rather than a join: an article with two of the tags asked for is still one row.
  if (refs.tag) {
    where.push(sql`exists (select 1 from ${articleTags} where ${articleTags.articleId} = ${articles.id} and ${inArray(articleTags.tagId, refs.tag)})`)
  }
  if (refs.author) {
    where.push(sql`exists (select 1 from ${articleAuthors} where ${articleAuthors.articleId} = ${articles.id} and ${inArray(articleAuthors.authorId, refs.author)})`)
  }
  if (query.publishedAfter !== undefined) where.push(gte(articles.publishedAt, new Date(query.publishedAfter)))
  if (query.publishedBefore !== undefined) where.push(lte(articles.publishedAt, new Date(query.publishedBefore)))
  if (query.q !== undefined) where.push(sql`${articles.search} @@ websearch_to_tsquery('english', ${query.q})`)
  return where
}

/** How many of the newest matches a search ranks by relevance. */
export const SEARCH_RANK_WINDOW = 1000

const refTables = { section: sections, tag: tags as unknown as typeof sections, author: authors as unknown as typeof sections }

/**
 * The section, tag and author filters (each any of several ids or slugs) become ids, all in one
 * query: the planner estimates known ids far better than a subquery, which made it walk
 * thousands of rows for a popular tag. A value that matches nothing is a 400 naming it, not an
 * empty page that looks like "no stories".
 */
async function resolveRefs (db: Db, query: ListArticles): Promise<Refs> {
  const asked = (['section', 'tag', 'author'] as const).flatMap((kind) => {
    const values = anyOf(kind, query[kind])
    return values ? [{ kind, values }] : []
  })
  if (asked.length === 0) return {}
  const branches = asked.map(({ kind, values }) => {
    const t = refTables[kind]
    const ids = values.filter(isUuid)
    const slugs = values.filter((v) => !isUuid(v))
    return db.select({ kind: sql<string>`${sql.raw(`'${kind}'`)}`.as('kind'), id: t.id, slug: t.slug }).from(t)
      .where(or(ids.length > 0 ? inArray(t.id, ids) : undefined, slugs.length > 0 ? inArray(t.slug, slugs) : undefined))
  })
  const found = await (branches.length === 1 ? branches[0] : unionAll(branches[0], branches[1], ...branches.slice(2)))
  const refs: Refs = {}
  const errors: Array<{ path: string, in: 'query', message: string }> = []
  for (const { kind, values } of asked) {
    const rows = found.filter((r) => r.kind === kind)
    const ids = new Set<string>()
    for (const value of values) {
      const row = rows.find((r) => (isUuid(value) ? r.id === value.toLowerCase() : r.slug === value))
      if (row) ids.add(row.id)
      else errors.push({ path: `/${kind}`, in: 'query', message: `no ${kind} "${value}"` })
    }
    refs[kind] = [...ids]
  }
  if (errors.length > 0) throw new AppError('VALIDATION_FAILED', errors.map((e) => `${e.path.slice(1)}: ${e.message}`).join('; '), { errors })
  return refs
}

export async function listArticles (db: Db, query: ListArticles, view: View) {
  if (!view.staff && query.status !== undefined && query.status !== 'published') {
    throw new AppError('UNAUTHORIZED', 'Only staff may list articles that are not published.', { headers: { 'www-authenticate': 'Bearer realm="dateline"' } })
  }
  const sort = parseSort(query.sort, sortFields(query.q, view.staff), query.q !== undefined ? '-relevance' : '-publishedAt')
  const cursor = decodeCursor(query.cursor, sort)
  const { where, orderBy } = keyset(sort, articles.id, cursor)
  const columns = needsBody(view) ? fullColumns : summaryColumns
  const refs = await resolveRefs(db, query)
  let scope = and(...filters(query, refs, view))
  if (sort.name.endsWith('relevance')) {
    // Ranking reads every candidate's document; a common word matches tens of thousands.
    // Only the newest matches are ranked, found by walking the date index.
    const newest = view.staff ? articles.createdAt : articles.publishedAt
    scope = inArray(articles.id, db.select({ id: articles.id }).from(articles).where(scope)
      .orderBy(sql`${newest} desc nulls last`, sql`${articles.id} desc nulls last`).limit(SEARCH_RANK_WINDOW))
  }
  const rows = await db.select({ ...columns, sortValue: sql<unknown>`${sort.field.expr}` }).from(articles)
    .where(and(scope, where)).orderBy(...orderBy).limit(query.limit + 1)
  // Over the same scope as the pages: with relevance, the ranked window is all a walk can reach.
  const total = await totalOf(db, query.total, articles, scope)
  view.tags?.push(...listFamilies(refs))
  return paginate(rows as Array<LoadedRow & { sortValue: unknown }>, query.limit, sort, (r) => sort.field.kind === 'date' && r.sortValue !== null && !(r.sortValue instanceof Date) ? new Date(r.sortValue as string) : r.sortValue, total)
}

/** The list families a list belongs to: those of its narrowing filters, else every list's. */
function listFamilies (refs: Refs): string[] {
  const narrowed = [
    ...(refs.section ?? []).map((id) => articleListTag('section', id)),
    ...(refs.tag ?? []).map((id) => articleListTag('tag', id)),
    ...(refs.author ?? []).map((id) => articleListTag('author', id))
  ]
  return narrowed.length > 0 ? narrowed : [ARTICLE_LISTS]
}

export async function getArticleRow (db: Db, by: { id: string } | { slug: string }, view: Pick<View, 'staff' | 'now'>): Promise<LoadedRow> {
  const byId = 'id' in by
  // Four prepared statements (by id or slug, for staff or the public): every read of one
  // article, and every write's answer, runs one of them.
  const statement = prepared(db, `article_by_${byId ? 'id' : 'slug'}_${view.staff ? 'staff' : 'public'}`, (db, name) => {
    const cond = byId ? eq(articles.id, sql.placeholder('key')) : eq(articles.slug, sql.placeholder('key'))
    const now = sql.placeholder('now')
    return db.select({ ...fullColumns, ...linkColumns({ staff: view.staff, now }) }).from(articles)
      .where(view.staff ? cond : and(cond, publicArticles(now))).prepare(name)
  })
  const [found] = await statement.execute({ key: byId ? by.id : by.slug, now: view.now })
  if (!found) throw notFound('Article')
  const { linkedAuthorIds, linkedTagIds, linkedRelatedIds, linkedCorrections, ...row } = found
  // json_agg sends times as text.
  const corrections = (typeof linkedCorrections === 'string' ? JSON.parse(linkedCorrections) as typeof linkedCorrections : linkedCorrections)
    .map((c) => ({ ...c, publishedAt: new Date(c.publishedAt) }))
  return { ...row, links: { authorIds: linkedAuthorIds, tagIds: linkedTagIds, relatedArticleIds: linkedRelatedIds }, corrections } as LoadedRow
}

// ---- writes ----------------------------------------------------------------------------

type Links = { authorIds: string[], tagIds: string[], relatedArticleIds: string[], body: Block[] }

/** Refuses references to things that do not exist, naming each one. */
async function assertReferences (db: Db, input: UpdateArticle, links: Partial<Links>, selfId?: string) {
  const errors: Array<{ path: string, in: 'body', message: string }> = []
  const flag = (path: string, message: string) => errors.push({ path, in: 'body', message })
  if (links.authorIds) {
    const missing = new Set(await missingAuthors(db, links.authorIds))
    links.authorIds.forEach((id, i) => missing.has(id) && flag(`/authorIds/${i}`, 'is not the id of an author'))
  }
  if (links.tagIds) {
    const missing = new Set(await missingTaxonomy(db, 'tag', links.tagIds))
    links.tagIds.forEach((id, i) => missing.has(id) && flag(`/tagIds/${i}`, 'is not the id of a tag'))
  }
  if (input.sectionId && (await missingTaxonomy(db, 'section', [input.sectionId])).length > 0) flag('/sectionId', 'is not the id of a section')
  const body = links.body ?? []
  const photoIds = [...new Set([...(input.leadPhotoId ? [input.leadPhotoId] : []), ...photoIdsOf(body)])]
  const photos = await photosByIds(db, photoIds)
  if (input.leadPhotoId && !photos.has(input.leadPhotoId)) flag('/leadPhotoId', 'is not the id of a photo')
  const relatedIds = [...new Set([...(links.relatedArticleIds ?? []), ...relatedIdsOf(body)])]
  const found = relatedIds.length > 0
    ? new Set((await db.select({ id: articles.id }).from(articles).where(inArray(articles.id, relatedIds))).map((r) => r.id))
    : new Set<string>()
  const relatedProblem = (id: string) => (id === selfId ? 'is this article itself' : found.has(id) ? undefined : 'is not the id of an article')
  links.relatedArticleIds?.forEach((id, i) => { const p = relatedProblem(id); if (p) flag(`/relatedArticleIds/${i}`, p) })
  body.forEach((b, i) => {
    if (b.type === 'photo' && !photos.has(b.photoId)) flag(`/body/${i}/photoId`, 'is not the id of a photo')
    if (b.type === 'related') { const p = relatedProblem(b.articleId); if (p) flag(`/body/${i}/articleId`, p) }
  })
  if (errors.length > 0) {
    throw new AppError('VALIDATION_FAILED', errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors })
  }
}


/** Replaces the links given; a new article (`fresh`) has none to delete. */
async function writeLinks (db: Db, articleId: string, links: Partial<Links>, fresh = false) {
  if (links.authorIds) {
    if (!fresh) await db.delete(articleAuthors).where(eq(articleAuthors.articleId, articleId))
    if (links.authorIds.length > 0) await db.insert(articleAuthors).values(links.authorIds.map((authorId, position) => ({ articleId, authorId, position })))
  }
  if (links.tagIds) {
    if (!fresh) await db.delete(articleTags).where(eq(articleTags.articleId, articleId))
    if (links.tagIds.length > 0) await db.insert(articleTags).values(links.tagIds.map((tagId, position) => ({ articleId, tagId, position })))
  }
  if (links.relatedArticleIds && links.body) {
    const listed = links.relatedArticleIds
    const fromBody = relatedIdsOf(links.body).filter((id) => !listed.includes(id))
    if (!fresh) await db.delete(articleRelated).where(eq(articleRelated.articleId, articleId))
    const rows = [...listed.map((relatedId) => ({ relatedId, listed: true })), ...fromBody.map((relatedId) => ({ relatedId, listed: false }))]
    if (rows.length > 0) await db.insert(articleRelated).values(rows.map((r, position) => ({ articleId, ...r, position })))
  }
  if (links.body) {
    if (!fresh) await db.delete(articleBodyPhotos).where(eq(articleBodyPhotos.articleId, articleId))
    const ids = photoIdsOf(links.body)
    if (ids.length > 0) await db.insert(articleBodyPhotos).values(ids.map((photoId) => ({ articleId, photoId })))
  }
}

const clean = (s: string | null | undefined) => (s === undefined || s === null ? s : cleanInline(s) || null)

function columnsOf (input: UpdateArticle) {
  return {
    ...(input.headline !== undefined && { headline: input.headline.trim() }),
    ...(input.standfirst !== undefined && { standfirst: clean(input.standfirst) }),
    ...(input.dateline !== undefined && { dateline: input.dateline?.trim() || null }),
    ...(input.excerpt !== undefined && { customExcerpt: input.excerpt?.trim() || null }),
    ...(input.leadPhotoId !== undefined && { leadPhotoId: input.leadPhotoId }),
    ...(input.leadPhotoCaption !== undefined && { leadPhotoCaption: clean(input.leadPhotoCaption) }),
    ...(input.sectionId !== undefined && { sectionId: input.sectionId }),
    ...(input.commentsOpen !== undefined && { commentsOpen: input.commentsOpen }),
    ...(input.seo?.title !== undefined && { seoTitle: input.seo.title }),
    ...(input.seo?.description !== undefined && { seoDescription: input.seo.description })
  }
}

/**
 * `now` is the app clock. createdAt and updatedAt are set from it rather than the database's
 * now(), so they agree with publishedAt and updatedAt on later writes, and carry the
 * millisecond precision a list cursor keeps (a microsecond default made sort=createdAt pages
 * repeat or skip items on PostgreSQL).
 */
export async function createArticle (db: Db, input: CreateArticle, actor: Principal | null, now: Date = new Date()) {
  const body = cleanBlocks(input.body ?? [])
  const links = linksOf(input, actor, body)
  const columns = columnsOf(input)
  const values = {
    ...columns,
    headline: input.headline.trim(),
    body,
    ...derived(body, columns.standfirst ?? null),
    createdById: actor?.userId ?? null,
    createdAt: now,
    updatedAt: now
  }
  // Another article's old slug is reserved (src/modules/redirects): a chosen one is a 409 that
  // names its redirect, and a generated one skips it.
  const generate = (g: Db, attempt: number) => uniqueSlug(g, articles, articles.slug, input.headline, attempt, 'article')
  // Inserts with a free slug; `write` inserts one row, or none when its slug is taken or reserved.
  const slugged = <T>(tx: Db, plain: string, write: (slug: string) => Promise<T[]>) =>
    insertWithSlug(tx, input.slug, plain, generate, async (slug) => {
      const [row] = await write(slug)
      if (row === undefined && input.slug !== undefined) await assertNotReserved(tx, 'article', input.slug)
      return row
    })
  // Nothing to check and nothing to link: the article is one row, and the row is the answer (no
  // transaction, no second read). Concurrent creates share the insert (src/db/batch.ts).
  if (standsAlone(input, links)) {
    const id = randomUUID()
    const row = await slugged(db, baseSlug(input.headline), async (slug) => {
      const fresh = { ...aloneDefaults, ...values, id, slug }
      return (await insertAlone(db)(fresh)) ? [rowAfterInsert<LoadedRow>(fullColumns, fresh)] : []
    })
    return { id, row: { ...row, links: { authorIds: [], tagIds: [], relatedArticleIds: [] }, corrections: [] } }
  }
  // Otherwise the answer is read after the links are written: the insert returns the id only.
  const id = await db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    await assertReferences(tx, input, links)
    const plain = baseSlug(input.headline)
    // A slug the client chose may not be another article's old one; a generated one skips them.
    if (input.slug !== undefined) await assertNotReserved(tx, 'article', input.slug)
    const free = input.slug !== undefined || !(await isReserved(tx, 'article', plain)) ? plain : await generate(tx, 0)
    const row = await slugged(tx, free, (slug) => tx.insert(articles).values({ ...values, slug }).onConflictDoNothing().returning({ id: articles.id }))
    await writeLinks(tx, row.id, links, true)
    return row.id
  })
  return { id, row: undefined }
}

// The columns a create that stands alone sets: unset ones go in as their defaults.
const aloneDefaults = {
  standfirst: null, dateline: null, customExcerpt: null, leadPhotoCaption: null, commentsOpen: articles.commentsOpen.default as boolean, seoTitle: null, seoDescription: null
}
const aloneKeys = ['id', ...Object.keys(aloneDefaults), 'headline', 'slug', 'body', 'bodyText', 'wordCount', 'readingTimeMinutes', 'autoExcerpt', 'createdById', 'createdAt', 'updatedAt']
/** Whether each row went in: a row whose slug is taken, or is another article's old slug, is skipped. */
const insertAlone = (db: Db) => batched(db, 'article_insert', async (db, rows: Array<{ id: string }>) => {
  const reserved = sql`exists (select 1 from ${slugRedirects} where ${slugRedirects.entity} = 'article' and ${slugRedirects.slug} = t.slug)`
  const inserted = await rowsOf<{ id: string }>(db, sql`${insertRows(articles, aloneKeys, rows)} where not ${reserved} on conflict do nothing returning id`)
  const ids = new Set(inserted.map((r) => r.id))
  return rows.map((r) => ids.has(r.id))
})

const linksOf = (input: CreateArticle, actor: Principal | null, body: Block[]): Links => ({
  authorIds: input.authorIds ?? (actor?.authorId ? [actor.authorId] : []),
  tagIds: input.tagIds ?? [],
  relatedArticleIds: input.relatedArticleIds ?? [],
  body
})

/** Whether a create is one insert that needs no transaction (the blocks' photo and related ids
 * are the same before cleaning). */
export const createStandsAlone = (input: CreateArticle, actor: Principal | null) =>
  standsAlone(input, linksOf(input, actor, (input.body ?? []) as Block[]))

/** Whether a new article refers to nothing: no byline, tags, section, photos or related stories. */
const standsAlone = (input: CreateArticle, links: Links) =>
  links.authorIds.length === 0 && links.tagIds.length === 0 && links.relatedArticleIds.length === 0 &&
  !input.sectionId && !input.leadPhotoId && photoIdsOf(links.body).length === 0 && relatedIdsOf(links.body).length === 0

/** The writable state of an article, as a revision keeps it and as an update applies it. */
async function snapshotOf (db: Db, row: LoadedRow, authorIds: string[]): Promise<UpdateArticle> {
  // One after another: `db` is a transaction here, one connection, and pg refuses (deprecated,
  // an error in pg 9) a query sent while another is still running on the same client.
  const t = await db.select({ id: articleTags.tagId }).from(articleTags).where(eq(articleTags.articleId, row.id)).orderBy(asc(articleTags.position))
  const r = await db.select({ id: articleRelated.relatedId }).from(articleRelated).where(and(eq(articleRelated.articleId, row.id), eq(articleRelated.listed, true))).orderBy(asc(articleRelated.position))
  return {
    headline: row.headline,
    slug: row.slug,
    standfirst: row.standfirst,
    dateline: row.dateline,
    body: (row.body ?? []) as Block[],
    excerpt: row.customExcerpt,
    authorIds,
    leadPhotoId: row.leadPhotoId,
    leadPhotoCaption: row.leadPhotoCaption,
    sectionId: row.sectionId,
    tagIds: t.map((x) => x.id),
    relatedArticleIds: r.map((x) => x.id),
    commentsOpen: row.commentsOpen,
    seo: { title: row.seoTitle, description: row.seoDescription }
  }
}

export type Guard = (row: LoadedRow, authorIds: string[]) => void

async function lockArticle (db: Db, id: string, ifMatch: IfMatch | undefined, guard: Guard) {
  // NO KEY UPDATE: an edit keeps the id, so the comment inserts that refer to the article (a
  // foreign key's KEY SHARE lock) go on while an editor's transaction holds it.
  const [row] = await db.select(fullColumns).from(articles).where(eq(articles.id, id)).for('no key update')
  if (!row) throw notFound('Article')
  const current = row as LoadedRow
  const bylines = await db.select({ id: articleAuthors.authorId }).from(articleAuthors).where(eq(articleAuthors.articleId, id)).orderBy(asc(articleAuthors.position))
  const authorIds = bylines.map((b) => b.id)
  guard(current, authorIds)
  assertVersion(current, ifMatch)
  return { current, authorIds }
}

/** The API fields whose value `after` changes (an update names only what it sets). */
function changedFields (before: UpdateArticle, after: UpdateArticle): string[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null)
  return (Object.keys(after) as Array<keyof UpdateArticle>).filter((k) => k !== 'substantiveUpdate' && !same(before[k], after[k]))
}

export async function updateArticle (db: Db, id: string, input: UpdateArticle, opts: { ifMatch?: IfMatch, now: Date, actor: Principal | null, guard: Guard, restoredFromId?: string }) {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const { current, authorIds } = await lockArticle(tx, id, opts.ifMatch, opts.guard)
    const state = await articleState(tx, id, opts.now)
    const before = await snapshotOf(tx, current, authorIds)
    const body = input.body !== undefined ? cleanBlocks(input.body) : undefined
    const links: Partial<Links> = {
      authorIds: input.authorIds,
      tagIds: input.tagIds,
      // Related links come from both the list and the body; either change rewrites them.
      ...((input.relatedArticleIds !== undefined || body !== undefined) && {
        relatedArticleIds: input.relatedArticleIds ?? before.relatedArticleIds,
        body: body ?? before.body
      })
    }
    await assertReferences(tx, input, links, id)
    const columns = columnsOf(input)
    const standfirst = columns.standfirst !== undefined ? columns.standfirst : current.standfirst
    const recompute = body !== undefined || columns.standfirst !== undefined
    const write = async (w: Db, slug: string) => {
      await w.update(articles).set({
        ...columns,
        slug,
        ...(body !== undefined && { body }),
        ...(recompute && derived(body ?? before.body ?? [], standfirst ?? null)),
        ...(input.substantiveUpdate === true && { contentUpdatedAt: opts.now }),
        version: current.version + 1,
        updatedAt: opts.now
      }).where(eq(articles.id, id))
    }
    // Only a new slug can clash; keeping the old one needs no savepoint.
    if (input.slug === undefined || input.slug === current.slug) await write(tx, current.slug)
    else {
      await assertNotReserved(tx, 'article', input.slug, id)
      await withSlug(tx, 'articles_slug_key', input.slug, async () => current.slug, write)
      // The slug readers knew keeps leading here, also when the article is down for now (it had
      // it while public); one only staff ever saw is not kept.
      const wasPublic = state?.public === true || (current.firstPublishedAt !== null && current.firstPublishedAt <= opts.now)
      await slugChanged(tx, 'article', id, current.slug, input.slug, wasPublic, opts.now)
    }
    await writeLinks(tx, id, links)
    // What the change set, as stored (cleaned), against what was there.
    const after: UpdateArticle = {
      ...(input.headline !== undefined && { headline: columns.headline }),
      ...(input.slug !== undefined && { slug: input.slug }),
      ...(input.standfirst !== undefined && { standfirst: columns.standfirst }),
      ...(input.dateline !== undefined && { dateline: columns.dateline }),
      ...(body !== undefined && { body }),
      ...(input.excerpt !== undefined && { excerpt: columns.customExcerpt }),
      ...(input.authorIds !== undefined && { authorIds: input.authorIds }),
      ...(input.leadPhotoId !== undefined && { leadPhotoId: input.leadPhotoId }),
      ...(input.leadPhotoCaption !== undefined && { leadPhotoCaption: columns.leadPhotoCaption }),
      ...(input.sectionId !== undefined && { sectionId: input.sectionId }),
      ...(input.tagIds !== undefined && { tagIds: input.tagIds }),
      ...(input.relatedArticleIds !== undefined && { relatedArticleIds: input.relatedArticleIds }),
      ...(input.commentsOpen !== undefined && { commentsOpen: input.commentsOpen }),
      ...(input.seo !== undefined && { seo: { title: columns.seoTitle !== undefined ? columns.seoTitle : before.seo?.title ?? null, description: columns.seoDescription !== undefined ? columns.seoDescription : before.seo?.description ?? null } })
    }
    await tx.insert(articleRevisions).values({
      articleId: id,
      articleVersion: current.version,
      snapshot: before,
      status: effectiveStatus(current, opts.now),
      publishedAt: current.publishedAt,
      changedFields: changedFields(before, after),
      restoredFromId: opts.restoredFromId ?? null,
      createdById: opts.actor?.userId ?? null,
      createdAt: opts.now
    })
    await recordArticleChange(tx, id, state, opts.now)
    return id
  })
}

export type Transition = 'publish' | 'unpublish' | 'archive'

/**
 * When an article goes public: the editor's `publishedAt` if given; else a published or scheduled
 * article keeps its time (publishing again does not move it to the top), and one taken down
 * (draft or archived) that had already gone public goes back to its first publication time.
 * Anything else (never public, or a schedule withdrawn before it came) publishes now.
 */
function publicationTimes (current: Pick<LoadedRow, 'status' | 'publishedAt' | 'firstPublishedAt'>, now: Date, given?: Date) {
  const live = current.status === 'published' || current.status === 'scheduled'
  const wentPublic = current.firstPublishedAt !== null && current.firstPublishedAt <= now ? current.firstPublishedAt : null
  const publishedAt = given ?? (live ? current.publishedAt : null) ?? wentPublic ?? now
  // Set once the article has been public; until then it follows the (first) schedule.
  return { publishedAt, firstPublishedAt: wentPublic ?? publishedAt }
}

export async function changeStatus (db: Db, id: string, transition: Transition, opts: { ifMatch?: IfMatch, now: Date, publishedAt?: string, guard: Guard }) {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const { current } = await lockArticle(tx, id, opts.ifMatch, opts.guard)
    const state = await articleState(tx, id, opts.now)
    let next: Partial<typeof articles.$inferInsert>
    // A schedule withdrawn before its time never made the article public: it leaves no first
    // publication behind, or a later publish would put the story back at a time it never ran.
    const neverPublic = current.firstPublishedAt !== null && current.firstPublishedAt > opts.now ? { firstPublishedAt: null } : {}
    if (transition === 'publish') {
      const times = publicationTimes(current, opts.now, opts.publishedAt ? new Date(opts.publishedAt) : undefined)
      next = { status: times.publishedAt > opts.now ? 'scheduled' : 'published', ...times }
    } else if (transition === 'unpublish') {
      if (current.status !== 'published' && current.status !== 'scheduled') {
        throw new AppError('INVALID_STATE', `Only a published or scheduled article can be unpublished; this one is ${current.status}.`)
      }
      next = { status: 'draft', publishedAt: null, ...neverPublic }
    } else {
      if (current.status === 'archived') throw new AppError('INVALID_STATE', 'The article is already archived.')
      next = { status: 'archived', ...neverPublic }
    }
    await tx.update(articles).set({ ...next, version: current.version + 1, updatedAt: opts.now }).where(eq(articles.id, id))
    await recordArticleChange(tx, id, state, opts.now)
    return id
  })
}

export async function deleteArticle (db: Db, id: string, opts: { ifMatch?: IfMatch, now: Date, guard: Guard }) {
  await db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    await lockArticle(tx, id, opts.ifMatch, opts.guard)
    const state = await articleState(tx, id, opts.now)
    const linking = await tx.select({ id: articles.id, label: articles.headline }).from(articleRelated)
      .innerJoin(articles, eq(articles.id, articleRelated.articleId))
      .where(and(eq(articleRelated.relatedId, id), ne(articleRelated.articleId, id))).limit(50)
    assertUnreferenced('The article', linking.map((r) => ({ resource: 'article', ...r })))
    await tx.delete(articles).where(eq(articles.id, id))
    await dropRedirectsOf(tx, 'article', id, opts.now)
    await recordArticleChange(tx, id, state, opts.now)
  })
}

// ---- revisions -------------------------------------------------------------------------

export async function listRevisions (db: Db, articleId: string, { limit, cursor: cursorRaw, total }: { limit: number, cursor?: string, total?: boolean }) {
  await getArticleRow(db, { id: articleId }, { staff: true, now: new Date(0) })
  // Newest first by the version each revision captured: unique per article and strictly
  // increasing, unlike createdAt, which two quick edits (or a frozen clock) can share.
  const sort = parseSort('-articleVersion', { articleVersion: { expr: articleRevisions.articleVersion, kind: 'number' } }, '-articleVersion')
  const { where, orderBy } = keyset(sort, articleRevisions.id, decodeCursor(cursorRaw, sort))
  const ofArticle = eq(articleRevisions.articleId, articleId)
  // Who made each change, by name: joined in the page's one query.
  const rows = await db.select({ revision: articleRevisions, userName: users.name }).from(articleRevisions)
    .leftJoin(users, eq(users.id, articleRevisions.createdById))
    .where(and(ofArticle, where)).orderBy(...orderBy).limit(limit + 1)
  const presented = rows.map(({ revision, userName }) => ({
    ...revision,
    createdBy: revision.createdById && userName !== null ? { id: revision.createdById, name: userName } : null
  }))
  return paginate(presented, limit, sort, (r) => r.articleVersion, await totalOf(db, total, articleRevisions, ofArticle))
}

export async function getRevision (db: Db, articleId: string, revisionId: string) {
  const [row] = await db.select().from(articleRevisions).where(and(eq(articleRevisions.id, revisionId), eq(articleRevisions.articleId, articleId)))
  if (!row) throw notFound('Revision')
  return row
}

