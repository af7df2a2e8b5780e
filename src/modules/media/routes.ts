// /media/...: the stored image files, served with long-lived caching, strong ETags, 304s and
// byte ranges. Keys are content-addressed, so a URL's bytes never change.
import type { FastifyReply } from 'fastify'
import parseRange from 'range-parser'
import { Type } from 'typebox'
import { AppError, notFound } from '../../http/errors.js'
import type { Routes } from '../../http/type-provider.js'
import { isValidKey, type MediaStore } from '../photos/storage.js'

const types: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif' }
const IMMUTABLE = 'public, max-age=31536000, immutable'

const matches = (header: string | undefined, etag: string) =>
  header !== undefined && (header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag))

export function mediaRoutes (store: MediaStore): Routes {
  return async (app) => {
    app.get('/*', {
      schema: {
        operationId: 'getMedia', summary: 'An image file (original or rendition)', tags: ['Photos'],
        description: 'Cached for a year (`immutable`): a URL\'s bytes never change. Supports `If-None-Match` and `Range`.',
        params: Type.Object({ '*': Type.String({ maxLength: 300 }) }),
        response: {
          200: { description: 'The image.', content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } },
          206: { description: 'Part of the image, as asked for with `Range`.', content: { 'image/*': { schema: { type: 'string', format: 'binary' } } } },
          304: { description: 'Not Modified.', type: 'null' },
          404: { description: 'No such file.', $ref: 'Problem' },
          416: { description: 'The range is outside the file.', $ref: 'Problem' }
        }
      }
    }, async (request, reply: FastifyReply) => {
      const key = (request.params as { '*': string })['*']
      // Only keys the app itself makes are looked up: nothing can climb out of the store.
      if (!isValidKey(key)) throw notFound('File')
      const size = await store.size(key)
      if (size === undefined) throw notFound('File')
      const etag = `"${key.replace(/[/.]/g, '-')}"`
      reply.headers({ 'cache-control': IMMUTABLE, etag, 'accept-ranges': 'bytes', 'content-type': types[key.split('.').pop()!] })
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
