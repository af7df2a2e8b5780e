import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

// Counts failed authentications per client in fixed windows, to slow down token guessing.
export interface FailureLimiter {
  /** Seconds the client must still wait, or 0. */
  blockedFor (client: string): Promise<number>
  fail (client: string): Promise<void>
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
  return {
    async blockedFor (client) {
      const w = current(client)
      if (!w || w.count < limit) return 0
      return Math.max(1, Math.ceil((w.start + windowSeconds * 1000 - now()) / 1000))
    },
    async fail (client) {
      const w = current(client)
      if (w) w.count++
      else {
        // Drop expired windows now and then so the map stays small.
        if (windows.size > 10_000) for (const key of windows.keys()) current(key)
        windows.set(client, { start: now(), count: 1 })
      }
    }
  }
}

/** Counter in Redis, shared by every instance. Keys carry a hash of the client, not its address. */
export function redisFailureLimiter (redis: Redis, limit: number, windowSeconds: number): FailureLimiter {
  const key = (client: string) => `dateline:authfail:${createHash('sha256').update(client).digest('base64url').slice(0, 22)}`
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
        const k = key(client)
        const count = await redis.incr(k)
        if (count === 1) await redis.expire(k, windowSeconds)
      } catch {
        // as above
      }
    }
  }
}
