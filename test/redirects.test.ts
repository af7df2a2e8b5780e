// Old URLs keep working: a slug an article had while public, and any earlier slug of an author,
// section or tag, answers 301 to the current one, stays reserved for its entity until an editor
// releases it, and is listed at /v1/redirects.
import t, { type Test } from 'tap'
import { and, eq, sql } from 'drizzle-orm'
import { build, call, type Harness } from './helper.js'
import { ISO, PUBLIC_CACHE, UUID, problem, walk } from './assertions.js'
import { slugRedirects } from '../src/db/schema.js'
import { entityTag, REDIRECTS } from '../src/lib/cache-tags.js'

type Json = Record<string, any>

async function ok (t: Test, h: Harness, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, token = h.editor.token): Promise<Json> {
  const res = await call(h.app, method, url, { token, body })
  t.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.statusCode === 204 ? {} : res.json()
}

const redirectsOf = (h: Harness, targetId: string) =>
  h.database.db.select().from(slugRedirects).where(eq(slugRedirects.targetId, targetId)).orderBy(slugRedirects.slug)

const changesOf = async (h: Harness, event: string) => {
  const { rows } = await h.database.db.execute(sql`select entity, entity_id as "entityId", event, tags, data from changes where event = ${event} order by seq`) as unknown as { rows: Json[] }
  return rows
}

t.test('articles', async (t) => {
  const h = await build(t, { env: { PUBLIC_CACHE: 'true' } })
  const published = async (headline: string, slug?: string) => {
    const a = await ok(t, h, 'POST', '/v1/articles', { headline, ...(slug && { slug }), body: [{ type: 'paragraph', text: 'Words.' }] })
    await ok(t, h, 'POST', `/v1/articles/${a.id}/publish`)
    return a
  }
  const article = await published('Floods recede in Sindh')
  t.equal(article.slug, 'floods-recede-in-sindh')

  await t.test('a published article renamed: its old slug answers 301 to the new one', async (t) => {
    await ok(t, h, 'PATCH', `/v1/articles/${article.id}`, { slug: 'flood-waters-recede' })
    const rows = await redirectsOf(h, article.id)
    t.match(rows, [{ entity: 'article', slug: 'floods-recede-in-sindh', targetId: article.id }], 'the old slug is kept, pointing at the id')

    const res = await call(h.app, 'GET', '/v1/articles/by-slug/floods-recede-in-sindh')
    t.equal(res.statusCode, 301, res.body)
    t.equal(res.headers.location, '/v1/articles/by-slug/flood-waters-recede')
    t.strictSame(res.json(), { id: article.id, slug: 'flood-waters-recede' })
    t.equal(res.headers['cache-control'], PUBLIC_CACHE, 'cacheable as a public read')
    t.match(res.headers.etag, /^"[\w-]+"$/, 'an ETag')
    t.match(res.headers.vary, /Authorization/)
    t.ok(String(res.headers['surrogate-key']).split(' ').includes(entityTag('article', article.id)), 'tagged with the article for outside caches')
    t.ok(String(res.headers['cache-tag']).split(',').includes(entityTag('article', article.id)), 'and in Cache-Tag')

    const withQuery = await call(h.app, 'GET', '/v1/articles/by-slug/floods-recede-in-sindh?fields=headline')
    t.equal(withQuery.statusCode, 301)
    t.equal(withQuery.headers.location, '/v1/articles/by-slug/flood-waters-recede?fields=headline', 'the query goes along')

    const now = await call(h.app, 'GET', res.headers.location as string)
    t.equal(now.statusCode, 200)
    t.equal(now.json().id, article.id)

    const staff = await call(h.app, 'GET', '/v1/articles/by-slug/floods-recede-in-sindh', { token: h.editor.token })
    t.equal(staff.statusCode, 301)
    t.equal(staff.headers['cache-control'], 'private, no-store', 'a staff answer is not stored')

    const [created] = await changesOf(h, 'redirect.created')
    t.match(created, { entity: 'redirect', entityId: rows[0].id, data: { entity: 'article', slug: 'floods-recede-in-sindh', targetId: article.id } })
    t.ok(created.tags.includes(REDIRECTS) && created.tags.includes(entityTag('article', article.id)), 'the change evicts the list and the article\'s answers')
  })

  await t.test('renamed again: every old slug leads to the newest in one hop, and the cached 301 is evicted', async (t) => {
    for (let i = 0; i < 2; i++) t.equal((await call(h.app, 'GET', '/v1/articles/by-slug/floods-recede-in-sindh')).headers.location, '/v1/articles/by-slug/flood-waters-recede')
    await ok(t, h, 'PATCH', `/v1/articles/${article.id}`, { slug: 'sindh-floods-recede' })
    for (const old of ['floods-recede-in-sindh', 'flood-waters-recede']) {
      const res = await call(h.app, 'GET', `/v1/articles/by-slug/${old}`)
      t.equal(res.statusCode, 301, old)
      t.equal(res.headers.location, '/v1/articles/by-slug/sindh-floods-recede', `${old} leads to the newest slug`)
      t.strictSame(res.json(), { id: article.id, slug: 'sindh-floods-recede' })
    }
    t.strictSame((await redirectsOf(h, article.id)).map((r) => [r.slug, r.targetId]), [['flood-waters-recede', article.id], ['floods-recede-in-sindh', article.id]], 'no chain: both rows point at the id')
    const { rows } = await h.database.db.execute(sql`select tags from changes where event = 'article.updated' order by seq desc limit 1`) as unknown as { rows: Array<{ tags: string[] }> }
    t.ok(rows[0].tags.includes(entityTag('article', article.id)), 'the rename evicts what was tagged with the article, its 301s included')
  })

  await t.test('taking back an old slug drops its redirect', async (t) => {
    await ok(t, h, 'PATCH', `/v1/articles/${article.id}`, { slug: 'floods-recede-in-sindh' })
    t.strictSame((await redirectsOf(h, article.id)).map((r) => r.slug), ['flood-waters-recede', 'sindh-floods-recede'])
    const res = await call(h.app, 'GET', '/v1/articles/by-slug/floods-recede-in-sindh')
    t.equal(res.statusCode, 200)
    t.equal((await call(h.app, 'GET', '/v1/articles/by-slug/sindh-floods-recede')).headers.location, '/v1/articles/by-slug/floods-recede-in-sindh')
    t.equal((await changesOf(h, 'redirect.deleted')).length, 1, 'the dropped redirect is a recorded change')
  })

  await t.test('an old slug is reserved: 409 for another article, on create and on update', async (t) => {
    const [reserved] = await h.database.db.select().from(slugRedirects).where(and(eq(slugRedirects.entity, 'article'), eq(slugRedirects.slug, 'flood-waters-recede')))
    const before = await h.database.db.select().from(slugRedirects)
    const created = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Another story', slug: 'flood-waters-recede' } })
    const body = problem(t, created, 409, 'SLUG_TAKEN')
    t.match(body.detail, `reserved as a redirect to another article (redirect ${reserved.id})`)
    t.match(body.errors, [{ path: '/slug', in: 'body', message: /reserved as a redirect/ }])
    t.match(body.errors[0].message, reserved.id, 'names the redirect')
    // A create with links (a byline) is written in a transaction of its own: the same rule.
    const withByline = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Another story', slug: 'flood-waters-recede', authorIds: [h.author.authorId] } })
    problem(t, withByline, 409, 'SLUG_TAKEN')

    const other = await published('Another story')
    const patched = await call(h.app, 'PATCH', `/v1/articles/${other.id}`, { token: h.editor.token, body: { slug: 'flood-waters-recede' } })
    problem(t, patched, 409, 'SLUG_TAKEN')
    t.equal((await ok(t, h, 'GET', `/v1/articles/${other.id}`)).slug, 'another-story', 'nothing changed')
    t.strictSame(await h.database.db.select().from(slugRedirects), before, 'no redirect written')
  })

  await t.test('a generated slug skips reserved ones', async (t) => {
    const a = await ok(t, h, 'POST', '/v1/articles', { headline: 'Flood waters recede' })
    t.equal(a.slug, 'flood-waters-recede-2', 'the headline\'s slug is reserved: the next free one')
    const linked = await ok(t, h, 'POST', '/v1/articles', { headline: 'Sindh floods recede', authorIds: [h.author.authorId] })
    t.equal(linked.slug, 'sindh-floods-recede-2', 'also for a create with links')
  })

  await t.test('an editor releases an old slug; then another article may take it', async (t) => {
    const [row] = await h.database.db.select().from(slugRedirects).where(eq(slugRedirects.slug, 'sindh-floods-recede'))
    problem(t, await call(h.app, 'DELETE', `/v1/redirects/${row.id}`, { token: h.author.token }), 403, 'FORBIDDEN')
    problem(t, await call(h.app, 'DELETE', `/v1/redirects/${row.id}`), 401, 'UNAUTHORIZED')
    const res = await call(h.app, 'DELETE', `/v1/redirects/${row.id}`, { token: h.editor.token })
    t.equal(res.statusCode, 204)
    problem(t, await call(h.app, 'DELETE', `/v1/redirects/${row.id}`, { token: h.editor.token }), 404, 'NOT_FOUND')
    problem(t, await call(h.app, 'GET', '/v1/articles/by-slug/sindh-floods-recede'), 404, 'NOT_FOUND')
    const deleted = (await changesOf(h, 'redirect.deleted')).find((c) => c.entityId === row.id)
    t.ok(deleted?.tags.includes(entityTag('article', article.id)), 'the release evicts the 301')
    const taker = await ok(t, h, 'POST', '/v1/articles', { headline: 'Something else', slug: 'sindh-floods-recede' })
    t.equal(taker.slug, 'sindh-floods-recede')
  })

  await t.test('a slug it had while public is kept when the article is renamed while down', async (t) => {
    const story = await published('Budget vote delayed')
    await ok(t, h, 'POST', `/v1/articles/${story.id}/unpublish`)
    await ok(t, h, 'PATCH', `/v1/articles/${story.id}`, { slug: 'budget-vote-delayed-again' })
    await ok(t, h, 'POST', `/v1/articles/${story.id}/publish`)
    const res = await call(h.app, 'GET', '/v1/articles/by-slug/budget-vote-delayed')
    t.equal(res.statusCode, 301, 'the slug readers knew leads to the article again')
    t.match(res.headers.location, /\/v1\/articles\/by-slug\/budget-vote-delayed-again$/)
  })

  await t.test('a draft renamed leaves no redirect', async (t) => {
    const draft = await ok(t, h, 'POST', '/v1/articles', { headline: 'Draft story' })
    await ok(t, h, 'PATCH', `/v1/articles/${draft.id}`, { slug: 'draft-story-renamed' })
    t.strictSame(await redirectsOf(h, draft.id), [])
    problem(t, await call(h.app, 'GET', '/v1/articles/by-slug/draft-story', { token: h.editor.token }), 404, 'NOT_FOUND')
    // A schedule still to come is not public either.
    await ok(t, h, 'POST', `/v1/articles/${draft.id}/publish`, { publishedAt: new Date(Date.now() + 86_400_000).toISOString() })
    await ok(t, h, 'PATCH', `/v1/articles/${draft.id}`, { slug: 'draft-story-scheduled' })
    t.strictSame(await redirectsOf(h, draft.id), [], 'nor does a scheduled article before its time')
  })

  await t.test('an old slug of an article readers may not see is a 404 to them', async (t) => {
    const a = await published('Budget talks stall')
    await ok(t, h, 'PATCH', `/v1/articles/${a.id}`, { slug: 'budget-talks-collapse' })
    t.equal((await call(h.app, 'GET', '/v1/articles/by-slug/budget-talks-stall')).statusCode, 301)
    await ok(t, h, 'POST', `/v1/articles/${a.id}/unpublish`)
    const res = await call(h.app, 'GET', '/v1/articles/by-slug/budget-talks-stall')
    const body = problem(t, res, 404, 'NOT_FOUND')
    t.notMatch(res.body, /budget-talks-collapse/, 'the current slug is not revealed')
    t.notMatch(res.body, a.id)
    t.notMatch(String(res.headers['cache-control']), /public/)
    t.equal(body.detail, 'Article not found.')
    const staff = await call(h.app, 'GET', '/v1/articles/by-slug/budget-talks-stall', { token: h.author.token })
    t.equal(staff.statusCode, 301, 'staff are still led to the draft')
    const anonymous = await walk(t, h, '/v1/redirects', { limit: '100' })
    t.notOk(anonymous.some((r) => r.targetId === a.id), 'the public list leaves it out')
    const staffList = await walk(t, h, '/v1/redirects', { limit: '100' }, h.editor.token)
    t.ok(staffList.some((r) => r.targetId === a.id && r.from === 'budget-talks-stall'), 'staff see it')
  })

  await t.test('deleting an article deletes its redirects', async (t) => {
    const a = await published('Short-lived story')
    await ok(t, h, 'PATCH', `/v1/articles/${a.id}`, { slug: 'short-lived-story-renamed' })
    t.equal((await redirectsOf(h, a.id)).length, 1)
    await ok(t, h, 'DELETE', `/v1/articles/${a.id}`)
    t.strictSame(await redirectsOf(h, a.id), [])
    problem(t, await call(h.app, 'GET', '/v1/articles/by-slug/short-lived-story'), 404, 'NOT_FOUND')
    t.ok((await changesOf(h, 'redirect.deleted')).some((c) => c.data.targetId === a.id), 'recorded')
    t.ok((await ok(t, h, 'POST', '/v1/articles', { headline: 'Taken again', slug: 'short-lived-story' })).id, 'the slug is free again')
  })
})

t.test('authors, sections and tags', async (t) => {
  const h = await build(t)
  const kinds = [
    { path: '/v1/authors', entity: 'author' as const },
    { path: '/v1/sections', entity: 'section' as const },
    { path: '/v1/tags', entity: 'tag' as const }
  ]
  for (const { path, entity } of kinds) {
    await t.test(path, async (t) => {
      const row = await ok(t, h, 'POST', path, { name: 'Karachi Desk' })
      t.equal(row.slug, 'karachi-desk')
      await ok(t, h, 'PATCH', `${path}/${row.id}`, { slug: 'karachi' })
      const res = await call(h.app, 'GET', `${path}/by-slug/karachi-desk`)
      t.equal(res.statusCode, 301, res.body)
      t.equal(res.headers.location, `${path}/by-slug/karachi`)
      t.strictSame(res.json(), { id: row.id, slug: 'karachi' })
      t.equal(res.headers['cache-control'], PUBLIC_CACHE)
      t.ok(res.headers.etag)
      t.ok(String(res.headers['surrogate-key']).split(' ').includes(entityTag(entity, row.id)))
      t.equal((await call(h.app, 'GET', `${path}/by-slug/karachi`)).statusCode, 200)

      // Reserved for it: a 409 for another, a generated slug goes around it.
      problem(t, await call(h.app, 'POST', path, { token: h.editor.token, body: { name: 'Other', slug: 'karachi-desk' } }), 409, 'SLUG_TAKEN')
      const other = await ok(t, h, 'POST', path, { name: 'Karachi Desk' })
      t.equal(other.slug, 'karachi-desk-2', 'a generated slug skips the reserved one')
      problem(t, await call(h.app, 'PATCH', `${path}/${other.id}`, { token: h.editor.token, body: { slug: 'karachi-desk' } }), 409, 'SLUG_TAKEN')

      // Renamed twice: one hop to the newest.
      await ok(t, h, 'PATCH', `${path}/${row.id}`, { slug: 'karachi-bureau' })
      for (const old of ['karachi-desk', 'karachi']) t.equal((await call(h.app, 'GET', `${path}/by-slug/${old}`)).headers.location, `${path}/by-slug/karachi-bureau`, old)
      const changes = await changesOf(h, `${entity}.updated`)
      t.ok(changes.at(-1)!.tags.includes(entityTag(entity, row.id)), 'the rename evicts the 301s tagged with it')

      // A slug that never was is a plain 404.
      problem(t, await call(h.app, 'GET', `${path}/by-slug/never-was`), 404, 'NOT_FOUND')

      // Deleted: its redirects go too.
      await ok(t, h, 'DELETE', `${path}/${row.id}`)
      t.strictSame(await redirectsOf(h, row.id), [])
      problem(t, await call(h.app, 'GET', `${path}/by-slug/karachi-desk`), 404, 'NOT_FOUND')
      await ok(t, h, 'DELETE', `${path}/${other.id}`)
    })
  }
})

t.test('GET /v1/redirects: paged, filtered, with absolute locations under PUBLIC_URL', async (t) => {
  const h = await build(t, { env: { PUBLIC_URL: 'https://news.example.com' } })
  const section = await ok(t, h, 'POST', '/v1/sections', { name: 'Sport' })
  await ok(t, h, 'PATCH', `/v1/sections/${section.id}`, { slug: 'sports' })
  await ok(t, h, 'PATCH', `/v1/sections/${section.id}`, { slug: 'sport-news' })
  const tag = await ok(t, h, 'POST', '/v1/tags', { name: 'Cricket' })
  await ok(t, h, 'PATCH', `/v1/tags/${tag.id}`, { slug: 'cricket-news' })
  const article = await ok(t, h, 'POST', '/v1/articles', { headline: 'Test match drawn' })
  await ok(t, h, 'POST', `/v1/articles/${article.id}/publish`)
  await ok(t, h, 'PATCH', `/v1/articles/${article.id}`, { slug: 'test-match-ends-in-draw' })

  const first = await call(h.app, 'GET', '/v1/redirects?limit=2')
  t.equal(first.statusCode, 200, first.body)
  t.equal(first.headers['cache-control'], PUBLIC_CACHE)
  t.ok(first.headers.etag)
  t.ok(String(first.headers['surrogate-key']).split(' ').includes(REDIRECTS), 'tagged with the redirects list')
  const page = first.json()
  t.equal(page.data.length, 2)
  t.type(page.meta.nextCursor, 'string')
  t.strictSame(page.data[0], {
    id: page.data[0].id,
    entity: 'article',
    from: 'test-match-drawn',
    to: 'test-match-ends-in-draw',
    targetId: article.id,
    location: 'https://news.example.com/v1/articles/by-slug/test-match-ends-in-draw',
    createdAt: page.data[0].createdAt
  }, 'newest first')
  t.match(page.data[0].id, UUID)
  t.match(page.data[0].createdAt, ISO)

  const all = await walk(t, h, '/v1/redirects', { limit: '2' })
  t.strictSame(all.map((r) => [r.entity, r.from, r.to]).sort(), [
    ['article', 'test-match-drawn', 'test-match-ends-in-draw'],
    ['section', 'sport', 'sport-news'],
    ['section', 'sports', 'sport-news'],
    ['tag', 'cricket', 'cricket-news']
  ], 'every redirect once, across pages')
  t.equal(new Set(all.map((r) => r.id)).size, 4)

  const sections = await walk(t, h, '/v1/redirects', { limit: '1', entity: 'section' })
  t.strictSame(sections.map((r) => r.from).sort(), ['sport', 'sports'], 'entity= filters')
  t.ok(sections.every((r) => r.location === 'https://news.example.com/v1/sections/by-slug/sport-news'))
  const counted = await call(h.app, 'GET', '/v1/redirects?entity=section&total=true')
  t.equal(counted.json().meta.total, 2, 'total=true counts')

  t.match(problem(t, await call(h.app, 'GET', '/v1/redirects?entity=photo'), 400, 'VALIDATION_FAILED').errors, [{ path: '/entity', in: 'query', message: 'must be one of: article, author, section, tag' }])
  problem(t, await call(h.app, 'GET', '/v1/redirects?limit=101'), 400, 'VALIDATION_FAILED')

  const moved = await call(h.app, 'GET', '/v1/sections/by-slug/sports')
  t.equal(moved.headers.location, 'https://news.example.com/v1/sections/by-slug/sport-news', 'Location is absolute under PUBLIC_URL')
})
