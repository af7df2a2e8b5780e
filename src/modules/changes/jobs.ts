// The change log's shared chores, run by every instance on a timer, each piece of work claimed
// in the database (FOR UPDATE SKIP LOCKED), so no external cron and no single chosen instance:
// - a scheduled article whose time has come is a change: `article.published`, recorded once
//   (the article is marked published with it);
// - changes older than the retention go, a batch at a time (no long locks), and so do finished
//   webhook deliveries.
import { and, eq, lte, sql } from 'drizzle-orm'
import { rowsOf } from '../../db/batch.js'
import type { Db } from '../../db/client.js'
import { articles } from '../../db/schema.js'
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

/**
 * Records `article.published` for each scheduled article whose time has come, and marks it
 * published in the same transaction, so it is recorded once, whatever the clocks of the
 * instances or how late a schedule's own write committed. The rows are locked, so an unpublish
 * at the same moment is recorded after the publication, or finds it no longer due.
 */
export async function publishDue (db: Db, now: Date): Promise<number> {
  const at = now.toISOString()
  // Most ticks find nothing: one read, no transaction.
  const [due] = await rowsOf<{ n: number }>(db, sql`/* change log chores */
    select count(*)::int as n from articles where status = 'scheduled' and published_at <= ${at}::timestamptz`)
  if (!due || due.n === 0) return 0
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const rows = await tx.select({ id: articles.id }).from(articles)
      .where(and(eq(articles.status, 'scheduled'), lte(articles.publishedAt, now)))
      .orderBy(articles.id).limit(PRUNE_BATCH).for('no key update', { skipLocked: true })
    for (const r of rows) {
      await tx.update(articles).set({ status: 'published' }).where(eq(articles.id, r.id))
      await recordScheduledPublication(tx, r.id, now)
    }
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

export type ChangeJobs = { tick: () => Promise<void>, start: () => Promise<void>, stop: () => Promise<void> }

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
      // At once: what came due while no instance ran is recorded as the first one starts.
      await tick()
      timer = setInterval(() => { tick().catch(() => {}) }, opts.everyMs)
      timer.unref()
    },
    // Waits for a run in progress: the database closes after this.
    async stop () {
      clearInterval(timer)
      await running
    }
  }
}
