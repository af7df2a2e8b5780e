// Keyset (cursor) pagination: page 1000 costs what page 1 costs, and inserts never shift a page.
import { and, count, gt, isNull, lt, or, sql, type SQL } from 'drizzle-orm'
import type { AnyPgColumn, PgTable } from 'drizzle-orm/pg-core'
import { Type } from 'typebox'
import type { Db } from '../db/client.js'
import { AppError } from './errors.js'

export type SortKind = 'date' | 'string' | 'number'
export type SortField = { expr: AnyPgColumn | SQL, kind: SortKind, nullable?: boolean }
export type Sort = { name: string, desc: boolean, field: SortField }

type CursorValue = string | number | null
type Cursor = { s: string, v: CursorValue, id: string }

/** The `sort` query parameter: each allowed field, ascending or with `-` descending. */
export function sortQuery (fields: string[], fallback: string) {
  const values = fields.flatMap((f) => [f, `-${f}`])
  return Type.Optional(Type.Unsafe<string>({
    type: 'string',
    enum: values,
    description: `Sort order; \`-\` for descending. Default \`${fallback}\`.`
  }))
}

export function parseSort (param: string | undefined, allowed: Record<string, SortField>, fallback: string): Sort {
  const raw = param ?? fallback
  const desc = raw.startsWith('-')
  const name = desc ? raw.slice(1) : raw
  return { name: raw, desc, field: allowed[name] }
}

const badCursor = () => new AppError('INVALID_CURSOR', 'The cursor is malformed or belongs to another sort order; start again from the first page.', {
  errors: [{ path: '/cursor', in: 'query', message: 'is not a cursor this list issued' }]
})

export function decodeCursor (raw: string | undefined, sort: Sort): Cursor | undefined {
  if (raw === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))
  } catch {
    throw badCursor()
  }
  const c = parsed as Cursor
  const valueOk = c?.v === null ? sort.field.nullable === true : sort.field.kind === 'number' ? typeof c?.v === 'number' : typeof c?.v === 'string'
  if (!c || typeof c !== 'object' || c.s !== sort.name || typeof c.id !== 'string' ||
      !/^[0-9a-f-]{36}$/i.test(c.id) || !valueOk || (sort.field.kind === 'date' && c.v !== null && Number.isNaN(Date.parse(c.v as string)))) {
    throw badCursor()
  }
  return c
}

function toDb (value: CursorValue, kind: SortKind): unknown {
  return kind === 'date' && typeof value === 'string' ? new Date(value) : value
}

/** WHERE and ORDER BY for the page after `cursor`; nulls sort last in both directions. */
export function keyset (sort: Sort, idColumn: AnyPgColumn, cursor: Cursor | undefined): { where?: SQL, orderBy: SQL[] } {
  const { expr, kind, nullable } = sort.field
  const dir = sort.desc ? sql`desc` : sql`asc`
  const orderBy = [sql`${expr} ${dir} nulls last`, sql`${idColumn} ${dir}`]
  if (!cursor) return { orderBy }
  const beyond = sort.desc ? lt : gt
  const idBeyond = beyond(idColumn, cursor.id)
  if (cursor.v === null) return { where: and(isNull(expr), idBeyond), orderBy }
  const value = toDb(cursor.v, kind)
  // A row comparison, which PostgreSQL answers from an index on (expr, id) in one range scan.
  const after = sort.desc ? sql`(${expr}, ${idColumn}) < (${value}, ${cursor.id})` : sql`(${expr}, ${idColumn}) > (${value}, ${cursor.id})`
  return { where: nullable ? or(after, isNull(expr)) : after, orderBy }
}

/**
 * `total=true`: how many rows the list's filters match, whatever the cursor. A count reads every
 * matching row (the page reads `limit` of them), so it runs only for a request that asks.
 */
export async function totalOf (db: Db, asked: boolean | undefined, from: PgTable, where: SQL | undefined): Promise<number | undefined> {
  if (!asked) return undefined
  const [row] = await db.select({ n: count() }).from(from).where(where)
  return row.n
}

/** Cuts the extra row fetched to learn whether another page exists, and makes its cursor. */
export function paginate<T extends { id: string }> (rows: T[], limit: number, sort: Sort, valueOf: (row: T) => unknown, total?: number) {
  const hasMore = rows.length > limit
  const data = hasMore ? rows.slice(0, limit) : rows
  let nextCursor: string | null = null
  if (hasMore) {
    const last = data[data.length - 1]
    const raw = valueOf(last)
    const v: CursorValue = raw instanceof Date ? raw.toISOString() : (raw as CursorValue) ?? null
    nextCursor = Buffer.from(JSON.stringify({ s: sort.name, v, id: last.id })).toString('base64url')
  }
  return { data, meta: { limit, nextCursor, ...(total !== undefined && { total }) } }
}
