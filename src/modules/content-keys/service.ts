// Content keys: read-only keys for frontends and apps, shown once, stored as SHA-256 hashes.
import { randomBytes } from 'node:crypto'
import { and, eq, inArray, isNull, or, lt } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { contentKeys } from '../../db/schema.js'
import { notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf } from '../../http/pagination.js'
import { entityTag } from '../../lib/cache-tags.js'
import { recordChange } from '../changes/record.js'
import { hashToken } from '../tokens/service.js'
import { CONTENT_KEY_PREFIX } from './registry.js'

const columns = {
  id: contentKeys.id,
  label: contentKeys.label,
  prefix: contentKeys.prefix,
  allowedOrigins: contentKeys.allowedOrigins,
  lastUsedAt: contentKeys.lastUsedAt,
  revokedAt: contentKeys.revokedAt,
  createdAt: contentKeys.createdAt
}

export async function findActiveKey (db: Db, hash: string) {
  const [row] = await db.select({ id: contentKeys.id, allowedOrigins: contentKeys.allowedOrigins }).from(contentKeys)
    .where(and(eq(contentKeys.keyHash, hash), isNull(contentKeys.revokedAt)))
  return row
}

export async function createContentKey (db: Db, input: { label: string, allowedOrigins?: string[] }, createdById: string) {
  // 256 random bits behind a prefix that secret scanners (and the auth plugin) can tell apart.
  const secret = CONTENT_KEY_PREFIX + randomBytes(32).toString('base64url')
  const [row] = await db.insert(contentKeys).values({
    label: input.label.trim(),
    keyHash: hashToken(secret),
    prefix: secret.slice(0, 10),
    allowedOrigins: (input.allowedOrigins ?? []).map((o) => o.toLowerCase()),
    createdById
  }).returning(columns)
  return { row, secret }
}

export async function listContentKeys (db: Db, query: { limit: number, cursor?: string, total?: boolean }) {
  const sort = parseSort('-createdAt', { createdAt: { expr: contentKeys.createdAt, kind: 'date' } }, '-createdAt')
  const { where, orderBy } = keyset(sort, contentKeys.id, decodeCursor(query.cursor, sort))
  const rows = await db.select(columns).from(contentKeys).where(where).orderBy(...orderBy).limit(query.limit + 1)
  return paginate(rows, query.limit, sort, (r) => r.createdAt, await totalOf(db, query.total, contentKeys, undefined))
}

export async function getContentKey (db: Db, id: string) {
  const [row] = await db.select(columns).from(contentKeys).where(eq(contentKeys.id, id))
  if (!row) throw notFound('Content key')
  return row
}

/**
 * Revokes a key, recording the change in the same transaction: every instance forgets the key
 * as it reads the log (this one before the answer leaves). Revoking twice is harmless.
 */
export async function revokeContentKey (db: Db, id: string, now: Date) {
  await db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const [row] = await tx.update(contentKeys).set({ revokedAt: now })
      .where(and(eq(contentKeys.id, id), isNull(contentKeys.revokedAt))).returning({ id: contentKeys.id })
    if (row) await recordChange(tx, now, { entity: 'content_key', entityId: id, event: 'content_key.revoked', tags: [entityTag('content_key', id)] })
    else await getContentKey(tx, id)
  })
}

/** Last-used, kept to the minute: one statement for every key used lately. */
export async function touchKeys (db: Db, ids: string[], now: Date) {
  await db.update(contentKeys).set({ lastUsedAt: now })
    .where(and(inArray(contentKeys.id, ids), or(isNull(contentKeys.lastUsedAt), lt(contentKeys.lastUsedAt, new Date(now.getTime() - 60_000)))))
}
