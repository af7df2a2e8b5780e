// Rate limits with @fastify/rate-limit: counted in Redis when REDIS_URL is set, so every
// instance shares them, else in this process. Routes opt in with app.rateLimit(...),
// or app.createRateLimit(...) where one route needs several limits.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import { AppError } from './errors.js'

export type RateLimitOptions = { redis?: Redis }

/** The 429 for a limit that resets in `ttlMs` milliseconds. */
export function tooManyRequests (ttlMs: number) {
  const seconds = String(Math.max(1, Math.ceil(ttlMs / 1000)))
  return new AppError('RATE_LIMITED', `Too many requests; retry in ${seconds} s.`, { headers: { 'retry-after': seconds } })
}

export default fp(async function limits (app: FastifyInstance, opts: RateLimitOptions) {
  await app.register(rateLimit, {
    global: false,
    redis: opts.redis,
    nameSpace: 'dateline:rl:',
    // A Redis outage must not take comments down with it; limits resume when it is back.
    skipOnError: true,
    errorResponseBuilder: (_request, context) => tooManyRequests(context.ttl)
  })
}, { name: 'rate-limit' })
