// An in-process cache of serialized anonymous responses, so hot public reads skip the database.
//
// Correctness comes first:
// - only anonymous GETs are stored or served (no Authorization header), and only 200s, so a
//   draft or a private field can never enter it: anonymous callers cannot see them at all;
// - every successful write bumps a generation that empties the cache, here at once and on every
//   other instance through PostgreSQL NOTIFY; a write answers only after its own notification
//   came back, so the next read anywhere finds the cache already emptied;
// - while the listening connection is down the cache is off, as missed messages could be changes;
// - a scheduled article's time passing is a change too: the cache knows the next such time.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { and, eq, gt, min } from 'drizzle-orm'
import type { Database, Subscription } from '../db/client.js'
import { articles } from '../db/schema.js'

declare module 'fastify' {
  interface FastifyInstance {
    publicCache: PublicCache
  }
}

export type PublicCacheOptions = {
  database: Database
  now: () => Date
  maxEntries: number
  maxBytes: number
  enabled: boolean
}

type Entry = { generation: number, payload: string, etag: string, contentType: string, cacheControl: string }

const CHANNEL = 'dateline_content_changed'
const GRACE_MS = 5

export class PublicCache {
  private entries = new Map<string, Entry>()
  private bytes = 0
  private generation = 0
  private listening: boolean
  private nextDue: number | undefined = 0
  private refreshing: Promise<void> | undefined
  private readonly instance = randomUUID()
  private echoes = new Map<string, () => void>()
  hits = 0
  misses = 0

  constructor (private readonly opts: PublicCacheOptions) {
    this.listening = false
  }

  /** Called for every notification, ours or another instance's. */
  changed (payload: string) {
    this.bump()
    this.echoes.get(payload)?.()
  }

  lost () {
    this.listening = false
    this.bump()
  }

  online () {
    this.listening = true
  }

  private bump () {
    this.generation++
    this.entries.clear()
    this.bytes = 0
    this.nextDue = undefined
  }

  /** Whether the cache may be used now; learns the next scheduled publication time first. */
  private async usable (): Promise<boolean> {
    if (!this.opts.enabled || !this.listening) return false
    const now = this.opts.now().getTime()
    if (this.nextDue !== undefined && now >= this.nextDue) this.bump()
    if (this.nextDue === undefined) {
      this.refreshing ??= this.refreshDue().finally(() => { this.refreshing = undefined })
      // A failed look-up (database down) leaves the cache off; a later request tries again.
      await this.refreshing.catch(() => {})
    }
    return this.nextDue !== undefined
  }

  private async refreshDue () {
    const generation = this.generation
    const now = this.opts.now()
    const [row] = await this.opts.database.db.select({ next: min(articles.publishedAt) }).from(articles)
      .where(and(eq(articles.status, 'scheduled'), gt(articles.publishedAt, now)))
    if (generation === this.generation) this.nextDue = row?.next ? row.next.getTime() : Number.POSITIVE_INFINITY
  }

  async get (key: string): Promise<Entry | undefined> {
    if (!await this.usable()) return undefined
    const entry = this.entries.get(key)
    if (!entry || entry.generation !== this.generation) {
      this.misses++
      return undefined
    }
    this.hits++
    // Least recently used goes first: move this one to the back.
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry
  }

  /** The generation a response is computed in; it is stored only if nothing changed meanwhile. */
  begin (): number { return this.generation }

  set (key: string, generation: number, entry: Omit<Entry, 'generation'>) {
    if (generation !== this.generation || this.nextDue === undefined || !this.listening) return
    const size = entry.payload.length
    if (size > this.opts.maxBytes / 10) return
    const old = this.entries.get(key)
    if (old) { this.bytes -= old.payload.length; this.entries.delete(key) }
    this.entries.set(key, { ...entry, generation })
    this.bytes += size
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.opts.maxEntries && this.bytes <= this.opts.maxBytes) break
      this.entries.delete(k)
      this.bytes -= e.payload.length
    }
  }

  /** Empties this cache and every other instance's, and returns once the message went round. */
  async invalidate () {
    this.bump()
    if (!this.opts.enabled) return
    // Not listening ourselves: tell the others, but no echo can come back to wait for.
    if (!this.listening) return this.opts.database.notify(CHANNEL, '').catch(() => {})
    const payload = `${this.instance}:${randomUUID()}`
    const echoed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.echoes.delete(payload); this.lost(); resolve() }, 2000)
      this.echoes.set(payload, () => { clearTimeout(timer); this.echoes.delete(payload); resolve() })
    })
    await this.opts.database.notify(CHANNEL, payload)
    await echoed
    // Other instances got the same message at the same moment as our echo; a few milliseconds
    // more let theirs land before this write answers, so the next read anywhere is fresh.
    if (this.opts.database.driver === 'pg') await new Promise((resolve) => setTimeout(resolve, GRACE_MS))
  }

  async start (): Promise<Subscription> {
    const subscription = await this.opts.database.listen(CHANNEL, (p) => { this.online(); this.changed(p) }, () => this.lost())
    this.online()
    return subscription
  }

  get stats () {
    return { entries: this.entries.size, bytes: this.bytes, hits: this.hits, misses: this.misses, generation: this.generation }
  }
}

const cacheable = (request: FastifyRequest) =>
  request.method === 'GET' && request.headers.authorization === undefined && request.url.startsWith('/v1/')

// Posting a comment changes nothing public: it waits for moderation.
const changesNothingPublic = (request: FastifyRequest) =>
  request.method === 'POST' && request.routeOptions.url === '/v1/articles/:id/comments'

export default fp(async function publicCache (app: FastifyInstance, opts: PublicCacheOptions) {
  const cache = new PublicCache(opts)
  app.decorate('publicCache', cache)
  let subscription: Subscription | undefined
  if (opts.enabled) {
    app.addHook('onReady', async () => { subscription = await cache.start() })
    app.addHook('onClose', async () => { await subscription?.close() })
  }
  const started = new WeakMap<FastifyRequest, number>()

  app.addHook('onRequest', async (request, reply) => {
    if (!cacheable(request)) return
    const hit = await cache.get(request.url)
    if (!hit) {
      started.set(request, cache.begin())
      return
    }
    reply.header('x-cache', 'hit')
    return reply.code(200).headers({ 'content-type': hit.contentType, etag: hit.etag, 'cache-control': hit.cacheControl }).send(hit.payload)
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const generation = started.get(request)
    if (generation !== undefined && reply.statusCode === 200 && typeof payload === 'string') {
      cache.set(request.url, generation, {
        payload,
        etag: String(reply.getHeader('etag')),
        contentType: String(reply.getHeader('content-type')),
        cacheControl: String(reply.getHeader('cache-control'))
      })
    }
    return payload
  })

  // Writes empty the caches before their response leaves, so the next read is fresh.
  app.addHook('onSend', async (request, reply, payload) => {
    const isWrite = request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS'
    if (isWrite && reply.statusCode < 400 && request.url.startsWith('/v1/') && !changesNothingPublic(request)) {
      await cache.invalidate()
    }
    return payload
  })
}, { name: 'public-cache', dependencies: ['caching'] })
