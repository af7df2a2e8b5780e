// Helpers shared by the services' writes: unique-slug retries and versioned updates.
import type { Db } from '../db/client.js'
import { AppError } from '../http/errors.js'

const isUniqueViolation = (error: unknown, constraint: string): boolean => {
  for (let e: any = error, depth = 0; e && depth < 4; e = e.cause, depth++) {
    if (e.code === '23505' && (e.constraint === constraint || String(e.message).includes(constraint) || String(e.detail ?? '').includes('slug'))) return true
  }
  return false
}

const slugTaken = (chosen: string) => new AppError('SLUG_TAKEN', `The slug "${chosen}" is already taken.`, {
  errors: [{ path: '/slug', in: 'body', message: 'is already taken' }]
})

/**
 * Inserts a row with a slug, trying the plain one first: `insert` must skip a clash (ON CONFLICT
 * DO NOTHING) and return undefined, which needs no savepoint. A slug the client chose that is
 * taken is a 409; otherwise the next free one is generated.
 */
export async function insertWithSlug<T> (
  db: Db,
  chosen: string | undefined,
  plain: string,
  generate: (db: Db, attempt: number) => Promise<string>,
  insert: (slug: string) => Promise<T | undefined>
): Promise<T> {
  let slug = chosen ?? plain
  for (let attempt = 0; ; attempt++) {
    const row = await insert(slug)
    if (row !== undefined) return row
    if (chosen !== undefined) throw slugTaken(chosen)
    if (attempt >= 20) throw new Error(`no free slug for "${plain}" after ${attempt} attempts`)
    slug = await generate(db, attempt)
  }
}

/**
 * Runs an insert or update that sets a slug. A slug the client chose that is taken is a 409;
 * a generated one that a concurrent write took first is generated again.
 */
export async function withSlug<T> (
  db: Db,
  constraint: string,
  chosen: string | undefined,
  generate: (db: Db, attempt: number) => Promise<string>,
  write: (db: Db, slug: string) => Promise<T>
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      // A savepoint, so a clash does not abort the caller's transaction.
      return await db.transaction(async (tx) => write(tx as unknown as Db, chosen ?? await generate(tx as unknown as Db, attempt)))
    } catch (error) {
      if (!isUniqueViolation(error, constraint)) throw error
      if (chosen !== undefined) {
        throw slugTaken(chosen)
      }
      // Each round at least one of the racing writers wins, and uniqueSlug soon stops racing.
      if (attempt >= 20) throw error
    }
  }
}
