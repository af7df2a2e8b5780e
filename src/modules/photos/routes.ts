// /v1/photos: read by anyone; staff add photos, authors edit and delete only their own.
import type { Routes } from '../../http/type-provider.js'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { hasRole } from '../../http/auth.js'
import { AppError } from '../../http/errors.js'
import { fieldNames, parseFields, pickFields } from '../../http/fields.js'
import { created, ifMatch, one } from '../../http/replies.js'
import { FieldsQuery, IdParams, errorResponses, page, ref } from '../../http/schemas.js'
import { CreatePhotoBody, ListPhotosQuery, PhotoSchema, UpdatePhotoBody } from './schemas.js'
import { createPhoto, deletePhoto, getPhoto, listPhotos, updatePhoto, type PhotoRow } from './service.js'

const tags = ['Photos']
const fields = fieldNames(PhotoSchema)
const FieldsOnly = Type.Object({ ...FieldsQuery.properties }, { additionalProperties: false })

const ownPhotoOnly = (request: FastifyRequest) => (row: PhotoRow) => {
  if (!hasRole(request.principal, 'editor') && row.createdById !== request.principal?.userId) {
    throw new AppError('FORBIDDEN', 'Authors may change only the photos they added.')
  }
}

const photoRoutes: Routes = async (app) => {
  app.get('/', {
    config: { access: 'public' },
    schema: { operationId: 'listPhotos', summary: 'List photos, newest first', tags, querystring: ListPhotosQuery, response: { 200: page(ref(PhotoSchema)) } }
  }, async (request) => {
    const chosen = parseFields(request.query.fields, fields)
    const result = await listPhotos(app.db, request.query)
    return { data: result.data.map((r) => pickFields(r, chosen)), meta: result.meta }
  })

  app.get('/:id', {
    config: { access: 'public' },
    schema: { operationId: 'getPhoto', summary: 'Get a photo', tags, params: IdParams, querystring: FieldsOnly, response: { 200: ref(PhotoSchema), ...errorResponses(404) } }
  }, async (request, reply) =>
    pickFields(one(reply, await getPhoto(app.db, request.params.id)), parseFields(request.query.fields, fields)))

  app.post('/', {
    config: { access: 'author' },
    schema: { operationId: 'createPhoto', summary: 'Add a photo (metadata and URL)', tags, body: CreatePhotoBody, response: { 201: ref(PhotoSchema) } }
  }, async (request, reply) => created(reply, request, await createPhoto(app.db, request.body, request.principal!.userId, app.now())))

  app.patch('/:id', {
    config: { access: 'author' },
    schema: { operationId: 'updatePhoto', summary: 'Update a photo\'s metadata', tags, params: IdParams, body: UpdatePhotoBody, response: { 200: ref(PhotoSchema), ...errorResponses(404, 412) } }
  }, async (request, reply) =>
    one(reply, await updatePhoto(app.db, request.params.id, request.body, ifMatch(request), app.now(), ownPhotoOnly(request))))

  app.delete('/:id', {
    config: { access: 'author' },
    schema: { operationId: 'deletePhoto', summary: 'Delete a photo that nothing uses', tags, params: IdParams, response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => {
    await deletePhoto(app.db, request.params.id, ifMatch(request), ownPhotoOnly(request))
    return reply.code(204).send()
  })
}

export default photoRoutes
