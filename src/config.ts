// The one place that reads process.env: every setting, its default, validated at start.
import { createHash } from 'node:crypto'
import path from 'node:path'
import { Type, type Static, type TSchema } from 'typebox'
import Value from 'typebox/value'
import proxyAddr from '@fastify/proxy-addr'

// A base URL: scheme, host (name, IPv4 or [IPv6]), optional port and path; no credentials, query or
// fragment, and no character that would need escaping in a URL.
const PUBLIC_BASE = '^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%!$&*+;=:@/-]*)?$'

export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ default: '0.0.0.0' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' }
  ),
  // pino JSON, or lines for people; auto: readable on a terminal, JSON otherwise.
  LOG_FORMAT: Type.Union(['auto', 'json', 'pretty'].map((l) => Type.Literal(l)), { default: 'auto' }),
  // Behind a load balancer: the proxies' addresses or CIDRs (comma-separated), or how many proxy
  // hops to trust, so the client address comes from X-Forwarded-For. Off by default: a client
  // cannot pick its own. `true` trusts every hop, which lets a client pick (README).
  TRUST_PROXY: Type.String({ default: 'false', description: 'false, a number of proxy hops, or comma-separated proxy addresses and CIDRs (such as 10.0.0.1,10.1.0.0/16, loopback, uniquelocal); true trusts every hop' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  // Streaming replicas for anonymous reads (comma-separated URLs); writes and staff stay on DATABASE_URL.
  DATABASE_READ_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://[^,\\s]+(\\s*,\\s*postgres(ql)?://[^,\\s]+)*$', description: 'one or more PostgreSQL URLs, comma-separated, each starting with postgres:// or postgresql://' })),
  // A replica further behind the primary than this serves no reads until it catches up.
  REPLICA_MAX_LAG_SECONDS: Type.Number({ minimum: 0.1, maximum: 3600, default: 5 }),
  // At start, how long to wait for a PostgreSQL server that is starting or not yet reachable.
  DATABASE_CONNECT_WAIT_SECONDS: Type.Integer({ minimum: 0, maximum: 600, default: 30 }),
  // On SIGTERM: how long running requests may take to finish before the process exits anyway.
  SHUTDOWN_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
  // On SIGTERM: how long to keep serving, not ready, before draining (for balancers to notice).
  SHUTDOWN_DELAY_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 0 }),
  DATA_DIR: Type.String({ default: './data' }),
  // Uploaded images; default DATA_DIR/media. Instances behind one load balancer must share it.
  MEDIA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  // Where uploaded images live: a folder (MEDIA_DIR), or an S3-compatible bucket (S3_*).
  MEDIA_STORE: Type.Union([Type.Literal('local'), Type.Literal('s3')], { default: 'local' }),
  S3_BUCKET: Type.Optional(Type.String({ minLength: 1 })),
  S3_REGION: Type.String({ minLength: 1, default: 'us-east-1' }),
  // For stores other than AWS (MinIO, Ceph, R2...): their URL.
  S3_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'a URL that starts with http:// or https://' })),
  S3_FORCE_PATH_STYLE: Type.Boolean({ default: false }),
  // Without them, the AWS SDK's usual sources (AWS_* variables, an instance role).
  S3_ACCESS_KEY_ID: Type.Optional(Type.String({ minLength: 1 })),
  S3_SECRET_ACCESS_KEY: Type.Optional(Type.String({ minLength: 1 })),
  S3_PREFIX: Type.String({ pattern: '^(?:[a-z0-9-]+/)*$', default: '', description: 'empty, or path segments of lower-case letters, digits and - each ending in /, such as media/' }),
  PHOTO_MAX_BYTES: Type.Integer({ minimum: 1024, default: 20 * 1024 * 1024 }),
  // Refuses decompression bombs: a small file that would decode to a huge bitmap.
  PHOTO_MAX_PIXELS: Type.Integer({ minimum: 1, default: 60_000_000 }),
  // The longest side of an upload, and how many times its shorter side it may be (1 x 59,000,000
  // is under the pixel limit, but no photo): both read from the header, before any decoding.
  PHOTO_MAX_SIDE: Type.Integer({ minimum: 1, default: 30_000 }),
  PHOTO_MAX_ASPECT_RATIO: Type.Integer({ minimum: 1, default: 20 }),
  // Uploads decoded at once (each needs memory outside the heap, about 3 bytes a pixel and more:
  // see the README), and how many more may wait; past that an upload is a 503 with Retry-After.
  IMAGE_PROCESSING_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
  IMAGE_PROCESSING_QUEUE: Type.Integer({ minimum: 0, maximum: 1000, default: 4 }),
  // Seeds demo content into an empty embedded database on first start.
  SEED_DEMO: Type.Boolean({ default: true }),
  PUBLIC_CACHE_CONTROL: Type.String({ default: 'public, max-age=60, stale-while-revalidate=600' }),
  // Anonymous responses kept in memory, each evicted by the changes that touch its cache tags
  // (on every instance, which follow the change log).
  PUBLIC_CACHE: Type.Boolean({ default: true }),
  // The longest a stored response is served, whatever changed or not: a last guard.
  PUBLIC_CACHE_MAX_AGE_SECONDS: Type.Integer({ minimum: 1, default: 300 }),
  PUBLIC_CACHE_MAX_ENTRIES: Type.Integer({ minimum: 1, default: 20_000 }),
  PUBLIC_CACHE_MAX_MB: Type.Integer({ minimum: 1, default: 128 }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 1_048_576 }),
  // A request, headers and body, must arrive within this (408 after it): long enough for a
  // 20 MB photo at about 1.5 Mbit/s, short enough that a trickled body cannot hold a connection.
  REQUEST_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 120 }),
  // Open connections from one client address (0: no limit). Behind a load balancer every
  // connection comes from it: raise this, or set 0 and limit at the balancer.
  MAX_CONNECTIONS_PER_ADDRESS: Type.Integer({ minimum: 0, default: 256 }),
  // Where "Also read" links in bodyHtml point; {slug} is replaced by the article's slug. It names a
  // page of the site that shows articles, not of the API, so PUBLIC_URL is not put in front of it.
  ARTICLE_URL_TEMPLATE: Type.String({ default: '/articles/{slug}' }),
  // The site that shows the articles: its name and language, and the base that a relative
  // ARTICLE_URL_TEMPLATE is resolved against in feeds (which need absolute links).
  SITE_TITLE: Type.String({ minLength: 1, maxLength: 200, default: 'Dateline' }),
  SITE_URL: Type.Optional(Type.String({ pattern: PUBLIC_BASE, description: 'an absolute http(s) URL without query or fragment, e.g. https://news.example.com' })),
  SITE_LANGUAGE: Type.String({ pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$', default: 'en', description: 'a language tag such as en, ur or en-GB' }),
  // How many articles a feed lists, and whether it carries the whole body or the standfirst.
  FEED_ITEMS: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  FEED_CONTENT: Type.Union([Type.Literal('full'), Type.Literal('excerpt')], { default: 'full' }),
  // The site's pages of a section, tag and author, as ARTICLE_URL_TEMPLATE is for articles (sitemaps).
  SECTION_URL_TEMPLATE: Type.String({ default: '/sections/{slug}' }),
  TAG_URL_TEMPLATE: Type.String({ default: '/tags/{slug}' }),
  AUTHOR_URL_TEMPLATE: Type.String({ default: '/authors/{slug}' }),
  // URLs a sitemap file holds before the rest go on to a numbered next file (the protocol's limit is 50,000).
  SITEMAP_URLS_PER_FILE: Type.Integer({ minimum: 1, maximum: 50000, default: 50000 }),
  // The API's public address: with it every URL the API returns (photos, bodyHtml, Location) is absolute.
  PUBLIC_URL: Type.Optional(Type.String({ pattern: PUBLIC_BASE, description: 'an absolute http(s) URL without query or fragment, e.g. https://api.example.com or https://example.com/api' })),
  // Replaces PUBLIC_URL/media in media URLs, e.g. a CDN in front of /media; works without PUBLIC_URL too.
  MEDIA_URL: Type.Optional(Type.String({ pattern: PUBLIC_BASE, description: 'an absolute http(s) URL without query or fragment, e.g. https://cdn.example.com/media' })),
  // `sizes` of the photos in bodyHtml: how wide the site shows them, so a browser picks a rendition.
  BODY_PHOTO_SIZES: Type.String({ minLength: 1, maxLength: 500, default: '(min-width: 720px) 720px, 100vw' }),
  CORS_ORIGIN: Type.String({ default: '*' }),
  // open: anyone reads published content; key: reads need a content key (or a staff token), but
  // feeds, sitemaps and preview links, which feed readers, crawlers and reviewers open as they are.
  PUBLIC_READS: Type.Union([Type.Literal('open'), Type.Literal('key')], { default: 'open' }),
  // Requests a minute per content key, shared by all instances through Redis when REDIS_URL is set.
  CONTENT_KEY_RATE_LIMIT: Type.Integer({ minimum: 1, default: 6000 }),
  // Shared store for rate limits across instances; without it limits are per process.
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  // Starts every Redis key, so deployments sharing a Redis keep apart; by default one derived
  // from the database, which instances of one deployment share.
  REDIS_PREFIX: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9:._-]{1,64}$', description: '1 to 64 letters, digits and : . _ -, such as newsroom-a:' })),
  // Key for hashing client addresses; without it one is generated once and kept in the database.
  CLIENT_HASH_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  COMMENT_RATE_PER_CLIENT: Type.Integer({ minimum: 1, default: 5, description: 'comments per client and minute' }),
  COMMENT_RATE_PER_ARTICLE: Type.Integer({ minimum: 1, default: 120, description: 'comments per article and minute' }),
  COMMENT_MAX_LINKS: Type.Integer({ minimum: 0, default: 2 }),
  COMMENT_MAX_DEPTH: Type.Integer({ minimum: 0, maximum: 10, default: 3, description: 'deepest reply level; 0 allows no replies' }),
  // Comma-separated words that send a comment to the moderation queue.
  COMMENT_BLOCKLIST: Type.String({ default: '' }),
  // Preview links to drafts: how long one lives unless its maker says, the longest it may, and how
  // many previews one client may open a minute (the route is a token-guessing surface).
  PREVIEW_LINK_DEFAULT_SECONDS: Type.Integer({ minimum: 60, default: 7 * 86400 }),
  PREVIEW_LINK_MAX_SECONDS: Type.Integer({ minimum: 60, default: 30 * 86400 }),
  PREVIEW_RATE_PER_CLIENT: Type.Integer({ minimum: 1, default: 60, description: 'preview reads per client and minute' }),
  // Failed-authentication budget per client IP and minute.
  AUTH_FAILURE_LIMIT: Type.Integer({ minimum: 1, default: 20 }),
  // How long the answer to an Idempotency-Key is kept for its repeats.
  IDEMPOTENCY_KEY_TTL_SECONDS: Type.Integer({ minimum: 1, maximum: 30 * 86400, default: 86400 }),
  // Each instance reads the change log at least this often (a notification wakes it sooner), so
  // a lost notification delays an eviction by about this much.
  CHANGES_POLL_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
  // An instance whose follower has not read the log for this long stops serving its cache and
  // reports itself not ready.
  CHANGES_MAX_LAG_SECONDS: Type.Integer({ minimum: 1, default: 10 }),
  // How long changes stay in the log (GET /v1/changes answers 410 for older positions).
  CHANGES_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 30 }),
  // Outside caches to purge by cache tag as changes commit (src/modules/changes/purger.ts):
  // Varnish instances running deploy/varnish/default.vcl, by their base URLs (comma-separated).
  PURGE_VARNISH_URLS: Type.Optional(Type.String({ pattern: '^https?://[^,\\s]+(\\s*,\\s*https?://[^,\\s]+)*$', description: 'one or more http(s) URLs, comma-separated, such as http://10.0.0.5:6081' })),
  // Expire rather than remove (xkey-softpurge): Varnish may then serve the old copy within its
  // stale-while-revalidate while it fetches the new one.
  PURGE_VARNISH_SOFT: Type.Boolean({ default: false }),
  // A CDN's purge API (Fastly, Cloudflare, ...): where, how, with which headers, and the body,
  // whose {{tags_json}} (or {{tags_space}}, {{tags_comma}}) becomes a chunk of the tags.
  PURGE_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'a URL that starts with http:// or https://' })),
  PURGE_METHOD: Type.String({ pattern: '^[A-Z]+$', default: 'POST', description: 'an HTTP method in capitals, such as POST or PURGE' }),
  PURGE_BODY_TEMPLATE: Type.String({ default: '{"tags":{{tags_json}}}' }),
  // `Name: value; Other: value`. Hidden in logs: it holds the API's credentials.
  PURGE_HEADERS: Type.Optional(Type.String()),
  // Tags a request at most (Cloudflare takes 30 on some plans, Fastly 256).
  PURGE_CHUNK_SIZE: Type.Integer({ minimum: 1, maximum: 10_000, default: 30 }),
  // Each batch is purged once more after this long (0: never), for a read that raced the change
  // and put the old answer back (an instance or a replica that had not seen it yet).
  PURGE_REPEAT_SECONDS: Type.Number({ minimum: 0, maximum: 600, default: 2 }),
  // How long one purge request may take before it counts as failed (and is tried again).
  PURGE_TIMEOUT_SECONDS: Type.Number({ minimum: 0.1, maximum: 120, default: 10 }),
  // Whether this instance sends webhooks. Every instance may (the work is claimed in the
  // database); turn it off on instances that should only serve requests.
  WEBHOOK_DISPATCH: Type.Boolean({ default: true }),
  // Each instance looks for webhook work at least this often; a change wakes it sooner.
  WEBHOOK_POLL_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: 500 }),
  // The deadline of one delivery attempt: connecting, the answer and its body.
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
  // Deliveries sent at once by one instance.
  WEBHOOK_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 100, default: 8 }),
  // Webhook URLs may resolve to loopback, private, link-local (cloud metadata) and other
  // non-public addresses. Off by default: an admin's URL must not reach inside the network.
  WEBHOOK_ALLOW_PRIVATE: Type.Boolean({ default: false }),
  // Attempts per delivery before it fails: 1 to 11, the retry schedule spans about a day at 11.
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 11, default: 11 }),
  // Multiplies every wait of the retry schedule (5 s, 30 s, 2 min, ... 8 h); tests shrink it.
  WEBHOOK_RETRY_SCALE: Type.Number({ minimum: 0.0001, maximum: 100, default: 1 }),
  // How long finished deliveries (delivered, or given up) stay in an endpoint's delivery log.
  WEBHOOK_DELIVERY_RETENTION_DAYS: Type.Integer({ minimum: 1, default: 30 })
})

export type Config = Static<typeof ConfigSchema>

/** Where uploaded images live. */
export const mediaDirOf = (config: Pick<Config, 'MEDIA_DIR' | 'DATA_DIR'>) => config.MEDIA_DIR ?? path.join(config.DATA_DIR, 'media')

/**
 * Where this deployment's Redis keys start: REDIS_PREFIX, or `dateline:` and a short hash of the
 * database (server, port and name, or the data folder), never of its credentials.
 */
export function redisPrefixOf (config: Pick<Config, 'REDIS_PREFIX' | 'DATABASE_URL' | 'DATA_DIR'>): string {
  if (config.REDIS_PREFIX) return config.REDIS_PREFIX
  let database = `pglite:${path.resolve(config.DATA_DIR)}`
  if (config.DATABASE_URL) {
    const url = new URL(config.DATABASE_URL)
    database = `postgres://${url.host}${url.pathname}${url.searchParams.get('host') ?? ''}`
  }
  return `dateline:${createHash('sha256').update(database).digest('hex').slice(0, 8)}:`
}

/**
 * TRUST_PROXY as Fastify takes it. A hop count becomes a function: Fastify 5 reads a bare number
 * as "trust nothing". Hop i = 0 is the peer that connected; with n hops the client is the
 * address the n-th proxy saw, the (n)th entry from the right of X-Forwarded-For.
 */
export function trustProxyOf (value: string): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (value === 'false' || value === '') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    return hops === 0 ? false : (_address: string, hop: number) => hop < hops
  }
  const list = value.split(',').map((s) => s.trim()).filter(Boolean)
  proxyAddr.compile(list) // throws on what is not an address, a CIDR or a named range
  return list
}

export class ConfigError extends Error {}

type Described = { anyOf?: Described[], const?: unknown, type?: string, minimum?: number, maximum?: number, minLength?: number, pattern?: string, description?: string }

/** What a setting takes, in words. */
function allowed (schema: Described): string {
  if (schema.anyOf?.every((s) => s.const !== undefined)) return `one of ${schema.anyOf.map((s) => s.const).join(', ')}`
  switch (schema.type) {
    case 'integer': {
      const { minimum: min, maximum: max } = schema
      return `a whole number${min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` of at least ${min}` : ''}`
    }
    case 'boolean': return 'true or false'
    default:
      if (schema.pattern === '^postgres(ql)?://') return 'a URL that starts with postgres:// or postgresql://'
      if (schema.pattern === '^rediss?://') return 'a URL that starts with redis:// or rediss://'
      // A pattern is no explanation: a setting that describes itself is named by its description.
      if (schema.description) return schema.description
      if (schema.pattern) return `text matching ${schema.pattern}`
      return schema.minLength ? `text of at least ${schema.minLength} characters` : 'text'
  }
}

/** A value fit for a log: secrets hidden, and a URL's password too. */
function shown (key: string, value: string) {
  if (/SECRET|PASSWORD|PURGE_HEADERS/.test(key)) return '(hidden)'
  return JSON.stringify(value.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@'))
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const picked: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') picked[key] = value
  }
  const candidate = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, picked)) as Record<string, unknown>
  // Each setting on its own: one line a setting, however many rules (or union branches) it breaks.
  const properties = ConfigSchema.properties as Record<string, TSchema & Described>
  const bad = Object.keys(properties).filter((key) => key in candidate && !Value.Check(properties[key], candidate[key]))
  // Settings whose rule a schema cannot say.
  if (!bad.includes('TRUST_PROXY') && typeof candidate.TRUST_PROXY === 'string') {
    try { trustProxyOf(candidate.TRUST_PROXY) } catch { bad.push('TRUST_PROXY') }
  }
  const extra: string[] = []
  if (candidate.DATABASE_READ_URL && !candidate.DATABASE_URL) extra.push('DATABASE_READ_URL needs DATABASE_URL: replicas serve reads for a PostgreSQL primary, not the embedded database.')
  if (candidate.MEDIA_STORE === 's3' && !candidate.S3_BUCKET) extra.push('MEDIA_STORE=s3 needs S3_BUCKET: the bucket that holds the images.')
  if (typeof candidate.PREVIEW_LINK_DEFAULT_SECONDS === 'number' && typeof candidate.PREVIEW_LINK_MAX_SECONDS === 'number' && candidate.PREVIEW_LINK_DEFAULT_SECONDS > candidate.PREVIEW_LINK_MAX_SECONDS) {
    extra.push('PREVIEW_LINK_DEFAULT_SECONDS may not be more than PREVIEW_LINK_MAX_SECONDS: a preview link\'s default lifetime must be one it may have.')
  }
  if (!candidate.S3_ACCESS_KEY_ID !== !candidate.S3_SECRET_ACCESS_KEY) extra.push('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together: set both, or neither to use the AWS SDK\'s own sources.')
  if (bad.length > 0 || extra.length > 0) {
    const lines = bad.map((key) => `${key}=${shown(key, env[key] ?? '')} is not allowed: ${key} takes ${allowed(properties[key])}.`)
    throw new ConfigError([...lines, ...extra].join('\n'))
  }
  const config = candidate as Config
  // One spelling of each base, so that joining a path never doubles a slash.
  for (const key of ['PUBLIC_URL', 'MEDIA_URL'] as const) if (config[key]) config[key] = config[key].replace(/\/+$/, '')
  return config
}
