// Sparse fieldsets (`fields=`) and embedded relations (`include=`), validated against allowlists.
import { AppError } from './errors.js'

function parseList (param: string | undefined, allowed: readonly string[], name: string): Set<string> | undefined {
  if (param === undefined) return undefined
  const items = param.split(',').map((s) => s.trim()).filter(Boolean)
  const unknown = items.filter((i) => !allowed.includes(i))
  if (unknown.length > 0) {
    throw new AppError('VALIDATION_FAILED', `Unknown ${name}: ${unknown.join(', ')}. Allowed: ${allowed.join(', ')}.`, {
      errors: [{ path: `/${name}`, in: 'query', message: `has unknown values ${unknown.join(', ')}; allowed: ${allowed.join(', ')}` }]
    })
  }
  return new Set(items)
}

export const parseFields = (param: string | undefined, allowed: readonly string[]) => parseList(param, allowed, 'fields')
export const parseInclude = <T extends string>(param: string | undefined, allowed: readonly T[]) =>
  (parseList(param, allowed, 'include') ?? new Set()) as Set<T>

/** Keeps only the chosen keys (and always `id`); no selection keeps everything but `omitByDefault`. */
export function pickFields<T extends object> (item: T, fields: Set<string> | undefined, omitByDefault: readonly string[] = []): Partial<T> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(item)) {
    const keep = fields ? key === 'id' || fields.has(key) : !omitByDefault.includes(key)
    if (keep) out[key] = value
  }
  return out as Partial<T>
}

/** The keys of a TypeBox object schema, for a `fields=` allowlist. */
export const fieldNames = (schema: { properties: Record<string, unknown> }) => Object.keys(schema.properties)
