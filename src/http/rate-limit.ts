// Rate limits with @fastify/rate-limit: counted in Redis when REDIS_URL is set, so every
// instance shares them, else in this process. Routes opt in with app.rateLimit(...),
// or app.createRateLimit(...) where one route needs several limits.
import { createRequire } from 'node:module'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor, type RateLimitOptions as LimitOptions } from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import { AppError } from './errors.js'

export type RateLimitOptions = { redis?: Redis, prefix: string }

type RouteLimit = LimitOptions & { routeInfo: { method?: string, url?: string } }
type StoreCtor = new (continueExceeding: boolean | undefined, exponentialBackoff: boolean | undefined, redis: Redis, key: string) => FastifyRateLimitStore
const RedisStore = createRequire(import.meta.url)('@fastify/rate-limit/store/RedisStore.js') as StoreCtor

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

/** The 429 for a limit that resets in `ttlMs` milliseconds. */
export function tooManyRequests (ttlMs: number) {
  const seconds = String(Math.max(1, Math.ceil(ttlMs / 1000)))
  return new AppError('RATE_LIMITED', `Too many requests; retry in ${seconds} s.`, { headers: { 'retry-after': seconds } })
}

export default fp(async function limits (app: FastifyInstance, opts: RateLimitOptions) {
  await app.register(rateLimit, {
    global: false,
    ...(opts.redis ? { store: redisStore(opts.redis, opts.prefix) } : {}),
    // A Redis outage must not take comments down with it; limits resume when it is back.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => tooManyRequests(context.ttl)
  })
}, { name: 'rate-limit' })
