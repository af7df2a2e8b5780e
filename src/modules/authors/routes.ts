// /v1/authors: read by anyone (email only for staff), written by editors.
import { tagResponse } from '../../http/public-cache.js'
import { entityTag, listTag } from '../../lib/cache-tags.js'
import type { Routes } from '../../http/type-provider.js'
import type { FastifyRequest } from 'fastify'
import type { Db } from '../../db/client.js'
import { Type } from 'typebox'
import { fieldNames, parseFields, parseInclude, pickFields } from '../../http/fields.js'
import { created, ifMatch, one } from '../../http/replies.js'
import { committed } from '../../http/idempotency.js'
import { IdParams, SlugParams, errorResponses, page, ref } from '../../http/schemas.js'
import { movedFrom, movedResponse } from '../redirects/routes.js'
import { AuthorSchema, CreateAuthorBody, GetAuthorQuery, ListAuthorsQuery, UpdateAuthorBody, authorIncludes } from './schemas.js'
import { createAuthor, deleteAuthor, getAuthor, listAuthors, presentAuthors, updateAuthor, type AuthorRow } from './service.js'

const tags = ['Authors']
const authorTags = (a: AuthorRow) => [entityTag('author', a.id), ...(a.avatarId ? [entityTag('photo', a.avatarId)] : [])]
const fields = fieldNames(AuthorSchema)

const authorRoutes: Routes = async (app) => {
  const view = (request: FastifyRequest, include?: string) =>
    ({ include: parseInclude(include, authorIncludes), staff: request.principal !== null, urls: app.publicUrls })

  async function present (request: FastifyRequest, row: AuthorRow, query: { fields?: string, include?: string }, db: Db = app.db) {
    tagResponse(request, authorTags(row))
    const chosen = parseFields(query.fields, fields)
    const [author] = await presentAuthors(db, [row], view(request, query.include))
    return pickFields(author, chosen)
  }

  app.get('/', {
    config: { access: 'public' },
    schema: { operationId: 'listAuthors', summary: 'List authors', tags, querystring: ListAuthorsQuery, response: { 200: page(ref(AuthorSchema)) } }
  }, async (request) => {
    const chosen = parseFields(request.query.fields, fields)
    const v = view(request, request.query.include)
    const result = await listAuthors(app.db, request.query)
    tagResponse(request, [listTag('author'), ...result.data.flatMap(authorTags)])
    return { data: (await presentAuthors(app.db, result.data, v)).map((a) => pickFields(a, chosen)), meta: result.meta }
  })

  app.get('/:id', {
    config: { access: 'public' },
    schema: { operationId: 'getAuthor', summary: 'Get an author', tags, params: IdParams, querystring: GetAuthorQuery, response: { 200: ref(AuthorSchema), ...errorResponses(404) } }
  }, async (request, reply) => present(request, one(reply, await getAuthor(app.db, { id: request.params.id })), request.query))

  app.get('/by-slug/:slug', {
    config: { access: 'public' },
    schema: { operationId: 'getAuthorBySlug', summary: 'Get an author by slug (an old slug: 301 to the current one)', tags, params: SlugParams, querystring: GetAuthorQuery, response: { 200: ref(AuthorSchema), ...movedResponse, ...errorResponses(404) } }
  }, async (request, reply) => {
    let row: AuthorRow
    try {
      row = await getAuthor(app.db, { slug: request.params.slug })
    } catch (error) {
      return movedFrom(request, reply, 'author', request.params.slug, error)
    }
    return present(request, one(reply, row), request.query)
  })

  app.post('/', {
    config: { access: 'editor' },
    schema: { operationId: 'createAuthor', summary: 'Create an author', tags, body: CreateAuthorBody, response: { 201: ref(AuthorSchema), ...errorResponses(409) } }
  }, async (request, reply) => committed(request, reply, async (db) =>
    present(request, created(reply, request, await createAuthor(db, request.body, app.now())), {}, db)))

  app.patch('/:id', {
    config: { access: 'editor' },
    schema: { operationId: 'updateAuthor', summary: 'Update an author', tags, params: IdParams, body: UpdateAuthorBody, response: { 200: ref(AuthorSchema), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => committed(request, reply, async (db) =>
    present(request, one(reply, await updateAuthor(db, request.params.id, request.body, ifMatch(request), app.now())), {}, db), { transaction: false }))

  app.delete('/:id', {
    config: { access: 'editor' },
    schema: { operationId: 'deleteAuthor', summary: 'Delete an author who is in no byline', tags, params: IdParams, response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => {
    await deleteAuthor(app.db, request.params.id, ifMatch(request), app.now())
    return reply.code(204).send()
  })
}

export default authorRoutes
