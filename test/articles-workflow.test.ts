// Who sees what (drafts, schedules, archives), the publishing workflow, and who may change what.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { articles } from '../src/db/schema.js'
import { build, call, type Harness } from './helper.js'
import { expectStatus, makeArticle, makeSection, publish, published, rowCounts } from './articles-fixtures.js'

const MINUTE = 60_000
const at = (d: Date, minutes: number) => new Date(d.getTime() + minutes * MINUTE)

t.test('articles: visibility and publishing', async (t) => {
  let now = new Date('2031-03-01T12:00:00.000Z')
  const h = await build(t, { now: () => now })
  const db = h.database.db
  const rowOf = async (id: string) => (await db.select().from(articles).where(eq(articles.id, id)))[0]

  t.test('anonymous readers see published and due articles only; staff see everything they ask for', async (t) => {
    const section = await makeSection(h, 'Visibility')
    const s = section.id
    const draft = await makeArticle(h, { headline: 'V draft', sectionId: s })
    const live = await published(h, { headline: 'V published', sectionId: s })
    const backdated = await published(h, { headline: 'V backdated', sectionId: s }, '2020-05-01T08:00:00.000Z')
    const soon = await published(h, { headline: 'V scheduled soon', sectionId: s }, at(now, 10).toISOString())
    const later = await published(h, { headline: 'V scheduled later', sectionId: s }, at(now, 60 * 24).toISOString())
    const archived = await published(h, { headline: 'V archived', sectionId: s })
    expectStatus(await call(h.app, 'POST', `/v1/articles/${archived.id}/archive`, { token: h.editor.token }), 200)
    t.equal(soon.status, 'scheduled')
    t.equal(later.status, 'scheduled')

    const anonList = async (query: Record<string, string> = {}) =>
      expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: s, ...query } }), 200).data.map((a: any) => a.headline)
    const staffList = async (query: Record<string, string> = {}) =>
      expectStatus(await call(h.app, 'GET', '/v1/articles', { token: h.author.token, query: { section: s, ...query } }), 200).data.map((a: any) => a.headline)
    const visible = async (a: any, token?: string) => {
      const byId = (await call(h.app, 'GET', `/v1/articles/${a.id}`, { token })).statusCode
      const bySlug = (await call(h.app, 'GET', `/v1/articles/by-slug/${a.slug}`, { token })).statusCode
      if (byId !== bySlug) throw new Error(`by id ${byId}, by slug ${bySlug}`)
      return byId
    }

    t.strictSame(await anonList(), ['V published', 'V backdated'])
    for (const hidden of [draft, soon, later, archived]) {
      t.equal(await visible(hidden), 404, `${hidden.headline} is 404 to anonymous readers`)
      t.equal(await visible(hidden, h.author.token), 200, `${hidden.headline} is visible to staff`)
    }
    const notFound = await call(h.app, 'GET', `/v1/articles/${draft.id}`)
    t.match(notFound.json(), { status: 404, code: 'NOT_FOUND' })
    t.equal(notFound.headers['cache-control'], 'no-store')
    t.equal(await visible(live), 200)
    t.equal(await visible(backdated), 200)
    t.strictSame((await staffList({ status: 'any' })).sort(), ['V archived', 'V backdated', 'V draft', 'V published', 'V scheduled later', 'V scheduled soon'])
    t.strictSame(await staffList(), ['V published', 'V backdated'], 'staff lists hold published articles unless they ask for others')
    t.strictSame((await staffList({ status: 'scheduled,draft' })).sort(), ['V draft', 'V scheduled later', 'V scheduled soon'])

    // status filter: staff only, except published
    const anonDraft = await call(h.app, 'GET', '/v1/articles', { query: { status: 'draft' } })
    t.match(expectStatus(anonDraft, 401), { code: 'UNAUTHORIZED' })
    for (const status of ['scheduled', 'archived']) expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { status } }), 401)
    t.strictSame(await anonList({ status: 'published' }), ['V published', 'V backdated'])
    t.strictSame(await staffList({ status: 'draft' }), ['V draft'])
    t.strictSame(await staffList({ status: 'scheduled' }), ['V scheduled later', 'V scheduled soon'])
    t.strictSame(await staffList({ status: 'archived' }), ['V archived'])
    t.strictSame(await staffList({ status: 'published' }), ['V published', 'V backdated'])
    expectStatus(await call(h.app, 'GET', '/v1/articles', { token: h.author.token, query: { status: 'deleted' } }), 400)

    // The clock passes the first schedule: it is public, with no job run.
    now = at(now, 15)
    t.equal((await rowOf(soon.id)).status, 'scheduled', 'the row itself still says scheduled')
    t.strictSame(await anonList(), ['V scheduled soon', 'V published', 'V backdated'])
    t.equal(await visible(soon), 200)
    const due = expectStatus(await call(h.app, 'GET', `/v1/articles/${soon.id}`), 200)
    t.equal(due.status, 'published', 'a due scheduled article reads as published')
    t.equal(due.publishedAt, soon.publishedAt)
    t.equal(await visible(later), 404)
    t.strictSame(await staffList({ status: 'scheduled' }), ['V scheduled later'])
    t.strictSame(await staffList({ status: 'published' }), ['V scheduled soon', 'V published', 'V backdated'])
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${soon.id}`, { token: h.editor.token }), 200).status, 'published')
  })

  t.test('publish now, in the future, or backdated', async (t) => {
    const a = await makeArticle(h, { headline: 'Publish me now' })
    t.equal(a.createdAt, now.toISOString(), 'createdAt comes from the app clock')
    t.equal(a.updatedAt, now.toISOString())
    const res = await call(h.app, 'POST', `/v1/articles/${a.id}/publish`, { token: h.editor.token })
    const p = expectStatus(res, 200)
    t.equal(p.status, 'published')
    t.equal(p.publishedAt, now.toISOString(), 'published at the app clock\'s now')
    t.equal(p.updatedAt, now.toISOString())
    t.match(res.headers.etag, /^"2-/)
    const row = await rowOf(a.id)
    t.equal(row.status, 'published')
    t.equal(row.publishedAt?.toISOString(), now.toISOString())
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`), 200).status, 'published')

    const f = await makeArticle(h, { headline: 'Publish me later' })
    const when = at(now, 30).toISOString()
    const s = expectStatus(await call(h.app, 'POST', `/v1/articles/${f.id}/publish`, { token: h.editor.token, body: { publishedAt: when } }), 200)
    t.equal(s.status, 'scheduled')
    t.equal(s.publishedAt, when)
    t.equal((await rowOf(f.id)).status, 'scheduled')
    expectStatus(await call(h.app, 'GET', `/v1/articles/${f.id}`), 404)
    now = at(now, 29)
    expectStatus(await call(h.app, 'GET', `/v1/articles/${f.id}`), 404)
    now = at(now, 1)
    const live = expectStatus(await call(h.app, 'GET', `/v1/articles/${f.id}`), 200)
    t.equal(live.status, 'published', 'exactly at publishedAt it is out')

    const z = await makeArticle(h, { headline: 'Offset time' })
    const zoned = expectStatus(await call(h.app, 'POST', `/v1/articles/${z.id}/publish`, { token: h.editor.token, body: { publishedAt: '2020-07-01T14:30:00+02:00' } }), 200)
    t.equal(zoned.publishedAt, '2020-07-01T12:30:00.000Z', 'times come back in UTC')

    const b = await makeArticle(h, { headline: 'Backdate me' })
    const back = expectStatus(await call(h.app, 'POST', `/v1/articles/${b.id}/publish`, { token: h.editor.token, body: { publishedAt: '2019-01-02T03:04:05.000Z' } }), 200)
    t.equal(back.status, 'published')
    t.equal(back.publishedAt, '2019-01-02T03:04:05.000Z')
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${b.id}`), 200).publishedAt, '2019-01-02T03:04:05.000Z')

    t.match(expectStatus(await call(h.app, 'POST', `/v1/articles/${b.id}/publish`, { token: h.editor.token, body: { publishedAt: 'yesterday' } }), 400), { errors: [{ path: '/publishedAt' }] })
    t.match(expectStatus(await call(h.app, 'POST', `/v1/articles/${b.id}/publish`, { token: h.editor.token, body: { when: 'now' } }), 400), { errors: [{ path: '/when' }] })
    expectStatus(await call(h.app, 'POST', '/v1/articles/00000000-0000-4000-8000-000000000000/publish', { token: h.editor.token }), 404)
  })

  t.test('unpublish and archive', async (t) => {
    const d = await makeArticle(h, { headline: 'Never published' })
    const refused = await call(h.app, 'POST', `/v1/articles/${d.id}/unpublish`, { token: h.editor.token })
    t.match(expectStatus(refused, 409), { code: 'INVALID_STATE' })
    t.equal((await rowOf(d.id)).version, 1, 'nothing written')

    const p = await published(h, { headline: 'Pulled back' })
    const u = expectStatus(await call(h.app, 'POST', `/v1/articles/${p.id}/unpublish`, { token: h.editor.token }), 200)
    t.equal(u.status, 'draft')
    t.equal(u.publishedAt, null)
    expectStatus(await call(h.app, 'GET', `/v1/articles/${p.id}`), 404)

    const s = await published(h, { headline: 'Schedule pulled' }, at(now, 60).toISOString())
    t.equal(expectStatus(await call(h.app, 'POST', `/v1/articles/${s.id}/unpublish`, { token: h.editor.token }), 200).status, 'draft')

    const a = await published(h, { headline: 'To the archive' })
    const arch = expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/archive`, { token: h.editor.token }), 200)
    t.equal(arch.status, 'archived')
    t.equal((await rowOf(a.id)).status, 'archived')
    expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`), 404)
    t.match(expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/archive`, { token: h.editor.token }), 409), { code: 'INVALID_STATE' })
    t.match(expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/unpublish`, { token: h.editor.token }), 409), { code: 'INVALID_STATE' })
    // An archived article can be published again.
    t.equal(expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/publish`, { token: h.editor.token }), 200).status, 'published')
  })

  t.test('publishing again keeps the first publication time; an explicit publishedAt overrides', async (t) => {
    const section = await makeSection(h, 'Republish')
    const front = async () =>
      expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: section.id } }), 200).data.map((a: any) => a.headline)
    const act = async (id: string, transition: string, body?: unknown) =>
      expectStatus(await call(h.app, 'POST', `/v1/articles/${id}/${transition}`, { token: h.editor.token, body }), 200)

    const first = now.toISOString()
    const story = await published(h, { headline: 'Legal fix', sectionId: section.id })
    t.equal(story.publishedAt, first)
    t.equal(story.firstPublishedAt, first, 'set at the first publication')
    now = at(now, 60)
    await published(h, { headline: 'Later story', sectionId: section.id })
    t.strictSame(await front(), ['Later story', 'Legal fix'])

    now = at(now, 60)
    const archived = await act(story.id, 'archive')
    t.equal(archived.firstPublishedAt, first, 'an archived article keeps it')
    t.strictSame(await front(), ['Later story'])
    now = at(now, 60)
    const back = await act(story.id, 'publish')
    t.equal(back.status, 'published')
    t.equal(back.publishedAt, first, 'an archived article comes back at its first publication time')
    t.equal(back.firstPublishedAt, first)
    t.strictSame(await front(), ['Later story', 'Legal fix'], 'in its old place, not at the top')

    now = at(now, 60)
    const pulled = await act(story.id, 'unpublish')
    t.equal(pulled.publishedAt, null)
    t.equal(pulled.firstPublishedAt, first, 'an unpublished draft still shows when it first went out')
    now = at(now, 60)
    t.equal((await act(story.id, 'publish')).publishedAt, first, 'an unpublished article too')
    t.equal((await rowOf(story.id)).publishedAt?.toISOString(), first)

    const redated = await act(story.id, 'publish', { publishedAt: now.toISOString() })
    t.equal(redated.publishedAt, now.toISOString(), 'an explicit publishedAt overrides')
    t.equal(redated.firstPublishedAt, first, 'and firstPublishedAt stays')
    t.strictSame(await front(), ['Legal fix', 'Later story'])
    const backdated = await act(story.id, 'publish', { publishedAt: '2020-01-01T00:00:00.000Z' })
    t.equal(backdated.publishedAt, '2020-01-01T00:00:00.000Z')
    t.equal(backdated.firstPublishedAt, first, 'an earlier time does not rewrite the first publication either')
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${story.id}`), 200).firstPublishedAt, first, 'readers see it')
    const row = await rowOf(story.id)
    t.equal(row.firstPublishedAt?.toISOString(), first)

    // A revision restored leaves the publication times alone: they are not part of a snapshot.
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${story.id}`, { token: h.editor.token, body: { headline: 'Legal fix, corrected' } }), 200)
    const [revision] = expectStatus(await call(h.app, 'GET', `/v1/articles/${story.id}/revisions`, { token: h.editor.token }), 200).data
    t.notOk('publishedAt' in revision.snapshot || 'firstPublishedAt' in revision.snapshot)
    const restored = expectStatus(await call(h.app, 'POST', `/v1/articles/${story.id}/revisions/${revision.id}/restore`, { token: h.editor.token }), 200)
    t.equal(restored.headline, 'Legal fix')
    t.strictSame([restored.publishedAt, restored.firstPublishedAt], ['2020-01-01T00:00:00.000Z', first])
  })

  t.test('a schedule withdrawn before its time leaves no first publication', async (t) => {
    const act = async (id: string, transition: string, body?: unknown) =>
      expectStatus(await call(h.app, 'POST', `/v1/articles/${id}/${transition}`, { token: h.editor.token, body }), 200)
    const never = (await makeArticle(h, { headline: 'Never first' })).id
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${never}`, { token: h.editor.token }), 200).firstPublishedAt, null, 'a draft has none')

    // Scheduled, then pulled before its time: publishing again without a time publishes now.
    const when = at(now, 30).toISOString()
    const scheduled = await published(h, { headline: 'Pulled schedule' }, when)
    t.equal(scheduled.status, 'scheduled')
    t.equal(scheduled.firstPublishedAt, when, 'a first schedule says when it will go out')
    const moved = await act(scheduled.id, 'publish', { publishedAt: at(now, 20).toISOString() })
    t.equal(moved.firstPublishedAt, at(now, 20).toISOString(), 'and follows the schedule while it has not gone out')
    t.equal((await act(scheduled.id, 'unpublish')).firstPublishedAt, null, 'withdrawn before its time: cleared')
    now = at(now, 45)
    const out = await act(scheduled.id, 'publish')
    t.equal(out.status, 'published')
    t.equal(out.publishedAt, now.toISOString(), 'the withdrawn time is not brought back: it publishes now')
    t.equal(out.firstPublishedAt, now.toISOString())

    // Archived before its time: the same.
    const archivedEarly = await published(h, { headline: 'Archived schedule' }, at(now, 30).toISOString())
    t.equal((await act(archivedEarly.id, 'archive')).firstPublishedAt, null)
    now = at(now, 45)
    t.equal((await act(archivedEarly.id, 'publish')).publishedAt, now.toISOString())

    // Scheduled and gone out by itself, then pulled: it had been public, so it returns at that time.
    const ranAt = at(now, 10).toISOString()
    const ran = await published(h, { headline: 'Ran on schedule' }, ranAt)
    now = at(now, 15)
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${ran.id}`), 200).firstPublishedAt, ranAt)
    t.equal((await act(ran.id, 'unpublish')).firstPublishedAt, ranAt, 'kept: it did go out')
    now = at(now, 60)
    const again = await act(ran.id, 'publish')
    t.strictSame([again.status, again.publishedAt, again.firstPublishedAt], ['published', ranAt, ranAt])

    // A schedule given again to an article that has been public keeps its first publication.
    const later = at(now, 120).toISOString()
    const rescheduled = await act(ran.id, 'publish', { publishedAt: later })
    t.strictSame([rescheduled.status, rescheduled.publishedAt, rescheduled.firstPublishedAt], ['scheduled', later, ranAt])
    t.equal((await act(ran.id, 'publish')).publishedAt, later, 'a scheduled article published again without a time keeps its schedule')
  })

  t.test('only editors and admins change status', async (t) => {
    const a = await makeArticle(h, { headline: 'Author wants to publish' }, h.author.token)
    const before = await rowOf(a.id)
    for (const transition of ['publish', 'unpublish', 'archive']) {
      const res = await call(h.app, 'POST', `/v1/articles/${a.id}/${transition}`, { token: h.author.token })
      t.match(expectStatus(res, 403), { code: 'FORBIDDEN' }, `author may not ${transition}`)
      t.equal(expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/${transition}`), 401).code, 'UNAUTHORIZED', `anonymous may not ${transition}`)
    }
    t.strictSame(await rowOf(a.id), before, 'nothing changed')
    t.equal(expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/publish`, { token: h.admin.token }), 200).status, 'published', 'an admin may')
  })
})

t.test('articles: author permissions', async (t) => {
  const h: Harness = await build(t)
  const db = h.database.db
  const rowOf = async (id: string) => (await db.select().from(articles).where(eq(articles.id, id)))[0]
  const patch = (id: string, token: string, body: unknown = { headline: 'Changed' }) => call(h.app, 'PATCH', `/v1/articles/${id}`, { token, body })

  t.test('an author edits and deletes their own drafts', async (t) => {
    const mine = await makeArticle(h, { headline: 'Mine' }, h.author.token)
    t.equal(expectStatus(await patch(mine.id, h.author.token), 200).headline, 'Changed')
    expectStatus(await call(h.app, 'DELETE', `/v1/articles/${mine.id}`, { token: h.author.token }), 204)
    t.equal(await rowOf(mine.id), undefined)

    // On the byline of a draft an editor made: theirs too.
    const bylined = await makeArticle(h, { headline: 'Desk draft', authorIds: [h.author.authorId] })
    t.equal(expectStatus(await patch(bylined.id, h.author.token), 200).headline, 'Changed')
  })

  t.test('an author may not touch another author\'s draft', async (t) => {
    const theirs = await makeArticle(h, { headline: 'Theirs' }, h.otherAuthor.token)
    const before = await rowCounts(h)
    const res = await patch(theirs.id, h.author.token)
    t.match(expectStatus(res, 403), { code: 'FORBIDDEN', detail: /own articles/ })
    expectStatus(await call(h.app, 'DELETE', `/v1/articles/${theirs.id}`, { token: h.author.token }), 403)
    const row = await rowOf(theirs.id)
    t.equal(row.headline, 'Theirs')
    t.equal(row.version, 1)
    t.strictSame(await rowCounts(h), before)
  })

  t.test('an author may not change their own article once published or scheduled', async (t) => {
    const mine = await makeArticle(h, { headline: 'Mine, published' }, h.author.token)
    await publish(h, mine.id)
    const res = await patch(mine.id, h.author.token)
    t.match(expectStatus(res, 403), { code: 'FORBIDDEN', detail: /drafts/ })
    expectStatus(await call(h.app, 'DELETE', `/v1/articles/${mine.id}`, { token: h.author.token }), 403)
    t.equal((await rowOf(mine.id)).headline, 'Mine, published')

    const scheduled = await makeArticle(h, { headline: 'Mine, scheduled' }, h.author.token)
    await publish(h, scheduled.id, '2099-01-01T00:00:00.000Z')
    expectStatus(await patch(scheduled.id, h.author.token), 403)
  })

  t.test('an editor edits anything', async (t) => {
    const theirs = await makeArticle(h, { headline: 'Author draft' }, h.otherAuthor.token)
    t.equal(expectStatus(await patch(theirs.id, h.editor.token), 200).headline, 'Changed')
    const live = await makeArticle(h, { headline: 'Author live' }, h.author.token)
    await publish(h, live.id)
    t.equal(expectStatus(await patch(live.id, h.editor.token, { headline: 'Editor fixed it' }), 200).headline, 'Editor fixed it')
    t.equal(expectStatus(await patch(live.id, h.admin.token, { headline: 'Admin fixed it' }), 200).headline, 'Admin fixed it')
    expectStatus(await call(h.app, 'DELETE', `/v1/articles/${theirs.id}`, { token: h.editor.token }), 204)
  })
})
