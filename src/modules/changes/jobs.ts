// The change log's shared chores, run by every instance on a timer and done by one at a time
// (each claims its `change_cursors` row with FOR UPDATE SKIP LOCKED, so no external cron and
// no single chosen instance):
// - a scheduled article whose time has come is a change: `article.published`, recorded once;
// - changes older than the retention go, a batch at a time (no long locks), and so do finished
//   webhook deliveries.
import { and, eq, gt, isNull, lte, sql } from 'drizzle-orm'
import { rowsOf } from '../../db/batch.js'
import type { Db } from '../../db/client.js'
import { articles, changeCursors } from '../../db/schema.js'
import { recordScheduledPublication } from '../articles/changes.js'

export type JobOptions = {
  db: Db
  now: () => Date
  everyMs: number
  retentionDays: number
  /** How long finished webhook deliveries (and their attempts) are kept. */
  deliveryRetentionDays: number
  log: { warn: (obj: object, msg: string) => void }
}

const PRUNE_EVERY_MS = 60_000
const PRUNE_BATCH = 1000

/** Claims a cursor row for the length of a transaction, or returns undefined: another instance has it. */
export async function claimCursor (tx: Db, name: string) {
  const [row] = await tx.select().from(changeCursors).where(eq(changeCursors.name, name)).for('update', { skipLocked: true })
  return row
}

/**
 * Records `article.published` for each scheduled article whose time came since the last tick.
 * The cursor's `at` is the time up to which this was done: each article's time falls after one
 * tick's `at` and at or before the next one's, so it is recorded once.
 */
export async function publishDue (db: Db, now: Date): Promise<number> {
  // Most ticks find nothing: one read, no transaction.
  const [state] = await db.select({
    at: changeCursors.at,
    due: sql<number>`(select count(*)::int from ${articles} where ${articles.status} = 'scheduled' and ${articles.publishedAt} > ${changeCursors.at} and ${articles.publishedAt} <= ${now.toISOString()}::timestamptz)`
  }).from(changeCursors).where(eq(changeCursors.name, 'schedule'))
  if (!state) return 0
  if (state.at === null) {
    // The first tick ever: from now on (what was due before went public with no cache to evict).
    await db.update(changeCursors).set({ at: now }).where(and(eq(changeCursors.name, 'schedule'), isNull(changeCursors.at)))
    return 0
  }
  if (state.due === 0) return 0
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const cursor = await claimCursor(tx, 'schedule')
    if (!cursor?.at || cursor.at >= now) return 0
    const rows = await tx.select({ id: articles.id }).from(articles)
      .where(and(eq(articles.status, 'scheduled'), gt(articles.publishedAt, cursor.at), lte(articles.publishedAt, now)))
      .orderBy(articles.publishedAt, articles.id)
    for (const r of rows) await recordScheduledPublication(tx, r.id, now)
    await tx.update(changeCursors).set({ at: now }).where(eq(changeCursors.name, 'schedule'))
    return rows.length
  })
}

/**
 * Deletes a batch of changes older than the retention and moves the 'pruned' mark past them, in
 * one statement (so no long lock, and none at all while another instance prunes); returns how
 * many went.
 */
export async function pruneChanges (db: Db, now: Date, retentionDays: number): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000).toISOString()
  const [row] = await rowsOf<{ gone: number }>(db, sql`
    with claimed as (select 1 from change_cursors where name = 'pruned' for update skip locked),
    gone as (
      delete from changes where exists (select 1 from claimed)
        and seq in (select seq from changes where at <= ${cutoff}::timestamptz order by seq limit ${PRUNE_BATCH})
      returning seq
    )
    -- Followers behind this mark must start over (src/modules/changes/follower.ts).
    update change_cursors set seq = greatest(seq, (select max(seq) from gone))
    where name = 'pruned' and exists (select 1 from gone)
    returning (select count(*)::int from gone) as gone`)
  return row?.gone ?? 0
}

/** Deletes a batch of finished webhook deliveries older than their retention (attempts go with them). */
export async function pruneDeliveries (db: Db, now: Date, retentionDays: number): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000).toISOString()
  const gone = await rowsOf<{ id: string }>(db, sql`
    delete from webhook_deliveries where id in (
      select id from webhook_deliveries where state in ('delivered', 'failed') and created_at <= ${cutoff}::timestamptz
      limit ${PRUNE_BATCH} for update skip locked)
    returning id`)
  return gone.length
}

export type ChangeJobs = { tick: () => Promise<void>, start: () => Promise<void>, stop: () => void }

export function changeJobs (opts: JobOptions): ChangeJobs {
  let prunedAt = 0
  let running: Promise<void> | undefined
  let timer: NodeJS.Timeout | undefined
  const run = async () => {
    try {
      const now = opts.now()
      await publishDue(opts.db, now)
      if (Date.now() - prunedAt >= PRUNE_EVERY_MS) {
        prunedAt = Date.now()
        while (await pruneChanges(opts.db, now, opts.retentionDays) === PRUNE_BATCH);
        while (await pruneDeliveries(opts.db, now, opts.deliveryRetentionDays) === PRUNE_BATCH);
      }
    } catch (err) {
      opts.log.warn({ err }, 'change log chores failed; retrying')
    }
  }
  // One run at a time; a tick asked for meanwhile waits for it.
  const tick = () => (running ??= run().finally(() => { running = undefined }))
  return {
    tick,
    async start () {
      // At once: the first start after the migration sets where scheduled publications count from.
      await tick()
      timer = setInterval(() => { tick().catch(() => {}) }, opts.everyMs)
      timer.unref()
    },
    stop () { clearInterval(timer) }
  }
}
