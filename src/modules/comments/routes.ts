// Reader comments: /v1/articles/{id}/comments for everyone, /v1/comments for moderators.
import { tagResponse } from '../../http/public-cache.js'
import { commentsTag, entityTag } from '../../lib/cache-tags.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'
import { Type } from 'typebox'
import type { Db } from '../../db/client.js'
import { committed } from '../../http/idempotency.js'
import { hasRole } from '../../http/auth.js'
import { RATE_LIMITED } from '../../http/openapi.js'
import { enforceLimits } from '../../http/rate-limit.js'
import { ifMatch, location } from '../../http/replies.js'
import { IdParams, IdSchema, errorResponses, page, ref } from '../../http/schemas.js'
import type { Routes } from '../../http/type-provider.js'
import { setVersion } from '../../http/caching.js'
import type { Screen } from './screen.js'
import type { SharedMarks } from './shared-marks.js'
import {
  ArticleCommentsQuery, BulkModerateBody, BulkResultSchema, CommentSchema, CommentThreadSchema, ModerateBody,
  PostCommentBody, QueueQuery
} from './schemas.js'
import {
  deleteComment, getComment, listQueue, listThreads, moderate, moderationHistory, postComment, presentComment, replyingToOf, type CommentRow
} from './service.js'

const tags = ['Comments']

export type CommentOptions = {
  screen: Screen
  hashClient: (address: string) => Promise<string>
  maxDepth: number
  perClient: number
  perArticle: number
  sharedMarks?: SharedMarks
}

export function articleCommentRoutes (opts: CommentOptions): Routes {
  return async (app) => {
    // Two limits on one route. @fastify/rate-limit runs one limiter hook per request and
    // skips any later one, so both are applied here, in one hook: the client first (a
    // refused flood does not use up the article's budget), then the article. Clients are
    // counted by the keyed hash of their address (an IPv6 client by its /64, which one
    // subscriber holds whole), so no address is kept in the store either; articles by their
    // id in one spelling, since PostgreSQL reads `ABC…` and `abc…` as the same uuid.
    const perClient = app.createRateLimit({
      max: opts.perClient, timeWindow: 60_000, keyGenerator: async (r) => `comment-client:${await opts.hashClient(normalizeIP(r.ip))}`
    })
    const perArticle = app.createRateLimit({
      max: opts.perArticle, timeWindow: 60_000, keyGenerator: (r) => `comment-article:${String((r.params as { id?: string }).id).toLowerCase()}`
    })
    const limits = [
      { policy: 'comment-client', windowSeconds: 60, check: perClient },
      { policy: 'comment-article', windowSeconds: 60, check: perArticle }
    ]
    const floodControl = (request: FastifyRequest, reply: FastifyReply) => enforceLimits(request, reply, limits)

    app.get('/:id/comments', {
      config: { access: 'public' },
      schema: {
        operationId: 'listArticleComments', summary: 'Comment threads of an article (approved only, unless an editor asks)', tags,
        description: 'Anonymous readers and authors get approved comments without the commenters\' private fields. Editors and admins get every status (or the one `status` names) with `authorEmail`, `clientId`, `moderationReasons` and the moderation fields. Staff tokens also reach the comments of an article that is not public. `status` other than `approved` is a 401 without a token and a 403 for an author.',
        params: IdParams, querystring: ArticleCommentsQuery, response: { 200: page(ref(CommentThreadSchema)), ...errorResponses(401, 403, 404) }
      }
    }, async (request) => {
      // The article's comments, and the article (while it is not public, neither are they).
      tagResponse(request, [commentsTag(request.params.id), entityTag('article', request.params.id)])
      return listThreads(app.db, request.params.id, request.query, {
        staff: request.principal !== null, moderator: hasRole(request.principal, 'editor'), now: app.now()
      })
    })

    app.post('/:id/comments', {
      config: { access: 'public' },
      // Flood control: per client and per article, shared across instances through Redis.
      onRequest: floodControl,
      schema: {
        operationId: 'postComment', summary: 'Post a comment; it waits for moderation', tags,
        description: `Anyone may post. A new comment starts \`pending\` (clear spam goes to \`spam\`) and appears once an editor approves it. Replies (\`parentId\`) answer an approved comment of the same article and nest at most ${opts.maxDepth} levels deep.`,
        params: IdParams, body: PostCommentBody, [RATE_LIMITED]: true, response: { 201: ref(CommentSchema), ...errorResponses(404, 409) }
      }
    }, async (request, reply) => {
      const clientHash = await opts.hashClient(request.ip)
      // Batched with concurrent posts and answered from the inserted row; in a transaction only
      // when an Idempotency-Key's answer must be stored with it.
      return committed(request, reply, async (db) => {
        const { row, replyingTo } = await postComment(db, request.params.id, request.body, {
          clientHash, screen: opts.screen, maxDepth: opts.maxDepth, now: app.now(), sharedMarks: opts.sharedMarks
        })
        location(reply.code(201), `/v1/comments/${row.id}`)
        return presentComment(row, { staff: hasRole(request.principal, 'editor'), replyingTo })
      }, { transaction: false })
    })
  }
}

export const commentRoutes: Routes = async (app) => {
  const staffView = async (row: CommentRow, db: Db = app.db) => presentComment(row, { staff: true, replyingTo: await replyingToOf(db, row) })

  app.get('/', {
    config: { access: 'editor' },
    schema: { operationId: 'listCommentQueue', summary: 'The moderation queue: comments by status (default pending), oldest first', tags, querystring: QueueQuery, response: { 200: page(ref(CommentSchema)) } }
  }, async (request) => listQueue(app.db, request.query))

  app.get('/:id', {
    config: { access: 'editor' },
    schema: { operationId: 'getComment', summary: 'Get a comment', tags, params: IdParams, response: { 200: ref(CommentSchema), ...errorResponses(404) } }
  }, async (request, reply) => {
    const row = await getComment(app.db, request.params.id)
    setVersion(reply, row)
    return staffView(row)
  })

  app.get('/:id/moderations', {
    config: { access: 'editor' },
    schema: {
      operationId: 'listCommentModerations', summary: 'Who moderated the comment, and when', tags, params: IdParams,
      response: { 200: Type.Object({ data: Type.Array(Type.Object({ fromStatus: Type.String(), toStatus: Type.String(), moderatorId: ref(IdSchema), createdAt: Type.String({ format: 'date-time' }) })) }), ...errorResponses(404) }
    }
  }, async (request) => {
    await getComment(app.db, request.params.id)
    return { data: await moderationHistory(app.db, request.params.id) }
  })

  app.patch('/:id', {
    config: { access: 'editor' },
    schema: { operationId: 'moderateComment', summary: 'Approve, reject or mark a comment as spam', tags, params: IdParams, body: ModerateBody, response: { 200: ref(CommentSchema), ...errorResponses(404, 412) } }
  }, async (request, reply) => committed(request, reply, async (db) => {
    // The answer is read in the moderation's own transaction: a committed change is never a 503.
    await moderate(db, [request.params.id], request.body.status, { moderatorId: request.principal!.userId, now: app.now(), ifMatch: ifMatch(request), single: true })
    const row = await getComment(db, request.params.id)
    setVersion(reply, row)
    return staffView(row, db)
  }))

  app.post('/moderate', {
    config: { access: 'editor' },
    schema: { operationId: 'moderateComments', summary: 'Moderate many comments at once: all or nothing', tags, body: BulkModerateBody, response: { 200: BulkResultSchema } }
  }, async (request, reply) => committed(request, reply, async (db) => ({
    updated: await moderate(db, request.body.ids, request.body.status, { moderatorId: request.principal!.userId, now: app.now() })
  })))

  app.delete('/:id', {
    config: { access: 'editor' },
    schema: { operationId: 'deleteComment', summary: 'Delete a comment and its replies', tags, params: IdParams, response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 412) } }
  }, async (request, reply) => {
    await deleteComment(app.db, request.params.id, ifMatch(request), app.now())
    return reply.code(204).send()
  })
}
