// /v1/content-keys: admins make, list and revoke the read-only keys that frontends and apps use.
import type { Routes } from '../../http/type-provider.js'
import { Type } from 'typebox'
import { location } from '../../http/replies.js'
import { IdParams, errorResponses, page, ref } from '../../http/schemas.js'
import { ContentKeySchema, CreateContentKeyBody, CreatedContentKeySchema, ListContentKeysQuery } from './schemas.js'
import { createContentKey, getContentKey, listContentKeys, revokeContentKey } from './service.js'

const tags = ['Content keys']
const about = 'A content key reads published content only, exactly as an anonymous reader does (and from the same cache), and writes nothing: it is safe to ship inside an app or a browser bundle. Send it as `Authorization: Bearer dlc_...`. With `PUBLIC_READS=key`, reads need a content key (or a staff token). Each key has its own rate limit per minute, reported in the `RateLimit-Policy` and `RateLimit` headers.'

const contentKeyRoutes: Routes = async (app) => {
  app.get('/', {
    config: { access: 'admin' },
    schema: { operationId: 'listContentKeys', summary: 'List content keys, newest first (never the keys themselves)', description: about, tags, querystring: ListContentKeysQuery, response: { 200: page(ref(ContentKeySchema)) } }
  }, async (request) => listContentKeys(app.db, request.query))

  app.post('/', {
    // The answer holds the key, which is never stored: a repeat could not be answered alike.
    config: { access: 'admin', idempotent: false },
    schema: {
      operationId: 'createContentKey', summary: 'Create a content key; the key is in the response, once', description: `${about} \`Idempotency-Key\` is refused here (a 400), as the key is shown once.`, tags,
      body: CreateContentKeyBody, response: { 201: ref(CreatedContentKeySchema), ...errorResponses(400) }
    }
  }, async (request, reply) => {
    const { row, secret } = await createContentKey(app.db, request.body, request.principal!.userId)
    location(reply.code(201), `/v1/content-keys/${row.id}`).header('cache-control', 'no-store')
    return { ...row, key: secret }
  })

  app.get('/:id', {
    config: { access: 'admin' },
    schema: { operationId: 'getContentKey', summary: 'Get a content key (never the key itself)', tags, params: IdParams, response: { 200: ref(ContentKeySchema), ...errorResponses(404) } }
  }, async (request) => getContentKey(app.db, request.params.id))

  app.delete('/:id', {
    config: { access: 'admin' },
    schema: {
      operationId: 'revokeContentKey', summary: 'Revoke a content key', tags, params: IdParams,
      description: 'Every instance refuses the key from the moment this answers (this one) or reads the change log (the others, within a second). Revoking twice is harmless.',
      response: { 204: Type.Null({ description: 'Revoked.' }), ...errorResponses(404) }
    }
  }, async (request, reply) => {
    await revokeContentKey(app.db, request.params.id, app.now())
    return reply.code(204).send()
  })
}

export default contentKeyRoutes
