// ETag on every GET (304 on a match), Cache-Control by audience, and If-Match checks for writes.
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from './errors.js'

declare module 'fastify' {
  interface FastifyReply {
    /** The resource whose representation this is; its ETag then carries the version. */
    resourceVersion: Versioned | null
  }
}

type Versioned = { id: string, version: number }

export function setVersion (reply: FastifyReply, resource: Versioned) {
  reply.resourceVersion = resource
}

/** The ETag of a body: a versioned resource's tag (for If-Match), else a hash of the body. */
export function etagFor (resource: Versioned | null, payload: string | Buffer) {
  return resource === null ? `"${createHash('sha1').update(payload).digest('base64url').slice(0, 22)}"` : versionTag(resource, payload)
}

export function etagMatches (header: string, etag: string): boolean {
  if (header.trim() === '*') return true
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare)
}

// A resource's ETag is `"<version>-<body hash><check>"`. The body hash tells representations
// apart (fields, includes, what the caller may see), so If-None-Match is exact; the check binds
// the tag to the resource and its version. A write's If-Match then compares whole tags without
// rendering the body again: a tag matches when it is one this server gives the resource at its
// current version, in any representation, and `"1-anything"` matches nothing.
const BODY_HASH = 16
const tagCheck = (resource: Versioned, bodyHash: string) =>
  createHash('sha256').update(`${resource.id.toLowerCase()}\n${resource.version}\n${bodyHash}`).digest('base64url').slice(0, 6)

export function versionTag (resource: Versioned, body: string | Buffer) {
  const bodyHash = createHash('sha1').update(body).digest('base64url').slice(0, BODY_HASH)
  return `"${resource.version}-${bodyHash}${tagCheck(resource, bodyHash)}"`
}

/** The strong ETags an If-Match header lists; undefined when there is none (or `*`). */
export type IfMatch = string[]

export function ifMatchTags (header: string | undefined): IfMatch | undefined {
  if (header === undefined || header.trim() === '*') return undefined
  // Weak tags never match If-Match (RFC 9110 13.1.1: strong comparison): they are left out.
  return header.split(',').map((t) => t.trim()).filter((t) => t.startsWith('"'))
}

const TAG = new RegExp(`^"(\\d+)-([A-Za-z0-9_-]{${BODY_HASH}})([A-Za-z0-9_-]{6})"$`)

export function assertVersion (current: Versioned, accepted: IfMatch | undefined) {
  if (accepted === undefined) return
  const matches = accepted.some((tag) => {
    const m = TAG.exec(tag)
    return m !== null && Number(m[1]) === current.version && m[3] === tagCheck(current, m[2])
  })
  if (!matches) {
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
