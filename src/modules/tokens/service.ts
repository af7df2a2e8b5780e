// API tokens: random secrets shown once, stored as SHA-256 hashes, revocable and optionally expiring.
import { createHash, randomBytes } from 'node:crypto'
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { batched, byOrdinal, rowsOf } from '../../db/batch.js'
import { apiTokens, users } from '../../db/schema.js'
import { notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf } from '../../http/pagination.js'

export const TOKEN_PREFIX = 'dl_'

export const hashToken = (secret: string) => createHash('sha256').update(secret).digest('hex')

/** 256 random bits, base64url, behind a prefix that secret scanners can spot. */
export const newTokenSecret = () => TOKEN_PREFIX + randomBytes(32).toString('base64url')

type ActiveToken = { id: string, tokenHash: string, lastUsedAt: Date | null, userId: string, role: 'admin' | 'editor' | 'author', authorId: string | null }

// Every staff request looks its token up: concurrent requests share the statement (src/db/batch.ts).
const activeTokens = (db: Db) => batched(db, 'active_tokens', async (db, lookups: Array<{ hash: string, now: Date }>) => {
  const rows = await rowsOf<Omit<ActiveToken, 'lastUsedAt'> & { n: number, lastUsedMs: number | null }>(db, sql`
    select q.n, t.id, t.token_hash as "tokenHash", (extract(epoch from t.last_used_at) * 1000)::float8 as "lastUsedMs",
      u.id as "userId", u.role, u.author_id as "authorId"
    from unnest(${sql.param(lookups.map((l) => l.hash))}::text[], ${sql.param(lookups.map((l) => l.now.toISOString()))}::timestamptz[])
      with ordinality as q(hash, now, n)
    join ${apiTokens} t on t.token_hash = q.hash and t.revoked_at is null and (t.expires_at is null or t.expires_at > q.now)
    join ${users} u on u.id = t.user_id`)
  return byOrdinal(rows, lookups.length).map((found): ActiveToken | undefined => {
    if (!found) return undefined
    const { lastUsedMs, ...token } = found
    return { ...token, lastUsedAt: lastUsedMs === null ? null : new Date(lastUsedMs) }
  })
})

export async function findActiveToken (db: Db, hash: string, now: Date) {
  return activeTokens(db)({ hash, now })
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

export async function listTokens (db: Db, query: { userId?: string, limit: number, cursor?: string, total?: boolean }) {
  const sort = parseSort('-createdAt', { createdAt: { expr: apiTokens.createdAt, kind: 'date' } }, '-createdAt')
  const { where, orderBy } = keyset(sort, apiTokens.id, decodeCursor(query.cursor, sort))
  const ofUser = query.userId ? eq(apiTokens.userId, query.userId) : undefined
  const rows = await db.select(tokenColumns).from(apiTokens)
    .where(and(ofUser, where))
    .orderBy(...orderBy).limit(query.limit + 1)
  return paginate(rows, query.limit, sort, (r) => r.createdAt, await totalOf(db, query.total, apiTokens, ofUser))
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
