// /v1/photos: public photos read by anyone, all of them by staff; staff add photos, authors edit
// and delete only their own, and only editors mark a photo public.
import { tagResponse } from '../../http/public-cache.js'
import { entityTag, listTag } from '../../lib/cache-tags.js'
import { createHash } from 'node:crypto'
import type { Routes } from '../../http/type-provider.js'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { hasRole } from '../../http/auth.js'
import multipart from '@fastify/multipart'
import { AppError, invalidField } from '../../http/errors.js'
import { fieldNames, parseFields, pickFields } from '../../http/fields.js'
import { committed } from '../../http/idempotency.js'
import { created, ifMatch, one } from '../../http/replies.js'
import { FieldsQuery, IdParams, errorResponses, page, problems, ref } from '../../http/schemas.js'
import { presentPhoto, storedPhotoUrls } from './present.js'
import { RENDITION_WIDTHS, type ImageLimits } from './process.js'
import type { WorkQueue } from '../../lib/work-queue.js'
import { CreatePhotoBody, ListPhotosQuery, PhotoSchema, UpdatePhotoBody, UploadPhotoFields, type CreatePhoto, type UploadPhoto } from './schemas.js'
import { createPhoto, createUploadedPhoto, deletePhoto, getPhoto, listPhotos, removeFilesIfUnused, updatePhoto, type PhotoRow, type PhotoView } from './service.js'
import type { MediaStore } from './storage.js'
import { readUpload } from './upload.js'

const tags = ['Photos']
const fields = fieldNames(PhotoSchema)
const FieldsOnly = Type.Object({ ...FieldsQuery.properties }, { additionalProperties: false })

const ownPhotoOnly = (request: FastifyRequest) => (row: PhotoRow) => {
  if (!hasRole(request.principal, 'editor') && row.createdById !== request.principal?.userId) {
    throw new AppError('FORBIDDEN', 'Authors may change only the photos they added.')
  }
}

export type PhotoOptions = { store: MediaStore, maxBytes: number, limits: ImageLimits, queue: WorkQueue }

export const photoRoutes = (opts: PhotoOptions): Routes => async (app) => {
  await app.register(multipart)
  // The uploaded file, from preValidation to the handler.
  const uploads = new WeakMap<FastifyRequest, Buffer | undefined>()
  const present = (row: PhotoRow) => presentPhoto(row, app.publicUrls)
  const viewOf = (request: FastifyRequest): PhotoView => ({ staff: request.principal !== null, now: app.now() })

  app.get('/', {
    config: { access: 'public' },
    schema: {
      operationId: 'listPhotos',
      summary: 'List and search photos, newest first',
      description: 'Staff see every photo, whoever added it and whatever uses it; anyone else sees the public ones only (marked `public`, or used by a published article or as an author\'s avatar). `q` searches caption, credit and alt text by word prefix; `credit`, `createdAfter` and `createdBefore` narrow the list; all of them combine, and the next page takes the same filters with `cursor`.',
      tags,
      querystring: ListPhotosQuery,
      response: { 200: page(ref(PhotoSchema)) }
    }
  }, async (request) => {
    const chosen = parseFields(request.query.fields, fields)
    const result = await listPhotos(app.db, request.query, viewOf(request))
    tagResponse(request, [listTag('photo'), ...result.data.map((r) => entityTag('photo', r.id))])
    return { data: result.data.map((r) => pickFields(present(r), chosen)), meta: result.meta }
  })

  app.get('/:id', {
    config: { access: 'public' },
    schema: { operationId: 'getPhoto', summary: 'Get a photo', description: 'A photo that is not public is a 404 without a staff token.', tags, params: IdParams, querystring: FieldsOnly, response: { 200: ref(PhotoSchema), ...errorResponses(404) } }
  }, async (request, reply) => {
    tagResponse(request, [entityTag('photo', request.params.id)])
    return pickFields(one(reply, present(await getPhoto(app.db, request.params.id, viewOf(request)))), parseFields(request.query.fields, fields))
  })

  // One route, two bodies: JSON for a photo hosted elsewhere, multipart for an upload.
  app.post('/', {
    config: { access: 'author' },
    preValidation: async (request) => {
      if (!request.isMultipart()) return
      const { fields, file, fileName } = await readUpload(request, opts.maxBytes)
      // The schema sees the file part by its name, so it can require one; the bytes go aside.
      request.body = file ? { ...fields, file: fileName || 'file' } : fields
      uploads.set(request, file)
      // An Idempotency-Key's request digest covers the file, which the parsed body only names.
      if (file) request.contentDigest = createHash('sha256').update(file).digest('hex')
    },
    schema: {
      operationId: 'createPhoto',
      summary: 'Upload a photo, or add one hosted elsewhere',
      description: `\`multipart/form-data\` with a \`file\` (JPEG, PNG, WebP, AVIF or GIF, judged by its content; at most ${opts.maxBytes} bytes, ${opts.limits.maxPixels} pixels and ${opts.limits.maxSide} px a side, and no side more than ${opts.limits.maxAspectRatio} times the other, all judged from the file's header before it is decoded) uploads an image: its size is read from the file, EXIF orientation applied, all metadata (GPS included) removed, and renditions made at ${RENDITION_WIDTHS.join(', ')} px wide (never upscaled) in its own format and WebP, plus WebP at full size. A rendition never exceeds what its format holds (WebP: 16,383 px a side), so a wider or taller image gets a smaller full-size WebP. Images are processed a few at a time; when as many wait as the server allows, the upload is a 503 with \`Retry-After\`. \`application/json\` adds a photo by URL; the server never fetches it.`,
      tags,
      body: { content: { 'application/json': { schema: CreatePhotoBody }, 'multipart/form-data': { schema: UploadPhotoFields } } },
      response: { 201: ref(PhotoSchema), ...errorResponses(413, 415), 503: { ...problems[503], description: 'Too many images are being processed, or the database is unreachable; see `Retry-After`.' } }
    }
  }, async (request, reply) => {
    const by = request.principal!.userId
    if (!request.isMultipart()) {
      return committed(request, reply, async (db) =>
        created(reply, request, present(await createPhoto(db, storedPhotoUrls(request.body as CreatePhoto, app.publicUrls), by, app.now()))))
    }
    const file = uploads.get(request)
    if (!file || file.length === 0) throw invalidField('/file', 'is required: the image to upload')
    return committed(request, reply, async (db) =>
      created(reply, request, present(await createUploadedPhoto(db, opts.store, { file, meta: request.body as UploadPhoto, createdById: by, limits: opts.limits, queue: opts.queue, now: app.now() }))), { transaction: false })
  })

  app.patch('/:id', {
    config: { access: 'author' },
    schema: { operationId: 'updatePhoto', summary: 'Update a photo\'s metadata', description: 'Authors may change the photos they added; only editors and admins may set `public`.', tags, params: IdParams, body: UpdatePhotoBody, response: { 200: ref(PhotoSchema), ...errorResponses(403, 404, 412) } }
  }, async (request, reply) => {
    if (request.body.public !== undefined && !hasRole(request.principal, 'editor')) {
      throw new AppError('FORBIDDEN', 'Only editors and admins may mark a photo public or private.')
    }
    return committed(request, reply, async (db) =>
      one(reply, present(await updatePhoto(db, request.params.id, storedPhotoUrls(request.body, app.publicUrls), ifMatch(request), app.now(), ownPhotoOnly(request)))), { transaction: false })
  })

  app.delete('/:id', {
    config: { access: 'author' },
    schema: { operationId: 'deletePhoto', summary: 'Delete a photo that nothing uses', tags, params: IdParams, response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => {
    const deleted = await deletePhoto(app.db, request.params.id, ifMatch(request), app.now(), ownPhotoOnly(request))
    await removeFilesIfUnused(app.db, opts.store, deleted)
    return reply.code(204).send()
  })
}

