// Group commit for the hottest statements. Calls that arrive while a batch is on its way to the
// database wait for the next one, which carries them all in a single statement; a call that
// finds nothing in flight goes at once, so a quiet server adds no delay. Under load, fifty
// concurrent comment posts cost the database a few statements instead of a hundred: a statement's
// fixed costs (a round trip, parsing and planning, a commit) dominate a small row's, and on two
// cores one-row inserts alone top out well below the rates a newsroom's peaks ask for.
//
// A batch that fails as a whole is run again one call at a time, so each caller gets its own
// answer: one row that breaks a constraint fails a multi-row insert for every row in it.
import { getTableColumns, is, sql, SQL } from 'drizzle-orm'
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core'
import type { Db } from './client.js'
import { prepared } from './prepared.js'

/** Runs a batch: one result per item, in the items' order. */
export type BatchRun<I, O> = (db: Db, items: I[]) => Promise<O[]>

type Waiting<I, O> = { item: I, resolve: (value: O) => void, reject: (error: unknown) => void }

export type BatchOptions = {
  /** The most items one statement carries (PostgreSQL takes at most 65,535 parameters). */
  max?: number
}

/** A function that runs `run` for each call, batched with the calls that arrive meanwhile. */
export function batcher<I, O> (db: Db, run: BatchRun<I, O>, opts: BatchOptions = {}): (item: I) => Promise<O> {
  const max = opts.max ?? 100
  let queue: Array<Waiting<I, O>> = []
  let busy = false

  const settle = async (batch: Array<Waiting<I, O>>) => {
    try {
      const results = await run(db, batch.map((w) => w.item))
      batch.forEach((w, i) => w.resolve(results[i]))
    } catch (error) {
      if (batch.length === 1) return batch[0].reject(error)
      await Promise.all(batch.map((w) => run(db, [w.item]).then(([result]) => w.resolve(result), w.reject)))
    }
  }

  const drain = async () => {
    busy = true
    try {
      while (queue.length > 0) {
        const batch = queue.length <= max ? queue : queue.slice(0, max)
        queue = queue.length <= max ? [] : queue.slice(max)
        await settle(batch)
      }
    } finally {
      busy = false
    }
  }

  return (item) => new Promise<O>((resolve, reject) => {
    queue.push({ item, resolve, reject })
    if (!busy) void drain()
  })
}

/** The batcher `name` of this database, made the first time it is asked for. */
export const batched = <I, O>(db: Db, name: string, run: BatchRun<I, O>, opts?: BatchOptions) =>
  prepared(db, `batch:${name}`, (db) => batcher(db, run, opts))

/** Rows of a raw statement: both drivers answer `{ rows }`. */
export async function rowsOf<T> (db: Db, query: Parameters<Db['execute']>[0]): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows
}

type Values = Record<string, unknown>

const isJson = (column: PgColumn) => column.getSQLType() === 'json' || column.getSQLType() === 'jsonb'

/** How a value travels in a text array: JSON as JSON text, dates as RFC 3339. */
function asText (column: PgColumn, value: unknown): string | null {
  if (value === undefined || value === null) return null
  if (isJson(column)) return JSON.stringify(value)
  return value instanceof Date ? value.toISOString() : String(value)
}

/**
 * `insert into table (…) select … from unnest($1::text[], …)`: any number of rows in a statement
 * of one shape, an array a column. Every array goes as text and PostgreSQL casts each column to
 * its type, so both drivers send them alike, enums and JSON included. Every row gives every key
 * (null where empty: a column's default does not apply).
 */
export function insertRows (table: PgTable, keys: string[], rows: Values[]): SQL {
  const all = getTableColumns(table)
  const columns = keys.map((key) => all[key])
  const arrays = columns.map((column, i) => sql`${sql.param(rows.map((row) => asText(column, row[keys[i]])))}::text[]`)
  const names = sql.join(columns.map((c) => sql.identifier(c.name)), sql`, `)
  const selected = sql.join(columns.map((c) => sql`${sql.identifier(c.name)}::${sql.raw(c.getSQLType())}`), sql`, `)
  return sql`insert into ${table} (${names}) select ${selected} from unnest(${sql.join(arrays, sql`, `)}) as t(${names})`
}

/**
 * The row as the table holds it after an insert of `values`: a column left out takes its
 * default. Defaults the database computes (ids, times) must be given; asking for one is a bug.
 */
export function rowAfterInsert<T> (columns: Record<string, PgColumn>, values: Values): T {
  const row: Values = {}
  for (const [key, column] of Object.entries(columns)) {
    if (values[key] !== undefined) row[key] = values[key]
    else if (!column.hasDefault) row[key] = null
    else if (is(column.default, SQL) || column.default === undefined) throw new Error(`${column.name} has a default that only the database knows: give it`)
    else row[key] = column.default
  }
  return row as T
}
