// Reader comments: screened on the way in, served as threads of approved comments, moderated
// by editors one at a time or in bulk (all or nothing), with an audit trail.
import { commentsTag, entityTag } from '../../lib/cache-tags.js'
import { recordChange, type Change } from '../changes/record.js'
import { createHash, randomUUID } from 'node:crypto'
import { and, asc, eq, getTableColumns, inArray, isNotNull, isNull, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { batched, byOrdinal, insertRows, rowAfterInsert, rowsOf } from '../../db/batch.js'
import { prepared } from '../../db/prepared.js'
import { articles, commentModerations, comments } from '../../db/schema.js'
import { assertVersion, type IfMatch } from '../../http/caching.js'
import { AppError, invalidField, notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf } from '../../http/pagination.js'
import { wire } from '../../http/wire.js'
import { publicArticles } from '../articles/present.js'
import type { Screen } from './screen.js'
import type { SharedMarks } from './shared-marks.js'
import type { ArticleComments, PostComment, Queue } from './schemas.js'

export type CommentRow = typeof comments.$inferSelect
type Status = CommentRow['status']

export const MAX_BODY = 5000
const REPEAT_WINDOW_MS = 24 * 3600_000

export const bodyHashOf = (body: string) => createHash('sha256').update(body.toLowerCase().replace(/\s+/g, ' ').trim()).digest('hex')

// Posting is the one write anonymous readers make, many at once: concurrent posts share their
// statements (src/db/batch.ts). One statement finds the articles and tells, for each post,
// whether this client posted this body (case and spacing aside) in the last day, which the screen
// reads as `repeat`; one more inserts the comments.
type Check = { articleId: string, clientHash: string, bodyHash: string, now: Date }
type OpenArticle = { commentsOpen: boolean, repeat: boolean }

const iso = (d: Date) => d.toISOString()

const checkArticles = (db: Db) => batched(db, 'comment_articles', async (db, checks: Check[]) => {
  const found = await rowsOf<OpenArticle & { n: number | string }>(db, sql`
    select q.n, ${articles.commentsOpen} as "commentsOpen",
      exists (select 1 from ${comments} c where c.client_hash = q.client_hash and c.body_hash = q.body_hash and c.created_at > q.since) as repeat
    from unnest(${sql.param(checks.map((c) => c.articleId))}::uuid[], ${sql.param(checks.map((c) => c.clientHash))}::text[],
      ${sql.param(checks.map((c) => c.bodyHash))}::text[], ${sql.param(checks.map((c) => iso(c.now)))}::timestamptz[],
      ${sql.param(checks.map((c) => iso(new Date(c.now.getTime() - REPEAT_WINDOW_MS))))}::timestamptz[])
      with ordinality as q(id, client_hash, body_hash, now, since, n)
    join ${articles} on ${articles.id} = q.id and ${publicArticles(sql`q.now`)}`)
  return byOrdinal(found, checks.length)
})

/**
 * Posts checked but not stored yet (and stored a moment ago), by client and body: a check that
 * ran while one of them was on its way to the table could not see it, and posts that arrive
 * together are checked in one statement. This instance's view only; with Redis, shared marks
 * (shared-marks.ts) see other instances' posts too.
 */
const unstored = (db: Db) => prepared(db, 'unstored-comments', () => new Map<string, { posting: number, storedUntil: number }>())
/** Longer than any check that started before a post was stored can take to come back. */
const STORED_GRACE_MS = 5000

/** Marks a post as on its way to the table; `repeat`: the same client and body already were. */
function markPosting (db: Db, clientHash: string, bodyHash: string, now: Date) {
  const recent = unstored(db)
  const key = `${clientHash}:${bodyHash}`
  const mark = recent.get(key) ?? { posting: 0, storedUntil: 0 }
  const repeat = mark.posting > 0 || now.getTime() < mark.storedUntil
  mark.posting++
  recent.set(key, mark)
  const done = (stored: boolean) => {
    mark.posting--
    // Stored: the table shows it to checks that start from now on, not to those already running.
    if (stored) mark.storedUntil = now.getTime() + STORED_GRACE_MS
    if (mark.posting > 0) return
    if (!stored) { recent.delete(key); return }
    // Forgotten once the grace has passed, unless the same pair is posted again meanwhile.
    setTimeout(() => { if (recent.get(key) === mark && mark.posting === 0) recent.delete(key) }, STORED_GRACE_MS).unref()
  }
  return { repeat, done }
}

/** The columns a post sets; the rest take their defaults. */
const postedColumns = ['id', 'articleId', 'parentId', 'threadId', 'depth', 'authorName', 'authorEmail', 'body', 'status', 'moderationReasons', 'clientHash', 'bodyHash', 'createdAt', 'updatedAt'] as const
type NewComment = Pick<CommentRow, typeof postedColumns[number]>
const commentColumns = getTableColumns(comments)

const insertComments = (db: Db) => batched(db, 'comment_insert', async (db, rows: NewComment[]) => {
  await db.execute(insertRows(comments, [...postedColumns], rows))
  return rows.map(() => undefined)
})

/** The comment as a reader or an editor sees it. Private fields (`staff`) reach editors and admins only. */
export function presentComment (row: CommentRow, opts: { staff: boolean, replyingTo: string | null, article?: { id: string, slug: string, headline: string } }) {
  const out: Record<string, unknown> = {
    id: row.id,
    articleId: row.articleId,
    parentId: row.parentId,
    replyingTo: opts.replyingTo,
    depth: row.depth,
    authorName: row.authorName,
    body: row.body,
    status: row.status,
    createdAt: row.createdAt.toISOString()
  }
  if (opts.staff) {
    Object.assign(out, wire({
      authorEmail: row.authorEmail,
      moderationReasons: row.moderationReasons,
      clientId: row.clientHash.slice(0, 12),
      moderatedById: row.moderatedById,
      moderatedAt: row.moderatedAt
    }))
  }
  if (opts.article) out.article = opts.article
  return out
}

const characters = (text: string) => {
  let n = 0
  for (const _ of text) n++
  return n
}

/** The name a reply answers ("Replying to X"), or null for a top-level comment. */
export async function replyingToOf (db: Db, row: Pick<CommentRow, 'parentId'>): Promise<string | null> {
  if (!row.parentId) return null
  const [parent] = await db.select({ authorName: comments.authorName }).from(comments).where(eq(comments.id, row.parentId))
  return parent?.authorName ?? null
}

// NUL, or half of a surrogate pair.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

export type PostContext = { clientHash: string, screen: Screen, maxDepth: number, now: Date, sharedMarks?: SharedMarks }

export async function postComment (db: Db, articleParam: string, input: PostComment, ctx: PostContext) {
  const articleId = articleParam.toLowerCase() // as PostgreSQL spells it, for the comparisons below
  const body = input.body.trim()
  if (body.length === 0) throw invalidField('/body', 'must not be blank')
  // Characters as a reader counts them (code points), not UTF-16 units: an emoji is one.
  if (characters(body) > MAX_BODY) throw invalidField('/body', `must be at most ${MAX_BODY} characters after trimming`)
  const authorName = input.authorName.trim()
  // PostgreSQL text holds neither, and a stored U+FFFD would not be what the poster was shown.
  for (const [path, value] of [['/authorName', input.authorName], ['/authorEmail', input.authorEmail], ['/body', input.body]] as const) {
    if (UNSTORABLE.test(value)) throw invalidField(path, 'must not contain NUL characters or unpaired surrogates')
  }

  const bodyHash = bodyHashOf(body)
  const article = await checkArticles(db)({ articleId, clientHash: ctx.clientHash, bodyHash, now: ctx.now })
  if (!article) throw notFound('Article')
  if (!article.commentsOpen) throw new AppError('COMMENTS_CLOSED', 'Comments are closed on this article.')

  let threadId: string
  let parentId: string | null = null
  let depth = 0
  let replyingTo: string | null = null
  const id = randomUUID()
  if (input.parentId) {
    const [parent] = await db.select().from(comments).where(eq(comments.id, input.parentId))
    if (!parent || parent.articleId !== articleId || parent.status !== 'approved') {
      throw invalidField('/parentId', 'must be an approved comment on this article')
    }
    if (parent.depth + 1 > ctx.maxDepth) throw invalidField('/parentId', `replies nest at most ${ctx.maxDepth} levels deep`)
    threadId = parent.threadId
    parentId = parent.id // as PostgreSQL spells it
    depth = parent.depth + 1
    replyingTo = parent.authorName
  } else {
    threadId = id
  }

  const posting = markPosting(db, ctx.clientHash, bodyHash, ctx.now)
  const shared = await ctx.sharedMarks?.(ctx.clientHash, bodyHash) // never throws
  const repeat = article.repeat || posting.repeat || shared?.repeat === true
  let fresh: NewComment
  try {
    const verdict = await ctx.screen({ articleId, authorName, authorEmail: input.authorEmail, body, honeypot: input.website, clientHash: ctx.clientHash, repeat })
    fresh = {
      id,
      articleId,
      parentId,
      threadId,
      depth,
      authorName,
      authorEmail: input.authorEmail.trim(),
      body,
      status: verdict.status,
      moderationReasons: verdict.reasons,
      clientHash: ctx.clientHash,
      bodyHash,
      createdAt: ctx.now,
      updatedAt: ctx.now
    }
    await insertComments(db)(fresh)
  } catch (error) {
    posting.done(false)
    shared?.done(false)
    throw error
  }
  posting.done(true)
  shared?.done(true)
  return { row: rowAfterInsert<CommentRow>(commentColumns, fresh), replyingTo }
}

/**
 * Top-level comments a page at a time, each with its visible replies (one query for all).
 * `staff` may read the comments of an article that is not public; only a `moderator` (editor or
 * admin) sees comments that are not approved, and commenters' private fields.
 */
export async function listThreads (db: Db, articleId: string, query: ArticleComments, view: { staff: boolean, moderator: boolean, now: Date }) {
  const [article] = await db.select({ id: articles.id }).from(articles)
    .where(view.staff ? eq(articles.id, articleId) : and(eq(articles.id, articleId), publicArticles(view.now)))
  if (!article) throw notFound('Article')
  if (!view.moderator && query.status !== undefined && query.status !== 'approved') {
    if (view.staff) throw new AppError('FORBIDDEN', 'Only editors and admins may see comments that are not approved.')
    throw new AppError('UNAUTHORIZED', 'Only editors and admins may see comments that are not approved.', { headers: { 'www-authenticate': 'Bearer realm="dateline"' } })
  }
  const statuses: Status[] = view.moderator ? (query.status ? [query.status] : ['pending', 'approved', 'rejected', 'spam']) : ['approved']
  const sort = parseSort(query.sort, { createdAt: { expr: comments.createdAt, kind: 'date' } }, 'createdAt')
  const { where, orderBy } = keyset(sort, comments.id, decodeCursor(query.cursor, sort))
  const threads = and(eq(comments.articleId, articleId), isNull(comments.parentId), inArray(comments.status, statuses))
  const roots = await db.select().from(comments)
    .where(and(threads, where))
    .orderBy(...orderBy).limit(query.limit + 1)
  // The total counts threads (top-level comments), as the pages do; replies come with them.
  const page = paginate(roots, query.limit, sort, (r) => r.createdAt, await totalOf(db, query.total, comments, threads))
  const replies = page.data.length === 0
    ? []
    : await db.select().from(comments)
      .where(and(inArray(comments.threadId, page.data.map((r) => r.id)), isNotNull(comments.parentId), inArray(comments.status, statuses)))
      .orderBy(asc(comments.createdAt), asc(comments.id))
  const names = new Map<string, string>(page.data.map((r) => [r.id, r.authorName]))
  const byThread = new Map<string, Array<Record<string, unknown>>>()
  for (const reply of replies) {
    // A reply shows only under a visible parent: rejecting a comment hides its replies too.
    const parentName = names.get(reply.parentId!)
    if (parentName === undefined) continue
    names.set(reply.id, reply.authorName)
    const list = byThread.get(reply.threadId) ?? []
    list.push(presentComment(reply, { staff: view.moderator, replyingTo: parentName }))
    byThread.set(reply.threadId, list)
  }
  return {
    data: page.data.map((r) => ({ ...presentComment(r, { staff: view.moderator, replyingTo: null }), replies: byThread.get(r.id) ?? [] })),
    meta: page.meta
  }
}

export async function listQueue (db: Db, query: Queue) {
  const sort = parseSort(query.sort, { createdAt: { expr: comments.createdAt, kind: 'date' } }, 'createdAt')
  const { where, orderBy } = keyset(sort, comments.id, decodeCursor(query.cursor, sort))
  const conditions: SQL[] = [eq(comments.status, query.status ?? 'pending')]
  if (query.article) conditions.push(eq(comments.articleId, query.article))
  const rows = await db.select({ comment: comments, article: { id: articles.id, slug: articles.slug, headline: articles.headline }, sortValue: comments.createdAt })
    .from(comments).innerJoin(articles, eq(articles.id, comments.articleId))
    .where(and(...conditions, where)).orderBy(...orderBy).limit(query.limit + 1)
  const parentIds = [...new Set(rows.flatMap((r) => (r.comment.parentId ? [r.comment.parentId] : [])))]
  const parents = parentIds.length > 0
    ? new Map((await db.select({ id: comments.id, authorName: comments.authorName }).from(comments).where(inArray(comments.id, parentIds))).map((p) => [p.id, p.authorName]))
    : new Map<string, string>()
  const page = paginate(rows.map((r) => ({ ...r, id: r.comment.id })), query.limit, sort, (r) => r.sortValue, await totalOf(db, query.total, comments, and(...conditions)))
  return {
    data: page.data.map((r) => presentComment(r.comment, { staff: true, replyingTo: r.comment.parentId ? parents.get(r.comment.parentId) ?? null : null, article: r.article })),
    meta: page.meta
  }
}

export async function getComment (db: Db, id: string) {
  const [row] = await db.select().from(comments).where(eq(comments.id, id))
  if (!row) throw notFound('Comment')
  return row
}

/** A comment's page, its article's comment pages, and the article (whose commentCount moves). */
const commentChange = (c: { id: string, articleId: string }, event: string): Change => ({
  entity: 'comment',
  entityId: c.id,
  event,
  tags: [entityTag('comment', c.id), commentsTag(c.articleId), entityTag('article', c.articleId)],
  data: { articleId: c.articleId }
})

async function adjustCounts (db: Db, deltas: Map<string, number>) {
  for (const [articleId, delta] of deltas) {
    if (delta !== 0) await db.update(articles).set({ commentCount: sql`${articles.commentCount} + ${delta}` }).where(eq(articles.id, articleId))
  }
}

/** Sets the status of every listed comment, or of none: an unknown id changes nothing. */
export async function moderate (db: Db, ids: string[], status: Status, opts: { moderatorId: string, now: Date, ifMatch?: IfMatch, single?: boolean }) {
  return db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    // NO KEY UPDATE: replies being posted to these comments (a foreign key's lock) need not wait.
    const rows = await tx.select().from(comments).where(inArray(comments.id, ids)).orderBy(asc(comments.id)).for('no key update')
    if (rows.length !== ids.length) {
      const found = new Set(rows.map((r) => r.id))
      const errors = ids.flatMap((id, i) => (found.has(id) ? [] : [{ path: `/ids/${i}`, in: 'body' as const, message: 'is not the id of a comment' }]))
      // PATCH /v1/comments/{id}: no such comment. A bulk request: a bad request, whatever its size.
      if (opts.single) throw notFound('Comment')
      throw new AppError('VALIDATION_FAILED', `Unknown comment ids: ${errors.map((e) => e.path).join(', ')}; nothing was changed.`, { errors })
    }
    if (opts.ifMatch) assertVersion(rows[0], opts.ifMatch)
    const deltas = new Map<string, number>()
    const changed = rows.filter((r) => r.status !== status)
    for (const r of changed) {
      const delta = (status === 'approved' ? 1 : 0) - (r.status === 'approved' ? 1 : 0)
      deltas.set(r.articleId, (deltas.get(r.articleId) ?? 0) + delta)
    }
    if (changed.length > 0) {
      await tx.update(comments).set({ status, moderatedById: opts.moderatorId, moderatedAt: opts.now, updatedAt: opts.now, version: sql`${comments.version} + 1` })
        .where(inArray(comments.id, changed.map((r) => r.id)))
      await tx.insert(commentModerations).values(changed.map((r) => ({ commentId: r.id, fromStatus: r.status, toStatus: status, moderatorId: opts.moderatorId, createdAt: opts.now })))
      await adjustCounts(tx, deltas)
      // Readers see approved comments only: a change into or out of approval is theirs.
      for (const r of changed) {
        if (r.status === 'approved' || status === 'approved') await recordChange(tx, opts.now, commentChange(r, `comment.${status}`))
      }
    }
    return changed.length
  })
}

/** Deletes a comment and its replies. */
export async function deleteComment (db: Db, id: string, ifMatch: IfMatch | undefined, now: Date) {
  await db.transaction(async (txn) => {
    const tx = txn as unknown as Db
    const [found] = await tx.select({ threadId: comments.threadId }).from(comments).where(eq(comments.id, id))
    if (!found) throw notFound('Comment')
    // Lock the whole thread, in id order like moderate(): a reply approved meanwhile must be
    // counted before it goes, and the two never wait on each other's locks in a circle.
    const thread = await tx.select({ id: comments.id, parentId: comments.parentId, status: comments.status, version: comments.version, articleId: comments.articleId })
      .from(comments).where(eq(comments.threadId, found.threadId)).orderBy(asc(comments.id)).for('update')
    const row = thread.find((c) => c.id === id)
    if (!row) throw notFound('Comment')
    assertVersion(row, ifMatch)
    const doomed = new Set([id])
    for (let grew = true; grew;) {
      grew = false
      for (const c of thread) if (c.parentId && doomed.has(c.parentId) && !doomed.has(c.id)) { doomed.add(c.id); grew = true }
    }
    const approved = thread.filter((c) => doomed.has(c.id) && c.status === 'approved').length
    await tx.delete(comments).where(eq(comments.id, id))
    await adjustCounts(tx, new Map([[row.articleId, -approved]]))
    if (approved > 0) await recordChange(tx, now, commentChange({ id, articleId: row.articleId }, 'comment.deleted'))
  })
}

export async function moderationHistory (db: Db, commentId: string) {
  return db.select().from(commentModerations).where(eq(commentModerations.commentId, commentId)).orderBy(asc(commentModerations.createdAt))
}
