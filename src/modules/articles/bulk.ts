// Bulk editing: one action on many articles, all or nothing. Each article goes through the same
// service function as its single route (changeStatus, updateArticle, deleteArticle), so its
// revision and its change-log entry are the ones that route would write.
import { and, asc, inArray } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { articleRelated, articleTags, articles } from '../../db/schema.js'
import type { Principal } from '../../http/auth.js'
import { AppError, type ErrorCode } from '../../http/errors.js'
import type { Reference } from '../../lib/references.js'
import { missingTaxonomy } from '../taxonomy/service.js'
import type { BulkArticles } from './bulk-schemas.js'
import { changeStatus, deleteArticle, updateArticle, type Guard } from './service.js'

/** The most tags an article may hold (as CreateArticleBody allows). */
const MAX_TAGS = 50

type FieldError = { path: string, in: 'body', message: string }
type Blocker = FieldError & { code: ErrorCode, references?: Reference[] }

// Only editors and admins reach the route: there is nothing more to guard.
const anyone: Guard = () => {}

function refuse (errors: FieldError[]): never {
  throw new AppError('VALIDATION_FAILED', `${errors.map((e) => `${e.path} ${e.message}`).join('; ')}; nothing was changed.`, { errors })
}

/**
 * One problem for every id that blocks the action. An id that names no article makes the request
 * a bad one (400, as bulk comment moderation answers); otherwise it is a conflict with the
 * articles' state (409), coded as the single routes code it when every id agrees.
 */
function blocked (blockers: Blocker[]): never {
  const errors = blockers.map(({ path, message }) => ({ path, in: 'body' as const, message }))
  const ids = blockers.map((b) => b.path).join(', ')
  if (blockers.some((b) => b.code === 'NOT_FOUND' || b.code === 'VALIDATION_FAILED')) {
    throw new AppError('VALIDATION_FAILED', `These ids block the action: ${ids}; nothing was changed.`, { errors })
  }
  const codes = new Set(blockers.map((b) => b.code))
  const code: ErrorCode = codes.size === 1 ? blockers[0].code : 'CONFLICT'
  const references = blockers.flatMap((b) => b.references ?? [])
  throw new AppError(code, `These ids block the action: ${ids}; nothing was changed.`, { errors, ...(references.length > 0 && { references }) })
}

/** Runs the action on every article, or on none; returns the ids (lower case, in request order). */
export async function bulkEdit (db: Db, input: BulkArticles, opts: { now: Date, actor: Principal | null }): Promise<string[]> {
  // The validator has answered ids in lower case (src/http/compilers.ts), so a repeat in another
  // case was already refused as a duplicate.
  const ids = input.ids
  const tagIds = 'tagIds' in input ? input.tagIds : []

  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    // Unknown tags or section block every article alike: a 400 naming the field, before any work.
    if (tagIds.length > 0) {
      const missing = new Set(await missingTaxonomy(tx, 'tag', tagIds))
      const errors = tagIds.flatMap((id, i) => missing.has(id) ? [{ path: `/tagIds/${i}`, in: 'body' as const, message: 'is not the id of a tag' }] : [])
      if (errors.length > 0) refuse(errors)
    }
    if (input.action === 'setSection' && input.sectionId !== null && (await missingTaxonomy(tx, 'section', [input.sectionId])).length > 0) {
      refuse([{ path: '/sectionId', in: 'body', message: 'is not the id of a section' }])
    }

    // Every article locked up front, in id order: two bulk requests over overlapping articles
    // queue one behind the other instead of each holding what the other waits for. A delete
    // takes the lock its DELETE needs, so it never has to strengthen it midway.
    const rows = await tx.select({ id: articles.id, sectionId: articles.sectionId }).from(articles)
      .where(inArray(articles.id, ids)).orderBy(asc(articles.id)).for(input.action === 'delete' ? 'update' : 'no key update')
    const found = new Map(rows.map((r) => [r.id, r]))
    const blockers: Blocker[] = []
    ids.forEach((id, i) => { if (!found.has(id)) blockers.push({ path: `/ids/${i}`, in: 'body', message: 'is not the id of an article', code: 'NOT_FOUND' }) })

    const tagsOf = new Map<string, string[]>()
    if (input.action === 'addTags' || input.action === 'removeTags') {
      const links = await tx.select({ articleId: articleTags.articleId, tagId: articleTags.tagId }).from(articleTags)
        .where(inArray(articleTags.articleId, ids)).orderBy(asc(articleTags.articleId), asc(articleTags.position))
      for (const l of links) tagsOf.set(l.articleId, [...(tagsOf.get(l.articleId) ?? []), l.tagId])
    }
    if (input.action === 'delete') {
      // Links among the articles deleted together go with them; a link from outside still blocks.
      await tx.delete(articleRelated).where(and(inArray(articleRelated.articleId, ids), inArray(articleRelated.relatedId, ids)))
    }

    const step = async (w: Db, id: string, i: number): Promise<void> => {
      switch (input.action) {
        case 'publish':
        case 'unpublish':
        case 'archive':
          await changeStatus(w, id, input.action, { now: opts.now, guard: anyone, ...(input.action === 'publish' && { publishedAt: input.publishedAt }) })
          return
        case 'delete':
          await deleteArticle(w, id, { now: opts.now, guard: anyone })
          return
        case 'addTags':
        case 'removeTags': {
          const current = tagsOf.get(id) ?? []
          const next = input.action === 'addTags'
            ? [...current, ...tagIds.filter((t) => !current.includes(t))]
            : current.filter((t) => !tagIds.includes(t))
          if (next.length > MAX_TAGS) {
            blockers.push({ path: `/ids/${i}`, in: 'body', message: `would have ${next.length} tags; an article holds at most ${MAX_TAGS}`, code: 'CONFLICT' })
            return
          }
          if (next.length !== current.length) await updateArticle(w, id, { tagIds: next }, { now: opts.now, actor: opts.actor, guard: anyone })
          return
        }
        case 'setSection': {
          const sectionId = input.sectionId
          if (found.get(id)!.sectionId !== sectionId) await updateArticle(w, id, { sectionId }, { now: opts.now, actor: opts.actor, guard: anyone })
        }
      }
    }

    // Each service function runs in a savepoint of its own (its transaction, nested in this one):
    // one that fails is rolled back alone and named, and the rest still run, so the problem
    // names every blocking id at once.
    for (const [i, id] of ids.entries()) {
      if (!found.has(id)) continue
      try {
        await step(tx, id, i)
      } catch (error) {
        if (!(error instanceof AppError) || error.statusCode >= 500) throw error
        blockers.push({ path: `/ids/${i}`, in: 'body', message: error.message, code: error.code, references: error.extra.references })
      }
    }
    if (blockers.length > 0) blocked(blockers.sort((a, b) => Number(a.path.split('/')[2]) - Number(b.path.split('/')[2])))
    return ids
  })
}
