// Preview links: staff make, list and revoke them under /v1/articles/{id}/preview-links; anyone
// holding one reads the article's current version at /v1/previews/{token}, as a reader would.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { normalizeIP } from '@fastify/rate-limit'
import { Type } from 'typebox'
import { setVersion } from '../../http/caching.js'
import { fieldNames, parseFields, parseInclude } from '../../http/fields.js'
import { OPTIONAL_BODY, RATE_LIMITED } from '../../http/openapi.js'
import { enforceLimits } from '../../http/rate-limit.js'
import { location } from '../../http/replies.js'
import { IdParams, errorResponses, page, ref } from '../../http/schemas.js'
import type { Routes } from '../../http/type-provider.js'
import { guardFor } from '../articles/routes.js'
import { presentArticles } from '../articles/present.js'
import { ArticleSchema, GetArticleQuery, articleIncludes } from '../articles/schemas.js'
import { CreatePreviewLinkBody, CreatedPreviewLinkSchema, ListPreviewLinksQuery, PreviewLinkParams, PreviewLinkSchema, PreviewParams, type CreatePreviewLink } from './schemas.js'
import { createPreviewLink, findPreview, listPreviewLinks, revokePreviewLink } from './service.js'

const tags = ['Preview links']
const managedBy = 'Staff who may edit the article: its author while it is their draft, editors and admins (others: 403).'

export const previewLinkRoutes: Routes = async (app) => {
  const lifetimes = { defaultSeconds: app.config.PREVIEW_LINK_DEFAULT_SECONDS, maxSeconds: app.config.PREVIEW_LINK_MAX_SECONDS }

  app.post('/:id/preview-links', {
    // The answer holds the secret, which is never stored: a repeat could not be answered alike.
    config: { access: 'author', idempotent: false },
    preValidation: async (request) => { request.body ??= {} },
    schema: {
      operationId: 'createPreviewLink', summary: 'Create a preview link to a draft or scheduled article; its URL is in the response, once', tags,
      description: `${managedBy} The link opens the article's current version, as readers would see it, for anyone who holds it, until it expires (\`expiresInSeconds\`, by default \`PREVIEW_LINK_DEFAULT_SECONDS\`, at most \`PREVIEW_LINK_MAX_SECONDS\`: more is a 400) or is revoked. Only its SHA-256 is stored, so the \`url\` and \`token\` are shown this once, and an \`Idempotency-Key\` here is a 400. A published article needs no preview and an archived one was taken down: both are a 409.`,
      params: IdParams, body: CreatePreviewLinkBody, [OPTIONAL_BODY]: true,
      response: { 201: ref(CreatedPreviewLinkSchema), ...errorResponses(404, 409) }
    }
  }, async (request, reply) => {
    const { link, secret } = await createPreviewLink(app.db, request.params.id, request.body as CreatePreviewLink, {
      now: app.now(), userId: request.principal!.userId, guard: guardFor(request), lifetimes
    })
    location(reply.code(201), `/v1/articles/${link.articleId}/preview-links`).header('cache-control', 'no-store')
    return { ...link, url: app.publicUrls.api(`/v1/previews/${secret}`), token: secret }
  })

  app.get('/:id/preview-links', {
    config: { access: 'author' },
    schema: {
      operationId: 'listPreviewLinks', summary: 'List an article\'s preview links, newest first (never their secrets)', tags,
      description: `${managedBy} Revoked and expired links stay listed, with their \`state\`.`,
      params: IdParams, querystring: ListPreviewLinksQuery, response: { 200: page(ref(PreviewLinkSchema)), ...errorResponses(404) }
    }
  }, async (request) => listPreviewLinks(app.db, request.params.id, request.query, { now: app.now(), guard: guardFor(request) }))

  app.delete('/:id/preview-links/:linkId', {
    config: { access: 'author' },
    schema: {
      operationId: 'revokePreviewLink', summary: 'Revoke a preview link', tags,
      description: `${managedBy} From then on the link is a 404. Revoking it again changes nothing.`,
      params: PreviewLinkParams, response: { 204: Type.Null({ description: 'Revoked.' }), ...errorResponses(404) }
    }
  }, async (request, reply) => {
    await revokePreviewLink(app.db, request.params.id, request.params.linkId, { now: app.now(), guard: guardFor(request) })
    return reply.code(204).send()
  })
}

export type PreviewOptions = {
  hashClient: (address: string) => Promise<string>
  /** Preview reads per client and minute. */
  perClient: number
}

/** Embedded unless `include` says otherwise: what a reader's page shows around the story. */
const DEFAULT_INCLUDE = 'authors,leadPhoto,section,tags'
const fields = fieldNames(ArticleSchema)

export function previewRoutes (opts: PreviewOptions): Routes {
  return async (app) => {
    const articleUrl = (slug: string) => app.config.ARTICLE_URL_TEMPLATE.replace('{slug}', encodeURIComponent(slug))
    // Tokens are guessed here: every read counts against its client (by the keyed hash of its
    // address, an IPv6 client by its /64), shared across instances through Redis.
    const perClient = app.createRateLimit({
      max: opts.perClient, timeWindow: 60_000, keyGenerator: async (r) => `preview-client:${await opts.hashClient(normalizeIP(r.ip))}`
    })
    const limit = (request: FastifyRequest, reply: FastifyReply) => enforceLimits(request, reply, [{ policy: 'preview-client', windowSeconds: 60, check: perClient }])

    app.get('/:token', {
      config: { access: 'public' },
      onRequest: [async (_request, reply) => { reply.header('x-robots-tag', 'noindex') }, limit],
      schema: {
        operationId: 'getPreview', summary: 'Read an article through a preview link, as readers will see it', tags,
        description: `No token needed: the link is the key. The article's current version (draft, scheduled or published; \`status\` says which) in the public representation, with \`bodyHtml\` and, unless \`include\` says otherwise, \`${DEFAULT_INCLUDE}\` embedded; no private field, and related stories only where readers may follow them. Never cached: \`Cache-Control: private, no-store\` and \`X-Robots-Tag: noindex\`. An unknown, malformed, revoked or expired link, or one whose article was deleted or archived, is the same 404. Reads are limited to \`PREVIEW_RATE_PER_CLIENT\` a minute per client (429 with \`Retry-After\`).`,
        params: PreviewParams, querystring: GetArticleQuery, [RATE_LIMITED]: true, response: { 200: ref(ArticleSchema), ...errorResponses(404) }
      }
    }, async (request, reply) => {
      // The primary, not a replica: a link just made, and the edit just saved, must show.
      const db = app.database.db
      const row = await findPreview(db, request.params.token, app.now())
      reply.header('cache-control', 'private, no-store')
      setVersion(reply, row)
      const [article] = await presentArticles(db, [row], {
        staff: false,
        now: app.now(),
        include: parseInclude(request.query.include ?? DEFAULT_INCLUDE, articleIncludes),
        fields: parseFields(request.query.fields, fields),
        summary: false,
        articleUrl,
        urls: app.publicUrls,
        photoSizes: app.config.BODY_PHOTO_SIZES
      })
      return article
    })
  }
}
