// Filters that take several values: `tag=a,b` matches either. The values are capped, so one
// request cannot make a page arbitrarily costly, and a bad list is a 400 naming the parameter.
import { Type } from 'typebox'
import { invalidField } from './errors.js'

/** The most values one any-of filter takes. */
export const MAX_FILTER_VALUES = 20

/** The query parameter of an any-of filter over ids or slugs. */
export const anyOfQuery = (what: string, example: string) => Type.Optional(Type.String({
  minLength: 1,
  examples: [example],
  maxLength: MAX_FILTER_VALUES * 121,
  description: `One ${what} or several, comma-separated (any of them matches), each an id or a slug; at most ${MAX_FILTER_VALUES}. An unknown one is a 400 that names it.`
}))

/** The distinct values of a comma-separated parameter. */
export function anyOf (name: string, raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined
  const values = raw.split(',').map((v) => v.trim())
  if (values.some((v) => v === '')) throw invalidField(`/${name}`, 'has an empty value; separate values with single commas', 'query')
  const distinct = [...new Set(values)]
  if (distinct.length > MAX_FILTER_VALUES) throw invalidField(`/${name}`, `has ${distinct.length} values; at most ${MAX_FILTER_VALUES}`, 'query')
  return distinct
}
