// Prepared statements for the hottest queries. Building a drizzle query costs some 45 µs of CPU
// a time; a prepared one is built once per database, and PostgreSQL parses it once per
// connection. Measured on a one-row article check: 40 µs of client CPU a query
// instead of 165. Values go in as placeholders (`sql.placeholder`): in an insert's values the
// column's encoder still applies (JSON as the value itself); in a condition it does not, so
// dates go as Date, which both drivers send as timestamps.
import type { Db } from './client.js'

const byDb = new WeakMap<Db, Map<string, unknown>>()

/** Asked of a routed database (replicas.ts): the one it stands for in the current request. */
export const ROUTED = Symbol('routed database')

/** The statement `name` of this database (or anything else made once per database, like the
 * batchers of batch.ts), made by `build` the first time it is asked for. */
export function prepared<T> (routed: Db, name: string, build: (db: Db, name: string) => T): T {
  const db = (routed as Db & { [ROUTED]?: Db })[ROUTED] ?? routed
  let statements = byDb.get(db)
  if (!statements) byDb.set(db, statements = new Map())
  let statement = statements.get(name) as T | undefined
  if (statement === undefined) statements.set(name, statement = build(db, name))
  return statement
}
