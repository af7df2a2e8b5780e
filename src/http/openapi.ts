// The OpenAPI 3.1 document, generated from the route schemas. This plugin also fills in what
// every route shares (security, 400/401/403/429/503 responses) so no route can forget them.
import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import swagger, { type SwaggerTransformObject } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { problems } from './schemas.js'

type Schema = NonNullable<RouteOptions['schema']> & { response?: Record<string, unknown>, security?: unknown, hide?: boolean }

function documentShared (route: RouteOptions) {
  const access = route.config?.access
  const schema = route.schema as Schema | undefined
  if (!schema || schema.hide) return
  const response = (schema.response ??= {})
  // Every GET has an ETag, health checks included.
  const methods = [route.method].flat()
  if (methods.includes('GET')) response[304] ??= { type: 'null', description: 'Not Modified: the `If-None-Match` ETag is current.' }
  const add = (status: keyof typeof problems) => { response[status] ??= problems[status] }
  // Any query string is read, and one that is not valid text (src/http/text-input.ts) is a 400.
  add(400)
  if (access === undefined) return
  // A content key reads what anonymous callers read (and, with PUBLIC_READS=key, must be sent).
  // Fastify's HEAD route for a GET shares its schema object: a read either way.
  const read = methods.includes('GET') || methods.includes('HEAD')
  schema.security = access !== 'public' ? [{ bearerAuth: [] }] : read ? [{}, { contentKey: [] }, { bearerAuth: [] }] : [{}, { bearerAuth: [] }]
  // Any request may carry a bad token, and any may meet a database outage.
  add(401); add(429); add(503)
  // Public routes too: a content key is refused on a write, and from an origin it does not allow.
  add(403)
  add(400)
  // A body is read wherever a method may carry one, even where the route takes none.
  if (schema.body || methods.some((m) => m !== 'GET' && m !== 'HEAD')) { add(413); add(415) }
  if ((methods.includes('POST') || methods.includes('PATCH')) && route.config?.idempotent !== false) {
    add(409); add(422)
    ;(schema as Record<string, unknown>)[IDEMPOTENT] = true
  }
}

/** Marks a write that takes an Idempotency-Key (src/http/idempotency.ts). */
const IDEMPOTENT = 'x-idempotent'

/** Marks a route with limits of its own (src/http/rate-limit.ts, enforceLimits): its answers carry the RateLimit fields. */
export const RATE_LIMITED = 'x-rate-limited'

const rateLimitHeaders = {
  'RateLimit-Policy': {
    description: 'The limits this request counted against (IETF draft-ietf-httpapi-ratelimit-headers): each a name with its quota `q` and window `w` in seconds, such as `"comment-client";q=5;w=60`. Sent by routes with limits of their own, and on reads with a content key (`"content-key"`).',
    schema: { type: 'string' }
  },
  RateLimit: {
    description: 'What is left of each limit in `RateLimit-Policy`: `r` requests remaining, reset in `t` seconds, such as `"comment-client";r=4;t=60`.',
    schema: { type: 'string' }
  },
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: { type: 'string', pattern: '^[0-9]+$' } }
}
const headerRef = (name: keyof typeof rateLimitHeaders) => ({ $ref: `#/components/headers/${name}` })

const idempotencyKey = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'Makes a retry of this request safe (IETF draft-ietf-httpapi-idempotency-key-header). The first answer to a key is kept (`IDEMPOTENCY_KEY_TTL_SECONDS`, 24 hours by default) and a repeat of the same request with the same key gets that answer again, with `Idempotent-Replayed: true`, instead of being run twice; a write that committed always has its answer kept, so a retry after a `503` or a lost connection never writes twice. Keys belong to the caller: the token, or for an anonymous caller the client address. 1 to 255 printable ASCII characters, bare or as a quoted string (`"…"`); a UUID is a good key. The same key with another method, path or body is a `422`; while the first request still runs, a repeat is a `409` with `Retry-After`. `5xx` answers and `429` are not kept: a retry runs again.',
  schema: { type: 'string', minLength: 1, maxLength: 257 },
  example: '"6c1e5f7a-3f0e-4b9a-9d6e-2a1f0c3b7d45"'
}
const idempotentReplayed = {
  description: '`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.',
  schema: { type: 'string', enum: ['true'] }
}
const inUseNote = ' Also when a request with the same `Idempotency-Key` is still running (`IDEMPOTENCY_KEY_IN_USE`): retry after `Retry-After`.'

/** Marks a route whose body may be left out (a bare POST); @fastify/swagger always writes `required: true`. */
export const OPTIONAL_BODY = 'x-optional-body'

type Parameter = { schema?: { $ref?: string }, example?: unknown, $ref?: string }
type Response = { description?: string, headers?: Record<string, unknown> }
type Operation = { requestBody?: { required?: boolean }, parameters?: Parameter[], responses?: Record<string, Response>, security?: Array<Record<string, unknown>>, [OPTIONAL_BODY]?: boolean, [IDEMPOTENT]?: boolean, [RATE_LIMITED]?: boolean }
type Components = Record<string, { examples?: unknown[] }>

// Finishing touches on the generated document: bodies that may be left out, and the example of
// a referenced schema (an Id) copied onto the parameter, where Swagger UI's "Try it out" looks.
const finish: SwaggerTransformObject = (document) => {
  if (!('openapiObject' in document)) return document.swaggerObject
  const components = (document.openapiObject.components?.schemas ?? {}) as Components
  for (const methods of Object.values(document.openapiObject.paths ?? {})) {
    for (const op of Object.values(methods ?? {}) as Operation[]) {
      if (typeof op !== 'object' || op === null) continue
      for (const parameter of op.parameters ?? []) {
        const name = parameter.schema?.$ref?.replace('#/components/schemas/', '')
        const example = name === undefined ? undefined : components[name]?.examples?.[0]
        if (example !== undefined && parameter.example === undefined) parameter.example = example
      }
      if (op[IDEMPOTENT]) {
        delete op[IDEMPOTENT]
        ;(op.parameters ??= []).push({ $ref: '#/components/parameters/IdempotencyKey' })
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          if (status.startsWith('2')) response.headers = { ...response.headers, 'Idempotent-Replayed': { $ref: '#/components/headers/IdempotentReplayed' } }
          if (status === '409') op.responses![status] = { ...response, description: `${response.description}${inUseNote}` }
        }
      }
      // Limited answers: RateLimit fields on a route's own limits (and on a content key's reads);
      // Retry-After on every 429 and 503.
      const limited = op[RATE_LIMITED] === true || (op.security ?? []).some((s) => 'contentKey' in s)
      delete op[RATE_LIMITED]
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        const withLimits = limited && (status.startsWith('2') || status === '429')
        if (withLimits) response.headers = { ...response.headers, 'RateLimit-Policy': headerRef('RateLimit-Policy'), RateLimit: headerRef('RateLimit') }
        if (status === '429' || status === '503') response.headers = { ...response.headers, 'Retry-After': headerRef('Retry-After') }
      }
      if (!op[OPTIONAL_BODY]) continue
      delete op[OPTIONAL_BODY]
      if (op.requestBody) op.requestBody.required = false
    }
  }
  const parts = (document.openapiObject.components ??= {}) as Record<string, unknown>
  parts.parameters = { ...(parts.parameters as object), IdempotencyKey: idempotencyKey }
  parts.headers = { ...(parts.headers as object), IdempotentReplayed: idempotentReplayed, ...rateLimitHeaders }
  return document.openapiObject
}

export default fp(async function openapi (app: FastifyInstance) {
  app.addHook('onRoute', documentShared)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Dateline API',
        version: '1.0.0',
        description: 'A headless CMS for newsrooms. Errors are RFC 9457 problem documents; lists use cursor pagination; every GET has an ETag. Text is UTF-8 and stored as sent: a JSON body in another charset is a 415; bytes that are not UTF-8, NUL and unpaired surrogates, in any string, form field or query parameter, are a 400 naming the field.\n\n' +
          'Beyond the statuses each operation lists, any request may get, as a problem document: `405` with `Allow` for a method the path does not take; ' +
          '`400` for malformed HTTP or a path that is not valid percent-encoding; `408` when the request does not arrive in full in time; `414` for a path segment over 300 characters; ' +
          '`417` for an `Expect` other than `100-continue`; `431` for headers over 16 KB; `429` with `Retry-After` for a connection over its address\'s limit; `503` with `Retry-After` from an instance shutting down. ' +
          'Those written before a request could be parsed carry no `X-Request-Id`. An answer given before the request body arrived closes the connection.'
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token (`dl_...`), created with `npm run token` or `POST /v1/tokens`.' },
          contentKey: { type: 'http', scheme: 'bearer', description: 'A content key (`dlc_...`), created with `POST /v1/content-keys`: reads published content only, as an anonymous reader does, and writes nothing. Needed for reads when the server runs with `PUBLIC_READS=key`.' }
        }
      }
    },
    transformObject: finish,
    // Name components after their $id, so the committed document does not churn.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })
  // The page reads the document at /openapi.json, the one place it is served from: with `urls`,
  // swagger-ui loads that and not the plugin's own /docs/json.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    theme: { title: 'Dateline API' },
    uiConfig: { urls: [{ url: '/openapi.json', name: 'Dateline API' }] }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}, { name: 'openapi' })
