// How schemas become validators and serializers.
// - Bodies are validated strictly (no type coercion, unknown fields refused, never stripped);
//   query strings and path parameters are coerced from strings, since that is all a URL carries.
// - Ids (the `Id` schema) are lower-cased wherever a request carries them.
// - Responses are serialized with `required` relaxed, so sparse fieldsets (`fields=`) can omit
//   properties while the OpenAPI still documents them as always present in a full representation.
import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import { fullFormats } from 'ajv-formats/dist/formats.js'
import fastJsonStringify from 'fast-json-stringify'

type AnySchema = Record<string, any>
type External = any

const base: Options = {
  allErrors: true,
  discriminator: true,
  removeAdditional: false,
  useDefaults: true,
  strict: false
}

/** Ajv refuses a discriminator's `mapping` (it finds each branch by its `const`); the OpenAPI keeps it. */
function withoutMapping (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutMapping)
  if (schema === null || typeof schema !== 'object') return schema
  const out: AnySchema = {}
  for (const [key, value] of Object.entries(schema)) {
    out[key] = key === 'discriminator' && value !== null && typeof value === 'object'
      ? { propertyName: (value as AnySchema).propertyName }
      : withoutMapping(value)
  }
  return out
}

const rfc3339 = fullFormats['date-time'] as { validate: (value: string) => boolean }

/**
 * RFC 3339 date-times that a timestamp can hold. RFC 3339 (and ajv-formats) admit a leap second
 * (`23:59:60`) and an offset without minutes (`+01`), which a JavaScript Date cannot read; years
 * outside 0001-9999 (in UTC) are beyond what the API writes back. Refused here, for every
 * date-time field and parameter, so no route ever handles an Invalid Date.
 */
export function isStorableDateTime (value: string): boolean {
  if (!rfc3339.validate(value)) return false
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) return false
  const year = new Date(ms).getUTCFullYear()
  return year >= 1 && year <= 9999
}

/**
 * Ids are compared as strings all over (ownership, self-references, duplicates), and PostgreSQL
 * reads `ABC…` and `abc…` as the same uuid: every id a request carries (path, query or body) is
 * lower-cased as it is validated, so the rest of the code sees one spelling.
 */
const LOWERCASE = 'x-lowercase'
const lowercase = {
  keyword: LOWERCASE,
  modifying: true,
  schemaType: 'boolean',
  validate: (_: boolean, data: unknown, _schema?: AnySchema, cxt?: { parentData: AnySchema, parentDataProperty: string | number }) => {
    if (typeof data === 'string' && cxt?.parentData !== undefined) cxt.parentData[cxt.parentDataProperty] = data.toLowerCase()
    return true
  }
} as const

function makeAjv (externalSchemas: External, coerceTypes: Options['coerceTypes']) {
  const ajv = new Ajv({ ...base, coerceTypes })
  addFormats.default(ajv)
  ajv.addFormat('date-time', { type: 'string', validate: isStorableDateTime })
  ajv.addKeyword(lowercase as never)
  for (const schema of Object.values(externalSchemas as Record<string, AnySchema>)) {
    const adding = withoutMapping(schema) as AnySchema
    ajv.addSchema(adding.$id === 'Id' ? { ...adding, [LOWERCASE]: true } : adding)
  }
  return ajv
}

export function buildValidator (externalSchemas: External) {
  const strict = makeAjv(externalSchemas, false)
  const coercing = makeAjv(externalSchemas, 'array')
  return ({ schema, httpPart }: { schema: AnySchema, httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(withoutMapping(schema) as AnySchema)
}

function withoutRequired (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutRequired)
  if (schema === null || typeof schema !== 'object') return schema
  const out: AnySchema = {}
  for (const [key, value] of Object.entries(schema)) {
    // `required` lists property names; a property itself may be called "required".
    if (key === 'required' && Array.isArray(value)) continue
    out[key] = key === 'properties'
      ? Object.fromEntries(Object.entries(value as AnySchema).map(([k, v]) => [k, withoutRequired(v)]))
      : withoutRequired(value)
  }
  return out
}

export function buildSerializer (externalSchemas: External) {
  const relaxed = withoutRequired(externalSchemas) as External
  return ({ schema }: { schema: AnySchema }) => {
    const external = { ...relaxed }
    if (typeof schema.$id === 'string') delete external[schema.$id]
    return fastJsonStringify(withoutRequired(schema) as Parameters<typeof fastJsonStringify>[0], { schema: external })
  }
}
