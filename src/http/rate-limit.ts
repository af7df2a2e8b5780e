// Rate limits with @fastify/rate-limit: counted in Redis when REDIS_URL is set, so every
// instance shares them, else in this process. Routes make their limits with
// app.createRateLimit(...) and apply them with enforceLimits, which answers the RateLimit fields.
import { createRequire } from 'node:module'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor, type RateLimitOptions as LimitOptions } from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import { AppError } from './errors.js'

export type RateLimitOptions = { redis?: Redis, prefix: string }

type RouteLimit = LimitOptions & { routeInfo: { method?: string, url?: string } }
type StoreCtor = new (continueExceeding: boolean | undefined, exponentialBackoff: boolean | undefined, redis: Redis, key: string) => FastifyRateLimitStore
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as StoreCtor
const LocalStore = createRequire(import.meta.url)('@fastify/rate-limit/store/LocalStore.js') as new (continueExceeding: boolean | undefined, exponentialBackoff: boolean | undefined) => FastifyRateLimitStore

/**
 * The plugin's in-process store, answering with a copy of its counter. Its own answer is the
 * live entry, which the later requests of a burst go on counting before the first one reads it:
 * every request of a concurrent burst saw the burst's total, so all of them were refused.
 */
function localStore (): FastifyRateLimitStoreCtor {
  const copying = (store: FastifyRateLimitStore): FastifyRateLimitStore => {
    const incr = store.incr.bind(store)
    const child = store.child.bind(store)
    store.incr = (key, callback, timeWindow, max) => incr(key, (error, result) => callback(error, result && { ...result }), timeWindow, max)
    store.child = (options) => copying(child(options))
    return store
  }
  return function Store (options: LimitOptions) { return copying(new LocalStore(options.continueExceeding, options.exponentialBackoff)) } as unknown as FastifyRateLimitStoreCtor
}

/**
 * The plugin's Redis store, keyed `<prefix>rl:<method><route>-<key>`. Its own child store names
 * a limit made with createRateLimit, which has no route, `undefinedundefined-`.
 */
function redisStore (redis: Redis, prefix: string): FastifyRateLimitStoreCtor {
  const scoped = (options: LimitOptions, key: string): FastifyRateLimitStore => {
    const store = new RedisStore(options.continueExceeding, options.exponentialBackoff, redis, key)
    store.child = (route) => {
      const { method, url } = (route as unknown as RouteLimit).routeInfo
      return scoped(route as LimitOptions, method && url ? `${key}${method}${url}-` : key)
    }
    return store
  }
  return function Store (options: LimitOptions) { return scoped(options, `${prefix}rl:`) } as unknown as FastifyRateLimitStoreCtor
}

/** The 429 for a limit that resets in `ttlMs` milliseconds, with the limits' RateLimit fields. */
export function tooManyRequests (ttlMs: number, fields: Record<string, string> = {}) {
  const seconds = String(Math.max(1, Math.ceil(ttlMs / 1000)))
  return new AppError('RATE_LIMITED', `Too many requests; retry in ${seconds} s.`, { headers: { ...fields, 'retry-after': seconds } })
}

/** Where a caller stands with one limit. */
export type LimitState = { policy: string, limit: number, remaining: number, resetSeconds: number, windowSeconds: number }

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy` says each
 * limit (quota and window), `RateLimit` what is left of it and in how many seconds it resets.
 */
export function rateLimitFields (states: LimitState[]): { 'ratelimit-policy': string, ratelimit: string } {
  return {
    'ratelimit-policy': states.map((s) => `"${s.policy}";q=${s.limit};w=${s.windowSeconds}`).join(', '),
    ratelimit: states.map((s) => `"${s.policy}";r=${Math.max(0, s.remaining)};t=${s.resetSeconds}`).join(', ')
  }
}

/** A limit made with app.createRateLimit, named for the RateLimit fields. */
export type NamedLimit = { policy: string, windowSeconds: number, check: ReturnType<FastifyInstance['createRateLimit']> }

/**
 * Counts a request against each limit in turn and answers with the RateLimit fields of those it
 * met; the first one exceeded is a 429 (a later limit is not counted then). A limit whose store
 * could not answer (Redis down: skipOnError) is left out.
 */
export async function enforceLimits (request: FastifyRequest, reply: FastifyReply, limits: NamedLimit[]) {
  const states: LimitState[] = []
  for (const { policy, windowSeconds, check } of limits) {
    const result = await check(request)
    if (result.isAllowed || result.ttl === 0) continue
    states.push({ policy, limit: result.max, remaining: result.remaining, resetSeconds: result.ttlInSeconds, windowSeconds })
    if (result.isExceeded) throw tooManyRequests(result.ttl, rateLimitFields(states))
  }
  if (states.length > 0) reply.headers(rateLimitFields(states))
}

export default fp(async function limits (app: FastifyInstance, opts: RateLimitOptions) {
  await app.register(rateLimit, {
    global: false,
    store: opts.redis ? redisStore(opts.redis, opts.prefix) : localStore(),
    // A Redis outage must not take comments down with it; limits resume when it is back.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => tooManyRequests(context.ttl)
  })
}, { name: 'rate-limit' })
