// An in-process cache of serialized anonymous responses, so hot public reads skip the database
// and most of the request pipeline.
//
// Correctness comes first:
// - only anonymous GETs are stored or served (no Authorization header), and only 200s, so a
//   draft or a private field can never enter it: anonymous callers cannot see them at all;
// - every successful write bumps a generation that empties the cache, here at once and on every
//   other instance through PostgreSQL NOTIFY; a write answers only after a notification sent
//   after it came back, so the next read anywhere finds the cache already emptied;
// - while the listening connection is down the cache is off, as missed messages could be changes;
// - a scheduled article's time passing is a change too: the cache knows the next such time.
import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { and, eq, gt, min, sql } from 'drizzle-orm'
import type { Database, Subscription } from '../db/client.js'
import type { ReplicaSet } from '../db/replicas.js'
import { prepared } from '../db/prepared.js'
import { articles } from '../db/schema.js'
import { etagMatches } from './caching.js'
import { compressBody, encodingFor, THRESHOLD, type Encoding } from './compression.js'

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
  /** CORS answers differ by Origin when only some origins are allowed: then it is part of the key. */
  varyOnOrigin: boolean
  /** Read replicas, told how far each change went, and kept off while our own is on its way. */
  replicas?: ReplicaSet
  /** Where a hit's log line goes (a miss is logged by the app like any request). */
  log: FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }
}

/** Bytes to send and their complete headers: a flat [name, value, ...] list that ends with the
 * request id's pair, filled in on each use. */
type Variant = { body: Buffer, headers: string[] }

/** A stored response: the 200 as computed, its compressed copies, and the 304's headers. */
type Entry = {
  generation: number, etag: string
  identity: Variant
  /** Made the first time a client asks for each encoding. */
  encoded: Partial<Record<Encoding, Variant>>
  /** The 200's headers but its length; a compressed copy's headers start with them. */
  common: string[]
  notModified: string[]
  /** The bytes of every variant. */
  size: number
  /** Read since it was stored or last spared from eviction. */
  used: boolean
}

const CHANNEL = 'dateline_content_changed'
const GRACE_MS = 5
/** The longest a request waits for another one computing the same response. */
const WAIT_MS = 2000

export class PublicCache {
  private entries = new Map<string, Entry>()
  private bytes = 0
  private generation = 0
  private listening = false
  private nextDue: number | undefined = 0
  private refreshing: Promise<void> | undefined
  private readonly instance = randomUUID()
  private echoes = new Map<string, () => void>()
  private flight: Promise<void> | undefined
  private queued: Promise<void> | undefined
  /** The key and generation of each request that missed, so its response can be stored. */
  private readonly pending = new WeakMap<FastifyRequest, { key: string, generation: number, waiting?: Array<() => void> }>()
  /** Keys being computed, with the requests waiting for them: a hot miss is computed once. */
  private readonly computing = new Map<string, Array<() => void>>()
  /** Set as the app starts closing: from then on Fastify answers, with its 503s. */
  closing = false
  hits = 0
  /** Hits answered by the HTTP server before Fastify (`serveRaw`). */
  early = 0
  misses = 0
  notifications = 0

  constructor (private readonly opts: PublicCacheOptions) {}

  get enabled () { return this.opts.enabled }

  /** Called for every notification, ours or another instance's: `<id>[ <WAL position>]`. */
  changed (payload: string) {
    const [id, position] = payload.split(' ')
    if (position) this.opts.replicas?.reached(position)
    this.bump()
    this.echoes.get(id)?.()
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

  /** Whether the cache may answer now without any I/O. */
  private ready (): boolean {
    if (!this.opts.enabled || !this.listening || this.nextDue === undefined) return false
    if (this.opts.now().getTime() < this.nextDue) return true
    this.bump()
    return false
  }

  /** Whether the cache may be used now; learns the next scheduled publication time first. */
  private async prepare (): Promise<boolean> {
    if (this.ready()) return true
    this.refreshing ??= this.refreshDue().finally(() => { this.refreshing = undefined })
    // A failed look-up (database down) leaves the cache off; a later request tries again.
    await this.refreshing.catch(() => {})
    return this.ready()
  }

  private async refreshDue () {
    const generation = this.generation
    const now = this.opts.now()
    // Asked again after every write: prepared.
    const [row] = await prepared(this.opts.database.db, 'next_scheduled', (db, name) => db.select({ next: min(articles.publishedAt) }).from(articles)
      .where(and(eq(articles.status, 'scheduled'), gt(articles.publishedAt, sql.placeholder('now')))).prepare(name)).execute({ now })
    if (generation === this.generation) this.nextDue = row?.next ? row.next.getTime() : Number.POSITIVE_INFINITY
  }

  /** Only anonymous GETs of the API: a request with any Authorization header is never a hit. */
  private eligible (method: string | undefined, url: string, headers: IncomingHttpHeaders) {
    return method === 'GET' && headers.authorization === undefined && url.startsWith('/v1/')
  }

  private keyOf (url: string, headers: IncomingHttpHeaders): string {
    const origin = this.opts.varyOnOrigin ? headers.origin : undefined
    return origin === undefined ? url : `${url}\n${origin}`
  }

  /**
   * Answers from the cache, or remembers the request so that its response can be stored. While
   * another request computes the same key, waits for it first (once): a story that everyone
   * opens at the same moment costs one database read, not one a reader.
   */
  private answer (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void, waited = false): void {
    const key = this.keyOf(request.url, request.headers)
    const entry = this.entries.get(key)
    if (!entry || entry.generation !== this.generation) {
      const waiting = this.computing.get(key)
      if (waiting && !waited) {
        waiting.push(() => this.answer(request, reply, done, true))
        return
      }
      this.misses++
      // The first to miss computes for the others; one that waited in vain goes on by itself.
      this.pending.set(request, { key, generation: this.generation, waiting: waiting ? undefined : this.compute(key) })
      return done()
    }
    // Written straight to the socket: the headers were complete when the entry was stored.
    reply.hijack()
    this.send(key, entry, request.raw, reply.raw, request.id)
    done()
  }

  /** Writes a hit: headers in one list, then the stored bytes, compressed if the client asks. */
  private send (key: string, entry: Entry, req: IncomingMessage, res: ServerResponse, id: string) {
    this.hits++
    // Marked, not moved: eviction gives a used entry a second chance (an LRU approximation
    // that costs a hit nothing).
    entry.used = true
    const ifNoneMatch = req.headers['if-none-match']
    // A list, set in one go: the quickest way through Node's header handling. Filling in the
    // shared list is safe, as writeHead copies it before anything else runs.
    if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, entry.etag)) {
      entry.notModified[entry.notModified.length - 1] = id
      res.writeHead(304, entry.notModified).end()
    } else {
      // The plugin's rules: big enough, and no `x-no-compression` from the client.
      const encoding = entry.identity.body.length >= THRESHOLD && req.headers['x-no-compression'] === undefined
        ? encodingFor(req.headers['accept-encoding'])
        : null
      const variant = encoding === null ? entry.identity : (entry.encoded[encoding] ?? this.encode(key, entry, encoding))
      variant.headers[variant.headers.length - 1] = id
      res.writeHead(200, variant.headers).end(variant.body)
    }
    // The line's fields cost an allocation a hit; pino can say whether it would be written.
    if (this.opts.log.isLevelEnabled?.('info') ?? true) this.opts.log.info({ reqId: id, method: req.method, url: req.url, status: res.statusCode, cache: 'hit' }, 'request')
  }

  /**
   * Answers a hit as the HTTP server receives it, before Fastify builds its request and reply
   * (about half the CPU of a hit). Anything else, a miss included, returns false and goes on to
   * Fastify, whose first hook (`serve`) does the rest. Only what `serve` would answer from
   * memory at once is answered here, with the same headers; `app.inject()` never comes this way.
   */
  serveRaw (req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url
    if (this.closing || url === undefined || !this.eligible(req.method, url, req.headers) || !this.ready()) return false
    const key = this.keyOf(url, req.headers)
    const entry = this.entries.get(key)
    if (!entry || entry.generation !== this.generation) return false
    // The id a caller sent is kept, as Fastify does with `requestIdHeader`.
    const id = req.headers['x-request-id']
    this.early++
    this.send(key, entry, req, res, typeof id === 'string' && id !== '' ? id : randomUUID())
    return true
  }

  /** Compresses a stored body once, the first time a client asks for that encoding. */
  private encode (key: string, entry: Entry, encoding: Encoding): Variant {
    const body = compressBody(encoding, entry.identity.body)
    const variant = { body, headers: [...entry.common, 'content-encoding', encoding, 'content-length', String(body.length), 'x-request-id', ''] }
    entry.encoded[encoding] = variant
    entry.size += body.length
    this.bytes += body.length
    this.evict(key)
    return variant
  }

  private compute (key: string) {
    const waiting: Array<() => void> = []
    this.computing.set(key, waiting)
    // A request that never ends must not hold the others for ever.
    setTimeout(() => this.release(key, waiting), WAIT_MS).unref()
    return waiting
  }

  private release (key: string, waiting: Array<() => void>) {
    if (this.computing.get(key) !== waiting) return
    this.computing.delete(key)
    for (const resume of waiting) resume()
  }

  /** The request that computed a key is over (stored or not): the ones waiting for it go on. */
  finished (request: FastifyRequest) {
    const miss = this.pending.get(request)
    if (!miss) return
    this.pending.delete(request)
    if (miss.waiting) this.release(miss.key, miss.waiting)
  }

  /**
   * The first onRequest hook of the app: a hit is answered before routing's other hooks
   * (security headers, CORS, auth) run, with the headers they set for the stored response.
   */
  readonly serve: onRequestHookHandler = (request, reply, done) => {
    if (!this.opts.enabled || !this.listening || !this.eligible(request.method, request.url, request.headers)) return done()
    if (this.ready()) return this.answer(request, reply, done)
    this.prepare().then((usable) => (usable ? this.answer(request, reply, done) : done()), done)
  }

  /** Stores a response computed for a request that missed, if nothing changed meanwhile. */
  store (request: FastifyRequest, headers: OutgoingHttpHeaders, payload: string) {
    const miss = this.pending.get(request)
    if (!miss || miss.generation !== this.generation || this.nextDue === undefined || !this.listening) return
    const body = Buffer.from(payload)
    if (body.length > this.opts.maxBytes / 10) return
    const common: string[] = []
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || name === 'content-length' || name === 'x-request-id') continue
      for (const one of Array.isArray(value) ? value : [value]) common.push(name, String(one))
    }
    common.push('x-cache', 'hit')
    const notModified: string[] = []
    for (let i = 0; i < common.length; i += 2) if (common[i] !== 'content-type') notModified.push(common[i], common[i + 1])
    const old = this.entries.get(miss.key)
    if (old) { this.bytes -= old.size; this.entries.delete(miss.key) }
    this.entries.set(miss.key, {
      generation: miss.generation,
      etag: String(headers.etag),
      identity: { body, headers: [...common, 'content-length', String(body.length), 'x-request-id', ''] },
      encoded: {},
      common,
      notModified: [...notModified, 'x-request-id', ''],
      size: body.length,
      used: false
    })
    this.bytes += body.length
    this.evict(miss.key)
    this.finished(request)
  }

  /** Oldest first; an entry read since its last turn goes to the back instead, once. */
  private evict (stored: string) {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.opts.maxEntries && this.bytes <= this.opts.maxBytes) return
      // The entry just stored is not the one to go, even when every other one was read.
      if (key === stored) continue
      this.entries.delete(key)
      if (entry.used) {
        entry.used = false
        this.entries.set(key, entry)
      } else {
        this.bytes -= entry.size
      }
    }
  }

  /**
   * Empties this cache and every other instance's, and returns once a notification sent after
   * this call went round. Concurrent writes share one: while a notification is on its way, the
   * writes that arrive meanwhile wait for the next one, which then covers them all.
   */
  invalidate (): Promise<void> {
    this.bump()
    if (!this.opts.enabled) return Promise.resolve()
    // Until the notification is back with the change's WAL position, reads stay on the primary.
    const release = this.opts.replicas?.hold()
    return this.notifyAll().finally(release)
  }

  private notifyAll (): Promise<void> {
    // Not listening ourselves: tell the others, but no echo can come back to wait for.
    if (!this.listening) return this.opts.database.notify(CHANNEL, '').catch(() => {})
    if (!this.flight) return this.fly()
    this.queued ??= this.flight.catch(() => {}).then(() => { this.queued = undefined; return this.fly() })
    return this.queued
  }

  private fly (): Promise<void> {
    const flight: Promise<void> = this.roundTrip().finally(() => { if (this.flight === flight) this.flight = undefined })
    this.flight = flight
    return flight
  }

  private async roundTrip () {
    this.notifications++
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
    return { entries: this.entries.size, bytes: this.bytes, hits: this.hits, early: this.early, misses: this.misses, generation: this.generation, notifications: this.notifications }
  }
}

// Writes that change nothing an anonymous reader can see: a comment waits for moderation, and
// a new article is a draft (publishing it is a write of its own).
const privateWrites = new Set(['/v1/articles/:id/comments', '/v1/articles'])
const changesNothingPublic = (request: FastifyRequest) =>
  request.method === 'POST' && privateWrites.has(request.routeOptions.url ?? '')

/**
 * Stores anonymous 200s and empties the caches on writes. Registered after the plugins that set
 * headers (caching, helmet, CORS), so a stored response carries all of them; the cache's
 * `serve` hook must be the app's first onRequest hook.
 */
export default fp(async function publicCache (app: FastifyInstance, opts: { cache: PublicCache }) {
  const { cache } = opts
  app.decorate('publicCache', cache)
  app.addHook('preClose', async () => { cache.closing = true })
  let subscription: Subscription | undefined
  if (cache.enabled) {
    app.addHook('onReady', async () => { subscription = await cache.start() })
    app.addHook('onClose', async () => { await subscription?.close() })
  }

  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode === 200 && typeof payload === 'string') cache.store(request, reply.getHeaders() as OutgoingHttpHeaders, payload)
    return payload
  })

  // Whatever became of a miss (stored, an error, a client gone), the requests waiting go on.
  app.addHook('onResponse', async (request) => { cache.finished(request) })
  app.addHook('onRequestAbort', async (request) => { cache.finished(request) })

  // Writes empty the caches before their response leaves, so the next read is fresh.
  app.addHook('onSend', async (request, reply, payload) => {
    const isWrite = request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS'
    if (isWrite && reply.statusCode < 400 && request.url.startsWith('/v1/') && !changesNothingPublic(request)) {
      await cache.invalidate()
    }
    return payload
  })
}, { name: 'public-cache', dependencies: ['caching'] })
