// Corrections of an article: added and edited by editors in one transaction with the article's
// substantive update time and the change log; listed to whoever may see the article.
import { and, eq } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { articleCorrections, articles } from '../../db/schema.js'
import type { Principal } from '../../http/auth.js'
import { assertVersion, type IfMatch } from '../../http/caching.js'
import { notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf } from '../../http/pagination.js'
import { articleState, recordArticleChange } from '../articles/changes.js'
import { getArticleRow } from '../articles/service.js'
import type { CorrectionRow } from './present.js'
import type { ListCorrections } from './schemas.js'

type Audience = { staff: boolean, now: Date }

export async function listCorrections (db: Db, articleId: string, { limit, cursor, total }: ListCorrections, view: Audience) {
  // A 404 for an article the caller may not see, as the article itself.
  await getArticleRow(db, { id: articleId }, view)
  // Oldest first, as they are printed under the story.
  const sort = parseSort('publishedAt', { publishedAt: { expr: articleCorrections.publishedAt, kind: 'date' } }, 'publishedAt')
  const { where, orderBy } = keyset(sort, articleCorrections.id, decodeCursor(cursor, sort))
  const ofArticle = eq(articleCorrections.articleId, articleId)
  const rows = await db.select().from(articleCorrections).where(and(ofArticle, where)).orderBy(...orderBy).limit(limit + 1)
  return paginate(rows, limit, sort, (r) => r.publishedAt, await totalOf(db, total, articleCorrections, ofArticle))
}

export async function getCorrection (db: Db, articleId: string, correctionId: string, view: Audience): Promise<CorrectionRow> {
  await getArticleRow(db, { id: articleId }, view)
  const [row] = await db.select().from(articleCorrections)
    .where(and(eq(articleCorrections.id, correctionId), eq(articleCorrections.articleId, articleId)))
  if (!row) throw notFound('Correction')
  return row
}

/**
 * Locks the article and reads what readers see of it before the write: a correction changes the
 * article's public representation (its `corrections`, `bodyHtml` and `updatedAt`).
 */
async function lockArticle (tx: Db, articleId: string, now: Date) {
  const [row] = await tx.select({ id: articles.id }).from(articles).where(eq(articles.id, articleId)).for('no key update')
  if (!row) throw notFound('Article')
  return articleState(tx, articleId, now)
}

/**
 * Appends a correction dated now. The article's substantive update time (`updatedAt` for
 * readers) moves to it; its version does not, as no field an editor writes changed.
 */
export async function addCorrection (db: Db, articleId: string, text: string, opts: { now: Date, actor: Principal | null }): Promise<CorrectionRow> {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const state = await lockArticle(tx, articleId, opts.now)
    const [row] = await tx.insert(articleCorrections).values({
      articleId, text: text.trim(), publishedAt: opts.now, createdById: opts.actor?.userId ?? null, createdAt: opts.now, updatedAt: opts.now
    }).returning()
    await tx.update(articles).set({ contentUpdatedAt: opts.now, updatedAt: opts.now }).where(eq(articles.id, articleId))
    await recordArticleChange(tx, articleId, state, opts.now)
    return row
  })
}

/**
 * Rewords a correction. The earlier wording goes into its history with the time and the editor,
 * and readers see `editedAt`; the correction keeps its publication date. The same text again
 * changes nothing.
 */
export async function editCorrection (db: Db, articleId: string, correctionId: string, text: string, opts: { now: Date, actor: Principal | null, ifMatch?: IfMatch }): Promise<CorrectionRow> {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const state = await lockArticle(tx, articleId, opts.now)
    const [current] = await tx.select().from(articleCorrections)
      .where(and(eq(articleCorrections.id, correctionId), eq(articleCorrections.articleId, articleId))).for('update')
    if (!current) throw notFound('Correction')
    assertVersion(current, opts.ifMatch)
    const next = text.trim()
    if (next === current.text) return current
    const history = [...current.history, { text: current.text, editedAt: opts.now.toISOString(), editedById: opts.actor?.userId ?? null }]
    const [row] = await tx.update(articleCorrections).set({ text: next, history, version: current.version + 1, updatedAt: opts.now })
      .where(eq(articleCorrections.id, correctionId)).returning()
    await tx.update(articles).set({ updatedAt: opts.now }).where(eq(articles.id, articleId))
    await recordArticleChange(tx, articleId, state, opts.now)
    return row
  })
}
