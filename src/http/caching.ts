// ETag on every GET (304 on a match), Cache-Control by audience, and If-Match parsing for writes.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from './errors.js'

declare module 'fastify' {
  interface FastifyReply {
    /** The resource's version; the ETag starts with it so If-Match can compare versions. */
    resourceVersion: number | null
  }
}

export function setVersion (reply: FastifyReply, version: number) {
  reply.resourceVersion = version
}

/** The ETag of a body: its resource's version (for If-Match), then a hash of the body. */
export function etagFor (version: number | null, payload: string | Buffer) {
  const hash = createHash('sha1').update(payload).digest('base64url').slice(0, 22)
  return version === null ? `"${hash}"` : `"${version}-${hash}"`
}

export function etagMatches (header: string, etag: string): boolean {
  if (header.trim() === '*') return true
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare)
}

/**
 * The versions an If-Match header accepts: undefined when there is no header (or `*`),
 * otherwise the versions named by its strong ETags (possibly none, which can never match).
 */
export function ifMatchVersions (header: string | undefined): number[] | undefined {
  if (header === undefined || header.trim() === '*') return undefined
  const versions: number[] = []
  for (const raw of header.split(',')) {
    const m = /^"(\d+)-[A-Za-z0-9_-]+"$/.exec(raw.trim())
    if (m) versions.push(Number(m[1]))
  }
  return versions
}

export function assertVersion (current: number, accepted: number[] | undefined) {
  if (accepted !== undefined && !accepted.includes(current)) {
    throw new AppError('PRECONDITION_FAILED', 'The resource changed since you read it (If-Match does not match its ETag); fetch it again and retry.')
  }
}

/** Adds a field to Vary, keeping what other plugins put there. */
export function addVary (reply: FastifyReply, field: string) {
  const current = reply.getHeader('vary')
  const list = current === undefined ? [] : String(current).split(',').map((f) => f.trim()).filter(Boolean)
  if (list.some((f) => f.toLowerCase() === field.toLowerCase() || f === '*')) return
  reply.header('vary', [...list, field].join(', '))
}

export type CachingOptions = { publicCacheControl: string }

export default fp(async function caching (app: FastifyInstance, opts: CachingOptions) {
  app.decorateReply('resourceVersion', null)
  app.addHook('onSend', async (request, reply, payload) => {
    const status = reply.statusCode
    const isRead = request.method === 'GET' || request.method === 'HEAD'
    if (status >= 400) return payload
    if (request.url.startsWith('/v1/')) {
      // Added to what CORS may have set (Origin); lower case, as the compression plugin looks for it so.
      addVary(reply, 'Authorization')
      addVary(reply, 'accept-encoding')
      if (!reply.hasHeader('cache-control')) {
        const isPublic = isRead && status === 200 && !request.principal
        reply.header('cache-control', isPublic ? opts.publicCacheControl : 'private, no-store')
      }
    }
    if ((typeof payload !== 'string' && !Buffer.isBuffer(payload)) || (status !== 200 && status !== 201)) return payload
    if (!reply.hasHeader('etag')) reply.header('etag', etagFor(reply.resourceVersion, payload))
    return payload
  })
}, { name: 'caching' })

/**
 * A read whose ETag the client holds becomes a 304. Registered after the public cache, which
 * stores the full 200 first, so a conditional request warms the cache as well.
 */
export const notModified = fp(async function notModified (app: FastifyInstance) {
  app.addHook('onSend', async (request, reply, payload) => {
    const ifNoneMatch = request.headers['if-none-match']
    // Streams (media files) answer conditional requests themselves.
    if (ifNoneMatch && reply.statusCode === 200 && (request.method === 'GET' || request.method === 'HEAD') &&
        (typeof payload === 'string' || Buffer.isBuffer(payload)) &&
        reply.hasHeader('etag') && etagMatches(ifNoneMatch, String(reply.getHeader('etag')))) {
      reply.code(304)
      reply.removeHeader('content-type')
      reply.removeHeader('content-length')
      return ''
    }
    return payload
  })
}, { name: 'not-modified', dependencies: ['caching'] })
