// Preview links: unguessable, expiring links to an article's current version, for reviewers
// without a staff token. Like API tokens, the secret is shown once and only its SHA-256 is kept.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { and, eq, gt, isNull } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { previewLinks, users } from '../../db/schema.js'
import { AppError, invalidField, notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf } from '../../http/pagination.js'
import { getArticleRow, type Guard } from '../articles/service.js'
import type { LoadedRow } from '../articles/present.js'
import type { CreatePreviewLink } from './schemas.js'
import { hashToken } from '../tokens/service.js'

export const PREVIEW_PREFIX = 'dlp_'
/** 256 random bits, base64url (43 characters), behind a prefix that secret scanners can spot. */
export const newPreviewSecret = () => PREVIEW_PREFIX + randomBytes(32).toString('base64url')
const SECRET_SHAPE = /^dlp_[A-Za-z0-9_-]{43}$/

/** The one answer for every preview that cannot be shown: unknown, malformed, revoked, expired, gone. */
export const previewNotFound = () => notFound('Preview')

type Lifetimes = { defaultSeconds: number, maxSeconds: number }

const linkColumns = {
  id: previewLinks.id,
  articleId: previewLinks.articleId,
  label: previewLinks.label,
  expiresAt: previewLinks.expiresAt,
  revokedAt: previewLinks.revokedAt,
  createdAt: previewLinks.createdAt,
  createdById: previewLinks.createdById,
  creatorName: users.name
}
type LinkRow = { id: string, articleId: string, label: string | null, expiresAt: Date, revokedAt: Date | null, createdAt: Date, createdById: string | null, creatorName: string | null }

export function presentLink (row: LinkRow, now: Date) {
  return {
    id: row.id,
    articleId: row.articleId,
    label: row.label,
    state: row.revokedAt !== null ? 'revoked' as const : row.expiresAt <= now ? 'expired' as const : 'active' as const,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    createdAt: row.createdAt,
    createdBy: row.createdById !== null && row.creatorName !== null ? { id: row.createdById, name: row.creatorName } : null
  }
}

/** The article, if the caller may manage its preview links (the rules of editing it). */
async function articleFor (db: Db, articleId: string, now: Date, guard: Guard): Promise<LoadedRow> {
  const row = await getArticleRow(db, { id: articleId }, { staff: true, now })
  guard(row, row.links?.authorIds ?? [])
  return row
}

/**
 * A new link to a draft or scheduled article. A published article needs none (its own URL shows
 * it) and an archived one was taken down: both are a 409.
 */
export async function createPreviewLink (db: Db, articleId: string, input: CreatePreviewLink, opts: { now: Date, userId: string, guard: Guard, lifetimes: Lifetimes }) {
  const { defaultSeconds, maxSeconds } = opts.lifetimes
  const seconds = input.expiresInSeconds ?? defaultSeconds
  if (seconds > maxSeconds) throw invalidField('/expiresInSeconds', `must be at most ${maxSeconds} (PREVIEW_LINK_MAX_SECONDS)`)
  const article = await articleFor(db, articleId, opts.now, opts.guard)
  if (article.status !== 'draft' && article.status !== 'scheduled') {
    throw new AppError('INVALID_STATE', `Preview links are for drafts and scheduled articles; this one is ${article.status}.`)
  }
  const secret = newPreviewSecret()
  const [row] = await db.insert(previewLinks).values({
    articleId: article.id,
    tokenHash: hashToken(secret),
    label: input.label?.trim() || null,
    createdById: opts.userId,
    expiresAt: new Date(opts.now.getTime() + seconds * 1000),
    createdAt: opts.now
  }).returning()
  const [creator] = await db.select({ name: users.name }).from(users).where(eq(users.id, opts.userId))
  return { link: presentLink({ ...row, creatorName: creator?.name ?? null }, opts.now), secret }
}

export async function listPreviewLinks (db: Db, articleId: string, query: { limit: number, cursor?: string, total?: boolean }, opts: { now: Date, guard: Guard }) {
  await articleFor(db, articleId, opts.now, opts.guard)
  const sort = parseSort('-createdAt', { createdAt: { expr: previewLinks.createdAt, kind: 'date' } }, '-createdAt')
  const { where, orderBy } = keyset(sort, previewLinks.id, decodeCursor(query.cursor, sort))
  const ofArticle = eq(previewLinks.articleId, articleId)
  const rows = await db.select(linkColumns).from(previewLinks).leftJoin(users, eq(users.id, previewLinks.createdById))
    .where(and(ofArticle, where)).orderBy(...orderBy).limit(query.limit + 1)
  const result = paginate(rows, query.limit, sort, (r) => r.createdAt, await totalOf(db, query.total, previewLinks, ofArticle))
  return { ...result, data: result.data.map((r) => presentLink(r, opts.now)) }
}

/** Revokes a link of the article; revoking it again keeps the first time. */
export async function revokePreviewLink (db: Db, articleId: string, linkId: string, opts: { now: Date, guard: Guard }) {
  await articleFor(db, articleId, opts.now, opts.guard)
  const ofLink = and(eq(previewLinks.id, linkId), eq(previewLinks.articleId, articleId))
  const [found] = await db.select({ id: previewLinks.id }).from(previewLinks).where(ofLink)
  if (!found) throw notFound('Preview link')
  await db.update(previewLinks).set({ revokedAt: opts.now }).where(and(ofLink, isNull(previewLinks.revokedAt)))
}

/**
 * The article a preview secret opens, or a 404 that says nothing of why. The hash is looked up
 * by the unique index, then compared again in constant time, as API tokens are.
 */
export async function findPreview (db: Db, secret: string, now: Date): Promise<LoadedRow> {
  if (!SECRET_SHAPE.test(secret)) throw previewNotFound()
  const hash = hashToken(secret)
  const [link] = await db.select({ tokenHash: previewLinks.tokenHash, articleId: previewLinks.articleId }).from(previewLinks)
    .where(and(eq(previewLinks.tokenHash, hash), isNull(previewLinks.revokedAt), gt(previewLinks.expiresAt, now)))
  if (!link || !timingSafeEqual(Buffer.from(link.tokenHash), Buffer.from(hash))) throw previewNotFound()
  // A deleted article took its links with it (on delete cascade); one deleted since is a 404 too.
  const article = await getArticleRow(db, { id: link.articleId }, { staff: true, now }).catch((err: unknown) => {
    if (err instanceof AppError && err.code === 'NOT_FOUND') throw previewNotFound()
    throw err
  })
  // An archived article was taken down: its old links no longer show it.
  if (article.status === 'archived') throw previewNotFound()
  // The staff read's links would list unpublished related articles: the reader's view loads its own.
  const { links: _links, ...row } = article
  return row
}
