// Bulk editing: every action on several articles, all or nothing, one problem naming every id that
// blocks it, the change log and revisions the single routes write, and public reads fresh at once.
import t from 'tap'
import { asc, count, eq, inArray, sql } from 'drizzle-orm'
import { articleRevisions, articleTags, articles, changes } from '../src/db/schema.js'
import { build, call, type Harness } from './helper.js'
import { MISSING, expectStatus, makeArticle, makeSection, makeTag, type Json } from './articles-fixtures.js'

const bulk = (h: Harness, body: unknown, token = h.editor.token, headers: Record<string, string> = {}) =>
  call(h.app, 'POST', '/v1/articles/bulk', { token, body, headers })

t.test('bulk editing', async (t) => {
  let now = new Date('2031-05-01T12:00:00.000Z')
  const tick = () => { now = new Date(now.getTime() + 1000) }
  const h = await build(t, { env: { PUBLIC_CACHE: 'true' }, now: () => now })
  const db = h.database.db
  let n = 0
  const drafts = async (k: number, extra: Json = {}) => {
    const out: Json[] = []
    for (let i = 0; i < k; i++) out.push(await makeArticle(h, { headline: `Bulk story ${++n}`, ...extra }))
    return out
  }
  const rowsOf = async (ids: string[]) =>
    db.select({ id: articles.id, status: articles.status, publishedAt: articles.publishedAt, sectionId: articles.sectionId, version: articles.version })
      .from(articles).where(inArray(articles.id, ids)).orderBy(asc(articles.id))
  const tagsOf = async (id: string) =>
    (await db.select({ id: articleTags.tagId }).from(articleTags).where(eq(articleTags.articleId, id)).orderBy(asc(articleTags.position))).map((r) => r.id)
  const lastSeq = async () => Number((await db.select({ seq: sql<number>`coalesce(max(${changes.seq}), 0)` }).from(changes))[0].seq)
  const changesAfter = async (seq: number) =>
    db.select({ entityId: changes.entityId, event: changes.event }).from(changes).where(sql`${changes.seq} > ${seq}`).orderBy(asc(changes.seq))
  const revisionCount = async (ids: string[]) => (await db.select({ n: count() }).from(articleRevisions).where(inArray(articleRevisions.articleId, ids)))[0].n
  /** Everything a bulk write could touch, to compare before and after a refused one. */
  const rowsFor = async (query: ReturnType<typeof sql>) => ((await db.execute(query)) as unknown as { rows: Json[] }).rows
  const state = async () => ({
    articles: await rowsFor(sql`select (to_jsonb(a) - 'search')::text as row from articles a order by id`),
    tags: await rowsFor(sql`select (to_jsonb(t))::text as row from article_tags t order by article_id, position`),
    related: await rowsFor(sql`select (to_jsonb(r))::text as row from article_related r order by article_id, position`),
    revisions: (await db.select({ n: count() }).from(articleRevisions))[0].n,
    changes: await lastSeq()
  })
  const anonHeadlines = async (query: Record<string, string>) => {
    const res = await call(h.app, 'GET', '/v1/articles', { query })
    return { cache: res.headers['x-cache'], headlines: expectStatus(res, 200).data.map((a: Json) => a.headline) as string[] }
  }

  t.test('publish, unpublish and archive several articles, each recorded as its single route records it', async (t) => {
    const section = await makeSection(h, 'Bulk workflow')
    const list = { section: section.id }
    const set = await drafts(3, { sectionId: section.id })
    const ids = set.map((a) => a.id)
    // A public list, cached before the bulk publish: it must not be served stale after it.
    t.strictSame((await anonHeadlines(list)).headlines, [])
    t.equal((await anonHeadlines(list)).cache, 'hit', 'the empty list is cached')

    tick()
    let seq = await lastSeq()
    const res = await bulk(h, { action: 'publish', ids })
    const body = expectStatus(res, 200)
    t.strictSame(body.data.map((a: Json) => a.id), ids, 'summaries in the order of ids')
    t.ok(body.data.every((a: Json) => a.status === 'published' && a.publishedAt === now.toISOString() && a.body === undefined), 'published now, as summaries')
    t.equal(res.headers['cache-control'], 'private, no-store')
    t.ok((await rowsOf(ids)).every((r) => r.status === 'published'), 'the rows say published')
    t.strictSame(await changesAfter(seq), ids.map((id) => ({ entityId: id, event: 'article.published' })), 'one article.published each')
    const after = await anonHeadlines(list)
    t.not(after.cache, 'hit', 'the cached list was evicted')
    t.strictSame(after.headlines.sort(), set.map((a) => a.headline).sort(), 'anonymous readers see them at once')

    // Scheduling with a publishedAt, as the single route takes it.
    const later = new Date(now.getTime() + 3_600_000).toISOString()
    const scheduled = await drafts(2)
    const sched = expectStatus(await bulk(h, { action: 'publish', ids: scheduled.map((a) => a.id), publishedAt: later }), 200)
    t.ok(sched.data.every((a: Json) => a.status === 'scheduled' && a.publishedAt === later), 'a future publishedAt schedules them')

    tick()
    seq = await lastSeq()
    const two = ids.slice(0, 2)
    const un = expectStatus(await bulk(h, { action: 'unpublish', ids: two }), 200)
    t.ok(un.data.every((a: Json) => a.status === 'draft' && a.publishedAt === null))
    t.strictSame(await changesAfter(seq), two.map((id) => ({ entityId: id, event: 'article.unpublished' })))
    t.strictSame((await anonHeadlines(list)).headlines, [set[2].headline], 'unpublished articles leave the public list at once')

    tick()
    seq = await lastSeq()
    const arch = expectStatus(await bulk(h, { action: 'archive', ids: [ids[2], ...two] }), 200)
    t.ok(arch.data.every((a: Json) => a.status === 'archived'))
    t.strictSame(await changesAfter(seq), [{ entityId: ids[2], event: 'article.archived' }], 'only the public one changes anything readers see')
    t.strictSame((await anonHeadlines(list)).headlines, [])
  })

  t.test('add and remove tags, set and clear a section: one revision and one update each', async (t) => {
    const [a, b, c] = await Promise.all([makeTag(h, 'Bulk floods'), makeTag(h, 'Bulk relief'), makeTag(h, 'Bulk sindh')])
    const section = await makeSection(h, 'Bulk national')
    const set = await drafts(3)
    const ids = set.map((x) => x.id)
    await call(h.app, 'PATCH', `/v1/articles/${ids[0]}`, { token: h.editor.token, body: { tagIds: [c.id] } })
    // Public ones record article.updated; drafts record nothing readers see.
    expectStatus(await bulk(h, { action: 'publish', ids: ids.slice(0, 2) }), 200)
    const revisionsBefore = await revisionCount(ids)

    tick()
    let seq = await lastSeq()
    const added = expectStatus(await bulk(h, { action: 'addTags', ids, tagIds: [a.id, b.id] }), 200)
    t.strictSame(added.data.map((x: Json) => x.tagIds), [[c.id, a.id, b.id], [a.id, b.id], [a.id, b.id]], 'appended after the tags each already had')
    t.strictSame(await tagsOf(ids[0]), [c.id, a.id, b.id], 'the rows say so')
    t.equal(await revisionCount(ids), revisionsBefore + 3, 'a revision each, as PATCH writes')
    t.strictSame(await changesAfter(seq), ids.slice(0, 2).map((id) => ({ entityId: id, event: 'article.updated' })))

    // Adding tags an article has already changes nothing for it.
    const again = await revisionCount(ids)
    expectStatus(await bulk(h, { action: 'addTags', ids, tagIds: [a.id] }), 200)
    t.equal(await revisionCount(ids), again, 'no revision for an article left as it was')

    tick()
    seq = await lastSeq()
    const removed = expectStatus(await bulk(h, { action: 'removeTags', ids, tagIds: [a.id, c.id] }), 200)
    t.strictSame(removed.data.map((x: Json) => x.tagIds), [[b.id], [b.id], [b.id]])
    t.strictSame(await changesAfter(seq), ids.slice(0, 2).map((id) => ({ entityId: id, event: 'article.updated' })))

    // Anonymous readers filtering by tag see it at once.
    t.strictSame((await anonHeadlines({ tag: b.id })).headlines.sort(), [set[0].headline, set[1].headline].sort())
    expectStatus(await bulk(h, { action: 'removeTags', ids, tagIds: [b.id] }), 200)
    t.strictSame((await anonHeadlines({ tag: b.id })).headlines, [], 'the tag list was evicted')

    tick()
    const filed = expectStatus(await bulk(h, { action: 'setSection', ids, sectionId: section.id.toUpperCase() }), 200)
    t.ok(filed.data.every((x: Json) => x.sectionId === section.id), 'filed in the section (an id in either case)')
    t.ok((await rowsOf(ids)).every((r) => r.sectionId === section.id))
    t.strictSame((await anonHeadlines({ section: section.id })).headlines.sort(), [set[0].headline, set[1].headline].sort())
    const cleared = expectStatus(await bulk(h, { action: 'setSection', ids, sectionId: null }), 200)
    t.ok(cleared.data.every((x: Json) => x.sectionId === null), 'and taken out of every section')
    t.ok((await rowsOf(ids)).every((r) => r.sectionId === null))
  })

  t.test('delete several articles, links among them included', async (t) => {
    const [x, y, z] = await drafts(3)
    // x and y link to each other: deleting them together is fine.
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${x.id}`, { token: h.editor.token, body: { relatedArticleIds: [y.id] } }), 200)
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${y.id}`, { token: h.editor.token, body: { relatedArticleIds: [x.id] } }), 200)
    expectStatus(await bulk(h, { action: 'publish', ids: [x.id, z.id] }), 200)
    tick()
    const seq = await lastSeq()
    const res = expectStatus(await bulk(h, { action: 'delete', ids: [z.id, x.id, y.id] }), 200)
    t.strictSame(res, { deleted: [z.id, x.id, y.id] })
    t.strictSame(await rowsOf([x.id, y.id, z.id]), [], 'the rows are gone')
    t.strictSame((await changesAfter(seq)).map((c) => c.event), ['article.deleted', 'article.deleted'], 'the two public ones record article.deleted')
    t.equal((await call(h.app, 'GET', `/v1/articles/${z.id}`)).statusCode, 404)
  })

  t.test('one blocking id: nothing changes, and one problem names every blocking id', async (t) => {
    const set = await drafts(4)
    const ids = set.map((a) => a.id)
    expectStatus(await bulk(h, { action: 'publish', ids: ids.slice(0, 2) }), 200)

    // Unpublishing two published articles and two drafts: the drafts block it.
    let before = await state()
    let res = await bulk(h, { action: 'unpublish', ids })
    let problem = expectStatus(res, 409)
    t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    t.match(problem, { status: 409, code: 'INVALID_STATE', detail: /\/ids\/2, \/ids\/3.*nothing was changed/ })
    t.strictSame(problem.errors.map((e: Json) => e.path), ['/ids/2', '/ids/3'])
    t.match(problem.errors[0], { in: 'body', message: /published or scheduled.*draft/ })
    t.strictSame(await state(), before, 'no row, revision or change written')

    // An unknown id with an illegal change: a 400 (as bulk comment moderation answers) naming both.
    before = await state()
    res = await bulk(h, { action: 'unpublish', ids: [ids[0], MISSING, ids[2]] })
    problem = expectStatus(res, 400)
    t.match(problem, { code: 'VALIDATION_FAILED' })
    t.strictSame(problem.errors.map((e: Json) => [e.path, e.message.slice(0, 24)]), [['/ids/1', 'is not the id of an arti'], ['/ids/2', 'Only a published or sche']])
    t.strictSame(await state(), before)

    // A delete that would orphan a link from an article outside the request.
    const linking = await makeArticle(h, { headline: 'Links to two', relatedArticleIds: [ids[1], ids[3]] })
    before = await state()
    problem = expectStatus(await bulk(h, { action: 'delete', ids }), 409)
    t.match(problem, { code: 'STILL_REFERENCED' })
    t.strictSame(problem.errors.map((e: Json) => e.path), ['/ids/1', '/ids/3'])
    t.match(problem.references, [{ resource: 'article', id: linking.id }, { resource: 'article', id: linking.id }])
    t.strictSame(await state(), before, 'nothing deleted, not even the links among them')

    // Mixed conflicts: CONFLICT, each with its reason.
    expectStatus(await bulk(h, { action: 'archive', ids: [ids[3]] }), 200)
    problem = expectStatus(await bulk(h, { action: 'archive', ids: [ids[0], ids[3]] }), 409)
    t.match(problem.errors, [{ path: '/ids/1', message: /already archived/ }])

    // Unknown tags or section: a 400 naming the field, nothing written.
    before = await state()
    problem = expectStatus(await bulk(h, { action: 'addTags', ids, tagIds: [MISSING] }), 400)
    t.match(problem.errors, [{ path: '/tagIds/0', message: 'is not the id of a tag' }])
    problem = expectStatus(await bulk(h, { action: 'setSection', ids, sectionId: MISSING }), 400)
    t.match(problem.errors, [{ path: '/sectionId', message: 'is not the id of a section' }])
    t.strictSame(await state(), before)
  })

  t.test('more than 50 tags on one article blocks addTags for it', async (t) => {
    const tags: string[] = []
    for (let i = 0; i < 51; i++) tags.push((await makeTag(h, `Many ${i}`)).id)
    const [full, empty] = await drafts(2)
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${full.id}`, { token: h.editor.token, body: { tagIds: tags.slice(0, 50) } }), 200)
    const before = await state()
    const problem = expectStatus(await bulk(h, { action: 'addTags', ids: [empty.id, full.id], tagIds: tags.slice(49, 51) }), 409)
    t.match(problem.errors, [{ path: '/ids/1', message: /would have 51 tags/ }])
    t.equal(problem.errors.length, 1)
    t.strictSame(await state(), before)
  })

  t.test('the request is checked before anything runs', async (t) => {
    const [a] = await drafts(1)
    const ids = Array.from({ length: 101 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`)
    let problem = expectStatus(await bulk(h, { action: 'publish', ids }), 400)
    t.match(problem.errors, [{ path: '/ids', message: /more than 100 items/ }], '101 ids: the rule is named')
    problem = expectStatus(await bulk(h, { action: 'publish', ids: [a.id, a.id] }), 400)
    t.match(problem.errors, [{ path: '/ids' }], 'a repeated id')
    problem = expectStatus(await bulk(h, { action: 'publish', ids: [a.id, a.id.toUpperCase()] }), 400)
    t.match(problem.errors, [{ path: '/ids', message: /duplicate items/ }], 'the same id in another case')
    expectStatus(await bulk(h, { action: 'publish', ids: [] }), 400)
    problem = expectStatus(await bulk(h, { action: 'shred', ids: [a.id] }), 400)
    t.match(problem.errors, [{ path: '/action' }])
    problem = expectStatus(await bulk(h, { action: 'addTags', ids: [a.id] }), 400)
    t.match(problem.errors, [{ path: '/tagIds', message: 'is required' }])
    problem = expectStatus(await bulk(h, { action: 'unpublish', ids: [a.id], publishedAt: now.toISOString() }), 400)
    t.match(problem.errors, [{ path: '/publishedAt', message: 'is not a known field' }])
    t.equal((await rowsOf([a.id]))[0].status, 'draft')
  })

  t.test('editors and admins only', async (t) => {
    const [a] = await drafts(1, {})
    const own = await makeArticle(h, { headline: 'Bulk by an author' }, h.author.token)
    const before = await state()
    t.match(expectStatus(await bulk(h, { action: 'delete', ids: [own.id] }, h.author.token), 403), { code: 'FORBIDDEN' })
    t.match(expectStatus(await bulk(h, { action: 'delete', ids: [own.id] }, ''), 401), { code: 'UNAUTHORIZED' })
    t.strictSame(await state(), before)
    expectStatus(await bulk(h, { action: 'archive', ids: [a.id] }, h.admin.token), 200)
  })

  t.test('100 ids is the most, and takes one request', async (t) => {
    const set = await drafts(100)
    const ids = set.map((a) => a.id)
    tick()
    const seq = await lastSeq()
    const started = Date.now()
    const res = expectStatus(await bulk(h, { action: 'publish', ids }), 200)
    t.comment(`100 articles published in ${Date.now() - started} ms`)
    t.equal(res.data.length, 100)
    t.equal((await changesAfter(seq)).length, 100, 'one change each')
    const problem = expectStatus(await bulk(h, { action: 'unpublish', ids: [...ids.slice(0, 99), MISSING] }), 400)
    t.equal(problem.errors.length, 1, 'only the unknown id blocks it')
    t.match(problem.errors, [{ path: '/ids/99', message: 'is not the id of an article' }])
    t.ok((await rowsOf(ids)).every((r) => r.status === 'published'), 'and nothing was unpublished')
  })

  t.test('two bulk requests over the same articles, in opposite orders, both go through', async (t) => {
    const [a, b] = await Promise.all([makeTag(h, 'Bulk race one'), makeTag(h, 'Bulk race two')])
    const set = await drafts(6)
    const ids = set.map((x) => x.id)
    const [one, two] = await Promise.all([
      bulk(h, { action: 'addTags', ids, tagIds: [a.id] }),
      bulk(h, { action: 'addTags', ids: [...ids].reverse(), tagIds: [b.id] })
    ])
    t.equal(one.statusCode, 200, one.body)
    t.equal(two.statusCode, 200, two.body)
    for (const id of ids) t.strictSame((await tagsOf(id)).sort(), [a.id, b.id].sort())
  })

  t.test('Idempotency-Key: a repeat gets the first answer and writes nothing again', async (t) => {
    const set = await drafts(2)
    const body = { action: 'publish', ids: set.map((a) => a.id) }
    const headers = { 'idempotency-key': `bulk-${n}` }
    const first = await bulk(h, body, h.editor.token, headers)
    t.equal(first.statusCode, 200)
    tick()
    const seq = await lastSeq()
    const again = await bulk(h, body, h.editor.token, headers)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.equal(again.body, first.body)
    t.strictSame(await changesAfter(seq), [], 'published once')
  })
})
