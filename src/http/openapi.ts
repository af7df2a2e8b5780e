// The OpenAPI 3.1 document, generated from the route schemas. This plugin also fills in what
// every route shares (security, 400/401/403/429/503 responses) so no route can forget them.
import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { problems } from './schemas.js'

type Schema = NonNullable<RouteOptions['schema']> & { response?: Record<string, unknown>, security?: unknown, hide?: boolean }

function documentShared (route: RouteOptions) {
  const access = route.config?.access
  const schema = route.schema as Schema | undefined
  if (!schema || access === undefined || schema.hide) return
  const response = (schema.response ??= {})
  const add = (status: keyof typeof problems) => { response[status] ??= problems[status] }
  schema.security = access === 'public' ? [{}, { bearerAuth: [] }] : [{ bearerAuth: [] }]
  // Any request may carry a bad token, and any may meet a database outage.
  add(401); add(429); add(503)
  if (access !== 'public') add(403)
  add(400)
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  if (methods.includes('GET')) response[304] ??= { type: 'null', description: 'Not Modified: the `If-None-Match` ETag is current.' }
  if (schema.body) { add(413); add(415) }
}

export default fp(async function openapi (app: FastifyInstance) {
  app.addHook('onRoute', documentShared)
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Dateline API',
        version: '1.0.0',
        description: 'A headless CMS for newsrooms. Errors are RFC 9457 problem documents; lists use cursor pagination; every GET has an ETag.'
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API token (`dl_...`), created with `npm run token` or `POST /v1/tokens`.' }
        }
      }
    },
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
