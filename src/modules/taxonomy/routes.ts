// /v1/sections and /v1/tags: read by anyone, written by editors.
import { tagResponse } from '../../http/public-cache.js'
import { entityTag, listTag } from '../../lib/cache-tags.js'
import type { Routes } from '../../http/type-provider.js'
import { Type } from 'typebox'
import { parseFields, pickFields, fieldNames } from '../../http/fields.js'
import { committed } from '../../http/idempotency.js'
import { created, ifMatch, one } from '../../http/replies.js'
import { FieldsQuery, IdParams, SlugParams, errorResponses, page, ref } from '../../http/schemas.js'
import { movedFrom, movedResponse } from '../redirects/routes.js'
import { SectionSchemas, TagSchemas } from './schemas.js'
import { createTaxonomy, deleteTaxonomy, getTaxonomy, listTaxonomy, updateTaxonomy, type TaxonomyKind, type TaxonomyRow } from './service.js'

const FieldsOnly = Type.Object({ ...FieldsQuery.properties }, { additionalProperties: false })

export function taxonomyRoutes (kind: TaxonomyKind): Routes {
  const S = kind === 'section' ? SectionSchemas : TagSchemas
  const Name = kind === 'section' ? 'Section' : 'Tag'
  const plural = `${Name}s`
  const tags = [plural]
  const fields = fieldNames(S.Schema)

  return async function routes (app) {
    app.get('/', {
      config: { access: 'public' },
      schema: {
        operationId: `list${plural}`, summary: `List ${kind}s`, tags,
        querystring: S.ListQuery,
        response: { 200: page(ref(S.Schema)) }
      }
    }, async (request) => {
      const chosen = parseFields(request.query.fields, fields)
      const result = await listTaxonomy(app.db, kind, request.query)
      tagResponse(request, [listTag(kind), ...result.data.map((r) => entityTag(kind, r.id))])
      return { data: result.data.map((r) => pickFields(r, chosen)), meta: result.meta }
    })

    app.get('/:id', {
      config: { access: 'public' },
      schema: {
        operationId: `get${Name}`, summary: `Get a ${kind}`, tags,
        params: IdParams, querystring: FieldsOnly,
        response: { 200: ref(S.Schema), ...errorResponses(404) }
      }
    }, async (request, reply) => {
      const chosen = parseFields(request.query.fields, fields)
      const row = await getTaxonomy(app.db, kind, { id: request.params.id })
      tagResponse(request, [entityTag(kind, row.id)])
      return pickFields(one(reply, row), chosen)
    })

    app.get('/by-slug/:slug', {
      config: { access: 'public' },
      schema: {
        operationId: `get${Name}BySlug`, summary: `Get a ${kind} by its slug (an old slug: 301 to the current one)`, tags,
        params: SlugParams, querystring: FieldsOnly,
        response: { 200: ref(S.Schema), ...movedResponse, ...errorResponses(404) }
      }
    }, async (request, reply) => {
      const chosen = parseFields(request.query.fields, fields)
      let row: TaxonomyRow
      try {
        row = await getTaxonomy(app.db, kind, { slug: request.params.slug })
      } catch (error) {
        return movedFrom(request, reply, kind, request.params.slug, error)
      }
      tagResponse(request, [entityTag(kind, row.id)])
      return pickFields(one(reply, row), chosen)
    })

    app.post('/', {
      config: { access: 'editor' },
      schema: {
        operationId: `create${Name}`, summary: `Create a ${kind}`, tags,
        body: S.CreateBody,
        response: { 201: ref(S.Schema), ...errorResponses(409) }
      }
    }, async (request, reply) => committed(request, reply, async (db) =>
      created(reply, request, await createTaxonomy(db, kind, request.body, app.now()))))

    app.patch('/:id', {
      config: { access: 'editor' },
      schema: {
        operationId: `update${Name}`, summary: `Update a ${kind}`, tags,
        params: IdParams, body: S.UpdateBody,
        response: { 200: ref(S.Schema), ...errorResponses(404, 409, 412) }
      }
    }, async (request, reply) => committed(request, reply, async (db) =>
      one(reply, await updateTaxonomy(db, kind, request.params.id, request.body, ifMatch(request), app.now())), { transaction: false }))

    app.delete('/:id', {
      config: { access: 'editor' },
      schema: {
        operationId: `delete${Name}`, summary: `Delete a ${kind} that no article uses`, tags,
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 409, 412) }
      }
    }, async (request, reply) => {
      await deleteTaxonomy(app.db, kind, request.params.id, ifMatch(request), app.now())
      return reply.code(204).send()
    })
  }
}
