// Slugs from headlines and names; a clash with a generated slug gets -2, -3, ...
import { randomBytes } from 'node:crypto'
import { and, like, or, eq } from 'drizzle-orm'
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { Db } from '../db/client.js'
import { slugRedirects } from '../db/schema.js'

export const SLUG_MAX = 120

// Letters that Unicode decomposition leaves whole.
const folds: Record<string, string> = { ß: 'ss', æ: 'ae', ø: 'o', œ: 'oe', ł: 'l', đ: 'd', þ: 'th', ð: 'd', ı: 'i' }

export function slugify (text: string): string {
  const base = text
    .toLowerCase()
    .replace(/[ßæøœłđþðı]/g, (c) => folds[c])
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['’]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, SLUG_MAX)
    .replace(/-+$/g, '')
  return base || 'untitled'
}

/** The slug a text gets when it is free: short enough to take a -N suffix when it is not. */
export const baseSlug = (text: string) => slugify(text).slice(0, SLUG_MAX - 8).replace(/-+$/g, '')

/** Rounds of clashes after which a generated slug takes a random suffix instead of the next -N. */
const RACE_ROUNDS = 5

/** The old slugs of this kind of entity (src/modules/redirects): reserved, so never generated. */
async function reserved (db: Db, entity: string, base: string): Promise<string[]> {
  const rows = await db.select({ slug: slugRedirects.slug }).from(slugRedirects)
    .where(and(eq(slugRedirects.entity, entity), or(eq(slugRedirects.slug, base), like(slugRedirects.slug, `${base}-%`))))
  return rows.map((r) => r.slug)
}

/** Whether a slug is an old one of this kind of entity, kept as a redirect. */
export async function isReserved (db: Db, entity: string, slug: string): Promise<boolean> {
  const [row] = await db.select({ id: slugRedirects.id }).from(slugRedirects).where(and(eq(slugRedirects.entity, entity), eq(slugRedirects.slug, slug)))
  return row !== undefined
}

/**
 * The first free slug among base, base-2, base-3, ... in the given table, skipping the old slugs
 * of `entity` that redirects keep. Writers racing for one text all compute the same next free
 * slug and only one wins each round: from the `attempt` after RACE_ROUNDS, a random suffix ends
 * the race (the base leaves room for it).
 */
export async function uniqueSlug (db: Db, table: PgTable, column: AnyPgColumn, text: string, attempt = 0, entity?: string): Promise<string> {
  const base = baseSlug(text)
  if (attempt >= RACE_ROUNDS) return `${base}-${randomBytes(3).toString('hex')}`
  const rows = await db.select({ slug: column }).from(table)
    .where(or(eq(column, base), like(column, `${base}-%`))) as Array<{ slug: string }>
  const taken = new Set([...rows.map((r) => r.slug), ...(entity === undefined ? [] : await reserved(db, entity, base))])
  if (!taken.has(base)) return base
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`
    if (!taken.has(candidate)) return candidate
  }
}
