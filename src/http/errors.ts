// One error registry and one error handler: every failure leaves as RFC 9457 problem+json.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import fp from 'fastify-plugin'
import type { Problem } from './schemas.js'

type FieldError = NonNullable<Problem['errors']>[number]
type Reference = NonNullable<Problem['references']>[number]

const titles = {
  BAD_REQUEST: [400, 'Bad Request'],
  VALIDATION_FAILED: [400, 'Validation Failed'],
  INVALID_CURSOR: [400, 'Invalid Cursor'],
  UNAUTHORIZED: [401, 'Unauthorized'],
  FORBIDDEN: [403, 'Forbidden'],
  NOT_FOUND: [404, 'Not Found'],
  METHOD_NOT_ALLOWED: [405, 'Method Not Allowed'],
  REQUEST_TIMEOUT: [408, 'Request Timeout'],
  SLUG_TAKEN: [409, 'Slug Taken'],
  CONFLICT: [409, 'Conflict'],
  STILL_REFERENCED: [409, 'Still Referenced'],
  INVALID_STATE: [409, 'Invalid State Change'],
  COMMENTS_CLOSED: [409, 'Comments Closed'],
  IDEMPOTENCY_KEY_IN_USE: [409, 'Idempotency Key In Use'],
  CHANGES_PRUNED: [410, 'Changes Pruned'],
  PRECONDITION_FAILED: [412, 'Precondition Failed'],
  PAYLOAD_TOO_LARGE: [413, 'Payload Too Large'],
  URI_TOO_LONG: [414, 'URI Too Long'],
  RANGE_NOT_SATISFIABLE: [416, 'Range Not Satisfiable'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'Unsupported Media Type'],
  IDEMPOTENCY_KEY_REUSED: [422, 'Idempotency Key Reused'],
  EXPECTATION_FAILED: [417, 'Expectation Failed'],
  RATE_LIMITED: [429, 'Too Many Requests'],
  HEADERS_TOO_LARGE: [431, 'Request Header Fields Too Large'],
  INTERNAL: [500, 'Internal Server Error'],
  UNAVAILABLE: [503, 'Service Unavailable']
} as const satisfies Record<string, readonly [number, string]>

export type ErrorCode = keyof typeof titles

export class AppError extends Error {
  readonly statusCode: number
  constructor (
    readonly code: ErrorCode,
    detail: string,
    readonly extra: { errors?: FieldError[], references?: Reference[], headers?: Record<string, string> } = {}
  ) {
    super(detail)
    this.statusCode = titles[code][0]
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found.`)
export const invalidField = (path: string, message: string, location: FieldError['in'] = 'body') =>
  new AppError('VALIDATION_FAILED', `${path.slice(1) || 'request'} ${message}`, { errors: [{ path, in: location, message }] })

export function problemBody (code: ErrorCode, detail: string, extra: AppError['extra'] = {}, instance?: string): Problem {
  const [status, title] = titles[code]
  const body: Problem = { type: `/problems/${code.toLowerCase().replaceAll('_', '-')}`, title, status, code, detail }
  if (instance) body.instance = instance
  if (extra.errors) body.errors = extra.errors
  if (extra.references) body.references = extra.references
  return body
}

export function sendProblem (reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}) {
  return reply
    .code(problem.status)
    .headers({ ...headers, 'cache-control': 'no-store' })
    .type('application/problem+json; charset=utf-8')
    .send(JSON.stringify(problem))
}

type AjvError = {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

const locations: Record<string, FieldError['in']> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' }

function fieldErrors (validation: AjvError[], context: string): FieldError[] {
  const where = locations[context] ?? 'body'
  return validation.map((e) => {
    let path = e.instancePath
    let message = e.message ?? 'is invalid'
    if (e.keyword === 'additionalProperties') {
      path += `/${String(e.params.additionalProperty)}`
      message = where === 'query' ? 'is not a known parameter' : 'is not a known field'
    } else if (e.keyword === 'required') {
      path += `/${String(e.params.missingProperty)}`
      message = 'is required'
    } else if (e.keyword === 'discriminator') {
      path += `/${String(e.params.tag)}`
      message = 'is not a known type'
    } else if (e.keyword === 'format' && e.params.format === 'date-time') {
      message = 'must be an RFC 3339 date-time such as 2025-09-14T06:30:00Z (seconds 00 to 59: a leap second is not accepted)'
    } else if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues)) {
      message = `must be one of: ${e.params.allowedValues.join(', ')}`
    }
    return { path: path || '/', in: where, message }
  }).filter((e, i, all) => all.findIndex((o) => o.path === e.path) === i) // one rule per field is enough
}

/** Postgres errors arrive wrapped by drizzle; the SQLSTATE sits on the cause. */
export function sqlState (error: unknown): string | undefined {
  for (let e: any = error, depth = 0; e && depth < 4; e = e.cause, depth++) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code
  }
  return undefined
}

const CONNECTION_FAILURE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|PGlite is closed|Cannot use a pool after calling end/i

export function isConnectionFailure (error: unknown): boolean {
  for (let e: any = error, depth = 0; e && depth < 4; e = e.cause, depth++) {
    if (typeof e.code === 'string' && /^(ECONN|ETIMEDOUT|ENOTFOUND|08|57P0)/.test(e.code)) return true
    if (typeof e.message === 'string' && CONNECTION_FAILURE.test(e.message)) return true
  }
  return false
}

function toProblem (error: FastifyError & { extra?: AppError['extra'] }, request: FastifyRequest): { problem: Problem, headers?: Record<string, string> } {
  if (error instanceof AppError) {
    return { problem: problemBody(error.code, error.message, error.extra), headers: error.extra.headers }
  }
  if (error.validation) {
    const errors = fieldErrors(error.validation as AjvError[], error.validationContext ?? 'body')
    const detail = errors.map((e) => `${e.in} ${e.path}: ${e.message}`).join('; ')
    return { problem: problemBody('VALIDATION_FAILED', detail, { errors }) }
  }
  const state = sqlState(error)
  if (state === '23505') return { problem: problemBody('CONFLICT', 'A resource with the same unique value already exists.') }
  if (state === '23503') return { problem: problemBody('STILL_REFERENCED', 'The change would break a reference between resources.') }
  if (state && /^22/.test(state)) return { problem: problemBody('BAD_REQUEST', 'A value is out of range or malformed.') }
  if (isConnectionFailure(error)) {
    return { problem: problemBody('UNAVAILABLE', 'The database is unreachable; try again shortly.'), headers: { 'retry-after': '5' } }
  }
  const status = error.statusCode ?? 500
  if (status === 413) return { problem: problemBody('PAYLOAD_TOO_LARGE', 'The request body is larger than this server accepts.') }
  if (status === 415) return { problem: problemBody('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${request.headers['content-type'] ?? '(none)'} is not accepted here; send application/json.`) }
  if (status === 429) return { problem: problemBody('RATE_LIMITED', error.message), headers: {} }
  if (status >= 400 && status < 500) return { problem: problemBody('BAD_REQUEST', error.message) }
  return { problem: problemBody('INTERNAL', 'Something went wrong on our side; it has been logged.') }
}

const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
const methodOrder = (method: string) => {
  const i = ORDER.indexOf(method)
  return i === -1 ? ORDER.length : i
}

export default fp(async function errors (app: FastifyInstance) {
  // Every method some route answers, to tell a path that exists under other methods (405) from
  // one that does not (404). OPTIONS is left out: CORS answers preflights on every path.
  const methods = new Set<string>()
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'OPTIONS') methods.add(method)
  })
  const noRoute = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]
    const allowed = [...methods].filter((method) => app.findRoute({ method: method as HTTPMethods, url: path }) !== null)
    if (allowed.length === 0) return sendProblem(reply, problemBody('NOT_FOUND', `No route ${request.method} ${path}.`))
    const allow = [...allowed, 'OPTIONS'].sort((a, b) => methodOrder(a) - methodOrder(b)).join(', ')
    return sendProblem(reply, problemBody('METHOD_NOT_ALLOWED', `${path} does not take ${request.method}; it takes ${allow}.`), { allow })
  }
  app.setErrorHandler((error: FastifyError, request, reply) => {
    // A request no route takes fails on its body (broken JSON, a wrong type) before the not-found
    // handler runs: what it is, is still a 404 or a 405.
    if (request.is404 && (error.statusCode ?? 500) < 500) return noRoute(request, reply)
    const { problem, headers } = toProblem(error, request)
    if (problem.status >= 500) request.log.error({ err: error }, 'request failed')
    else request.log.info({ code: problem.code, detail: problem.detail }, 'request refused')
    return sendProblem(reply, problem, headers)
  })
  app.setNotFoundHandler(noRoute)
}, { name: 'errors' })
