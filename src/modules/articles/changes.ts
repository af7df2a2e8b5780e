// What an article write changes for readers, recorded in the change log: whether the story
// appeared, went or changed, and the cache tags of everything that showed it before or shows it
// now (its page, the lists it was and is in, its photos when they come or go with it).
import { asc, eq } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { articleAuthors, articleBodyPhotos, articleRelated, articleTags, articles } from '../../db/schema.js'
import { articleTags as tagsOfArticle, entityTag, listTag } from '../../lib/cache-tags.js'
import { recordChange } from '../changes/record.js'

/** What decides an article's public page and list places. */
export type ArticleState = {
  id: string
  slug: string
  public: boolean
  archived: boolean
  sectionId: string | null
  authorIds: string[]
  tagIds: string[]
  photoIds: string[]
}

const isPublic = (row: { status: string, publishedAt: Date | null }, now: Date) =>
  (row.status === 'published' || row.status === 'scheduled') && row.publishedAt !== null && row.publishedAt <= now

/** The article as readers see it now (read in the write's transaction), or null once deleted. */
export async function articleState (db: Db, id: string, now: Date): Promise<ArticleState | null> {
  const [row] = await db.select({ slug: articles.slug, status: articles.status, publishedAt: articles.publishedAt, sectionId: articles.sectionId, leadPhotoId: articles.leadPhotoId })
    .from(articles).where(eq(articles.id, id))
  if (!row) return null
  // One after another: a transaction is one connection.
  const a = await db.select({ id: articleAuthors.authorId }).from(articleAuthors).where(eq(articleAuthors.articleId, id)).orderBy(asc(articleAuthors.position))
  const t = await db.select({ id: articleTags.tagId }).from(articleTags).where(eq(articleTags.articleId, id)).orderBy(asc(articleTags.position))
  const p = await db.select({ id: articleBodyPhotos.photoId }).from(articleBodyPhotos).where(eq(articleBodyPhotos.articleId, id))
  return {
    id,
    slug: row.slug,
    public: isPublic(row, now),
    archived: row.status === 'archived',
    sectionId: row.sectionId,
    authorIds: a.map((x) => x.id),
    tagIds: t.map((x) => x.id),
    photoIds: [...new Set([...(row.leadPhotoId ? [row.leadPhotoId] : []), ...p.map((x) => x.id)])].sort()
  }
}

const photoTags = (s: ArticleState) => s.photoIds.length > 0 ? [listTag('photo'), ...s.photoIds.map((id) => entityTag('photo', id))] : []

/**
 * Records the change from `before` to the article's state now, if readers could see it before
 * or can now; a draft's edit records nothing. Photos are public while a public story uses them
 * (src/modules/photos/service.ts), so they change with the story's coming and going.
 */
export async function recordArticleChange (db: Db, id: string, before: ArticleState | null, now: Date): Promise<void> {
  const after = await articleState(db, id, now)
  const was = before?.public === true
  const is = after?.public === true
  if (!was && !is) return
  const event = !was ? 'article.published' : is ? 'article.updated' : !after ? 'article.deleted' : after.archived ? 'article.archived' : 'article.unpublished'
  const photosMoved = was !== is || before!.photoIds.join() !== after!.photoIds.join()
  // Stories that link to it list it only while it is public: they change as it comes or goes.
  const linking = was === is ? [] : await db.select({ id: articleRelated.articleId }).from(articleRelated).where(eq(articleRelated.relatedId, id))
  const tags = [
    ...linking.map((r) => entityTag('article', r.id)),
    ...(was ? tagsOfArticle(before!) : []),
    ...(is ? tagsOfArticle(after!) : []),
    ...(photosMoved && before ? photoTags(before) : []),
    ...(photosMoved && after ? photoTags(after) : [])
  ]
  await recordChange(db, now, { entity: 'article', entityId: id, event, tags, data: { slug: (after ?? before)!.slug } })
}

/** A scheduled article whose time came: the ticker (src/modules/changes/ticker.ts) records it. */
export async function recordScheduledPublication (db: Db, id: string, now: Date): Promise<void> {
  const state = await articleState(db, id, now)
  if (!state?.public) return
  const linking = await db.select({ id: articleRelated.articleId }).from(articleRelated).where(eq(articleRelated.relatedId, id))
  const tags = [...linking.map((r) => entityTag('article', r.id)), ...tagsOfArticle(state), ...photoTags(state)]
  await recordChange(db, now, { entity: 'article', entityId: id, event: 'article.published', tags, data: { slug: state.slug } })
}
