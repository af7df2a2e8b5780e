// Corrections and updates: dated public corrections that are never edited away silently, the
// substantive update time readers see (apart from technical changes), and revisions that say
// who changed what, in which state.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { articleCorrections, articleRevisions, articles, changes } from '../src/db/schema.js'
import { build, call } from './helper.js'
import { expectStatus, makeArticle, publish, published } from './articles-fixtures.js'
import { problem } from './assertions.js'

const MINUTE = 60_000

t.test('corrections and updates', async (t) => {
  let now = new Date('2031-05-01T09:00:00.000Z')
  const tick = (minutes: number) => { now = new Date(now.getTime() + minutes * MINUTE); return now }
  const h = await build(t, { now: () => now })
  const db = h.database.db
  const get = (url: string, token?: string) => call(h.app, 'GET', url, { token })

  const story = await published(h, { headline: 'Relief camps close in Sindh', body: [{ type: 'paragraph', text: 'Families went home.' }] })
  const publishedAt = story.publishedAt as string
  t.equal(story.updatedAt, publishedAt, 'a story never updated in substance shows its publication time as updatedAt')

  await t.test('an editor adds a correction; readers see it in corrections and at the end of bodyHtml, escaped', async (t) => {
    tick(30)
    const text = '  An earlier version named the wrong district: Sehwan is in Jamshoro, <script>alert(1)</script> — not Dadu (ضلع).  '
    const res = await call(h.app, 'POST', `/v1/articles/${story.id}/corrections`, { token: h.editor.token, body: { text } })
    const c = expectStatus(res, 201)
    t.equal(res.headers.location, `/v1/articles/${story.id}/corrections/${c.id}`)
    t.ok(res.headers.etag, 'the answer carries the correction\'s ETag')
    t.strictSame(c, { id: c.id, articleId: story.id, text: text.trim(), publishedAt: now.toISOString(), editedAt: null, history: [] })
    const [row] = await db.select().from(articleCorrections).where(eq(articleCorrections.id, c.id))
    t.equal(row.text, text.trim(), 'stored as written, trimmed')
    t.equal(row.createdById, h.editor.userId)

    const anon = expectStatus(await get(`/v1/articles/${story.id}`), 200)
    t.strictSame(anon.corrections, [{ id: c.id, text: text.trim(), publishedAt: now.toISOString(), editedAt: null }])
    t.equal(anon.updatedAt, now.toISOString(), 'updatedAt moves to the correction\'s time')
    t.notOk('modifiedAt' in anon, 'readers do not get the technical modification time')
    t.notOk(anon.bodyHtml.includes('<script>'), 'no markup from the correction reaches bodyHtml')
    t.ok(anon.bodyHtml.endsWith(
      `<aside class="corrections"><h2>Corrections</h2><p><time datetime="${now.toISOString()}">1 May 2031</time> An earlier version named the wrong district: Sehwan is in Jamshoro, &lt;script&gt;alert(1)&lt;/script&gt; — not Dadu (ضلع).</p></aside>`
    ), anon.bodyHtml)
    t.ok(anon.bodyHtml.startsWith('<p>Families went home.</p>'), 'the body comes first')

    const bySlug = expectStatus(await get(`/v1/articles/by-slug/${story.slug}`), 200)
    t.strictSame(bySlug.corrections, anon.corrections)
    const list = expectStatus(await get('/v1/articles'), 200)
    t.notOk('corrections' in list.data[0], 'lists leave corrections out, as the body')
    t.equal(list.data[0].updatedAt, now.toISOString(), 'a list shows the substantive time too')
    const withFields = expectStatus(await get('/v1/articles?fields=headline,corrections,updatedAt'), 200)
    t.strictSame(withFields.data[0].corrections, anon.corrections, 'lists give corrections when fields asks')

    const listed = expectStatus(await get(`/v1/articles/${story.id}/corrections`), 200)
    t.strictSame(listed.data, [{ id: c.id, articleId: story.id, text: text.trim(), publishedAt: now.toISOString(), editedAt: null }])
    t.strictSame(listed.meta, { limit: 20, nextCursor: null })

    const [change] = await db.select().from(changes).where(eq(changes.entityId, story.id)).orderBy(changes.seq).then((r) => r.slice(-1))
    t.equal(change.event, 'article.updated', 'the change log records the article as updated')
  })

  await t.test('a technical change does not move updatedAt; substantiveUpdate does', async (t) => {
    const before = expectStatus(await get(`/v1/articles/${story.id}`), 200)
    tick(5)
    const edited = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${story.id}`, { token: h.editor.token, body: { standfirst: 'A typo fixed' } }), 200)
    t.equal(edited.updatedAt, before.updatedAt, 'a plain edit leaves updatedAt')
    t.equal(edited.modifiedAt, now.toISOString(), 'staff see the technical modification')
    const res = await call(h.app, 'POST', `/v1/articles/${story.id}/comments`, { body: { authorName: 'Rita', authorEmail: 'rita@readers.test', body: 'Thank you.' } })
    const comment = expectStatus(res, 201)
    expectStatus(await call(h.app, 'PATCH', `/v1/comments/${comment.id}`, { token: h.editor.token, body: { status: 'approved' } }), 200)
    const counted = expectStatus(await get(`/v1/articles/${story.id}`), 200)
    t.equal(counted.commentCount, 1)
    t.equal(counted.updatedAt, before.updatedAt, 'a comment does not move updatedAt')

    tick(5)
    const announced = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${story.id}`, { token: h.editor.token, body: { headline: 'Relief camps close across Sindh', substantiveUpdate: true } }), 200)
    t.equal(announced.updatedAt, now.toISOString(), 'substantiveUpdate moves updatedAt to now')
    t.notOk('substantiveUpdate' in announced)
    const [row] = await db.select().from(articles).where(eq(articles.id, story.id))
    t.equal(row.contentUpdatedAt?.toISOString(), now.toISOString())

  })

  await t.test('feeds date an item by its substantive update', async (t) => {
    const res = await get('/v1/feeds/feed.json')
    t.equal(res.statusCode, 200)
    const item = JSON.parse(res.body).items.find((i: { title: string }) => i.title === 'Relief camps close across Sindh')
    const [row] = await db.select().from(articles).where(eq(articles.id, story.id))
    t.equal(item.date_modified, row.contentUpdatedAt!.toISOString())
    t.equal(item.date_published, publishedAt)
    const atom = (await get('/v1/feeds/atom.xml')).body
    t.equal(/<updated>([^<]+)<\/updated>/.exec(atom)?.[1], row.contentUpdatedAt!.toISOString(), 'the feed itself is dated by its latest substantive update')
  })

  await t.test('rewording a correction keeps the earlier wording in its history', async (t) => {
    const [first] = expectStatus(await get(`/v1/articles/${story.id}/corrections`, h.editor.token), 200).data
    const one = await get(`/v1/articles/${story.id}/corrections/${first.id}`, h.editor.token)
    const etag = one.headers.etag as string
    const before = expectStatus(await get(`/v1/articles/${story.id}`), 200)
    tick(10)
    const stale = await call(h.app, 'PATCH', `/v1/articles/${story.id}/corrections/${first.id}`, { token: h.editor.token, body: { text: 'Stale' }, headers: { 'if-match': '"9-aaaaaaaaaaaaaaaaaaaaaa"' } })
    problem(t, stale, 412, 'PRECONDITION_FAILED')
    const res = await call(h.app, 'PATCH', `/v1/articles/${story.id}/corrections/${first.id}`, { token: h.editor.token, body: { text: 'Sehwan is in Jamshoro district.' }, headers: { 'if-match': etag } })
    const edited = expectStatus(res, 200)
    t.equal(edited.text, 'Sehwan is in Jamshoro district.')
    t.equal(edited.publishedAt, first.publishedAt, 'the correction keeps its date')
    t.equal(edited.editedAt, now.toISOString())
    t.strictSame(edited.history, [{ text: first.text, editedAt: now.toISOString(), editedById: h.editor.userId }])
    const again = await call(h.app, 'PATCH', `/v1/articles/${story.id}/corrections/${first.id}`, { token: h.editor.token, body: { text: 'x' }, headers: { 'if-match': etag } })
    problem(t, again, 412, 'PRECONDITION_FAILED')

    const anon = expectStatus(await get(`/v1/articles/${story.id}/corrections/${first.id}`), 200)
    t.strictSame(anon, { id: first.id, articleId: story.id, text: 'Sehwan is in Jamshoro district.', publishedAt: first.publishedAt, editedAt: now.toISOString() }, 'readers see that it was edited, not the earlier wording')
    const article = expectStatus(await get(`/v1/articles/${story.id}`), 200)
    t.equal(article.corrections[0].editedAt, now.toISOString())
    t.match(article.bodyHtml, /Sehwan is in Jamshoro district\.<\/p><\/aside>$/)
    t.notMatch(article.bodyHtml, /wrong district/)
    t.equal(article.updatedAt, before.updatedAt, 'rewording is not a new substantive update')
    t.equal((await call(h.app, 'DELETE', `/v1/articles/${story.id}/corrections/${first.id}`, { token: h.admin.token })).statusCode, 405, 'there is no way to delete a correction: 405 Method Not Allowed')
  })

  await t.test('who may correct: editors and admins; authors 403, anonymous 401; bad text 400', async (t) => {
    const url = `/v1/articles/${story.id}/corrections`
    problem(t, await call(h.app, 'POST', url, { body: { text: 'Anonymous' } }), 401, 'UNAUTHORIZED')
    problem(t, await call(h.app, 'POST', url, { token: h.author.token, body: { text: 'An author' } }), 403, 'FORBIDDEN')
    const [first] = expectStatus(await get(url), 200).data
    problem(t, await call(h.app, 'PATCH', `${url}/${first.id}`, { token: h.author.token, body: { text: 'An author' } }), 403, 'FORBIDDEN')
    problem(t, await call(h.app, 'PATCH', `${url}/${first.id}`, { body: { text: 'Anonymous' } }), 401, 'UNAUTHORIZED')
    for (const body of [{ text: '   ' }, { text: '' }, {}, { text: 'ok', extra: 1 }, { text: 'x'.repeat(5001) }]) {
      problem(t, await call(h.app, 'POST', url, { token: h.editor.token, body }), 400, 'VALIDATION_FAILED')
    }
    expectStatus(await call(h.app, 'POST', url, { token: h.admin.token, body: { text: 'An admin may correct too.' } }), 201)
    expectStatus(await call(h.app, 'POST', '/v1/articles/00000000-0000-4000-8000-000000000000/corrections', { token: h.editor.token, body: { text: 'Nothing' } }), 404)
  })

  await t.test('a draft may be corrected, but nobody outside sees it', async (t) => {
    const draft = await makeArticle(h, { headline: 'A draft with a correction' })
    tick(1)
    const c = expectStatus(await call(h.app, 'POST', `/v1/articles/${draft.id}/corrections`, { token: h.editor.token, body: { text: 'Fixed before publication.' } }), 201)
    expectStatus(await get(`/v1/articles/${draft.id}/corrections`), 404)
    expectStatus(await get(`/v1/articles/${draft.id}/corrections/${c.id}`), 404)
    expectStatus(await get(`/v1/articles/${draft.id}`), 404)
    const staff = expectStatus(await get(`/v1/articles/${draft.id}`, h.author.token), 200)
    t.equal(staff.corrections.length, 1, 'staff see it')
    const logged = await db.select().from(changes).where(eq(changes.entityId, draft.id))
    t.equal(logged.length, 0, 'nothing public changed, so nothing is in the change log')
  })

  await t.test('revisions: status, publishedAt, changed fields, who by name; a restore is a revision', async (t) => {
    const a = await makeArticle(h, { headline: 'Revised story', standfirst: 'First', body: [{ type: 'paragraph', text: 'One.' }] }, h.author.token)
    tick(1)
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.author.token, body: { standfirst: 'Second', headline: 'Revised story' } }), 200)
    await publish(h, a.id)
    tick(1)
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { body: [{ type: 'paragraph', text: 'Two.' }], seo: { title: 'SEO' } } }), 200)
    const list = expectStatus(await get(`/v1/articles/${a.id}/revisions`, h.author.token), 200)
    t.equal(list.data.length, 2)
    const [second, first] = list.data
    t.match(first, { status: 'draft', publishedAt: null, changedFields: ['standfirst'], restoredFromId: null, createdById: h.author.userId, createdBy: { id: h.author.userId, name: 'Amal Author' } })
    t.match(second, { status: 'published', publishedAt: (await get(`/v1/articles/${a.id}`)).json().publishedAt, restoredFromId: null, createdBy: { id: h.editor.userId, name: 'Eddie Editor' } })
    t.strictSame([...second.changedFields].sort(), ['body', 'seo'])

    tick(1)
    const restored = expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/${first.id}/restore`, { token: h.editor.token }), 200)
    t.equal(restored.standfirst, 'First')
    t.equal(restored.body[0].text, 'One.')
    const after = expectStatus(await get(`/v1/articles/${a.id}/revisions`, h.editor.token), 200)
    t.equal(after.data.length, 3, 'the restore made a revision')
    t.match(after.data[0], { restoredFromId: first.id, status: 'published', createdBy: { id: h.editor.userId, name: 'Eddie Editor' } })
    t.strictSame([...after.data[0].changedFields].sort(), ['body', 'seo', 'standfirst'])

    // A revision from before these were recorded.
    await db.update(articleRevisions).set({ status: null, publishedAt: null, changedFields: null, createdById: null }).where(eq(articleRevisions.id, first.id))
    const old = expectStatus(await get(`/v1/articles/${a.id}/revisions`, h.editor.token), 200).data.find((r: { id: string }) => r.id === first.id)
    t.match(old, { status: null, publishedAt: null, changedFields: null, createdById: null, createdBy: null })
  })
})

t.test('a correction evicts the cached article', async (t) => {
  const h = await build(t, { env: { PUBLIC_CACHE: 'true' } })
  const story = await published(h, { headline: 'Cached story', body: [{ type: 'paragraph', text: 'Text.' }] })
  const url = `/v1/articles/${story.id}`
  const first = await call(h.app, 'GET', url)
  t.strictSame(first.json().corrections, [])
  t.equal((await call(h.app, 'GET', url)).headers['x-cache'], 'hit', 'the second read is from the cache')
  const listUrl = `/v1/articles/${story.id}/corrections`
  t.strictSame((await call(h.app, 'GET', listUrl)).json().data, [])
  expectStatus(await call(h.app, 'POST', listUrl, { token: h.editor.token, body: { text: 'A cached correction.' } }), 201)
  // The change reaches the cache through the change log: wait until the read shows it.
  let body: any
  for (let i = 0; i < 50; i++) {
    body = (await call(h.app, 'GET', url)).json()
    if (body.corrections.length > 0) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(body.corrections[0]?.text, 'A cached correction.', 'the read after the correction shows it')
  t.match(body.bodyHtml, /A cached correction\.<\/p><\/aside>$/)
  t.equal((await call(h.app, 'GET', listUrl)).json().data[0]?.text, 'A cached correction.', 'the corrections list is evicted too')
})
