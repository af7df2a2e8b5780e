// /v1/articles: published stories for everyone; drafts, writes and status changes for staff.
import type { Routes } from '../../http/type-provider.js'
import type { Db } from '../../db/client.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { hasRole } from '../../http/auth.js'
import { setVersion } from '../../http/caching.js'
import { AppError } from '../../http/errors.js'
import { fieldNames, parseFields, parseInclude } from '../../http/fields.js'
import { committed } from '../../http/idempotency.js'
import { OPTIONAL_BODY } from '../../http/openapi.js'
import { ifMatch, location } from '../../http/replies.js'
import { IdParams, SlugParams, errorResponses, page, ref } from '../../http/schemas.js'
import { movedFrom, movedResponse } from '../redirects/routes.js'
import { presentArticles, type LoadedRow, type View } from './present.js'
import {
  ArticleSchema, ArticleSummarySchema, CreateArticleBody, GetArticleQuery, ListArticlesQuery, ListRevisionsQuery, PublishBody,
  RevisionParams, RevisionSchema, UpdateArticleBody, articleIncludes
} from './schemas.js'
import {
  changeStatus, createArticle, createStandsAlone, deleteArticle, getArticleRow, getRevision, listArticles, listRevisions,
  updateArticle, type Guard, type Transition
} from './service.js'

const tags = ['Articles']
const fields = fieldNames(ArticleSchema)

/** Authors may change only their own drafts; editors and admins may change anything. */
export const guardFor = (request: FastifyRequest): Guard => (row, authorIds) => {
  const p = request.principal!
  if (hasRole(p, 'editor')) return
  const own = row.createdById === p.userId || (p.authorId !== null && authorIds.includes(p.authorId))
  if (!own) throw new AppError('FORBIDDEN', 'Authors may change only their own articles.')
  if (row.status !== 'draft') throw new AppError('FORBIDDEN', `Authors may change only drafts; this article is ${row.status}.`)
}

const articleRoutes: Routes = async (app) => {
  const articleUrl = (slug: string) => app.config.ARTICLE_URL_TEMPLATE.replace('{slug}', encodeURIComponent(slug))

  const viewOf = (request: FastifyRequest, query: { fields?: string, include?: string }, summary: boolean): View => ({
    staff: request.principal !== null,
    now: app.now(),
    include: parseInclude(query.include, articleIncludes),
    fields: parseFields(query.fields, fields),
    summary,
    articleUrl,
    urls: app.publicUrls,
    photoSizes: app.config.BODY_PHOTO_SIZES,
    // Anonymous reads are cached and purged by tag; the tags are collected as they are built.
    tags: request.principal === null && request.method === 'GET' ? (request.cacheTags ??= []) : undefined
  })

  async function one (request: FastifyRequest, reply: FastifyReply, row: LoadedRow, query: { fields?: string, include?: string } = {}, db: Db = app.db) {
    setVersion(reply, row)
    const [article] = await presentArticles(db, [row], viewOf(request, query, false))
    return article
  }
  // A write's answer, read in the write's own transaction (committed()): once it commits, the
  // answer is in hand, and no read after the commit can turn it into a 503.
  const reload = (db: Db, request: FastifyRequest, reply: FastifyReply, id: string) =>
    getArticleRow(db, { id }, { staff: true, now: app.now() }).then((row) => one(request, reply, row, {}, db))

  app.get('/', {
    config: { access: 'public' },
    schema: {
      operationId: 'listArticles', summary: 'List articles (summaries unless `fields` asks for the body)', tags,
      querystring: ListArticlesQuery, response: { 200: page(ref(ArticleSummarySchema)) }
    }
  }, async (request) => {
    const view = viewOf(request, request.query, true)
    const result = await listArticles(app.db, request.query, view)
    return { data: await presentArticles(app.db, result.data, view), meta: result.meta }
  })

  app.get('/:id', {
    config: { access: 'public' },
    schema: { operationId: 'getArticle', summary: 'Get an article', tags, params: IdParams, querystring: GetArticleQuery, response: { 200: ref(ArticleSchema), ...errorResponses(404) } }
  }, async (request, reply) => {
    const view = viewOf(request, request.query, false)
    return one(request, reply, await getArticleRow(app.db, { id: request.params.id }, view), request.query)
  })

  app.get('/by-slug/:slug', {
    config: { access: 'public' },
    schema: { operationId: 'getArticleBySlug', summary: 'Get an article by its slug (an old slug: 301 to the current one)', tags, params: SlugParams, querystring: GetArticleQuery, response: { 200: ref(ArticleSchema), ...movedResponse, ...errorResponses(404) } }
  }, async (request, reply) => {
    const view = viewOf(request, request.query, false)
    let row: LoadedRow
    try {
      row = await getArticleRow(app.db, { slug: request.params.slug }, view)
    } catch (error) {
      return movedFrom(request, reply, 'article', request.params.slug, error)
    }
    return one(request, reply, row, request.query)
  })

  // A create that refers to nothing is one batched insert, answered from its own row: it needs
  // a transaction only to store an Idempotency-Key's answer with it.
  app.post('/', {
    config: { access: 'author' },
    schema: { operationId: 'createArticle', summary: 'Create a draft article', tags, body: CreateArticleBody, response: { 201: ref(ArticleSchema), ...errorResponses(409) } }
  }, async (request, reply) => committed(request, reply, async (db) => {
    const { id, row } = await createArticle(db, request.body, request.principal, app.now())
    location(reply.code(201), `/v1/articles/${id}`)
    return row ? one(request, reply, row, {}, db) : reload(db, request, reply, id)
  }, { transaction: !createStandsAlone(request.body, request.principal) }))

  app.patch('/:id', {
    config: { access: 'author' },
    schema: { operationId: 'updateArticle', summary: 'Update an article (authors: their own drafts)', tags,
      description: 'Changes only the fields given, and keeps the earlier version as a revision (listing the fields changed). `substantiveUpdate: true` tells readers the story was updated in substance: `updatedAt` becomes now; without it `updatedAt` stays, and only `modifiedAt` (staff) moves.',
      params: IdParams, body: UpdateArticleBody, response: { 200: ref(ArticleSchema), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => committed(request, reply, async (db) => {
    await updateArticle(db, request.params.id, request.body, { ifMatch: ifMatch(request), now: app.now(), actor: request.principal, guard: guardFor(request) })
    return reload(db, request, reply, request.params.id)
  }))

  app.delete('/:id', {
    config: { access: 'author' },
    schema: { operationId: 'deleteArticle', summary: 'Delete an article (authors: their own drafts)', tags, params: IdParams, response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => {
    await deleteArticle(app.db, request.params.id, { ifMatch: ifMatch(request), now: app.now(), guard: guardFor(request) })
    return reply.code(204).send()
  })

  const transitions: Array<[Transition, string]> = [
    ['publish', 'Publish now, at a past time, or schedule for a future `publishedAt`'],
    ['unpublish', 'Take a published or scheduled article back to draft'],
    ['archive', 'Archive an article: it leaves public lists and pages']
  ]
  for (const [transition, summary] of transitions) {
    app.post(`/:id/${transition}`, {
      config: { access: 'editor' },
      // The body is optional: a bare POST publishes now.
      preValidation: async (request) => { request.body ??= {} },
      schema: {
        operationId: `${transition}Article`, summary, tags, params: IdParams,
        ...(transition === 'publish' && { body: PublishBody, [OPTIONAL_BODY]: true }),
        response: { 200: ref(ArticleSchema), ...errorResponses(404, 409, 412) }
      }
    }, async (request, reply) => committed(request, reply, async (db) => {
      const publishedAt = (request.body as { publishedAt?: string } | undefined)?.publishedAt
      await changeStatus(db, request.params.id, transition, { ifMatch: ifMatch(request), now: app.now(), publishedAt, guard: () => {} })
      return reload(db, request, reply, request.params.id)
    }))
  }

  app.get('/:id/revisions', {
    config: { access: 'author' },
    schema: { operationId: 'listArticleRevisions', summary: 'List an article\'s earlier versions, newest first', tags,
      description: 'Each revision is the article as it was before a change, with who made the change (`createdBy`, with their name), the article\'s `status` and `publishedAt` then, the `changedFields`, and `restoredFromId` when the change was a restore. Revisions made before these were recorded show null for `status`, `publishedAt` and `changedFields`.', params: IdParams, querystring: ListRevisionsQuery, response: { 200: page(ref(RevisionSchema)), ...errorResponses(404) } }
  }, async (request) => listRevisions(app.db, request.params.id, request.query))

  app.post('/:id/revisions/:revisionId/restore', {
    config: { access: 'author' },
    schema: { operationId: 'restoreArticleRevision', summary: 'Restore an earlier version (itself kept as a revision)', tags,
      description: 'Writes the revision\'s snapshot back as an edit would: the version it replaces becomes a new revision, whose `restoredFromId` names the one restored and whose `changedFields` lists what the restore changed.', params: RevisionParams, response: { 200: ref(ArticleSchema), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => committed(request, reply, async (db) => {
    const revision = await getRevision(db, request.params.id, request.params.revisionId)
    await updateArticle(db, request.params.id, revision.snapshot, { ifMatch: ifMatch(request), now: app.now(), actor: request.principal, guard: guardFor(request), restoredFromId: revision.id })
    return reload(db, request, reply, request.params.id)
  }))
}

export default articleRoutes
