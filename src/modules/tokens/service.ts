// API tokens: random secrets shown once, stored as SHA-256 hashes, revocable and optionally expiring.
import { createHash, randomBytes } from 'node:crypto'
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { batched, byOrdinal, rowsOf } from '../../db/batch.js'
import { apiTokens, users } from '../../db/schema.js'
import { AppError, notFound } from '../../http/errors.js'
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

export async function createToken (db: Db, input: { userId: string, label: string, expiresAt?: Date | null, createdByTokenId?: string | null }) {
  const secret = newTokenSecret()
  const [row] = await db.insert(apiTokens).values({
    userId: input.userId,
    label: input.label,
    tokenHash: hashToken(secret),
    prefix: secret.slice(0, 8),
    expiresAt: input.expiresAt ?? null,
    createdByTokenId: input.createdByTokenId ?? null
  }).returning()
  return { row, secret }
}

const expiryProblem = (message: string) =>
  new AppError('VALIDATION_FAILED', `expiresAt ${message}.`, { errors: [{ path: '/expiresAt', in: 'body', message }] })

/**
 * A token made with another token (over the API) never outlives it: without `expiresAt` it
 * expires when its maker does, and a later time (or `null`, never) is refused. The maker is
 * locked (FOR SHARE) while the new token goes in, so a revocation either comes first (and the
 * maker no longer counts as valid) or waits and then reaches the new token too.
 */
export async function createTokenWith (db: Db, maker: string, input: { userId: string, label: string, expiresAt?: Date | null }, now: Date) {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const [parent] = await tx.select({ expiresAt: apiTokens.expiresAt, revokedAt: apiTokens.revokedAt }).from(apiTokens).where(eq(apiTokens.id, maker)).for('share')
    if (!parent || parent.revokedAt !== null || (parent.expiresAt !== null && parent.expiresAt <= now)) {
      throw new AppError('UNAUTHORIZED', 'The token is unknown, revoked or expired.', { headers: { 'www-authenticate': 'Bearer realm="dateline", error="invalid_token"' } })
    }
    let expiresAt = input.expiresAt
    if (expiresAt && expiresAt <= now) throw expiryProblem('must be in the future')
    if (parent.expiresAt !== null) {
      const limit = parent.expiresAt.toISOString()
      if (expiresAt === undefined) expiresAt = parent.expiresAt
      else if (expiresAt === null) throw expiryProblem(`must be set, at ${limit} or before: the token making it expires then, and a token may not outlive the token that made it`)
      else if (expiresAt > parent.expiresAt) throw expiryProblem(`must be at ${limit} or before: the token making it expires then, and a token may not outlive the token that made it`)
    }
    return createToken(tx, { ...input, expiresAt, createdByTokenId: maker })
  })
}

const tokenColumns = {
  id: apiTokens.id,
  userId: apiTokens.userId,
  label: apiTokens.label,
  prefix: apiTokens.prefix,
  expiresAt: apiTokens.expiresAt,
  lastUsedAt: apiTokens.lastUsedAt,
  revokedAt: apiTokens.revokedAt,
  createdByTokenId: apiTokens.createdByTokenId,
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

/**
 * Revokes a token and every token made with it, and with those, in one transaction. Revoking
 * twice is harmless: the first revocation time stays. The token itself goes first, in its own
 * statement: it waits for a token being made with it (createTokenWith locks it), and the
 * descendants are read after that, so they include the new one.
 */
export async function revokeToken (db: Db, id: string, now: Date) {
  await db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    await tx.update(apiTokens).set({ revokedAt: now }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
    await tx.execute(sql`
      with recursive made as (
        select id from ${apiTokens} where created_by_token_id = ${id}
        union
        select t.id from ${apiTokens} t join made on t.created_by_token_id = made.id
      )
      update ${apiTokens} set revoked_at = ${now.toISOString()}::timestamptz
      where id in (select id from made) and revoked_at is null`)
  })
}

export const publicToken = (row: typeof apiTokens.$inferSelect) => {
  const { tokenHash: _hash, ...rest } = row
  return rest
}
