// API tokens: random secrets shown once, stored as SHA-256 hashes, revocable and optionally expiring.
import { createHash, randomBytes } from 'node:crypto'
import { and, eq, gt, isNull, lt, or, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { prepared } from '../../db/prepared.js'
import { apiTokens, users } from '../../db/schema.js'
import { notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort } from '../../http/pagination.js'

export const TOKEN_PREFIX = 'dl_'

export const hashToken = (secret: string) => createHash('sha256').update(secret).digest('hex')

/** 256 random bits, base64url, behind a prefix that secret scanners can spot. */
export const newTokenSecret = () => TOKEN_PREFIX + randomBytes(32).toString('base64url')

export async function findActiveToken (db: Db, hash: string, now: Date) {
  // Every staff request runs it.
  const [row] = await prepared(db, 'find_active_token', (db, name) => db
    .select({
      id: apiTokens.id,
      tokenHash: apiTokens.tokenHash,
      lastUsedAt: apiTokens.lastUsedAt,
      userId: users.id,
      role: users.role,
      authorId: users.authorId
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(
      eq(apiTokens.tokenHash, sql.placeholder('hash')),
      isNull(apiTokens.revokedAt),
      or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, sql.placeholder('now')))
    ))
    .prepare(name)).execute({ hash, now })
  return row
}

// Last-used is kept to the minute, so a busy token costs one write a minute, not one per request.
const TOUCH_INTERVAL_MS = 60_000

export async function touchToken (db: Db, token: { id: string, lastUsedAt: Date | null }, now: Date) {
  if (token.lastUsedAt && now.getTime() - token.lastUsedAt.getTime() < TOUCH_INTERVAL_MS) return
  await db.update(apiTokens).set({ lastUsedAt: now })
    .where(and(eq(apiTokens.id, token.id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, new Date(now.getTime() - TOUCH_INTERVAL_MS)))))
}

export async function createToken (db: Db, input: { userId: string, label: string, expiresAt?: Date | null }) {
  const secret = newTokenSecret()
  const [row] = await db.insert(apiTokens).values({
    userId: input.userId,
    label: input.label,
    tokenHash: hashToken(secret),
    prefix: secret.slice(0, 8),
    expiresAt: input.expiresAt ?? null
  }).returning()
  return { row, secret }
}

const tokenColumns = {
  id: apiTokens.id,
  userId: apiTokens.userId,
  label: apiTokens.label,
  prefix: apiTokens.prefix,
  expiresAt: apiTokens.expiresAt,
  lastUsedAt: apiTokens.lastUsedAt,
  revokedAt: apiTokens.revokedAt,
  createdAt: apiTokens.createdAt
}

export async function listTokens (db: Db, query: { userId?: string, limit: number, cursor?: string }) {
  const sort = parseSort('-createdAt', { createdAt: { expr: apiTokens.createdAt, kind: 'date' } }, '-createdAt')
  const { where, orderBy } = keyset(sort, apiTokens.id, decodeCursor(query.cursor, sort))
  const rows = await db.select(tokenColumns).from(apiTokens)
    .where(and(query.userId ? eq(apiTokens.userId, query.userId) : undefined, where))
    .orderBy(...orderBy).limit(query.limit + 1)
  return paginate(rows, query.limit, sort, (r) => r.createdAt)
}

export async function getToken (db: Db, id: string) {
  const [row] = await db.select(tokenColumns).from(apiTokens).where(eq(apiTokens.id, id))
  if (!row) throw notFound('Token')
  return row
}

/** Revoking twice is harmless: the first revocation time stays. */
export async function revokeToken (db: Db, id: string, now: Date) {
  await db.update(apiTokens).set({ revokedAt: now }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
}

export const publicToken = (row: typeof apiTokens.$inferSelect) => {
  const { tokenHash: _hash, ...rest } = row
  return rest
}
