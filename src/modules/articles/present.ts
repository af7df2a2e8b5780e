// Turns article rows into API objects: byline, tags, related links, embeds and the rendered
// body, each loaded for a whole page with one query, so a page costs the same whatever its size.
import { and, asc, eq, getTableColumns, inArray, lte, sql, type Placeholder, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { articleAuthors, articleCorrections, articleRelated, articleTags, articles, authors, sections, tags } from '../../db/schema.js'
import { wire } from '../../http/wire.js'
import { entityTag } from '../../lib/cache-tags.js'
import type { PublicUrls } from '../../lib/public-urls.js'
import { presentAuthors } from '../authors/service.js'
import { presentPhoto } from '../photos/present.js'
import { photosByIds } from '../photos/service.js'
import { photoIdsOf, relatedIdsOf, renderBlocks, renderCorrections } from './body.js'
import { editedAtOf } from '../corrections/present.js'
import type { ArticleInclude, Block } from './schemas.js'

const { search: _search, bodyText: _bodyText, ...fullColumns } = getTableColumns(articles)
const { body: _body, ...summaryColumns } = fullColumns
export { fullColumns, summaryColumns }

export type ArticleRow = typeof articles.$inferSelect
export type LoadedRow = Omit<ArticleRow, 'search' | 'bodyText' | 'body'> & {
  body?: unknown[]
  /** The linked ids, when the row was read with them (one article: one query, not four). */
  links?: ArticleLinks
  /** Its corrections, oldest first, when read with the row (or known to be none). */
  corrections?: ArticleCorrection[]
}

export type ArticleCorrection = Pick<typeof articleCorrections.$inferSelect, 'id' | 'text' | 'publishedAt' | 'history'>

export type ArticleLinks = { authorIds: string[], tagIds: string[], relatedArticleIds: string[] }

// Qualified by hand: drizzle leaves the table name off columns of a single-table select.
const outerId = sql.raw('"articles"."id"')

/**
 * An article's byline, tags and listed related articles (those the reader may see) as id arrays,
 * to select with the article itself.
 */
export const linkColumns = (view: { staff: boolean, now: Date | Placeholder }) => ({
  linkedAuthorIds: sql<string[]>`array(select ${articleAuthors.authorId} from ${articleAuthors} where ${articleAuthors.articleId} = ${outerId} order by ${articleAuthors.position})`,
  linkedTagIds: sql<string[]>`array(select ${articleTags.tagId} from ${articleTags} where ${articleTags.articleId} = ${outerId} order by ${articleTags.position})`,
  linkedRelatedIds: sql<string[]>`array(select r.related_id from ${articleRelated} r join ${articles} x on x.id = r.related_id
    where r.article_id = ${outerId} and r.listed${view.staff ? sql`` : sql` and x.status in ('published', 'scheduled') and x.published_at <= ${view.now instanceof Date ? view.now.toISOString() : view.now}::timestamptz`}
    order by r.position)`,
  linkedCorrections: sql<Array<{ id: string, text: string, publishedAt: string, history: ArticleCorrection['history'] }>>`coalesce((select json_agg(json_build_object('id', c.id, 'text', c.text, 'publishedAt', c.published_at, 'history', c.history) order by c.published_at, c.id)
    from ${articleCorrections} c where c.article_id = ${outerId}), '[]'::json)`
})

export type View = {
  staff: boolean
  now: Date
  include: Set<ArticleInclude>
  /** Sparse fieldset; undefined means the default representation. */
  fields?: Set<string>
  /** Lists leave the body out unless `fields` asks for it. */
  summary: boolean
  articleUrl: (slug: string) => string
  urls: PublicUrls
  /** `sizes` of the photos in bodyHtml. */
  photoSizes: string
  /** Collects the cache tags of everything the response shows (src/lib/cache-tags.ts). */
  tags?: string[]
}

// Lists leave these out unless `fields` names them.
const bodyFields = ['body', 'bodyHtml', 'corrections']

export function wants (view: View, key: string): boolean {
  if (view.fields) return key === 'id' || view.fields.has(key)
  return !(view.summary && bodyFields.includes(key))
}

export const needsBody = (view: View) => wants(view, 'body') || wants(view, 'bodyHtml')

/** Published, or scheduled and due: what anonymous readers may see (now, or a prepared statement's time). */
export const publicArticles = (now: Date | Placeholder | SQL): SQL =>
  and(inArray(articles.status, ['published', 'scheduled']), lte(articles.publishedAt, now))!

export const effectiveStatus = (row: Pick<ArticleRow, 'status' | 'publishedAt'>, now: Date) =>
  row.status === 'scheduled' && row.publishedAt !== null && row.publishedAt <= now ? 'published' : row.status

function groupBy<T, V> (rows: T[], key: (r: T) => string, value: (r: T) => V) {
  const map = new Map<string, V[]>()
  for (const r of rows) {
    const k = key(r)
    const list = map.get(k)
    if (list) list.push(value(r))
    else map.set(k, [value(r)])
  }
  return map
}

async function loadRelatedRefs (db: Db, where: SQL, view: View) {
  return db.select({ articleId: articleRelated.articleId, id: articles.id, slug: articles.slug, headline: articles.headline })
    .from(articleRelated)
    .innerJoin(articles, eq(articles.id, articleRelated.relatedId))
    .where(view.staff ? where : and(where, publicArticles(view.now)))
    .orderBy(asc(articleRelated.articleId), asc(articleRelated.position))
}

/**
 * What a presented article was built from: itself, and what it embeds (byline, section, tags,
 * photos, related stories' headlines). Ids alone need no tag: what they point at cannot be
 * deleted while referenced, and a related story that comes or goes evicts the stories linking
 * to it (src/modules/articles/changes.ts).
 */
function responseTags (row: LoadedRow, full: Record<string, unknown>, view: View, rendered: boolean, avatars: string[]): string[] {
  const inc = view.include
  const body = rendered ? (row.body ?? []) as Block[] : []
  const embedded = (key: ArticleInclude) => inc.has(key)
  return [
    entityTag('article', row.id),
    ...(embedded('authors') || embedded('authors.avatar') ? (full.authorIds as string[]).map((id) => entityTag('author', id)) : []),
    ...(embedded('authors.avatar') ? avatars : []),
    ...(embedded('section') && row.sectionId ? [entityTag('section', row.sectionId)] : []),
    ...(embedded('tags') ? (full.tagIds as string[]).map((id) => entityTag('tag', id)) : []),
    ...(embedded('leadPhoto') && row.leadPhotoId ? [entityTag('photo', row.leadPhotoId)] : []),
    ...(embedded('relatedArticles') ? (full.relatedArticleIds as string[]).map((id) => entityTag('article', id)) : []),
    ...photoIdsOf(body).map((id) => entityTag('photo', id)),
    ...relatedIdsOf(body).map((id) => entityTag('article', id))
  ]
}

/**
 * What readers are told is the last update: the later of the last substantive update (an editor's
 * `substantiveUpdate`, a correction) and the publication; the technical modification time only
 * for an article that has neither.
 */
export function substantiveUpdate (row: Pick<ArticleRow, 'contentUpdatedAt' | 'publishedAt' | 'updatedAt'>): Date {
  const { contentUpdatedAt: content, publishedAt: published } = row
  if (content && published) return content > published ? content : published
  return content ?? published ?? row.updatedAt
}

export async function presentArticles (db: Db, rows: LoadedRow[], view: View): Promise<Array<Record<string, unknown>>> {
  if (rows.length === 0) return []
  const ids = rows.map((r) => r.id)
  const inc = view.include
  const want = (key: string) => wants(view, key)
  // `authors.avatar` is `authors` plus one query for the page's avatars.
  const withAvatars = inc.has('authors.avatar')
  const embedAuthors = withAvatars || inc.has('authors')
  const included = (key: string) => (key === 'authors' ? embedAuthors : inc.has(key as ArticleInclude))

  // Rows read with their links need no query for the ids alone.
  const unlinked = rows.some((r) => !r.links)
  // Where the objects are loaded, their ids come from the same query, so the two always agree.
  const loadBylines = (want('authorIds') && unlinked) || embedAuthors
  const bylines = loadBylines
    ? await db.select({ articleId: articleAuthors.articleId, author: authors }).from(articleAuthors)
      .innerJoin(authors, eq(authors.id, articleAuthors.authorId))
      .where(inArray(articleAuthors.articleId, ids)).orderBy(asc(articleAuthors.articleId), asc(articleAuthors.position))
    : []
  const presentedAuthors = embedAuthors
    ? new Map((await presentAuthors(db, [...new Map(bylines.map((b) => [b.author.id, b.author])).values()], { include: new Set(withAvatars ? ['avatar'] : []), staff: view.staff, urls: view.urls })).map((a) => [a.id, a]))
    : undefined
  const byArticleAuthors = groupBy(bylines, (b) => b.articleId, (b) => b.author.id)

  const loadTags = (want('tagIds') && unlinked) || inc.has('tags')
  const tagRows: Array<{ articleId: string, tag: typeof tags.$inferSelect }> = loadTags
    ? await db.select({ articleId: articleTags.articleId, tag: tags }).from(articleTags)
      .innerJoin(tags, eq(tags.id, articleTags.tagId))
      .where(inArray(articleTags.articleId, ids)).orderBy(asc(articleTags.articleId), asc(articleTags.position))
    : []
  const byArticleTags = groupBy(tagRows, (t) => t.articleId, (t) => t.tag)

  const loadRelated = (want('relatedArticleIds') && unlinked) || inc.has('relatedArticles')
  const related = loadRelated
    ? await loadRelatedRefs(db, and(inArray(articleRelated.articleId, ids), eq(articleRelated.listed, true))!, view)
    : []
  const byArticleRelated = groupBy(related, (r) => r.articleId, ({ articleId: _a, ...ref }) => ref)

  const leadPhotos = inc.has('leadPhoto')
    ? await photosByIds(db, [...new Set(rows.flatMap((r) => (r.leadPhotoId ? [r.leadPhotoId] : [])))])
    : undefined

  const sectionIds = [...new Set(rows.flatMap((r) => (r.sectionId ? [r.sectionId] : [])))]
  const sectionMap = inc.has('section') && sectionIds.length > 0
    ? new Map((await db.select().from(sections).where(inArray(sections.id, sectionIds))).map((s) => [s.id, s]))
    : new Map<string, typeof sections.$inferSelect>()

  // Corrections, for their own field and the end of bodyHtml: one query for the page.
  const correctionRows: ArticleCorrection[] = (want('corrections') || want('bodyHtml')) && rows.some((r) => !r.corrections)
    ? await db.select().from(articleCorrections).where(inArray(articleCorrections.articleId, ids))
      .orderBy(asc(articleCorrections.articleId), asc(articleCorrections.publishedAt), asc(articleCorrections.id))
    : []
  const byArticleCorrections = groupBy(correctionRows as Array<ArticleCorrection & { articleId: string }>, (c) => c.articleId, (c) => c)

  let renderHtml: ((blocks: Block[]) => string) | undefined
  // The articles that body blocks link to and the reader may see: `bodyHtml` renders only
  // those, and a reader's raw `body` keeps only their `related` blocks (as relatedArticleIds
  // lists only them), so no unpublished article's id leaves through either.
  const blocks = needsBody(view) ? rows.flatMap((r) => (r.body ?? []) as Block[]) : []
  const relatedIds = want('bodyHtml') || (!view.staff && want('body')) ? relatedIdsOf(blocks) : []
  const visible = new Map((relatedIds.length > 0
    ? await db.select({ id: articles.id, slug: articles.slug, headline: articles.headline }).from(articles)
      .where(view.staff ? inArray(articles.id, relatedIds) : and(inArray(articles.id, relatedIds), publicArticles(view.now)))
    : []).map((a) => [a.id, a]))
  const readerBody = (body: Block[]) => (view.staff ? body : body.filter((b) => b.type !== 'related' || visible.has(b.articleId)))
  if (want('bodyHtml')) {
    const photoMap = await photosByIds(db, photoIdsOf(blocks))
    const ctx = {
      photos: photoMap,
      related: visible,
      articleUrl: view.articleUrl,
      mediaUrl: view.urls.media,
      photoSizes: view.photoSizes
    }
    renderHtml = (b) => renderBlocks(b, ctx)
  }

  return rows.map((row) => {
    const authorIds = (loadBylines ? byArticleAuthors.get(row.id) : row.links?.authorIds) ?? []
    const photo = row.leadPhotoId ? leadPhotos?.get(row.leadPhotoId) ?? null : null
    const corrections = row.corrections ?? byArticleCorrections.get(row.id) ?? []
    const full: Record<string, unknown> = {
      id: row.id,
      slug: row.slug,
      headline: row.headline,
      standfirst: row.standfirst,
      dateline: row.dateline,
      body: row.body === undefined ? undefined : readerBody(row.body as Block[]),
      bodyHtml: renderHtml && renderHtml((row.body ?? []) as Block[]) + renderCorrections(corrections),
      corrections: corrections.map((c) => ({ id: c.id, text: c.text, publishedAt: c.publishedAt, editedAt: editedAtOf(c) })),
      excerpt: row.customExcerpt ?? row.autoExcerpt,
      status: effectiveStatus(row, view.now),
      publishedAt: row.publishedAt,
      firstPublishedAt: row.firstPublishedAt,
      createdAt: row.createdAt,
      updatedAt: substantiveUpdate(row),
      modifiedAt: view.staff ? row.updatedAt : undefined,
      authorIds,
      leadPhotoId: row.leadPhotoId,
      leadPhotoCaption: row.leadPhotoCaption,
      sectionId: row.sectionId,
      tagIds: (loadTags ? byArticleTags.get(row.id)?.map((t) => t.id) : row.links?.tagIds) ?? [],
      relatedArticleIds: (loadRelated ? byArticleRelated.get(row.id)?.map((r) => r.id) : row.links?.relatedArticleIds) ?? [],
      commentsOpen: row.commentsOpen,
      commentCount: row.commentCount,
      wordCount: row.wordCount,
      readingTimeMinutes: row.readingTimeMinutes,
      seo: { title: row.seoTitle, description: row.seoDescription }
    }
    if (embedAuthors) full.authors = authorIds.map((id) => wire(presentedAuthors!.get(id)!))
    if (inc.has('leadPhoto')) full.leadPhoto = photo && wire(presentPhoto({ ...photo, caption: row.leadPhotoCaption ?? photo.caption }, view.urls))
    const section = row.sectionId ? sectionMap.get(row.sectionId) : undefined
    if (inc.has('section')) full.section = section ? wire(section) : null
    if (inc.has('tags')) full.tags = (byArticleTags.get(row.id) ?? []).map(wire)
    if (inc.has('relatedArticles')) full.relatedArticles = byArticleRelated.get(row.id) ?? []
    if (view.tags) {
      const avatars = embedAuthors ? authorIds.flatMap((id) => { const a = presentedAuthors?.get(id) as { avatarId?: string | null } | undefined; return a?.avatarId ? [entityTag('photo', a.avatarId)] : [] }) : []
      view.tags.push(...responseTags(row, full, view, renderHtml !== undefined && wants(view, 'bodyHtml'), avatars))
    }
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(full)) {
      if (value !== undefined && (included(key) || want(key))) out[key] = value
    }
    return out
  })
}

