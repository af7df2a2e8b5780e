// /media/...: the stored image files, served with long-lived caching, strong ETags, 304s and
// byte ranges. Keys are content-addressed, so a URL's bytes never change. A file is served to
// anyone only while a public photo uses it (photos/service.ts, publicPhotos); to staff always,
// but then never to be kept by a shared cache.
import parseRange from 'range-parser'
import { Type } from 'typebox'
import { AppError, notFound } from '../../http/errors.js'
import { errorResponses } from '../../http/schemas.js'
import type { Routes } from '../../http/type-provider.js'
import { isPublicFile } from '../photos/service.js'
import { isValidKey, type MediaStore } from '../photos/storage.js'

const types: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif' }
const IMMUTABLE = 'public, max-age=31536000, immutable'
const STAFF_ONLY = 'private, no-store'

const matches = (header: string | undefined, etag: string) =>
  header !== undefined && (header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag))

// Keys are `<sha256 of the original>/<original or width>.<extension>` (photos/service.ts).
const MediaParams = Type.Object({
  hash: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'The SHA-256 of the uploaded file, in hex.', examples: ['5f2b9c1e8a7d4b3c2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d'] }),
  file: Type.String({ pattern: '^(?:original|[0-9]{1,5})\\.(?:jpg|png|webp|avif|gif)$', description: '`original.<ext>`, or a rendition `<width>.<ext>`.', examples: ['original.jpg', '320.webp'] })
}, { additionalProperties: false })

export function mediaRoutes (store: MediaStore): Routes {
  return async (app) => {
    app.get('/:hash/:file', {
      // Public, but a token is read: staff may fetch the files of photos that are not public yet.
      config: { access: 'public' },
      schema: {
        operationId: 'getMedia', summary: 'An image file (original or rendition)', tags: ['Photos'],
        description: 'The files of public photos (see `Photo.public`) are served to anyone and cached for a year (`immutable`): a URL\'s bytes never change. The files of other photos are a 404 without a staff token, and `private, no-store` with one. Supports `If-None-Match` and `Range`. The URLs come from a photo\'s `url` and `renditions`.',
        params: MediaParams,
        response: {
          200: { description: 'The image.', content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } },
          206: { description: 'Part of the image, as asked for with `Range`.', content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } },
          304: { description: 'Not Modified.', type: 'null' },
          ...errorResponses(400, 404, 416)
        }
      }
    }, async (request, reply) => {
      const key = `${request.params.hash}/${request.params.file}`
      // Only keys the app itself makes are looked up: nothing can climb out of the store.
      if (!isValidKey(key)) throw notFound('File')
      // Known to the public or not, a file that is not public is a 404 to it: the same answer as
      // a file that does not exist, so its existence is not told either.
      const isPublic = await isPublicFile(app.db, request.params.hash, app.now())
      if (!isPublic && request.principal === null) throw notFound('File')
      const size = await store.size(key)
      if (size === undefined) throw notFound('File')
      const etag = `"${key.replace(/[/.]/g, '-')}"`
      reply.headers({ 'cache-control': isPublic ? IMMUTABLE : STAFF_ONLY, etag, 'accept-ranges': 'bytes', 'content-type': types[key.split('.').pop()!] })
      if (!isPublic) reply.header('vary', 'Authorization')
      if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send()

      const rangeHeader = request.headers.range
      const ifRange = request.headers['if-range']
      if (rangeHeader && (ifRange === undefined || ifRange === etag)) {
        const ranges = parseRange(size, rangeHeader, { combine: true })
        if (ranges === -1) {
          reply.header('content-range', `bytes */${size}`)
          throw new AppError('RANGE_NOT_SATISFIABLE', `The file has ${size} bytes.`)
        }
        // A malformed Range header, or several ranges, is answered with the whole file.
        if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) {
          const { start, end } = ranges[0]
          reply.code(206).headers({ 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 })
          return reply.send(store.read(key, { start, end }))
        }
      }
      reply.header('content-length', size)
      return reply.send(store.read(key, undefined, size))
    })
  }
}
