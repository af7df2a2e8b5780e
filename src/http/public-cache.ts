// An in-process cache of serialized anonymous responses, so hot public reads skip the database
// and most of the request pipeline.
//
// Correctness comes first:
// - only public reads are stored or served, GETs without a staff token (anonymous, or with a
//   content key, which reads exactly what anonymous callers do), and only 200s, so a draft or a
//   private field can never enter it: public readers cannot see them at all;
// - every entry carries the cache tags of what it was built from (src/lib/cache-tags.ts), and
//   every change in the change log evicts exactly the entries carrying one of its tags: here
//   before the write answers, on every other instance as its follower reads the log
//   (src/modules/changes/follower.ts);
// - while the follower cannot read the log the cache is not served, as it could miss changes;
// - each entry is served for PUBLIC_CACHE_MAX_AGE_SECONDS at most, whatever happened.
import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import type { Database } from '../db/client.js'
import type { ReplicaSet } from '../db/replicas.js'
import type { Applied, ChangeFollower } from '../modules/changes/follower.js'
import { TaggedStore, type Stored } from './tagged-store.js'
import { etagMatches } from './caching.js'
import { compressBody, encodingFor, THRESHOLD, type Encoding } from './compression.js'
import { hashToken } from '../modules/tokens/service.js'
import { contentKeyOf, type Admission, type ContentKeyRegistry } from '../modules/content-keys/registry.js'
import { needsKey, rateLimitHeaders } from './auth.js'

declare module 'fastify' {
  interface FastifyInstance {
    publicCache: PublicCache
  }
  interface FastifyRequest {
    /** The cache tags of what this response was built from (tagResponse). */
    cacheTags: string[] | null
  }
}

/**
 * The API paths whose anonymous reads may be stored and tagged: all of /v1/ but previews, which
 * show unpublished articles to whoever holds the link and must never be kept anywhere.
 */
const neverCached = (path: string) => path.startsWith('/v1/previews/')
const cacheablePath = (url: string) => url.startsWith('/v1/') && !neverCached(url)

/** Tags an entry that no route tagged: every change evicts it. */
export const UNTAGGED = 'untagged'

/** Adds cache tags to the response of a request (a public read's handler calls it). */
export function tagResponse (request: FastifyRequest, tags: Iterable<string>) {
  request.cacheTags ??= []
  for (const tag of tags) request.cacheTags.push(tag)
}

export type PublicCacheOptions = {
  database: Database
  follower: ChangeFollower
  maxEntries: number
  /** Milliseconds an entry is served at most. */
  maxAgeMs: number
  /** The cache is not served while the follower has not read the log for this long. */
  maxLagMs: number
  maxBytes: number
  enabled: boolean
  /** CORS answers differ by Origin when only some origins are allowed: then it is part of the key. */
  varyOnOrigin: boolean
  /** Links built from the Host header (no PUBLIC_URL): then it is part of the key. */
  varyOnHost: boolean
  /** Read replicas, kept off while a write of ours is being applied. */
  replicas?: ReplicaSet
  /** Content keys this instance has checked: a key's read is a public read. */
  keys: ContentKeyRegistry
  /** PUBLIC_READS=key: a read without a key is no hit, but on the open paths. */
  keyRequired: boolean
  /** Where a hit's log line goes (a miss is logged by the app like any request). */
  log: FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }
}

/** Bytes to send and their complete headers: a flat [name, value, ...] list that ends with the
 * request id's pair, filled in on each use. */
type Variant = { body: Buffer, headers: string[] }

/** A stored response: the 200 as computed, its compressed copies, and the 304's headers. */
type Entry = Stored & {
  etag: string
  identity: Variant
  /** Made the first time a client asks for each encoding. */
  encoded: Partial<Record<Encoding, Variant>>
  /** The 200's headers but its length; a compressed copy's headers start with them. */
  common: string[]
  notModified: string[]
}

const GRACE_MS = 5
/** How long a write waits for its change's notification to come back before it answers anyway. */
const ECHO_MS = 500
/** The longest a request waits for another one computing the same response. */
const WAIT_MS = 2000

export class PublicCache {
  private readonly entries: TaggedStore<Entry>
  /** The key and epoch of each request that missed, so its response can be stored. */
  private readonly pending = new WeakMap<FastifyRequest, { key: string, epoch: number, waiting?: Array<() => void> }>()
  /** Keys being computed, with the requests waiting for them: a hot miss is computed once. */
  private readonly computing = new Map<string, Array<() => void>>()
  /** Set as the app starts closing: from then on Fastify answers, with its 503s. */
  closing = false
  hits = 0
  /** Hits answered by the HTTP server before Fastify (`serveRaw`). */
  early = 0
  misses = 0

  constructor (private readonly opts: PublicCacheOptions) {
    this.entries = new TaggedStore<Entry>({ maxEntries: opts.maxEntries, maxBytes: opts.maxBytes, maxAgeMs: opts.maxAgeMs })
    opts.follower.subscribe({ apply: (changes) => this.apply(changes), reset: () => this.clear() })
  }

  get enabled () { return this.opts.enabled }

  /** Evicts the entries carrying any tag of these changes (and every untagged entry). */
  apply (changes: Applied[]) {
    const tags = new Set<string>([UNTAGGED])
    for (const c of changes) for (const t of c.tags) tags.add(t)
    this.entries.evictTags(tags)
  }

  /** Empties the cache: what changed is unknown. */
  clear () { this.entries.clear() }

  /** Whether the cache may answer now: the follower has read the log recently enough. */
  private ready (): boolean {
    return this.opts.enabled && this.opts.follower.lagMs <= this.opts.maxLagMs
  }

  /**
   * Whether a request may be a hit: a GET of the API with no Authorization header (unless reads
   * need a key), or with a content key this instance knows, allowed from its Origin and within
   * its rate limit (counted here). Undefined: not a public read that the cache may answer; a
   * string: the hash of a content key this instance has not checked yet; otherwise the key's
   * admission, or null for an anonymous read.
   */
  private admit (method: string | undefined, url: string, headers: IncomingHttpHeaders): Admission | null | undefined | string {
    if (method !== 'GET' || !cacheablePath(url)) return undefined
    const authorization = headers.authorization
    if (authorization === undefined) return this.opts.keyRequired && needsKey(url) ? undefined : null
    const secret = contentKeyOf(authorization)
    if (secret === undefined) return undefined
    const hash = hashToken(secret)
    const key = this.opts.keys.known(hash)
    return key ? this.opts.keys.admit(key, headers.origin) : hash
  }

  private keyOf (url: string, headers: IncomingHttpHeaders): string {
    const origin = this.opts.varyOnOrigin ? headers.origin : undefined
    // Without PUBLIC_URL, feeds and sitemaps build their links from Host: one host's
    // answer must never be served for another's (a client chooses the Host it sends).
    const key = this.opts.varyOnHost ? `${headers.host ?? ''}\n${url}` : url
    return origin === undefined ? key : `${key}\n${origin}`
  }

  /**
   * Answers from the cache, or remembers the request so that its response can be stored. While
   * another request computes the same key, waits for it first (once): a story that everyone
   * opens at the same moment costs one database read, not one a reader.
   */
  private answer (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void, extra?: string[], waited = false): void {
    const key = this.keyOf(request.url, request.headers)
    const entry = this.entries.get(key)
    if (!entry) {
      const waiting = this.computing.get(key)
      if (waiting && !waited) {
        waiting.push(() => this.answer(request, reply, done, extra, true))
        return
      }
      this.misses++
      // The first to miss computes for the others; one that waited in vain goes on by itself.
      this.pending.set(request, { key, epoch: this.entries.epoch, waiting: waiting ? undefined : this.compute(key) })
      return done()
    }
    // Written straight to the socket: the headers were complete when the entry was stored.
    reply.hijack()
    this.send(key, entry, request.raw, reply.raw, request.id, extra)
    done()
  }

  /**
   * Writes a hit: headers in one list, then the stored bytes, compressed if the client asks.
   * `extra` headers are this request's own (a content key's rate limit).
   */
  private send (key: string, entry: Entry, req: IncomingMessage, res: ServerResponse, id: string, extra?: string[]) {
    this.hits++
    // Marked, not moved: eviction gives a used entry a second chance (an LRU approximation
    // that costs a hit nothing).
    entry.used = true
    const ifNoneMatch = req.headers['if-none-match']
    // A list, set in one go: the quickest way through Node's header handling. Filling in the
    // shared list is safe, as writeHead copies it before anything else runs.
    if (ifNoneMatch !== undefined && etagMatches(ifNoneMatch, entry.etag)) {
      entry.notModified[entry.notModified.length - 1] = id
      res.writeHead(304, withExtra(entry.notModified, extra)).end()
    } else {
      // The plugin's rules: big enough, and no `x-no-compression` from the client.
      const encoding = entry.identity.body.length >= THRESHOLD && req.headers['x-no-compression'] === undefined
        ? encodingFor(req.headers['accept-encoding'])
        : null
      const variant = encoding === null ? entry.identity : (entry.encoded[encoding] ?? this.encode(key, entry, encoding))
      variant.headers[variant.headers.length - 1] = id
      res.writeHead(200, withExtra(variant.headers, extra)).end(variant.body)
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
    if (this.closing || url === undefined || !this.ready()) return false
    // A key is counted only when this answers; a miss goes on to `serve`, which counts it once.
    const key = this.keyOf(url, req.headers)
    const entry = this.entries.get(key)
    if (!entry) return false
    const admission = this.admit(req.method, url, req.headers)
    if (admission === undefined || typeof admission === 'string' || (admission !== null && !admission.ok)) return false
    // The id a caller sent is kept, as Fastify does with `requestIdHeader`.
    const id = req.headers['x-request-id']
    this.early++
    this.send(key, entry, req, res, typeof id === 'string' && id !== '' ? id : randomUUID(), admission?.rate && rateLimitHeaders(admission.rate))
    return true
  }

  /** Compresses a stored body once, the first time a client asks for that encoding. */
  private encode (key: string, entry: Entry, encoding: Encoding): Variant {
    const body = compressBody(encoding, entry.identity.body)
    const variant = { body, headers: [...entry.common, 'content-encoding', encoding, 'content-length', String(body.length), 'x-request-id', ''] }
    entry.encoded[encoding] = variant
    entry.size += body.length
    this.entries.grew(key, body.length)
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
    if (!this.ready()) return done()
    const admission = this.admit(request.method, request.url, request.headers)
    if (admission === undefined) return done()
    // A key not checked here yet is looked up once; one that is unknown is auth's to refuse.
    if (typeof admission === 'string') {
      this.opts.keys.resolve(admission).then((key) => (key ? this.serve.call(reply.server, request, reply, done) : done()), () => done())
      return
    }
    // Auth takes the key's admission from here, so a miss is counted once; a refusal is its to answer.
    if (admission !== null) {
      request.keyAdmission = admission
      if (!admission.ok) return done()
    }
    this.answer(request, reply, done, admission?.rate && rateLimitHeaders(admission.rate))
  }

  /** Stores a response computed for a request that missed, if nothing changed meanwhile. */
  store (request: FastifyRequest, headers: OutgoingHttpHeaders, payload: string, tags: string[]) {
    const miss = this.pending.get(request)
    if (!miss || !this.ready() || this.entries.touchedSince(miss.epoch, tags)) return
    const body = Buffer.from(payload)
    if (body.length > this.opts.maxBytes / 10) return
    const common: string[] = []
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined || name === 'content-length' || name === 'x-request-id' || name.startsWith('ratelimit')) continue
      for (const one of Array.isArray(value) ? value : [value]) common.push(name, String(one))
    }
    common.push('x-cache', 'hit')
    const notModified: string[] = []
    for (let i = 0; i < common.length; i += 2) if (common[i] !== 'content-type') notModified.push(common[i], common[i + 1])
    this.entries.set(miss.key, {
      etag: String(headers.etag),
      tags,
      storedAt: Date.now(),
      identity: { body, headers: [...common, 'content-length', String(body.length), 'x-request-id', ''] },
      encoded: {},
      common,
      notModified: [...notModified, 'x-request-id', ''],
      size: body.length,
      used: false
    })
    this.finished(request)
  }

  /**
   * After a write committed: reads the change log here (a read that starts now, so it sees the
   * write's changes) and evicts what they touch, before the write answers. Other instances are
   * woken by the same commit: once our own notification is back, a few milliseconds let theirs
   * land too, so the next read anywhere is most likely fresh (and at worst one poll late).
   * Replicas serve none of this instance's reads meanwhile.
   */
  async written (): Promise<void> {
    const release = this.opts.replicas?.hold()
    try {
      await this.opts.follower.follow()
      if (this.opts.enabled && this.opts.database.driver === 'pg') {
        await this.opts.follower.echoed(ECHO_MS)
        await new Promise((resolve) => setTimeout(resolve, GRACE_MS))
      }
    } catch {
      // The log cannot be read (the database just went away): nothing stored may be trusted.
      this.clear()
    } finally {
      release?.()
    }
  }

  get stats () {
    const store = this.entries
    return { entries: store.size, tags: store.tagCount, bytes: store.bytes, hits: this.hits, early: this.early, misses: this.misses, evicted: store.evicted, applied: this.opts.follower.applied }
  }
}

/**
 * Longest tag list a response names: Varnish takes 8 KB a header by default, Fastly and
 * Cloudflare 16 KB. A response with more (a long page that embeds much) is tagged UNTAGGED
 * instead, which every change evicts: correct, only less lasting.
 */
const MAX_TAGS_LENGTH = 4000

/** A read without a staff token: anonymous, or with a content key (auth refused anything else). */
const isPublicRead = (request: FastifyRequest) => request.principal === null && (request.headers.authorization === undefined || request.contentKey !== null)

/** A stored header list with a request's own headers put in before the request id's pair. */
function withExtra (headers: string[], extra: string[] | undefined): string[] {
  return extra === undefined ? headers : [...headers.slice(0, -2), ...extra, ...headers.slice(-2)]
}

/** The tags of a response: those its handler gave, or UNTAGGED. */
function tagsOf (request: FastifyRequest): string[] {
  if (!request.cacheTags || request.cacheTags.length === 0) return [UNTAGGED]
  const tags = [...new Set(request.cacheTags)]
  return tags.reduce((n, t) => n + t.length + 1, 0) > MAX_TAGS_LENGTH ? [UNTAGGED] : tags
}

/**
 * Stores anonymous 200s, tells outside caches their tags, and applies a write's changes before
 * it answers. Registered after the plugins that set headers (caching, helmet, CORS), so a stored
 * response carries all of them; the cache's `serve` hook must be the app's first onRequest hook.
 */
export default fp(async function publicCache (app: FastifyInstance, opts: { cache: PublicCache, follower: ChangeFollower }) {
  const { cache, follower } = opts
  app.decorate('publicCache', cache)
  app.decorateRequest('cacheTags', null)
  app.addHook('preClose', async () => { cache.closing = true })
  app.addHook('onReady', async () => { await follower.start() })
  app.addHook('onClose', async () => { await follower.stop() })

  app.addHook('onSend', async (request, reply, payload) => {
    // A 301 from an old slug (src/modules/redirects) is tagged for outside caches too, but only
    // 200s are stored here: an entry is always answered as a 200. The route as well as the URL:
    // a path spelled with escapes (`/v1/%70reviews/...`) is the same route.
    const status = reply.statusCode
    if (request.method !== 'GET' || (status !== 200 && status !== 301) || !cacheablePath(request.url) || neverCached(request.routeOptions.url ?? '') || !isPublicRead(request)) return payload
    // Outside caches evict by these too: Surrogate-Key (Fastly, Varnish xkey), Cache-Tag (Cloudflare).
    const tags = tagsOf(request)
    reply.header('surrogate-key', tags.join(' '))
    reply.header('cache-tag', tags.join(','))
    if (status === 200 && typeof payload === 'string') cache.store(request, reply.getHeaders() as OutgoingHttpHeaders, payload, tags)
    return payload
  })

  // Whatever became of a miss (stored, an error, a client gone), the requests waiting go on.
  app.addHook('onResponse', async (request) => { cache.finished(request) })
  app.addHook('onRequestAbort', async (request) => { cache.finished(request) })

  // A write's changes are applied here before its response leaves, so the next read is fresh.
  app.addHook('onSend', async (request, reply, payload) => {
    const isWrite = request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS'
    if (isWrite && reply.statusCode < 400 && request.url.startsWith('/v1/')) await cache.written()
    return payload
  })
}, { name: 'public-cache', dependencies: ['caching'] })
