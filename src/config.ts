// The one place that reads process.env: every setting, its default, validated at start.
import path from 'node:path'
import { Type, type Static, type TSchema } from 'typebox'
import Value from 'typebox/value'

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
  // Behind a load balancer: the number of proxy hops to trust, or their addresses (comma-separated),
  // so the client address comes from X-Forwarded-For. Off by default: a client cannot pick its own.
  TRUST_PROXY: Type.String({ default: 'false' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATABASE_POOL_SIZE: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  // At start, how long to wait for a PostgreSQL server that is starting or not yet reachable.
  DATABASE_CONNECT_WAIT_SECONDS: Type.Integer({ minimum: 0, maximum: 600, default: 30 }),
  // On SIGTERM: how long running requests may take to finish before the process exits anyway.
  SHUTDOWN_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
  // On SIGTERM: how long to keep serving, not ready, before draining (for balancers to notice).
  SHUTDOWN_DELAY_SECONDS: Type.Integer({ minimum: 0, maximum: 300, default: 0 }),
  DATA_DIR: Type.String({ default: './data' }),
  // Uploaded images; default DATA_DIR/media. Instances behind one load balancer must share it.
  MEDIA_DIR: Type.Optional(Type.String({ minLength: 1 })),
  PHOTO_MAX_BYTES: Type.Integer({ minimum: 1024, default: 20 * 1024 * 1024 }),
  // Refuses decompression bombs: a small file that would decode to a huge bitmap.
  PHOTO_MAX_PIXELS: Type.Integer({ minimum: 1, default: 60_000_000 }),
  // Seeds demo content into an empty embedded database on first start.
  SEED_DEMO: Type.Boolean({ default: true }),
  PUBLIC_CACHE_CONTROL: Type.String({ default: 'public, max-age=60, stale-while-revalidate=600' }),
  // Anonymous responses kept in memory, emptied on every write (on every instance).
  PUBLIC_CACHE: Type.Boolean({ default: true }),
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
  // The API's public address: with it every URL the API returns (photos, bodyHtml, Location) is absolute.
  PUBLIC_URL: Type.Optional(Type.String({ pattern: PUBLIC_BASE, description: 'an absolute http(s) URL without query or fragment, e.g. https://api.example.com or https://example.com/api' })),
  // Replaces PUBLIC_URL/media in media URLs, e.g. a CDN in front of /media; works without PUBLIC_URL too.
  MEDIA_URL: Type.Optional(Type.String({ pattern: PUBLIC_BASE, description: 'an absolute http(s) URL without query or fragment, e.g. https://cdn.example.com/media' })),
  // `sizes` of the photos in bodyHtml: how wide the site shows them, so a browser picks a rendition.
  BODY_PHOTO_SIZES: Type.String({ minLength: 1, maxLength: 500, default: '(min-width: 720px) 720px, 100vw' }),
  CORS_ORIGIN: Type.String({ default: '*' }),
  // Shared store for rate limits across instances; without it limits are per process.
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  // Key for hashing client addresses; without it one is generated once and kept in the database.
  CLIENT_HASH_SECRET: Type.Optional(Type.String({ minLength: 16 })),
  COMMENT_RATE_PER_CLIENT: Type.Integer({ minimum: 1, default: 5, description: 'comments per client and minute' }),
  COMMENT_RATE_PER_ARTICLE: Type.Integer({ minimum: 1, default: 120, description: 'comments per article and minute' }),
  COMMENT_MAX_LINKS: Type.Integer({ minimum: 0, default: 2 }),
  COMMENT_MAX_DEPTH: Type.Integer({ minimum: 0, maximum: 10, default: 3, description: 'deepest reply level; 0 allows no replies' }),
  // Comma-separated words that send a comment to the moderation queue.
  COMMENT_BLOCKLIST: Type.String({ default: '' }),
  // Failed-authentication budget per client IP and minute.
  AUTH_FAILURE_LIMIT: Type.Integer({ minimum: 1, default: 20 })
})

export type Config = Static<typeof ConfigSchema>

/** Where uploaded images live. */
export const mediaDirOf = (config: Pick<Config, 'MEDIA_DIR' | 'DATA_DIR'>) => config.MEDIA_DIR ?? path.join(config.DATA_DIR, 'media')

/** TRUST_PROXY as Fastify takes it. */
export function trustProxyOf (value: string): boolean | number | string[] {
  if (value === 'false' || value === '') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) return Number(value)
  return value.split(',').map((s) => s.trim()).filter(Boolean)
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
      if (schema.pattern && schema.description) return schema.description
      if (schema.pattern) return `text matching ${schema.pattern}`
      return schema.minLength ? `text of at least ${schema.minLength} characters` : 'text'
  }
}

/** A value fit for a log: secrets hidden, and a URL's password too. */
function shown (key: string, value: string) {
  if (/SECRET|PASSWORD/.test(key)) return '(hidden)'
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
  if (bad.length > 0) {
    const lines = bad.map((key) => `${key}=${shown(key, env[key] ?? '')} is not allowed: ${key} takes ${allowed(properties[key])}.`)
    throw new ConfigError(lines.join('\n'))
  }
  const config = candidate as Config
  // One spelling of each base, so that joining a path never doubles a slash.
  for (const key of ['PUBLIC_URL', 'MEDIA_URL'] as const) if (config[key]) config[key] = config[key].replace(/\/+$/, '')
  return config
}
