// Lists what still points at a resource, so a refused delete can name it.
import { AppError } from '../http/errors.js'

export type Reference = { resource: string, id: string, label: string }

export function assertUnreferenced (what: string, references: Reference[]) {
  if (references.length === 0) return
  const names = references.slice(0, 5).map((r) => `${r.resource} "${r.label}"`).join(', ')
  const more = references.length > 5 ? ` and ${references.length - 5} more` : ''
  throw new AppError('STILL_REFERENCED', `${what} is still used by ${names}${more}; remove those references first.`, { references })
}
