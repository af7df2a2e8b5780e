// Rows become wire objects: internal columns dropped, dates as RFC 3339 strings. Embedded
// objects must be exact, because the serializer checks them against their schema.
const internal = new Set(['version', 'createdById', 'tokenHash', 'search', 'bodyText', 'sha256'])

export function wire (row: object): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(row)) {
    if (internal.has(key)) continue
    out[key] = value instanceof Date ? value.toISOString() : value
  }
  return out
}
