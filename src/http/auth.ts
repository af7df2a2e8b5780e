// Bearer-token authentication and role checks. Each route declares who may call it in
// `config.access`; a route under /v1 without one refuses to start.
import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Db } from '../db/client.js'
import { AppError } from './errors.js'
import { rateLimitFields } from './rate-limit.js'
import { findActiveToken, hashToken, touchToken } from '../modules/tokens/service.js'
import type { FailureLimiter } from './failure-limiter.js'
import { CONTENT_KEY_PREFIX, type Admission, type ContentKeyRegistry, type KnownKey, type RateState } from '../modules/content-keys/registry.js'

export type Role = 'admin' | 'editor' | 'author'
export type Principal = { userId: string, role: Role, authorId: string | null, tokenId: string }
/** public: anyone; author: any staff token; editor: editors and admins; admin: admins. */
export type Access = 'public' | Role

const rank: Record<Role, number> = { author: 1, editor: 2, admin: 3 }

export const hasRole = (principal: Principal | null, role: Role) => principal !== null && rank[principal.role] >= rank[role]

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null
    /** The content key a public read came with (src/modules/content-keys). */
    contentKey: KnownKey | null
    /** The key's admission, when the public cache's first hook already decided it. */
    keyAdmission: Admission | null
  }
  interface FastifyContextConfig {
    access?: Access
  }
}

export type AuthOptions = {
  db: Db
  now: () => Date
  limiter: FailureLimiter
  keys: ContentKeyRegistry
  /** PUBLIC_READS=key: a read needs a content key or a staff token, but on the open paths. */
  keyRequired: boolean
}

/** Reads that stay open when PUBLIC_READS=key: feed readers, crawlers and preview links send no keys. */
export const OPEN_READS = ['/v1/feeds/', '/v1/sitemaps/', '/v1/previews/']
const isOpenRead = (url: string) => OPEN_READS.some((prefix) => url.startsWith(prefix))
/** Whether PUBLIC_READS=key asks a read of this URL for a key: the API's, but the open ones (media files load in <img> tags, which send no key). */
export const needsKey = (url: string) => url.startsWith('/v1/') && !isOpenRead(url)

const isRead = (method: string) => method === 'GET' || method === 'HEAD'

/** The IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers) of a content key's limit. */
export const rateLimitHeaders = (rate: RateState): [string, string, string, string] => {
  const fields = rateLimitFields([{ policy: 'content-key', windowSeconds: 60, ...rate }])
  return ['ratelimit-policy', fields['ratelimit-policy'], 'ratelimit', fields.ratelimit]
}

const challenge = 'Bearer realm="dateline"'

function unauthorized (detail: string, error?: string) {
  return new AppError('UNAUTHORIZED', detail, {
    headers: { 'www-authenticate': error ? `${challenge}, error="${error}"` : challenge }
  })
}

const tooManyFailures = (seconds: number) => new AppError('RATE_LIMITED', 'Too many failed authentication attempts from this client; wait and retry.', { headers: { 'retry-after': String(seconds) } })

function bearer (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined) return undefined
  // RFC 9110/6750: the scheme, then ASCII spaces or tabs only (`\s` would take a no-break space
  // or any Unicode space), then a token68.
  const m = /^Bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i.exec(header)
  if (!m) throw unauthorized('The Authorization header must be `Bearer <token>`.', 'invalid_request')
  return m[1]
}

export default fp(async function auth (app: FastifyInstance, opts: AuthOptions) {
  app.decorateRequest('principal', null)
  app.decorateRequest('contentKey', null)
  app.decorateRequest('keyAdmission', null)

  /** A content key: known and allowed from here, and within its rate limit. */
  async function admitKey (request: FastifyRequest, reply: FastifyReply, secret: string) {
    let admission = request.keyAdmission
    if (!admission) {
      const blockedFor = await opts.limiter.blockedFor(request.ip)
      if (blockedFor > 0) throw tooManyFailures(blockedFor)
      const key = await opts.keys.resolve(hashToken(secret))
      if (!key) {
        const wait = await opts.limiter.fail(request.ip)
        if (wait > 0) throw tooManyFailures(wait)
        throw unauthorized('The content key is unknown or revoked.', 'invalid_token')
      }
      admission = opts.keys.admit(key, request.headers.origin)
    }
    request.contentKey = admission.key
    const headers = admission.rate ? rateLimitHeaders(admission.rate) : []
    for (let i = 0; i < headers.length; i += 2) reply.header(headers[i], headers[i + 1])
    if (admission.ok) return
    if (admission.reason === 'origin') throw new AppError('FORBIDDEN', `This content key may not be used from ${request.headers.origin}.`)
    const seconds = String(admission.rate!.resetSeconds)
    throw new AppError('RATE_LIMITED', `This content key made too many requests; retry in ${seconds} s.`, { headers: { 'retry-after': seconds } })
  }

  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/v1') && route.config?.access === undefined) {
      throw new Error(`Route ${route.method} ${route.url} declares no access rule`)
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access
    if (access === undefined) return
    const client = request.ip
    const secret = bearer(request)
    if (secret?.startsWith(CONTENT_KEY_PREFIX)) {
      await admitKey(request, reply, secret)
      if (access !== 'public') throw new AppError('FORBIDDEN', 'A content key reads published content only; this needs a staff token.')
      if (!isRead(request.method)) throw new AppError('FORBIDDEN', 'A content key reads only; it can write nothing.')
      return
    } else if (secret !== undefined) {
      const blockedFor = await opts.limiter.blockedFor(client)
      if (blockedFor > 0) throw tooManyFailures(blockedFor)
      const hash = hashToken(secret)
      const token = secret.startsWith('dl_') ? await findActiveToken(opts.db, hash, opts.now()) : undefined
      if (!token || !timingSafeEqual(Buffer.from(token.tokenHash), Buffer.from(hash))) {
        // A failure past the limit is answered as refused, like those that follow it.
        const wait = await opts.limiter.fail(client)
        if (wait > 0) throw tooManyFailures(wait)
        throw unauthorized('The token is unknown, revoked or expired.', 'invalid_token')
      }
      request.principal = { userId: token.userId, role: token.role, authorId: token.authorId, tokenId: token.id }
      await touchToken(opts.db, token, opts.now())
    }
    if (access === 'public') {
      if (opts.keyRequired && !request.principal && isRead(request.method) && needsKey(request.url)) {
        throw unauthorized('This API needs a content key for reads: send `Authorization: Bearer <content key>`.')
      }
      return
    }
    if (!request.principal) throw unauthorized('This needs a staff token: send `Authorization: Bearer <token>`.')
    if (!hasRole(request.principal, access)) {
      throw new AppError('FORBIDDEN', `This needs the ${access} role or higher; your token has ${request.principal.role}.`)
    }
  })
}, { name: 'auth' })
