import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

// Counts failed authentications per client in fixed windows, to slow down token guessing.
// Each failure is counted and judged in one step, so a burst of guesses sent at once gets no
// more answers than the limit: the rest are 429s.
export interface FailureLimiter {
  /** Seconds the client must still wait, or 0. */
  blockedFor (client: string): Promise<number>
  /** Counts a failure; seconds the client must now wait (the limit is spent), or 0. */
  fail (client: string): Promise<number>
}

/** In-process counter: right for one instance; a shared store serves several. */
export function memoryFailureLimiter (limit: number, windowSeconds: number, now: () => number = Date.now): FailureLimiter {
  const windows = new Map<string, { start: number, count: number }>()
  const current = (client: string) => {
    const w = windows.get(client)
    if (w && now() - w.start < windowSeconds * 1000) return w
    windows.delete(client)
    return undefined
  }
  const waitFor = (w: { start: number, count: number } | undefined, over: number) =>
    !w || w.count < over ? 0 : Math.max(1, Math.ceil((w.start + windowSeconds * 1000 - now()) / 1000))
  return {
    async blockedFor (client) {
      return waitFor(current(client), limit)
    },
    async fail (client) {
      let w = current(client)
      if (w) w.count++
      else {
        // Drop expired windows now and then so the map stays small.
        if (windows.size > 10_000) for (const key of windows.keys()) current(key)
        w = { start: now(), count: 1 }
        windows.set(client, w)
      }
      return waitFor(w, limit + 1)
    }
  }
}

// One round trip: count, start the window on the first failure, and say how long it has left.
const countFailure = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return { count, redis.call('TTL', KEYS[1]) }`

/** Counter in Redis, shared by every instance. Keys carry a hash of the client, not its address. */
export function redisFailureLimiter (redis: Redis, prefix: string, limit: number, windowSeconds: number): FailureLimiter {
  const key = (client: string) => `${prefix}authfail:${createHash('sha256').update(client).digest('base64url').slice(0, 22)}`
  return {
    async blockedFor (client) {
      try {
        const [count, ttl] = await Promise.all([redis.get(key(client)), redis.ttl(key(client))])
        return Number(count ?? 0) >= limit ? Math.max(1, ttl) : 0
      } catch {
        return 0 // Redis down: authentication goes on; the limit resumes when it is back.
      }
    },
    async fail (client) {
      try {
        const [count, ttl] = await redis.eval(countFailure, 1, key(client), windowSeconds) as [number, number]
        return count > limit ? Math.max(1, ttl) : 0
      } catch {
        return 0 // as above
      }
    }
  }
}
