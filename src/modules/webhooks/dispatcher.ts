// Sends webhooks from the change log, on every instance, with the work claimed in the database
// so that each change reaches each endpoint at least once, whichever instances run or die.
//
// Two steps, each its own short transaction, run when the change log notifies (LISTEN) and on a
// timer (WEBHOOK_POLL_MS), so a lost notification delays a delivery by one tick at most:
//
// 1. Fan-out: the `change_cursors` row 'webhooks' is claimed with FOR UPDATE SKIP LOCKED (one
//    instance at a time moves it); the changes after it become one `webhook_deliveries` row per
//    enabled endpoint that wants the event, and the cursor moves past them, in one commit. The
//    log's order is its commit order, so nothing below the cursor can still appear.
// 2. Sending: due pending deliveries are claimed (FOR UPDATE SKIP LOCKED) and leased, and the
//    lease commits before anything is sent. The outcome is recorded only while the lease is
//    still ours. An instance that dies mid-send leaves its lease behind; once it expires any
//    instance sends the delivery again (the same `webhook-id`, so receivers can de-duplicate).
//    A delivery waits while an earlier change of the same entity to the same endpoint is pending,
//    so each endpoint sees an entity's changes in order.
import { and, eq, inArray, sql } from 'drizzle-orm'
import type { FastifyBaseLogger } from 'fastify'
import { rowsOf } from '../../db/batch.js'
import type { Database, Db, Subscription } from '../../db/client.js'
import { changeCursors, webhookDeliveries, webhooks } from '../../db/schema.js'
import type { PublicUrls } from '../../lib/public-urls.js'
import { coalesced } from '../../lib/coalesce.js'
import { CHANNEL } from '../changes/follower.js'
import { changeBody, wants, type ChangeRow } from './events.js'
import { send, type Outcome } from './outbound.js'
import { signedHeaders } from './sign.js'

/**
 * Seconds to wait after the 1st, 2nd, ... failed attempt: about 23 hours in all, then the
 * delivery fails (WEBHOOK_MAX_ATTEMPTS, 11 by default, is one attempt more than this table).
 * Each wait is scaled by WEBHOOK_RETRY_SCALE and given +-20% jitter, so endpoints that failed
 * together are not all retried in the same second.
 */
export const RETRY_SCHEDULE_SECONDS = [5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 28_800]

export function retryDelayMs (failedAttempts: number, scale: number, random: () => number = Math.random): number {
  const base = RETRY_SCHEDULE_SECONDS[Math.min(failedAttempts, RETRY_SCHEDULE_SECONDS.length) - 1] * 1000 * scale
  return Math.round(base * (0.8 + 0.4 * random()))
}

export const USER_AGENT = 'Dateline-Webhooks/1.0 (+https://www.standardwebhooks.com)'

const CURSOR = 'webhooks'
const FAN_OUT_BATCH = 500
const INSERT_CHUNK = 500
// A lease outlives the attempt's own deadline by this much before another instance may retry.
const LEASE_MARGIN_MS = 30_000

export type DispatcherOptions = {
  database: Database
  urls: PublicUrls
  now: () => Date
  log: FastifyBaseLogger
  pollMs: number
  timeoutMs: number
  allowPrivate: boolean
  retryScale: number
  maxAttempts: number
  concurrency: number
}

type Claimed = {
  id: string
  webhookId: string
  body: string
  attempts: number
  createdAt: Date
  url: string
  secret: string
  previousSecret: string | null
  previousSecretExpiresAt: Date | null
}

export class WebhookDispatcher {
  private started = false
  private stopped = false
  private timer: NodeJS.Timeout | undefined
  private subscription: Subscription | undefined
  private readonly inFlight = new Map<string, { controller: AbortController, done: Promise<void> }>()

  constructor (private readonly opts: DispatcherOptions) {}

  private get db (): Db { return this.opts.database.db }

  async start () {
    this.started = true
    this.subscription = await this.opts.database.listen(CHANNEL, () => this.wake(), () => {})
    this.timer = setInterval(() => this.wake(), this.opts.pollMs)
    this.timer.unref()
    this.wake()
  }

  /** Sends what is due now, here: after a change, a ping or a redelivery. */
  wake () {
    if (!this.started || this.stopped) return
    this.run().catch(() => {})
  }

  /** Waits for the step running now (tests use it to let the dispatcher settle). */
  async idle () { await this.run.settled() }

  /** One step at a time; a wake-up during one gets the next (src/lib/coalesce.ts). */
  private readonly run = coalesced(async () => {
    if (this.stopped) return
    try {
      while (await this.fanOut()) { /* a full batch: read on */ }
      await this.claimAndSend()
    } catch (err) {
      if (!this.stopped) this.opts.log.warn({ err }, 'webhook dispatch failed; it is tried again on the next tick')
    }
  })

  /** Turns the changes after the cursor into deliveries; true when there may be more. */
  private async fanOut (): Promise<boolean> {
    const now = this.opts.now()
    return this.db.transaction(async (txn) => {
      const tx = txn as unknown as Db
      const [cursor] = await rowsOf<{ seq: string | number }>(tx, sql`select seq from change_cursors where name = ${CURSOR} for update skip locked`)
      if (!cursor) {
        // Another instance holds it, or it is missing (made again here, from the start: the
        // endpoints' creation times still keep older changes from them).
        await tx.insert(changeCursors).values({ name: CURSOR, seq: 0 }).onConflictDoNothing()
        return false
      }
      const after = Number(cursor.seq)
      const rows = await rowsOf<{ seq: string | number, at: string | Date, entity: string, entity_id: string, event: string, data: Record<string, string> }>(tx, sql`
        select seq, at, entity, entity_id, event, data from changes where seq > ${after} order by seq limit ${FAN_OUT_BATCH}`)
      if (rows.length === 0) return false
      const changes: ChangeRow[] = rows.map((r) => ({ seq: Number(r.seq), at: new Date(r.at), entity: r.entity, entityId: r.entity_id, event: r.event, data: r.data ?? {} }))
      const hooks = await tx.select({ id: webhooks.id, events: webhooks.events, createdSeq: webhooks.createdSeq }).from(webhooks).where(eq(webhooks.enabled, true))
      const values: Array<typeof webhookDeliveries.$inferInsert> = []
      for (const change of changes) {
        let body: string | undefined
        for (const hook of hooks) {
          // An endpoint gets the changes made after it was, not the log before it.
          if (change.seq <= hook.createdSeq || !wants(hook.events, change.event)) continue
          body ??= changeBody(change, this.opts.urls)
          values.push({ webhookId: hook.id, seq: change.seq, event: change.event, entity: change.entity, entityId: change.entityId, body, nextAttemptAt: now, createdAt: now })
        }
      }
      for (let i = 0; i < values.length; i += INSERT_CHUNK) await tx.insert(webhookDeliveries).values(values.slice(i, i + INSERT_CHUNK))
      await tx.update(changeCursors).set({ seq: changes[changes.length - 1].seq, at: now }).where(eq(changeCursors.name, CURSOR))
      return rows.length === FAN_OUT_BATCH
    })
  }

  /** Claims what is due (as many as there are free sending slots) and sends each. */
  private async claimAndSend () {
    const free = this.opts.concurrency - this.inFlight.size
    if (free <= 0 || this.stopped) return
    const now = this.opts.now()
    const lease = new Date(now.getTime() + this.opts.timeoutMs + LEASE_MARGIN_MS)
    const claimed = await this.db.transaction(async (txn) => {
      const tx = txn as unknown as Db
      const at = now.toISOString()
      const due = await rowsOf<{ id: string }>(tx, sql`
        select d.id from webhook_deliveries d join webhooks w on w.id = d.webhook_id
        where d.state = 'pending' and d.next_attempt_at <= ${at}::timestamptz
          and (d.lease_until is null or d.lease_until < ${at}::timestamptz) and w.enabled
          and not exists (
            select 1 from webhook_deliveries e
            where e.webhook_id = d.webhook_id and e.entity_id = d.entity_id and e.state = 'pending' and e.seq < d.seq)
        order by d.next_attempt_at, d.seq
        limit ${free}
        for update of d skip locked`)
      if (due.length === 0) return []
      const ids = due.map((r) => r.id)
      await tx.update(webhookDeliveries).set({ leaseUntil: lease }).where(inArray(webhookDeliveries.id, ids))
      return tx.select({
        id: webhookDeliveries.id,
        webhookId: webhookDeliveries.webhookId,
        body: webhookDeliveries.body,
        attempts: webhookDeliveries.attempts,
        createdAt: webhookDeliveries.createdAt,
        url: webhooks.url,
        secret: webhooks.secret,
        previousSecret: webhooks.previousSecret,
        previousSecretExpiresAt: webhooks.previousSecretExpiresAt
      }).from(webhookDeliveries).innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId)).where(inArray(webhookDeliveries.id, ids))
    })
    if (this.stopped && claimed.length > 0) {
      // Stopping while the claim ran: the leases go back, so another instance sends these now.
      await this.db.update(webhookDeliveries).set({ leaseUntil: null })
        .where(and(inArray(webhookDeliveries.id, claimed.map((d) => d.id)), eq(webhookDeliveries.leaseUntil, lease)))
      return
    }
    for (const delivery of claimed) {
      const controller = new AbortController()
      const done = this.attempt(delivery, lease, controller.signal)
        .catch((err: unknown) => this.opts.log.warn({ err, delivery: delivery.id }, 'recording a webhook attempt failed; its lease runs out and it is sent again'))
        .finally(() => {
          this.inFlight.delete(delivery.id)
          this.wake()
        })
      this.inFlight.set(delivery.id, { controller, done })
    }
  }

  private async attempt (d: Claimed, lease: Date, signal: AbortSignal) {
    const at = this.opts.now()
    const secrets = [d.secret]
    if (d.previousSecret && d.previousSecretExpiresAt && d.previousSecretExpiresAt > at) secrets.push(d.previousSecret)
    const outcome = await send(d.url, signedHeaders(secrets, d.id, at, d.body), d.body, {
      timeoutMs: this.opts.timeoutMs, allowPrivate: this.opts.allowPrivate, userAgent: USER_AGENT, signal
    })
    if (signal.aborted) {
      // Stopping: the lease is given back, so another instance sends it at once.
      await this.db.update(webhookDeliveries).set({ leaseUntil: null })
        .where(and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.leaseUntil, lease)))
      return
    }
    await this.record(d, lease, at, outcome)
  }

  /** The attempt's row, and the delivery's new state, if the lease is still ours. */
  private async record (d: Claimed, lease: Date, at: Date, outcome: Outcome) {
    const now = this.opts.now()
    const attempts = d.attempts + 1
    await this.db.transaction(async (txn) => {
      const tx = txn as unknown as Db
      await tx.execute(sql`
        insert into webhook_attempts (delivery_id, attempt, at, status, duration_ms, error)
        select ${d.id}, count(*) + 1, ${at.toISOString()}::timestamptz, ${outcome.status}, ${outcome.durationMs}, ${outcome.error}
        from webhook_attempts where delivery_id = ${d.id}`)
      const last = { attempts, lastStatus: outcome.status, lastDurationMs: outcome.durationMs, lastError: outcome.error, leaseUntil: null }
      const ours = and(eq(webhookDeliveries.id, d.id), eq(webhookDeliveries.leaseUntil, lease))
      if (outcome.ok) {
        const updated = await tx.update(webhookDeliveries).set({ ...last, state: 'delivered', deliveredAt: now }).where(ours).returning({ id: webhookDeliveries.id })
        if (updated.length > 0) await tx.update(webhooks).set({ failingSince: null }).where(and(eq(webhooks.id, d.webhookId), sql`${webhooks.failingSince} is not null`))
        return
      }
      const giveUp = attempts >= this.opts.maxAttempts
      const next = giveUp ? now : new Date(now.getTime() + retryDelayMs(attempts, this.opts.retryScale))
      const updated = await tx.update(webhookDeliveries).set({ ...last, state: giveUp ? 'failed' : 'pending', nextAttemptAt: next })
        .where(ours).returning({ id: webhookDeliveries.id })
      if (updated.length === 0) return
      await tx.update(webhooks).set({ failingSince: sql`coalesce(${webhooks.failingSince}, ${at.toISOString()}::timestamptz)` }).where(eq(webhooks.id, d.webhookId))
      if (!giveUp) return
      // A delivery gave up, and nothing this endpoint answered succeeded since before its first
      // attempt (about a day, with the default schedule): the endpoint is disabled, and says why.
      const reason = `Disabled at ${now.toISOString()}: delivery ${d.id} failed all ${attempts} attempts and no delivery to this endpoint has succeeded since; the last error: ${outcome.error ?? 'unknown'}. Enable it again (PATCH enabled: true) once it answers 2xx; pending deliveries then resume.`
      const disabled = await rowsOf<{ id: string }>(tx, sql`
        update webhooks set enabled = false, disabled_reason = ${reason}, version = version + 1, updated_at = ${now.toISOString()}::timestamptz
        where id = ${d.webhookId} and enabled and failing_since is not null
          and failing_since <= (select min(at) from webhook_attempts where delivery_id = ${d.id})
        returning id`)
      if (disabled.length > 0) this.opts.log.warn({ webhook: d.webhookId, delivery: d.id }, 'webhook endpoint disabled: its deliveries keep failing')
    })
  }

  async stop () {
    this.stopped = true
    clearInterval(this.timer)
    await this.subscription?.close().catch(() => {})
    for (const { controller } of this.inFlight.values()) controller.abort()
    await this.run.settled()
    await Promise.all([...this.inFlight.values()].map((f) => f.done))
  }
}
