// Webhook endpoints and their delivery log. Secrets are kept to sign with, and never answered
// after the create or rotation that made them.
import { and, eq, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { webhookDeliveries, webhooks } from '../../db/schema.js'
import { assertVersion, type IfMatch } from '../../http/caching.js'
import { invalidField, notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf, type SortField } from '../../http/pagination.js'
import { badEvent, PING, pingBody } from './events.js'
import { newSecret } from './sign.js'
import type { CreateWebhook, ListDeliveries, UpdateWebhook } from './schemas.js'

type WebhookRow = typeof webhooks.$inferSelect
type DeliveryRow = typeof webhookDeliveries.$inferSelect

/** What the API answers about an endpoint: everything but its secrets. */
export function publicWebhook (row: WebhookRow) {
  return {
    id: row.id,
    version: row.version,
    url: row.url,
    description: row.description,
    events: row.events,
    enabled: row.enabled,
    disabledReason: row.disabledReason,
    failingSince: row.failingSince,
    previousSecretExpiresAt: row.previousSecret ? row.previousSecretExpiresAt : null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt
  }
}

export function publicDelivery (row: DeliveryRow) {
  return {
    id: row.id,
    event: row.event,
    seq: row.seq,
    state: row.state as 'pending' | 'delivered' | 'failed',
    attempts: row.attempts,
    lastStatus: row.lastStatus,
    lastDurationMs: row.lastDurationMs,
    lastError: row.lastError,
    nextAttemptAt: row.state === 'pending' ? row.nextAttemptAt : null,
    createdAt: row.createdAt,
    deliveredAt: row.deliveredAt
  }
}

/** An http(s) URL with no credentials in it, as the endpoint will be called. */
function checkUrl (raw: string): string {
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw invalidField('/url', 'must be an absolute http:// or https:// URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidField('/url', 'must start with http:// or https://')
  if (url.username || url.password) throw invalidField('/url', 'must not carry credentials (user:password@): receivers authenticate deliveries by their signature')
  if (url.hash) throw invalidField('/url', 'must not have a #fragment, which is never sent')
  return url.toString()
}

function checkEvents (events: string[]): string[] {
  events.forEach((name, i) => {
    const why = badEvent(name)
    if (why) throw invalidField(`/events/${i}`, why)
  })
  return [...new Set(events)]
}

const byCreated: Record<string, SortField> = { createdAt: { expr: webhooks.createdAt, kind: 'date' } }

export async function listWebhooks (db: Db, query: { limit: number, cursor?: string, total?: boolean }) {
  const sort = parseSort('-createdAt', byCreated, '-createdAt')
  const { where, orderBy } = keyset(sort, webhooks.id, decodeCursor(query.cursor, sort))
  const rows = await db.select().from(webhooks).where(where).orderBy(...orderBy).limit(query.limit + 1)
  const result = paginate(rows, query.limit, sort, (r) => r.createdAt, await totalOf(db, query.total, webhooks, undefined))
  return { data: result.data.map(publicWebhook), meta: result.meta }
}

export async function getWebhook (db: Db, id: string): Promise<WebhookRow> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id))
  if (!row) throw notFound('Webhook')
  return row
}

export async function createWebhook (db: Db, input: CreateWebhook, now: Date) {
  const secret = newSecret()
  const url = checkUrl(input.url)
  const events = checkEvents(input.events)
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    // The change log's own lock (migrations/0005): no change is being numbered while the
    // webhook is made, so the changes after `createdSeq` are exactly those committed after it,
    // and the fan-out, which reads changes before endpoints, sees the webhook for every one.
    await tx.execute(sql`select pg_advisory_xact_lock(4418093021)`)
    const [row] = await tx.insert(webhooks).values({
      url,
      events,
      description: input.description ?? null,
      enabled: input.enabled ?? true,
      secret,
      createdSeq: sql<number>`(select coalesce(max(seq), 0) from changes)`,
      createdAt: now,
      updatedAt: now
    }).returning()
    return { row, secret }
  })
}

export async function updateWebhook (db: Db, id: string, input: UpdateWebhook, ifMatch: IfMatch | undefined, now: Date) {
  const changes: Partial<WebhookRow> = {}
  if (input.url !== undefined) changes.url = checkUrl(input.url)
  if (input.events !== undefined) changes.events = checkEvents(input.events)
  if (input.description !== undefined) changes.description = input.description
  if (input.enabled !== undefined) {
    changes.enabled = input.enabled
    // Enabled again, or disabled by hand: the system's reason no longer applies.
    changes.disabledReason = null
    if (input.enabled) changes.failingSince = null
  }
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(webhooks).where(eq(webhooks.id, id)).for('update')
    if (!current) throw notFound('Webhook')
    assertVersion(current, ifMatch)
    const [row] = await tx.update(webhooks).set({ ...changes, version: current.version + 1, updatedAt: now }).where(eq(webhooks.id, id)).returning()
    return row
  })
}

export async function deleteWebhook (db: Db, id: string, ifMatch: IfMatch | undefined) {
  await db.transaction(async (tx) => {
    const [current] = await tx.select().from(webhooks).where(eq(webhooks.id, id)).for('update')
    if (!current) throw notFound('Webhook')
    assertVersion(current, ifMatch)
    // Its deliveries and their attempts go with it (ON DELETE CASCADE).
    await tx.delete(webhooks).where(eq(webhooks.id, id))
  })
}

/**
 * A new secret; the current one goes on signing beside it for `graceSeconds` (0: it stops at
 * once). A rotation during another's grace period drops the older previous secret.
 */
export async function rotateSecret (db: Db, id: string, graceSeconds: number, ifMatch: IfMatch | undefined, now: Date) {
  const secret = newSecret()
  const row = await db.transaction(async (tx) => {
    const [current] = await tx.select().from(webhooks).where(eq(webhooks.id, id)).for('update')
    if (!current) throw notFound('Webhook')
    assertVersion(current, ifMatch)
    const grace = graceSeconds > 0
    const [updated] = await tx.update(webhooks).set({
      secret,
      previousSecret: grace ? current.secret : null,
      previousSecretExpiresAt: grace ? new Date(now.getTime() + graceSeconds * 1000) : null,
      version: current.version + 1,
      updatedAt: now
    }).where(eq(webhooks.id, id)).returning()
    return updated
  })
  return { row, secret }
}

const deliveriesByCreated: Record<string, SortField> = { createdAt: { expr: webhookDeliveries.createdAt, kind: 'date' } }

export async function listDeliveries (db: Db, webhookId: string, query: ListDeliveries) {
  await getWebhook(db, webhookId)
  const sort = parseSort('-createdAt', deliveriesByCreated, '-createdAt')
  const { where, orderBy } = keyset(sort, webhookDeliveries.id, decodeCursor(query.cursor, sort))
  const filter: SQL | undefined = and(eq(webhookDeliveries.webhookId, webhookId), query.state ? eq(webhookDeliveries.state, query.state) : undefined)
  const rows = await db.select().from(webhookDeliveries).where(and(filter, where)).orderBy(...orderBy).limit(query.limit + 1)
  const result = paginate(rows, query.limit, sort, (r) => r.createdAt, await totalOf(db, query.total, webhookDeliveries, filter))
  return { data: result.data.map(publicDelivery), meta: result.meta }
}

/**
 * Sends a delivery again, now, with a fresh retry schedule: a delivered or failed one becomes
 * pending; a pending one is due at once. One being sent right now loses its lease, and the
 * answer to that attempt is then not recorded.
 */
export async function redeliver (db: Db, webhookId: string, deliveryId: string, now: Date) {
  const [row] = await db.update(webhookDeliveries).set({ state: 'pending', attempts: 0, nextAttemptAt: now, leaseUntil: null, deliveredAt: null })
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.webhookId, webhookId))).returning()
  if (!row) throw notFound('Delivery')
  return row
}

/** Queues a `webhook.ping`, due now. */
export async function ping (db: Db, webhookId: string, now: Date) {
  await getWebhook(db, webhookId)
  const [row] = await db.insert(webhookDeliveries).values({
    webhookId, seq: 0, event: PING, entity: 'webhook', entityId: webhookId, body: pingBody(webhookId, now), nextAttemptAt: now, createdAt: now
  }).returning()
  return row
}
