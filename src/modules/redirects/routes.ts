// /v1/redirects: every old slug and where it leads, for frontends and CDNs building their
// redirect maps; editors release one so that another entity may take the slug. The 301 that an
// old slug gets from the by-slug reads (`movedFrom`) is made here too.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Routes } from '../../http/type-provider.js'
import { etagFor } from '../../http/caching.js'
import { AppError } from '../../http/errors.js'
import { tagResponse } from '../../http/public-cache.js'
import { location } from '../../http/replies.js'
import { IdParams, errorResponses, page, ref } from '../../http/schemas.js'
import { ARTICLE_LISTS, REDIRECTS, entityTag } from '../../lib/cache-tags.js'
import { ListRedirectsQuery, RedirectSchema, type Moved, type RedirectEntity } from './schemas.js'
import { bySlugPath, deleteRedirect, listRedirects, redirectTarget } from './service.js'

const tags = ['Redirects']

/** The OpenAPI response of a by-slug read for an old slug. */
export const movedResponse = {
  301: Type.Unsafe<Moved>({ $ref: 'Moved', description: 'Moved Permanently: an old slug. `Location` is the current by-slug URL (with the same query); the body names the id and the current slug.',
    headers: { Location: { type: 'string', description: 'The current by-slug URL, absolute when `PUBLIC_URL` is set.' } }
  })
}

/**
 * A by-slug read found nothing by that slug: when it is an old slug of an entity the caller may
 * see, the answer is a 301 to the current one, cacheable like the entity and tagged with it, so
 * the next slug change evicts it. Otherwise the read's own 404 stands, revealing nothing.
 */
export async function movedFrom (request: FastifyRequest, reply: FastifyReply, entity: RedirectEntity, slug: string, error: unknown): Promise<Moved> {
  if (!(error instanceof AppError) || error.code !== 'NOT_FOUND') throw error
  const app = request.server
  const target = await redirectTarget(app.db, entity, slug, { staff: request.principal !== null, now: app.now() })
  if (!target) throw error
  const q = request.url.indexOf('?')
  location(reply.code(301), bySlugPath(entity, target.slug) + (q === -1 ? '' : request.url.slice(q)))
  tagResponse(request, [entityTag(entity, target.id)])
  const body: Moved = { id: target.id, slug: target.slug }
  reply.header('etag', etagFor(null, JSON.stringify(body)))
  // As public as the entity's own read: an anonymous 301 may be kept by any cache.
  if (request.principal === null) reply.header('cache-control', app.config.PUBLIC_CACHE_CONTROL)
  return body
}

const redirectRoutes: Routes = async (app) => {
  app.get('/', {
    config: { access: 'public' },
    schema: {
      operationId: 'listRedirects', summary: 'List old slugs and where they lead', tags,
      description: 'Every slug an article had while it was public, and every earlier slug of an author, section or tag, with the current slug it leads to: what a frontend or CDN needs to build its redirect map. Newest first. The public sees redirects to public articles only; staff see all. `GET /v1/articles/by-slug/{from}` (and the same for authors, sections and tags) answers `301` to `location`.',
      querystring: ListRedirectsQuery,
      response: { 200: page(ref(RedirectSchema)) }
    }
  }, async (request) => {
    const result = await listRedirects(app.db, request.query, { staff: request.principal !== null, now: app.now() })
    // New rows come with redirect changes, or (for articles) as their article goes public.
    const articlesIn = request.query.entity === undefined || request.query.entity === 'article'
    tagResponse(request, [REDIRECTS, ...(articlesIn ? [ARTICLE_LISTS] : []), ...result.data.map((r) => entityTag(r.entity as RedirectEntity, r.targetId))])
    return {
      data: result.data.map((r) => ({
        id: r.id,
        entity: r.entity as RedirectEntity,
        from: r.slug,
        to: r.to!,
        targetId: r.targetId,
        location: app.publicUrls.api(bySlugPath(r.entity as RedirectEntity, r.to!)),
        createdAt: r.createdAt.toISOString()
      })),
      meta: result.meta
    }
  })

  app.delete('/:id', {
    config: { access: 'editor' },
    schema: {
      operationId: 'deleteRedirect', summary: 'Release an old slug', tags,
      description: 'The old slug stops redirecting (its by-slug read becomes a 404) and is no longer reserved: another entity of the same kind may take it.',
      params: IdParams,
      response: { 204: Type.Null({ description: 'Released.' }), ...errorResponses(404) }
    }
  }, async (request, reply) => {
    await deleteRedirect(app.db, request.params.id, app.now())
    return reply.code(204).send()
  })
}

export default redirectRoutes
