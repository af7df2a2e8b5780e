// Schema pieces shared by every module. Each has an $id, is registered once with addSchema,
// and is referenced with ref(), so the OpenAPI shows it as one named component.
import { Type, type Static, type TSchema } from 'typebox'

/** A reference to a registered schema, typed as the schema itself. */
export function ref<T extends TSchema & { $id?: string }>(schema: T) {
  if (!schema.$id) throw new Error('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>({ $ref: schema.$id })
}

// A pattern as well as the format: ajv's uuid format also takes a `urn:uuid:` prefix.
export const IdSchema = Type.String({ $id: 'Id', format: 'uuid', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'A UUID, in either case: ids are compared as one, and answered in lower case.', examples: ['0b7e4f3a-5c1d-4e8a-9f62-3d2c1b0a9e87'] })
export const DateTimeSchema = Type.String({ $id: 'DateTime', format: 'date-time', description: 'RFC 3339, UTC in responses; any offset in requests. A leap second (`23:59:60`) is refused with a 400, as a JavaScript Date cannot hold it; so are years outside 0001-9999.', examples: ['2025-09-14T06:30:00.000Z'] })
export const SlugSchema = Type.String({
  $id: 'Slug',
  pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$',
  minLength: 1,
  maxLength: 120,
  description: 'Lowercase a-z, 0-9 and single hyphens; at most 120 characters.',
  examples: ['flood-waters-recede-in-sindh']
})

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'A URI reference naming the kind of problem.' }),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String({ description: 'A stable machine-readable code, e.g. SLUG_TAKEN.' }),
  detail: Type.Optional(Type.String()),
  instance: Type.Optional(Type.String()),
  errors: Type.Optional(Type.Array(Type.Object({
    path: Type.String({ description: 'JSON Pointer to the field, e.g. /headline.' }),
    in: Type.Union([Type.Literal('body'), Type.Literal('query'), Type.Literal('path'), Type.Literal('header')]),
    message: Type.String()
  }))),
  references: Type.Optional(Type.Array(Type.Object({
    resource: Type.String(),
    id: Type.String(),
    label: Type.String()
  }), { description: 'What still refers to the resource, when a delete is refused.' }))
}, { $id: 'Problem', description: 'An RFC 9457 problem document.' })
export type Problem = Static<typeof ProblemSchema>

export const PageMetaSchema = Type.Object({
  limit: Type.Integer(),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' }),
  total: Type.Optional(Type.Integer({ minimum: 0, description: 'With `total=true` only: how many items the filters match across all pages.' }))
}, { $id: 'PageMeta' })

export const sharedSchemas = [IdSchema, DateTimeSchema, SlugSchema, ProblemSchema, PageMetaSchema]

export const IdParams = Type.Object({ id: ref(IdSchema) }, { additionalProperties: false })
export const SlugParams = Type.Object({ slug: Type.String({ minLength: 1, maxLength: 200, examples: ['flood-waters-recede-in-sindh'] }) }, { additionalProperties: false })

/** The envelope of every collection. */
export function page<T extends TSchema>(item: T) {
  return Type.Object({ data: Type.Array(item), meta: ref(PageMetaSchema) })
}

/**
 * A query parameter a client may leave out, because the validator fills in its default:
 * optional in the document, always present (typed as required) in a handler.
 */
export function Defaulted<T extends TSchema>(schema: T) {
  if (!('default' in schema)) throw new Error('Defaulted() needs a schema with a default')
  return Type.Unsafe<Static<T>>(Type.Optional(schema))
}

export const PaginationQuery = Type.Object({
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'Items per page, 1 to 100.', examples: [20] })),
  cursor: Type.Optional(Type.String({ maxLength: 500, description: 'The `meta.nextCursor` of the previous page.' })),
  total: Type.Optional(Type.Boolean({
    description: '`true` adds `meta.total`, the number of items the filters match across all pages. It costs a count over every matching row on each request that asks (a page alone reads only its own rows), so ask once, not on every page.'
  }))
})

export const FieldsQuery = Type.Object({
  fields: Type.Optional(Type.String({ maxLength: 1000, description: 'Comma-separated fields to return (sparse fieldset); `id` is always returned.', examples: ['id,createdAt'] }))
})

// Errors leave as application/problem+json (errors.ts), so that is the type the document names.
const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: ref(ProblemSchema) } } })

/** Standard error responses, named by status, for the OpenAPI of each route. */
export const problems = {
  400: problem('Malformed or invalid request: the `errors` name each field and rule.'),
  401: problem('No token, or an unknown, revoked or expired one.'),
  403: problem('The token\'s role may not do this.'),
  404: problem('No such resource, or one the caller may not see.'),
  409: problem('Conflict: a slug taken, a delete that would orphan references, or an illegal state change.'),
  410: problem('The changes after this position were pruned from the change log (older than its retention): start over from a full sync.'),
  412: problem('`If-Match` does not match the current ETag; nothing was written.'),
  413: problem('Body too large.'),
  415: problem('Unsupported media type, or a JSON body in a charset other than UTF-8.'),
  416: problem('The range is outside the file; `Content-Range` gives its size.'),
  422: problem('The `Idempotency-Key` was first used for another request (another method, path or body); nothing was done. Use a new key for a new request.'),
  429: problem('Rate limited; see `Retry-After`.'),
  503: problem('The database is unreachable; see `Retry-After`.')
} as const

export function errorResponses<S extends keyof typeof problems>(...statuses: S[]) {
  const out = {} as { [K in S]: (typeof problems)[K] }
  for (const s of statuses) out[s] = problems[s]
  return out
}
