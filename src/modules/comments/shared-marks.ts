// Posts on their way to the table, marked in Redis, so that the same post sent to several
// instances at once is a repeat on all but one: each instance's own mark sees only its posts,
// and the table only those already stored.
import type { Redis } from 'ioredis'

export type SharedMark = { repeat: boolean, done: (stored: boolean) => void }
export type SharedMarks = (clientHash: string, bodyHash: string) => Promise<SharedMark>

/** Longer than a post can take to be stored; after that the table sees it. */
const HOLD_MS = 60_000

export function redisSharedMarks (redis: Redis, prefix: string): SharedMarks {
  return async (clientHash, bodyHash) => {
    const key = `${prefix}comment-posting:${clientHash}:${bodyHash}`
    try {
      const first = await redis.set(key, '1', 'PX', HOLD_MS, 'NX') === 'OK'
      // A post that failed to be stored is no reason to call the next one a repeat.
      return { repeat: !first, done: (stored) => { if (first && !stored) redis.del(key).catch(() => {}) } }
    } catch {
      return { repeat: false, done: () => {} } // Redis down: each instance's own mark still holds
    }
  }
}
