// CORS for front ends and editors' tools on other origins: every method the API has, the request
// headers it reads, and the response headers a client needs to read, with the preflight cached.
import type { FastifyCorsOptions } from '@fastify/cors'

/** Every method a route answers (OPTIONS is the preflight itself). */
export const methods = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE']

/** The request headers the API reads; JSON bodies and tokens need a preflight anyway. */
export const allowedHeaders = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'X-Request-Id']

/** Response headers a script may read, beyond the CORS-safelisted ones. */
export const exposedHeaders = [
  'ETag', 'Location', 'Retry-After', 'X-Request-Id', 'Idempotent-Replayed',
  // Rate limits: the IETF names, the draft's and @fastify/rate-limit's defaults.
  'RateLimit', 'RateLimit-Policy', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset',
  'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'
]

/** Chromium's cap (Firefox allows a day): a browser asks once per URL and method for two hours. */
export const PREFLIGHT_MAX_AGE = 7200

/** `*`, or a comma-separated list of origins (each is answered with its own name). */
export function corsOptions (origin: string): FastifyCorsOptions {
  return {
    origin: origin === '*' ? '*' : origin.split(',').map((o) => o.trim()).filter(Boolean),
    methods,
    allowedHeaders,
    exposedHeaders,
    maxAge: PREFLIGHT_MAX_AGE,
    // An OPTIONS without Origin and Access-Control-Request-Method is answered like a preflight
    // (204), not with the plugin's plain-text 400.
    strictPreflight: false
  }
}
