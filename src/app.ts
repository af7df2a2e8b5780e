// buildApp: the whole API, assembled. It never listens; server.ts and the tests do that.
import Fastify, { LogController, type FastifyServerOptions } from 'fastify'
import cors from '@fastify/cors'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { Redis } from 'ioredis'
import type { TypeProvider } from './http/type-provider.js'
import { redisPrefixOf, trustProxyOf, type Config } from './config.js'
import { openDatabase, openReplica, type Database, type Db } from './db/client.js'
import { readRouting, ReplicaSet } from './db/replicas.js'
import { publicUrls, type PublicUrls } from './lib/public-urls.js'
import { WorkQueue } from './lib/work-queue.js'
import auth from './http/auth.js'
import caching, { notModified } from './http/caching.js'
import compression from './http/compression.js'
import drain from './http/drain.js'
import closeEarlyAnswers, { checkingInterval, guardServer } from './http/connections.js'
import { answerServerErrors, clientErrorHandler, frameworkErrorHandler } from './http/early-answers.js'
import { corsOptions } from './http/cors.js'
import { buildSerializer, buildValidator } from './http/compilers.js'
import errors from './http/errors.js'
import idempotency from './http/idempotency.js'
import { memoryFailureLimiter, redisFailureLimiter, type FailureLimiter } from './http/failure-limiter.js'
import openapi from './http/openapi.js'
import publicCache, { PublicCache } from './http/public-cache.js'
import { ChangeFollower } from './modules/changes/follower.js'
import { changeJobs, type ChangeJobs } from './modules/changes/jobs.js'
import changeRoutes from './modules/changes/routes.js'
import { httpTarget, parseHeaders, Purger, varnishTarget, type PurgeTarget } from './modules/changes/purger.js'
import rateLimits from './http/rate-limit.js'
import securityHeaders, { API_SECURITY_HEADERS } from './http/security-headers.js'
import textInput, { parseQueryString } from './http/text-input.js'
import { sharedSchemas } from './http/schemas.js'
import articleBulkRoutes from './modules/articles/bulk-routes.js'
import { bulkSchemas } from './modules/articles/bulk-schemas.js'
import articleRoutes from './modules/articles/routes.js'
import { articleSchemas } from './modules/articles/schemas.js'
import { clientHasher } from './modules/comments/client-hash.js'
import { articleCommentRoutes, commentRoutes } from './modules/comments/routes.js'
import { redisSharedMarks } from './modules/comments/shared-marks.js'
import { commentSchemas } from './modules/comments/schemas.js'
import { correctionSchemas } from './modules/corrections/schemas.js'
import correctionRoutes from './modules/corrections/routes.js'
import { ruleScreen, type Screen } from './modules/comments/screen.js'
import authorRoutes from './modules/authors/routes.js'
import { AuthorLinksSchema, AuthorSchema } from './modules/authors/schemas.js'
import healthRoutes from './modules/health/routes.js'
import feedRoutes from './modules/feeds/routes.js'
import sitemapRoutes, { rootSitemapRoute } from './modules/sitemaps/routes.js'
import { mediaRoutes } from './modules/media/routes.js'
import { photoRoutes } from './modules/photos/routes.js'
import type { MediaStore } from './modules/photos/storage.js'
import { mediaStoreOf } from './modules/photos/media-store.js'
import { PhotoSchema } from './modules/photos/schemas.js'
import redirectRoutes from './modules/redirects/routes.js'
import { redirectSchemas } from './modules/redirects/schemas.js'
import { taxonomyRoutes } from './modules/taxonomy/routes.js'
import { SectionSchemas, TagSchemas } from './modules/taxonomy/schemas.js'
import { previewLinkRoutes, previewRoutes } from './modules/previews/routes.js'
import { previewSchemas } from './modules/previews/schemas.js'
import tokenRoutes from './modules/tokens/routes.js'
import userRoutes from './modules/users/routes.js'
import { WebhookDispatcher } from './modules/webhooks/dispatcher.js'
import webhookRoutes from './modules/webhooks/routes.js'
import { webhookSchemas } from './modules/webhooks/schemas.js'
import { contentKeySchemas } from './modules/content-keys/schemas.js'
import contentKeyRoutes from './modules/content-keys/routes.js'
import { ContentKeyRegistry } from './modules/content-keys/registry.js'
import { userSchemas } from './modules/users/schemas.js'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
    db: Db
    /** Streaming replicas for anonymous reads, with DATABASE_READ_URL. */
    replicas: ReplicaSet | undefined
    config: Config
    /** Turns server paths into the URLs clients get (PUBLIC_URL, MEDIA_URL). */
    publicUrls: PublicUrls
    /** The clock; tests pass their own. */
    now: () => Date
    /** Image uploads being decoded, and waiting to be (IMAGE_PROCESSING_CONCURRENCY, _QUEUE). */
    imageQueue: WorkQueue
    /** Reads the change log and applies it here (src/modules/changes/follower.ts). */
    changeFollower: ChangeFollower
    /** Scheduled publications and retention of the change log. */
    changeJobs: ChangeJobs
    /** Purges Varnish and CDNs by cache tag, when PURGE_VARNISH_URLS or PURGE_URL is set. */
    purger: Purger | undefined
    /** Sends webhooks from the change log (src/modules/webhooks/dispatcher.ts). */
    webhooks: WebhookDispatcher
  }
}

export type AppOptions = {
  config: Config
  /** An open database; when absent, one is opened from the config and closed with the app. */
  database?: Database
  now?: () => Date
  logger?: FastifyServerOptions['logger']
  /** A logger made already (server.ts makes one for its start-up lines too). */
  loggerInstance?: FastifyServerOptions['loggerInstance']
  authLimiter?: FailureLimiter
  /** Called for every SQL statement run on a replica; tests see where reads went. */
  onReplicaQuery?: (query: string) => void
  /** Where image files go; the local folder under DATA_DIR by default. */
  mediaStore?: MediaStore
  /** Replaces the built-in comment screen, e.g. with an external classifier. */
  commentScreen?: Screen
}

const schemas = [
  ...sharedSchemas,
  SectionSchemas.Schema,
  TagSchemas.Schema,
  PhotoSchema,
  AuthorLinksSchema,
  AuthorSchema,
  ...correctionSchemas,
  ...articleSchemas,
  ...bulkSchemas,
  ...userSchemas,
  ...commentSchemas,
  ...webhookSchemas,
  ...contentKeySchemas,
  ...previewSchemas,
  ...redirectSchemas
]

export async function buildApp (options: AppOptions) {
  const { config } = options
  const app = Fastify({
    ...(options.loggerInstance ? { loggerInstance: options.loggerInstance } : { logger: options.logger ?? { level: config.LOG_LEVEL } }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: trustProxyOf(config.TRUST_PROXY),
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    schemaController: { compilersFactory: { buildValidator: buildValidator as never, buildSerializer: buildSerializer as never } },
    // Slugs may be 120 characters, longer than the router's default parameter limit of 100.
    // Query values whose escapes are not UTF-8 are refused (src/http/text-input.ts), not kept as `%FF`.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300, querystringParser: parseQueryString },
    // One log line a request (below), not Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // While closing, requests go through the drain hook (src/http/drain.ts): a problem with
    // Retry-After, not Fastify's bare 503.
    return503OnClosing: false,
    // Node's own errors (malformed HTTP, headers too large, a request too slow to arrive) and
    // the router's (a URL that does not decode) answer as problems too.
    clientErrorHandler: clientErrorHandler(API_SECURITY_HEADERS),
    frameworkErrors: frameworkErrorHandler(API_SECURITY_HEADERS),
    // Fastify's own HTTP server, save that a public cache hit is answered before Fastify sees it,
    // and that a client's connections and the time its requests take are bounded.
    serverFactory: (handler) => {
      const limits = { requestTimeoutMs: config.REQUEST_TIMEOUT_SECONDS * 1000, maxPerAddress: config.MAX_CONNECTIONS_PER_ADDRESS }
      const server = createServer({ connectionsCheckingInterval: checkingInterval(limits) }, (req, res) => {
        if (refused(req, res)) return
        let answered = false
        try {
          // A draining instance answers through Fastify, whose answers close their connections.
          answered = !app.drain.draining && cache.serveRaw(req, res)
        } catch (err) {
          // Outside Fastify nothing would catch it: Fastify answers instead, if it still can.
          app.log.error({ err }, 'public cache failed')
          if (res.headersSent) { res.destroy(); return }
        }
        if (!answered) handler(req, res)
      })
      const refused = guardServer(server, limits, API_SECURITY_HEADERS)
      answerServerErrors(server, API_SECURITY_HEADERS)
      // Fastify's defaults, which it sets on the server it makes itself.
      server.keepAliveTimeout = 72_000
      server.setTimeout(0)
      return server
    }
  }).withTypeProvider<TypeProvider>()

  const database = options.database ?? await openDatabase({
    url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DATABASE_POOL_SIZE
  })
  if (!options.database) app.addHook('onClose', async () => database.close())
  app.decorate('database', database)
  const replicas = await readReplicas(config, database, options.onReplicaQuery)
  if (replicas) {
    await replicas.start()
    app.addHook('onClose', async () => replicas.close())
  }
  app.decorate('replicas', replicas)
  // With replicas, the queries of an anonymous read go to one of them (src/db/replicas.ts).
  app.decorate('db', replicas ? replicas.routed() : database.db)
  app.decorate('config', config)
  app.decorate('publicUrls', publicUrls(config))
  app.decorate('now', options.now ?? (() => new Date()))
  app.decorate('imageQueue', new WorkQueue(config.IMAGE_PROCESSING_CONCURRENCY, config.IMAGE_PROCESSING_QUEUE))

  // An instance counts as behind once it missed a few polls at least, whatever the setting says.
  const maxLagSeconds = Math.max(config.CHANGES_MAX_LAG_SECONDS, (3 * config.CHANGES_POLL_MS) / 1000)
  const follower = new ChangeFollower({ database, pollMs: config.CHANGES_POLL_MS, replicas, log: app.log })
  app.decorate('changeFollower', follower)
  // Scheduled publications and retention, shared by all instances (src/modules/changes/jobs.ts).
  const jobs = changeJobs({ db: database.db, now: app.now, everyMs: config.CHANGES_POLL_MS, retentionDays: config.CHANGES_RETENTION_DAYS, deliveryRetentionDays: config.WEBHOOK_DELIVERY_RETENTION_DAYS, log: app.log })
  app.decorate('changeJobs', jobs)
  app.addHook('onReady', async () => { await jobs.start() })
  app.addHook('onClose', async () => jobs.stop())
  const redis = config.REDIS_URL ? new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false }) : undefined
  if (redis) {
    redis.on('error', (err) => app.log.warn({ err }, 'redis unavailable; rate limits are skipped until it returns'))
    app.addHook('onClose', async () => { redis.disconnect() })
    // Connected before the first request, so no early request goes uncounted; a Redis that is
    // down does not stop the API from starting (ioredis keeps reconnecting).
    await redis.connect().catch((err) => app.log.warn({ err }, 'redis unavailable at start'))
  } else {
    app.log.info('No REDIS_URL: rate limits, failed-authentication limits and the repeat-comment screen count on this instance alone; set REDIS_URL to share them between instances')
  }
  const redisPrefix = redisPrefixOf(config)
  const contentKeys = new ContentKeyRegistry({
    db: database.db, now: app.now, limit: config.CONTENT_KEY_RATE_LIMIT, redis, prefix: redisPrefix,
    fresh: () => follower.lagMs <= maxLagSeconds * 1000
  })
  follower.subscribe({ apply: (changes) => contentKeys.forget(changes.flatMap((c) => c.tags)), reset: () => contentKeys.clear() })
  app.addHook('onReady', async () => { contentKeys.start() })
  app.addHook('onClose', async () => contentKeys.stop())
  const cache = new PublicCache({
    database,
    follower,
    maxAgeMs: config.PUBLIC_CACHE_MAX_AGE_SECONDS * 1000,
    maxLagMs: maxLagSeconds * 1000,
    enabled: config.PUBLIC_CACHE,
    maxEntries: config.PUBLIC_CACHE_MAX_ENTRIES,
    maxBytes: config.PUBLIC_CACHE_MAX_MB * 1024 * 1024,
    varyOnOrigin: config.CORS_ORIGIN !== '*',
    varyOnHost: config.PUBLIC_URL === undefined,
    keys: contentKeys,
    keyRequired: config.PUBLIC_READS === 'key',
    replicas,
    log: app.log
  })
  const purger = purgerOf(config, database, follower, app.log)
  app.decorate('purger', purger)
  if (purger) {
    app.addHook('onReady', async () => { await purger.start() })
    app.addHook('onClose', async () => { await purger.stop() })
  }
  // First of all hooks: a cached public read is answered before anything else runs.
  app.addHook('onRequest', cache.serve)

  // JSON only: any other body type is a 415, not a string that fails validation later.
  app.removeContentTypeParser('text/plain')
  app.addHook('onRequest', async (request, reply) => { reply.header('x-request-id', request.id) })
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request')
  })
  for (const schema of schemas) app.addSchema(schema)

  await app.register(errors)
  await app.register(textInput)
  await app.register(securityHeaders, { headers: API_SECURITY_HEADERS })
  await app.register(cors, corsOptions(config.CORS_ORIGIN))
  // After the headers every answer carries: a draining instance refuses new work with them.
  await app.register(drain)
  await app.register(closeEarlyAnswers)
  await app.register(caching, { publicCacheControl: config.PUBLIC_CACHE_CONTROL })
  await app.register(rateLimits, { redis, prefix: redisPrefix })
  await app.register(auth, {
    db: database.db,
    now: app.now,
    keys: contentKeys,
    keyRequired: config.PUBLIC_READS === 'key',
    limiter: options.authLimiter ?? (redis
      ? redisFailureLimiter(redis, redisPrefix, config.AUTH_FAILURE_LIMIT, 60)
      : memoryFailureLimiter(config.AUTH_FAILURE_LIMIT, 60))
  })
  const hashClient = clientHasher(database.db, config.CLIENT_HASH_SECRET)
  // After auth, which tells whose keys a request may use; its onSend sees the plain body.
  await app.register(idempotency, { db: database.db, now: app.now, ttlSeconds: config.IDEMPOTENCY_KEY_TTL_SECONDS, hashClient })
  await app.register(publicCache, { cache, follower })
  await app.register(notModified)
  // Last of the onSend hooks: the cache stores, and 304s are decided, on the plain body.
  await app.register(compression)
  await app.register(openapi)

  // The whole API, one line a resource.
  if (replicas) await app.register(readRouting, { replicas })
  await app.register(healthRoutes({ redisUp: redis && (() => redis.status === 'ready'), replicas, follower, maxLagSeconds }), { prefix: '/health' })
  await app.register(articleRoutes, { prefix: '/v1/articles' })
  await app.register(articleBulkRoutes, { prefix: '/v1/articles/bulk' })
  await app.register(articleCommentRoutes({
    screen: options.commentScreen ?? ruleScreen({
      maxLinks: config.COMMENT_MAX_LINKS,
      blocklist: config.COMMENT_BLOCKLIST.split(',').map((w) => w.trim().toLowerCase()).filter(Boolean)
    }),
    hashClient,
    maxDepth: config.COMMENT_MAX_DEPTH,
    perClient: config.COMMENT_RATE_PER_CLIENT,
    perArticle: config.COMMENT_RATE_PER_ARTICLE,
    sharedMarks: redis && redisSharedMarks(redis, redisPrefix)
  }), { prefix: '/v1/articles' })
  await app.register(correctionRoutes, { prefix: '/v1/articles' })
  await app.register(commentRoutes, { prefix: '/v1/comments' })
  await app.register(previewLinkRoutes, { prefix: '/v1/articles' })
  await app.register(previewRoutes({ hashClient, perClient: config.PREVIEW_RATE_PER_CLIENT }), { prefix: '/v1/previews' })
  await app.register(authorRoutes, { prefix: '/v1/authors' })
  const store = options.mediaStore ?? mediaStoreOf(config)
  await app.register(photoRoutes({
    store,
    maxBytes: config.PHOTO_MAX_BYTES,
    limits: { maxPixels: config.PHOTO_MAX_PIXELS, maxSide: config.PHOTO_MAX_SIDE, maxAspectRatio: config.PHOTO_MAX_ASPECT_RATIO },
    queue: app.imageQueue
  }), { prefix: '/v1/photos' })
  await app.register(mediaRoutes(store), { prefix: '/media' })
  await app.register(taxonomyRoutes('section'), { prefix: '/v1/sections' })
  await app.register(taxonomyRoutes('tag'), { prefix: '/v1/tags' })
  await app.register(redirectRoutes, { prefix: '/v1/redirects' })
  await app.register(userRoutes, { prefix: '/v1/users' })
  await app.register(feedRoutes, { prefix: '/v1/feeds' })
  await app.register(sitemapRoutes, { prefix: '/v1/sitemaps' })
  await app.register(rootSitemapRoute)
  await app.register(tokenRoutes, { prefix: '/v1/tokens' })
  await app.register(changeRoutes, { prefix: '/v1/changes' })
  await app.register(webhookRoutes, { prefix: '/v1/webhooks' })
  await app.register(contentKeyRoutes, { prefix: '/v1/content-keys' })

  const webhooks = new WebhookDispatcher({
    database,
    urls: app.publicUrls,
    now: app.now,
    log: app.log,
    pollMs: config.WEBHOOK_POLL_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    retryScale: config.WEBHOOK_RETRY_SCALE,
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    concurrency: config.WEBHOOK_CONCURRENCY
  })
  app.decorate('webhooks', webhooks)
  if (config.WEBHOOK_DISPATCH) {
    app.addHook('onReady', async () => { await webhooks.start() })
    // Before the database closes: sends in flight are cut short and their leases given back.
    app.addHook('preClose', async () => { await webhooks.stop() })
  }

  return app
}

/** The purger of the outside caches the config names, if any. */
function purgerOf (config: Config, database: Database, follower: ChangeFollower, log: App['log']) {
  const timeoutMs = config.PURGE_TIMEOUT_SECONDS * 1000
  const targets: PurgeTarget[] = (config.PURGE_VARNISH_URLS?.split(',').map((u) => u.trim()).filter(Boolean) ?? [])
    .map((url) => varnishTarget(url, { soft: config.PURGE_VARNISH_SOFT, timeoutMs }))
  if (config.PURGE_URL) {
    targets.push(httpTarget({
      url: config.PURGE_URL,
      method: config.PURGE_METHOD,
      bodyTemplate: config.PURGE_BODY_TEMPLATE,
      headers: parseHeaders(config.PURGE_HEADERS),
      chunkSize: config.PURGE_CHUNK_SIZE,
      timeoutMs
    }))
  }
  if (targets.length === 0) return undefined
  // This instance's own cache is brought up to date first, so an outside cache that asks it
  // again right after the purge gets the new answer.
  return new Purger({ database, targets, pollMs: config.CHANGES_POLL_MS, repeatMs: config.PURGE_REPEAT_SECONDS * 1000, log, before: () => follower.follow() })
}

/** The replicas of DATABASE_READ_URL, if any, each a pool of DATABASE_POOL_SIZE connections. */
async function readReplicas (config: Config, database: Database, onQuery?: (query: string) => void) {
  const urls = config.DATABASE_READ_URL?.split(',').map((u) => u.trim()).filter(Boolean) ?? []
  if (urls.length === 0 || database.driver !== 'pg') return undefined
  const opened = await Promise.all(urls.map((url) => openReplica(url, config.DATABASE_POOL_SIZE, onQuery)))
  return new ReplicaSet(database.db, opened, config.REPLICA_MAX_LAG_SECONDS * 1000)
}

export type App = Awaited<ReturnType<typeof buildApp>>
