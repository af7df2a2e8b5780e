// Security headers, as helmet makes them. Its middleware sets the same headers on every
// response, so they are worked out once at start and set by one hook. (@fastify/helmet built
// the middleware again for every request, directives parsed and all: about 40 µs of CPU each.)
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/** The headers helmet's middleware sets with these options, by lower-case name. */
export function helmetHeaders (options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader: (name: string, value: unknown) => { headers[name.toLowerCase()] = String(value) },
    removeHeader: (name: string) => { delete headers[name.toLowerCase()] }
  }
  let finished = false
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error
    finished = true
  })
  // Only directives given as functions (per-request nonces) would need the request: none are.
  if (!finished) throw new Error('helmet did not finish at once')
  return headers
}

/**
 * The headers every answer of the API carries, those made outside Fastify too (src/http/early-answers.ts).
 */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze(helmetHeaders({
  // Front ends on other origins embed our images and call the API: that is the point of a headless CMS.
  crossOriginResourcePolicy: { policy: 'cross-origin' },
  // The API serves JSON; the interactive docs page needs its own scripts and styles. No
  // `upgrade-insecure-requests`: on plain HTTP at any address but localhost it sends the docs
  // page's own assets to https, where nothing answers, and over https they are https already.
  contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'style-src': ["'self'", 'https:', "'unsafe-inline'"], 'img-src': ["'self'", 'data:', 'https:'], 'upgrade-insecure-requests': null } }
}))

export default fp(async function securityHeaders (app: FastifyInstance, { headers }: { headers: Readonly<Record<string, string>> }) {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
}, { name: 'security-headers' })
