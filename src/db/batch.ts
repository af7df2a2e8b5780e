// Group commit for the hottest statements. Calls that arrive while the batches in flight are
// on their way to the database wait for the next one, which carries them all in a single
// statement; a call that finds a flight free goes at once, so a quiet server adds no delay.
// Under load, fifty concurrent comment posts cost the database a few statements instead of a
// hundred: a statement's fixed costs (a round trip, parsing and planning, a commit) dominate a
// small row's, and on two cores one-row inserts alone top out well below a newsroom's peaks.
// Several batches fly at once, so one that waits on a lock (an editor's transaction holding an
// article) does not hold up every other caller.
//
// A batch that one row's data breaks (SQLSTATE class 22 or 23: a bad value, a constraint) is
// run again one call at a time, so each caller gets its own answer; any other failure (the
// database gone, a timeout) is every caller's at once.
import { getTableColumns, is, sql, SQL } from 'drizzle-orm'
import { PgTransaction, type PgColumn, type PgTable } from 'drizzle-orm/pg-core'
import { sqlState } from '../http/errors.js'
import type { Db } from './client.js'
import { prepared } from './prepared.js'

/** Runs a batch: one result per item, in the items' order. */
export type BatchRun<I, O> = (db: Db, items: I[]) => Promise<O[]>

type Waiting<I, O> = { item: I, resolve: (value: O) => void, reject: (error: unknown) => void }

export type BatchOptions = {
  /** The most calls one statement carries. */
  max?: number
  /** Batches in flight at once (each holds a pooled connection while it runs). */
  flights?: number
}

const rowsFault = (error: unknown) => /^2[23]/.test(sqlState(error) ?? '')

/** A function that runs `run` for each call, batched with the calls that arrive meanwhile. */
export function batcher<I, O> (db: Db, run: BatchRun<I, O>, opts: BatchOptions = {}): (item: I) => Promise<O> {
  const max = opts.max ?? 100
  const flights = opts.flights ?? 4
  let queue: Array<Waiting<I, O>> = []
  let flying = 0

  const runChecked = async (items: I[]) => {
    const results = await run(db, items)
    if (results.length !== items.length) throw new Error(`a batch of ${items.length} gave ${results.length} results`)
    return results
  }

  const settle = async (batch: Array<Waiting<I, O>>) => {
    try {
      const results = await runChecked(batch.map((w) => w.item))
      batch.forEach((w, i) => w.resolve(results[i]))
    } catch (error) {
      if (batch.length === 1 || !rowsFault(error)) return batch.forEach((w) => w.reject(error))
      // One after another: one bad row should not take the whole pool.
      for (const w of batch) await runChecked([w.item]).then(([result]) => w.resolve(result), w.reject)
    }
  }

  const fly = async () => {
    flying++
    try {
      while (queue.length > 0) {
        const batch = queue.length <= max ? queue : queue.slice(0, max)
        queue = queue.length <= max ? [] : queue.slice(max)
        await settle(batch)
      }
    } finally {
      flying--
    }
  }

  return (item) => {
    // Inside a transaction the statements must go one by one on its connection, and a failed
    // batch would abort it for every caller: no batching there.
    if (is(db, PgTransaction)) return runChecked([item]).then(([result]) => result)
    return new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject })
      if (flying < flights) void fly()
    })
  }
}

/** The batcher `name` of this database, made the first time it is asked for. */
export const batched = <I, O>(db: Db, name: string, run: BatchRun<I, O>, opts?: BatchOptions) =>
  prepared(db, `batch:${name}`, (db) => batcher(db, run, opts))

/**
 * Rows of a batch's select that numbered its inputs `with ordinality as q(…, n)`, put back in
 * the inputs' order: undefined where an input found nothing.
 */
export function byOrdinal<T> (rows: Array<T & { n: number | string }>, count: number): Array<Omit<T, 'n'> | undefined> {
  const out = new Array<Omit<T, 'n'> | undefined>(count).fill(undefined)
  for (const { n, ...row } of rows) out[Number(n) - 1] = row
  return out
}

/** Rows of a raw statement: both drivers answer `{ rows }`. */
export async function rowsOf<T> (db: Db, query: Parameters<Db['execute']>[0]): Promise<T[]> {
  return ((await db.execute(query)) as unknown as { rows: T[] }).rows
}

type Values = Record<string, unknown>

const isJson = (column: PgColumn) => column.getSQLType() === 'json' || column.getSQLType() === 'jsonb'

/** How a value travels in a text array: JSON as JSON text, dates as RFC 3339. */
function asText (column: PgColumn, value: unknown): string | null {
  if (value === null) return null
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
  const arrays = columns.map((column, i) => sql`${sql.param(rows.map((row) => {
    if (row[keys[i]] === undefined) throw new Error(`insertRows: a row gives no ${keys[i]}`)
    return asText(column, row[keys[i]])
  }))}::text[]`)
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
