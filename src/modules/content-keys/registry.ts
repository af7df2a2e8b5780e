// The content keys this instance has checked, and their rate limits: what lets a key's read be
// answered from the public cache as fast as an anonymous one, with no database or Redis
// round trip on the way.
//
// - A key is looked up in the database once, then known here until it is revoked: revoking
//   records a change, and the change follower evicts it here (on the revoking instance before
//   the revocation answers, on the others as they read the log).
// - Requests are counted per key in fixed windows of a minute. With Redis, each instance adds its
//   counts to the key's shared counter every second and takes back the total, so the limit holds
//   across instances to within a second's traffic; without it, each instance counts alone.
import type { Redis } from 'ioredis'
import type { Db } from '../../db/client.js'
import { entityTag } from '../../lib/cache-tags.js'
import { findActiveKey, touchKeys } from './service.js'

export const CONTENT_KEY_PREFIX = 'dlc_'

export type KnownKey = { id: string, origins: string[], tag: string }
export type Admission =
  | { ok: true, key: KnownKey, rate: RateState }
  | { ok: false, reason: 'origin' | 'rate', key: KnownKey, rate?: RateState }
export type RateState = { limit: number, remaining: number, resetSeconds: number }

type Window = { window: number, count: number, unsent: number }

const WINDOW_MS = 60_000
const SYNC_MS = 1000
const TOUCH_MS = 60_000
const MISS_MS = 5000
const MAX_MISSES = 10_000

/** The key in `Authorization: Bearer dlc_...`, or undefined when the header holds something else. */
export function contentKeyOf (authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const m = /^Bearer[ \t]+(dlc_[A-Za-z0-9\-_]+)[ \t]*$/i.exec(authorization)
  return m ? m[1] : undefined
}

export type RegistryOptions = {
  db: Db
  now: () => Date
  limit: number
  redis?: Redis
  prefix: string
  /** Whether the change log is being read: if not, a revocation might be missed, so nothing is kept. */
  fresh: () => boolean
}

export class ContentKeyRegistry {
  private readonly byHash = new Map<string, KnownKey>()
  private readonly windows = new Map<string, Window>()
  private readonly used = new Set<string>()
  private readonly lookups = new Map<string, Promise<KnownKey | undefined>>()
  /** Hashes that are no key, until when. */
  private readonly misses = new Map<string, number>()
  /** Moved by every change: a look-up that spans one does not remember its answer. */
  private generation = 0
  private timers: NodeJS.Timeout[] = []
  private syncing = false

  constructor (private readonly opts: RegistryOptions) {}

  start () {
    if (this.opts.redis) this.timers.push(setInterval(() => { void this.sync() }, SYNC_MS).unref())
    this.timers.push(setInterval(() => { void this.touch() }, TOUCH_MS).unref())
  }

  async stop () {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    await this.touch()
  }

  /** A key already checked here, by its hash (none while the change log is not being read). */
  known (hash: string): KnownKey | undefined { return this.opts.fresh() ? this.byHash.get(hash) : undefined }

  /**
   * A key by its hash: from memory, or from the database (then remembered). Concurrent look-ups
   * of one hash share a query, and a hash found to be no key is remembered for a few seconds, so
   * a flood of made-up keys costs the database little.
   */
  resolve (hash: string): Promise<KnownKey | undefined> {
    const known = this.known(hash)
    if (known) return Promise.resolve(known)
    const missUntil = this.misses.get(hash)
    if (missUntil !== undefined && missUntil > Date.now()) return Promise.resolve(undefined)
    let lookup = this.lookups.get(hash)
    if (!lookup) {
      lookup = this.lookUp(hash).finally(() => this.lookups.delete(hash))
      this.lookups.set(hash, lookup)
    }
    return lookup
  }

  private async lookUp (hash: string): Promise<KnownKey | undefined> {
    // A revocation applied while the query ran must not be undone by its (older) answer.
    const generation = this.generation
    const row = await findActiveKey(this.opts.db, hash)
    if (!row) {
      if (this.misses.size >= MAX_MISSES) this.misses.clear()
      this.misses.set(hash, Date.now() + MISS_MS)
      return undefined
    }
    const key = { id: row.id, origins: row.allowedOrigins, tag: entityTag('content_key', row.id) }
    if (generation === this.generation && this.opts.fresh()) this.byHash.set(hash, key)
    return key
  }

  /** Forgets the keys a change names (revoked or changed): the next use looks again. */
  forget (tags: Iterable<string>) {
    const gone = new Set(tags)
    for (const [hash, key] of this.byHash) if (gone.has(key.tag)) this.byHash.delete(hash)
    if (gone.size > 0) this.generation++
  }

  clear () {
    this.byHash.clear()
    this.generation++
  }

  /** Whether a request with this key, from this Origin, may be answered now; counts it if so. */
  admit (key: KnownKey, origin: string | undefined): Admission {
    if (origin !== undefined && key.origins.length > 0 && !key.origins.includes(origin.toLowerCase())) return { ok: false, reason: 'origin', key }
    const rate = this.take(key.id)
    return rate.remaining < 0 ? { ok: false, reason: 'rate', key, rate: { ...rate, remaining: 0 } } : { ok: true, key, rate }
  }

  private take (id: string): RateState {
    const nowMs = this.opts.now().getTime()
    const window = Math.floor(nowMs / WINDOW_MS)
    let w = this.windows.get(id)
    if (!w || w.window !== window) {
      w = { window, count: 0, unsent: 0 }
      this.windows.set(id, w)
    }
    this.used.add(id)
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - nowMs) / 1000))
    // A refused request is not counted: a client that keeps trying does not push its reset away.
    if (w.count >= this.opts.limit) return { limit: this.opts.limit, remaining: -1, resetSeconds }
    w.count++
    w.unsent++
    return { limit: this.opts.limit, remaining: this.opts.limit - w.count, resetSeconds }
  }

  /** Adds this instance's counts to the shared ones and takes back the totals. */
  async sync () {
    const redis = this.opts.redis
    if (!redis || this.syncing || redis.status !== 'ready') return
    this.syncing = true
    try {
      // Every key used in this window: those with counts to add, and those whose total others
      // may have moved (adding 0 reads it).
      const current = Math.floor(this.opts.now().getTime() / WINDOW_MS)
      const batch = [...this.windows].filter(([, w]) => w.unsent > 0 || w.window === current)
      if (batch.length === 0) return
      const multi = redis.multi()
      for (const [id, w] of batch) {
        const name = `${this.opts.prefix}ck:${id}:${w.window}`
        multi.incrby(name, w.unsent).pexpire(name, 2 * WINDOW_MS)
        w.unsent = 0
      }
      const results = await multi.exec()
      batch.forEach(([, w], i) => {
        const total = Number(results?.[2 * i]?.[1])
        if (Number.isFinite(total)) w.count = Math.max(w.count, total)
      })
    } catch {
      // Redis away: each instance goes on counting alone until it is back.
    } finally {
      this.syncing = false
    }
    // Windows that ended are of no more use.
    const current = Math.floor(this.opts.now().getTime() / WINDOW_MS)
    for (const [id, w] of this.windows) if (w.window < current && w.unsent === 0) this.windows.delete(id)
  }

  /** Writes when the keys used lately were last used, at most once a minute a key. */
  async touch () {
    if (this.used.size === 0) return
    const ids = [...this.used]
    this.used.clear()
    await touchKeys(this.opts.db, ids, this.opts.now()).catch(() => undefined)
  }
}
