// Moderating reader comments: the queue, one at a time and in bulk (all or nothing), the audit
// trail, deletes with their replies, the approved count on the article, and the threads
// readers and staff see.
import t, { type Test } from 'tap'
import { eq, inArray } from 'drizzle-orm'
import { commentModerations, comments } from '../src/db/schema.js'
import { build, call } from './helper.js'
import {
  MISSING, allKeys, approvedInDb, commentCountOf, commentRow, draftArticle, expectStatus, manualClock,
  posted as postedAt, publishedArticle, setStatus, totalModerations, type Json
} from './comments-helpers.js'

const clock = manualClock(Date.parse('2031-05-04T08:00:00.000Z'))
const h = await build(t, { now: clock.now })
const db = h.database.db

/** Posts a second after the last thing, so the order of comments is known. */
async function posted (articleId: string, overrides: Json = {}) {
  clock.advance(1000)
  return postedAt(h.app, articleId, overrides)
}
async function approved (articleId: string, overrides: Json = {}) {
  const c = await posted(articleId, overrides)
  return setStatus(h, c.id, 'approved')
}
const statusOf = async (id: string) => (await commentRow(h, id))?.status

/** comment_count on the article, checked against the approved rows themselves. */
async function countIs (t: Test, articleId: string, expected: number, message: string) {
  t.equal(await commentCountOf(h, articleId), expected, `comment_count: ${message}`)
  t.equal(await approvedInDb(h, articleId), expected, `approved rows: ${message}`)
}

const get = (url: string, token?: string, query?: Record<string, string>) => call(h.app, 'GET', url, { token, query })
const queue = async (query: Record<string, string>, token = h.editor.token) => expectStatus(await get('/v1/comments', token, query), 200)

t.test('the moderation queue: pending first in, first out, with the article and private fields', async (t) => {
  const a = await publishedArticle(h, { headline: 'Harbour plan approved' })
  const b = await publishedArticle(h)
  const p1 = await posted(a.id, { authorEmail: 'p1@reader.test' })
  const p2 = await posted(b.id)
  const p3 = await posted(a.id, { body: 'See https://a.example https://b.example https://c.example' })
  const spam = await posted(a.id, { website: 'https://bot.example' })
  t.equal(spam.status, 'spam')

  const all = await queue({ status: 'pending', limit: '100' })
  const ours = all.data.map((c: Json) => c.id).filter((id: string) => [p1.id, p2.id, p3.id, spam.id].includes(id))
  t.strictSame(ours, [p1.id, p2.id, p3.id], 'oldest first, spam not among the pending')

  const onA = await queue({ status: 'pending', article: a.id })
  t.strictSame(onA.data.map((c: Json) => c.id), [p1.id, p3.id], 'article= filters')
  t.strictSame(onA.meta, { limit: 20, nextCursor: null })
  t.match(onA.data[0], {
    id: p1.id, articleId: a.id, status: 'pending', authorEmail: 'p1@reader.test', moderationReasons: [],
    clientId: /^[0-9a-f]{12}$/, article: { id: a.id, slug: a.slug, headline: 'Harbour plan approved' }
  })
  t.strictSame(Object.keys(onA.data[0].article).sort(), ['headline', 'id', 'slug'])
  t.strictSame(onA.data[1].moderationReasons, ['too_many_links'])
  t.strictSame((await queue({ article: a.id })).data.map((c: Json) => c.id), [p1.id, p3.id], 'pending by default')
  t.match((await queue({ status: 'spam', article: a.id })).data, [{ id: spam.id, moderationReasons: ['honeypot'] }])

  // Pages, by cursor.
  const page1 = await queue({ article: a.id, limit: '1' })
  t.strictSame(page1.data.map((c: Json) => c.id), [p1.id])
  t.type(page1.meta.nextCursor, 'string')
  const page2 = await queue({ article: a.id, limit: '1', cursor: page1.meta.nextCursor })
  t.strictSame(page2.data.map((c: Json) => c.id), [p3.id])
  t.equal(page2.meta.nextCursor, null, 'the last page')

  // A reply in the queue says whom it answers.
  await setStatus(h, p1.id, 'approved')
  const reply = await posted(a.id, { parentId: p1.id })
  t.match((await queue({ article: a.id })).data.find((c: Json) => c.id === reply.id), { parentId: p1.id, replyingTo: 'Rita Reader', depth: 1 })

  expectStatus(await get('/v1/comments', h.author.token), 403)
  expectStatus(await get('/v1/comments'), 401)
  t.match(expectStatus(await get('/v1/comments', h.editor.token, { status: 'deleted' }), 400).errors, [{ path: '/status' }])
  t.match(expectStatus(await get('/v1/comments', h.editor.token, { mine: '1' }), 400).errors, [{ path: '/mine' }])
  expectStatus(await get('/v1/comments', h.editor.token, { limit: '101' }), 400)
  t.equal((await get('/v1/comments', h.admin.token)).statusCode, 200, 'admins moderate too')
})

t.test('moderating one comment: status, moderator, time, ETag, and comment_count in step', async (t) => {
  const a = await publishedArticle(h)
  const c = await posted(a.id)
  await countIs(t, a.id, 0, 'nothing approved yet')

  clock.advance(60_000)
  const approvedAt = clock.iso()
  const res = await call(h.app, 'PATCH', `/v1/comments/${c.id}`, { token: h.editor.token, body: { status: 'approved' } })
  const body = expectStatus(res, 200)
  t.match(body, { id: c.id, status: 'approved', moderatedById: h.editor.userId, moderatedAt: approvedAt })
  t.match(res.headers.etag, /^"2-/)
  await countIs(t, a.id, 1, 'approved')
  const thread = expectStatus(await get(`/v1/articles/${a.id}/comments`), 200)
  t.strictSame(thread.data.map((x: Json) => x.id), [c.id], 'readers see it now')

  expectStatus(await call(h.app, 'PATCH', `/v1/comments/${c.id}`, { token: h.editor.token, body: { status: 'approved' } }), 200)
  await countIs(t, a.id, 1, 'approving twice counts once')

  await setStatus(h, c.id, 'rejected')
  await countIs(t, a.id, 0, 'rejected')
  t.strictSame(expectStatus(await get(`/v1/articles/${a.id}/comments`), 200).data, [], 'readers no longer see it')
  await setStatus(h, c.id, 'approved')
  await countIs(t, a.id, 1, 'approved again')
  await setStatus(h, c.id, 'spam')
  await countIs(t, a.id, 0, 'marked spam')
  await setStatus(h, c.id, 'pending')
  await countIs(t, a.id, 0, 'back to pending')

  // A stale If-Match changes nothing.
  const current = await get(`/v1/comments/${c.id}`, h.editor.token)
  const etag = current.headers.etag as string
  await setStatus(h, c.id, 'approved')
  const stale = await call(h.app, 'PATCH', `/v1/comments/${c.id}`, { token: h.editor.token, body: { status: 'rejected' }, headers: { 'if-match': etag } })
  t.match(expectStatus(stale, 412), { code: 'PRECONDITION_FAILED' })
  t.equal(await statusOf(c.id), 'approved')
  await countIs(t, a.id, 1, 'a refused change')
  const fresh = (await get(`/v1/comments/${c.id}`, h.editor.token)).headers.etag as string
  expectStatus(await call(h.app, 'PATCH', `/v1/comments/${c.id}`, { token: h.editor.token, body: { status: 'rejected' }, headers: { 'if-match': fresh } }), 200)
  await countIs(t, a.id, 0, 'a matching If-Match')

  const moderations = await totalModerations(h)
  t.match(expectStatus(await call(h.app, 'PATCH', `/v1/comments/${MISSING}`, { token: h.editor.token, body: { status: 'approved' } }), 404), { code: 'NOT_FOUND' })
  t.match(expectStatus(await call(h.app, 'PATCH', `/v1/comments/${c.id}`, { token: h.editor.token, body: { status: 'deleted' } }), 400).errors, [{ path: '/status' }])
  t.match(expectStatus(await call(h.app, 'PATCH', `/v1/comments/${c.id}`, { token: h.editor.token, body: { status: 'approved', body: 'edited' } }), 400).errors, [{ path: '/body' }])
  expectStatus(await call(h.app, 'PATCH', `/v1/comments/${c.id}`, { token: h.author.token, body: { status: 'approved' } }), 403)
  expectStatus(await call(h.app, 'PATCH', `/v1/comments/${c.id}`, { body: { status: 'approved' } }), 401)
  t.equal(await statusOf(c.id), 'rejected', 'no refused request changed it')
  t.equal(await totalModerations(h), moderations, 'nor wrote to the audit trail')
  await countIs(t, a.id, 0, 'after refused requests')
})

t.test('the audit trail: who changed what, and when', async (t) => {
  const a = await publishedArticle(h)
  const c = await posted(a.id)
  clock.advance(60_000)
  const t1 = clock.iso()
  await setStatus(h, c.id, 'approved', h.editor.token)
  clock.advance(60_000)
  const t2 = clock.iso()
  await setStatus(h, c.id, 'rejected', h.admin.token)
  clock.advance(60_000)
  const t3 = clock.iso()
  expectStatus(await call(h.app, 'POST', '/v1/comments/moderate', { token: h.editor.token, body: { ids: [c.id], status: 'spam' } }), 200)
  await setStatus(h, c.id, 'spam', h.admin.token) // no change: no entry

  const res = await get(`/v1/comments/${c.id}/moderations`, h.editor.token)
  const trail = expectStatus(res, 200)
  t.equal(res.headers['cache-control'], 'private, no-store')
  t.match(trail.data, [
    { fromStatus: 'pending', toStatus: 'approved', moderatorId: h.editor.userId, createdAt: t1 },
    { fromStatus: 'approved', toStatus: 'rejected', moderatorId: h.admin.userId, createdAt: t2 },
    { fromStatus: 'rejected', toStatus: 'spam', moderatorId: h.editor.userId, createdAt: t3 }
  ])
  t.equal(trail.data.length, 3)
  const rows = await db.select().from(commentModerations).where(eq(commentModerations.commentId, c.id))
  t.equal(rows.length, 3, 'in the table too')

  expectStatus(await get(`/v1/comments/${c.id}/moderations`), 401)
  expectStatus(await get(`/v1/comments/${c.id}/moderations`, h.author.token), 403)
  expectStatus(await get(`/v1/comments/${MISSING}/moderations`, h.editor.token), 404)
})

t.test('bulk moderation is all or nothing', async (t) => {
  const a = await publishedArticle(h)
  const b = await publishedArticle(h)
  const [c1, c2, c3] = [await posted(a.id), await posted(a.id), await posted(b.id)]
  const c4 = await posted(a.id)
  const moderate = (body: unknown, token = h.editor.token) => call(h.app, 'POST', '/v1/comments/moderate', { token, body })

  t.strictSame(expectStatus(await moderate({ ids: [c1.id, c2.id, c3.id], status: 'approved' }), 200), { updated: 3 })
  await countIs(t, a.id, 2, 'two approved on a')
  await countIs(t, b.id, 1, 'one approved on b')
  for (const c of [c1, c2, c3]) t.match(await commentRow(h, c.id), { status: 'approved', moderatedById: h.editor.userId })

  const snapshot = async () => (await db.select({ id: comments.id, status: comments.status, version: comments.version }).from(comments)
    .where(inArray(comments.id, [c1.id, c2.id, c3.id, c4.id]))).sort((x, y) => x.id.localeCompare(y.id))
  const before = await snapshot()
  const moderations = await totalModerations(h)

  const res = await moderate({ ids: [c1.id, c4.id, MISSING, c3.id], status: 'rejected' })
  const problem = expectStatus(res, 400)
  t.match(problem, { code: 'VALIDATION_FAILED' })
  t.strictSame(problem.errors.map((e: Json) => e.path), ['/ids/2'], 'names the unknown id')
  t.strictSame(await snapshot(), before, 'no status changed')
  t.equal(await totalModerations(h), moderations, 'no audit entry written')
  await countIs(t, a.id, 2, 'unchanged after a refused bulk request')
  await countIs(t, b.id, 1, 'unchanged after a refused bulk request')

  t.match(expectStatus(await moderate({ ids: [MISSING], status: 'approved' }), 400), { code: 'VALIDATION_FAILED', errors: [{ path: '/ids/0' }] }, 'a single unknown id is the same 400')
  expectStatus(await moderate({ ids: [c1.id, c1.id], status: 'rejected' }), 400)
  expectStatus(await moderate({ ids: [], status: 'rejected' }), 400)
  expectStatus(await moderate({ ids: [c1.id, 'nope'], status: 'rejected' }), 400)
  expectStatus(await moderate({ ids: [c1.id], status: 'deleted' }), 400)
  expectStatus(await moderate({ ids: [c1.id], status: 'rejected', why: 'x' }), 400)
  expectStatus(await moderate({ ids: Array.from({ length: 201 }, () => crypto.randomUUID()), status: 'rejected' }), 400)
  expectStatus(await moderate({ ids: [c4.id], status: 'approved' }, h.author.token), 403)
  expectStatus(await call(h.app, 'POST', '/v1/comments/moderate', { body: { ids: [c4.id], status: 'approved' } }), 401)
  t.strictSame(await snapshot(), before, 'still nothing changed')

  t.strictSame(expectStatus(await moderate({ ids: [c1.id, c2.id], status: 'approved' }), 200), { updated: 0 }, 'already approved')
  await countIs(t, a.id, 2, 'approving the approved counts nothing')
  t.strictSame(expectStatus(await moderate({ ids: [c1.id, c3.id, c4.id], status: 'spam' }), 200), { updated: 3 })
  await countIs(t, a.id, 1, 'one approved left on a')
  await countIs(t, b.id, 0, 'none left on b')
})

t.test('deleting a comment removes its replies and keeps comment_count in step', async (t) => {
  const a = await publishedArticle(h)
  const d0 = await approved(a.id)
  const d1 = await approved(a.id, { parentId: d0.id })
  const d2 = await approved(a.id, { parentId: d1.id })
  const d3 = await posted(a.id, { parentId: d0.id })
  const e0 = await approved(a.id)
  const p = await posted(a.id)
  await countIs(t, a.id, 4, 'four approved')

  expectStatus(await call(h.app, 'DELETE', `/v1/comments/${d1.id}`, { token: h.author.token }), 403)
  expectStatus(await call(h.app, 'DELETE', `/v1/comments/${d1.id}`), 401)
  const etag = (await get(`/v1/comments/${d1.id}`, h.editor.token)).headers.etag as string
  await setStatus(h, d1.id, 'approved') // no change, no new version
  await setStatus(h, d1.id, 'rejected')
  await setStatus(h, d1.id, 'approved')
  expectStatus(await call(h.app, 'DELETE', `/v1/comments/${d1.id}`, { token: h.editor.token, headers: { 'if-match': etag } }), 412)
  t.ok(await commentRow(h, d1.id), 'a refused delete deletes nothing')
  await countIs(t, a.id, 4, 'after refused deletes')

  const res = await call(h.app, 'DELETE', `/v1/comments/${d1.id}`, { token: h.editor.token })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  t.notOk(await commentRow(h, d1.id), 'gone')
  t.notOk(await commentRow(h, d2.id), 'its reply is gone too')
  t.ok(await commentRow(h, d0.id), 'its parent stays')
  t.ok(await commentRow(h, d3.id), 'a sibling reply stays')
  t.equal((await db.select().from(commentModerations).where(eq(commentModerations.commentId, d1.id))).length, 0, 'its audit entries went with it')
  await countIs(t, a.id, 2, 'two approved gone')

  expectStatus(await call(h.app, 'DELETE', `/v1/comments/${d0.id}`, { token: h.editor.token }), 204)
  t.notOk(await commentRow(h, d3.id), 'a pending reply goes with its thread')
  await countIs(t, a.id, 1, 'only e0 left')
  expectStatus(await call(h.app, 'DELETE', `/v1/comments/${p.id}`, { token: h.admin.token }), 204)
  await countIs(t, a.id, 1, 'deleting a pending comment changes no count')
  expectStatus(await call(h.app, 'DELETE', `/v1/comments/${d0.id}`, { token: h.editor.token }), 404)
  expectStatus(await call(h.app, 'DELETE', `/v1/comments/not-a-uuid`, { token: h.editor.token }), 400)
  t.strictSame(expectStatus(await get(`/v1/articles/${a.id}/comments`), 200).data.map((c: Json) => c.id), [e0.id])
})

t.test('readers get approved comments as threads; staff see every status', async (t) => {
  const a = await publishedArticle(h)
  const r1 = await approved(a.id, { authorName: 'Ann' })
  const a1 = await approved(a.id, { parentId: r1.id, authorName: 'Ben' })
  const a2 = await approved(a.id, { parentId: a1.id, authorName: 'Cat' })
  const a3 = await posted(a.id, { parentId: r1.id, authorName: 'Pending Pete' })
  const r2 = await approved(a.id, { authorName: 'Dan' })
  const b1 = await approved(a.id, { parentId: r2.id, authorName: 'Eve' })
  const b2 = await approved(a.id, { parentId: b1.id, authorName: 'Fay' })
  const r3 = await approved(a.id, { authorName: 'Gus' })
  const c1 = await approved(a.id, { parentId: r3.id, authorName: 'Hal' })
  const c2 = await approved(a.id, { parentId: c1.id, authorName: 'Ivy' })
  const c3 = await approved(a.id, { parentId: r3.id, authorName: 'Jo' })
  const r4 = await posted(a.id, { authorName: 'Kim', authorEmail: 'kim.private@reader.test' })
  const r5 = await posted(a.id, { authorName: 'Lou', website: 'x' })
  // A rejected or spam comment hides every reply beneath it.
  await setStatus(h, b1.id, 'rejected')
  await setStatus(h, c1.id, 'spam')
  await countIs(t, a.id, 8, 'approved rows, hidden or not')

  const res = await get(`/v1/articles/${a.id}/comments`, undefined, { limit: '2' })
  const page1 = expectStatus(res, 200)
  t.equal(res.headers['cache-control'], h.config.PUBLIC_CACHE_CONTROL)
  t.ok(res.headers.etag)
  t.strictSame(page1.data.map((c: Json) => c.id), [r1.id, r2.id], 'top-level comments, oldest first')
  t.strictSame(page1.data[0], {
    id: r1.id, articleId: a.id, parentId: null, replyingTo: null, depth: 0, authorName: 'Ann', body: r1.body, status: 'approved', createdAt: r1.createdAt,
    replies: [
      { id: a1.id, articleId: a.id, parentId: r1.id, replyingTo: 'Ann', depth: 1, authorName: 'Ben', body: a1.body, status: 'approved', createdAt: a1.createdAt },
      { id: a2.id, articleId: a.id, parentId: a1.id, replyingTo: 'Ben', depth: 2, authorName: 'Cat', body: a2.body, status: 'approved', createdAt: a2.createdAt }
    ]
  }, 'a thread: approved replies only, with whom they answer')
  t.strictSame(page1.data[1].replies, [], 'replies under a rejected comment are hidden')
  t.type(page1.meta.nextCursor, 'string')
  const page2 = expectStatus(await get(`/v1/articles/${a.id}/comments`, undefined, { limit: '2', cursor: page1.meta.nextCursor }), 200)
  t.strictSame(page2.data.map((c: Json) => c.id), [r3.id], 'pending and spam top-level comments are not public')
  t.strictSame(page2.data[0].replies.map((c: Json) => c.id), [c3.id], 'replies under a spam comment are hidden')
  t.equal(page2.meta.nextCursor, null)
  for (const page of [page1, page2]) {
    const keys = allKeys(page)
    for (const k of ['authorEmail', 'moderationReasons', 'clientId', 'moderatedById', 'moderatedAt']) t.notOk(keys.has(k), `no ${k} for readers`)
  }
  t.notOk(JSON.stringify(page1).includes('rita@reader.test'))
  expectStatus(await get(`/v1/articles/${a.id}/comments`, undefined, { status: 'pending' }), 401)
  t.equal(expectStatus(await get(`/v1/articles/${a.id}/comments`, undefined, { status: 'approved' }), 200).data.length, 3)
  t.match(expectStatus(await get(`/v1/articles/${a.id}/comments`, undefined, { sort: 'authorName' }), 400).errors, [{ path: '/sort' }])
  t.match(expectStatus(await get(`/v1/articles/${a.id}/comments`, undefined, { foo: '1' }), 400).errors, [{ path: '/foo' }])
  expectStatus(await get(`/v1/articles/${a.id}/comments`, undefined, { limit: '101' }), 400)

  // Staff: every status, private fields, and replies under any parent.
  const staffRes = await get(`/v1/articles/${a.id}/comments`, h.editor.token, { limit: '100' })
  const staff = expectStatus(staffRes, 200)
  t.equal(staffRes.headers['cache-control'], 'private, no-store')
  t.strictSame(staff.data.map((c: Json) => [c.id, c.status]), [[r1.id, 'approved'], [r2.id, 'approved'], [r3.id, 'approved'], [r4.id, 'pending'], [r5.id, 'spam']])
  t.strictSame(staff.data[0].replies.map((c: Json) => c.id), [a1.id, a2.id, a3.id])
  t.strictSame(staff.data[1].replies.map((c: Json) => [c.id, c.status]), [[b1.id, 'rejected'], [b2.id, 'approved']])
  t.strictSame(staff.data[2].replies.map((c: Json) => c.id), [c1.id, c2.id, c3.id])
  t.match(staff.data[3], { authorEmail: 'kim.private@reader.test', moderationReasons: [], clientId: /^[0-9a-f]{12}$/ })
  t.match(staff.data[4], { moderationReasons: ['honeypot'] })
  t.match(staff.data[0].replies[2], { authorEmail: 'rita@reader.test', replyingTo: 'Ann' })
  const pendingOnly = expectStatus(await get(`/v1/articles/${a.id}/comments`, h.editor.token, { status: 'pending' }), 200)
  t.strictSame(pendingOnly.data.map((c: Json) => c.id), [r4.id])

  const draft = await draftArticle(h)
  expectStatus(await get(`/v1/articles/${draft.id}/comments`), 404)
  t.strictSame(expectStatus(await get(`/v1/articles/${draft.id}/comments`, h.editor.token), 200).data, [], 'staff may look at a draft')
  expectStatus(await get(`/v1/articles/${MISSING}/comments`), 404)
})

t.test('a page of threads costs the same whatever is in it', async (t) => {
  const a = await publishedArticle(h)
  const r = await approved(a.id)
  await approved(a.id, { parentId: r.id })
  h.queries.length = 0
  expectStatus(await get(`/v1/articles/${a.id}/comments`), 200)
  const few = h.queries.length
  t.ok(few > 0, 'statements are counted')
  for (let i = 0; i < 4; i++) {
    const root = await approved(a.id)
    const reply = await approved(a.id, { parentId: root.id })
    await approved(a.id, { parentId: reply.id })
  }
  h.queries.length = 0
  const many = expectStatus(await get(`/v1/articles/${a.id}/comments`), 200)
  t.equal(many.data.length, 5)
  t.equal(h.queries.length, few, `no N+1: ${few} statements either way`)
})
