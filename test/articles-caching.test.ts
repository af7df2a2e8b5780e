// ETags, conditional requests and Cache-Control on articles; and revisions.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { articleRevisions, articles } from '../src/db/schema.js'
import { build, call } from './helper.js'
import { MISSING, expectStatus, makeArticle, makeTag, publish, published, rowCounts } from './articles-fixtures.js'

const PUBLIC = 'public, max-age=60, stale-while-revalidate=600'

// Process warnings raised while this file runs (checked by the last test).
const warnings: Error[] = []
process.on('warning', (w) => warnings.push(w))

t.test('articles: ETags, conditional requests and Cache-Control', async (t) => {
  const h = await build(t)
  const db = h.database.db
  const rowOf = async (id: string) => (await db.select().from(articles).where(eq(articles.id, id)))[0]

  t.test('GET has an ETag; If-None-Match gets a 304 with no body', async (t) => {
    const a = await published(h, { headline: 'Cached story', body: [{ type: 'paragraph', text: 'Cache me.' }] })
    for (const url of [`/v1/articles/${a.id}`, `/v1/articles/by-slug/${a.slug}`, '/v1/articles', `/v1/articles/${a.id}?fields=headline`]) {
      const first = await call(h.app, 'GET', url)
      expectStatus(first, 200)
      const etag = first.headers.etag as string
      t.match(etag, /^"[\w-]+"$/, `${url} has a strong ETag`)
      const again = await call(h.app, 'GET', url)
      t.equal(again.headers.etag, etag, `${url}: the same representation, the same ETag`)
      const cond = await call(h.app, 'GET', url, { headers: { 'if-none-match': etag } })
      t.equal(cond.statusCode, 304, `${url}: 304`)
      t.equal(cond.body, '', `${url}: no body`)
      t.equal(cond.headers.etag, etag)
      t.equal(cond.headers['cache-control'], PUBLIC)
      t.notOk(cond.headers['content-length'] && cond.headers['content-length'] !== '0')
      const weak = await call(h.app, 'GET', url, { headers: { 'if-none-match': `"nope", W/${etag}` } })
      t.equal(weak.statusCode, 304, `${url}: If-None-Match uses weak comparison and lists`)
      const other = await call(h.app, 'GET', url, { headers: { 'if-none-match': '"1-somethingelse"' } })
      t.equal(other.statusCode, 200, `${url}: a different ETag gets the body`)
      t.equal(other.body, first.body)
    }
    const one = await call(h.app, 'GET', `/v1/articles/${a.id}`)
    t.match(one.headers.etag, /^"2-/, 'an article\'s ETag starts with its version')
  })

  t.test('the ETag changes after a PATCH, and when what the page shows changes', async (t) => {
    const target = await published(h, { headline: 'Target before' })
    const a = await published(h, { headline: 'Changing story', body: [{ type: 'related', articleId: target.id }] })
    const before = await call(h.app, 'GET', `/v1/articles/${a.id}`)
    const etag = before.headers.etag as string
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { headline: 'Changed story' } }), 200)
    const after = await call(h.app, 'GET', `/v1/articles/${a.id}`, { headers: { 'if-none-match': etag } })
    t.equal(after.statusCode, 200, 'the old ETag no longer matches')
    t.not(after.headers.etag, etag)
    t.equal(after.json().headline, 'Changed story')

    // The related article's headline is part of this page's bodyHtml.
    const etag2 = after.headers.etag as string
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${target.id}`, { token: h.editor.token, body: { headline: 'Target after' } }), 200)
    const shown = await call(h.app, 'GET', `/v1/articles/${a.id}`, { headers: { 'if-none-match': etag2 } })
    t.equal(shown.statusCode, 200)
    t.match(shown.json().bodyHtml, 'Target after')
  })

  t.test('PATCH with a stale If-Match is 412 and changes nothing; the current ETag works', async (t) => {
    const a = await makeArticle(h, { headline: 'Concurrent edits' })
    const read = await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token })
    const etag = read.headers.etag as string
    t.match(etag, /^"1-/)
    const first = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': etag }, body: { headline: 'First writer wins' } })
    t.equal(expectStatus(first, 200).headline, 'First writer wins')
    t.match(first.headers.etag, /^"2-/)

    const counts = await rowCounts(h)
    const stale = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': etag }, body: { headline: 'Second writer loses', tagIds: [] } })
    t.match(expectStatus(stale, 412), { status: 412, code: 'PRECONDITION_FAILED' })
    t.match(stale.headers['content-type'], /^application\/problem\+json/)
    const row = await rowOf(a.id)
    t.equal(row.headline, 'First writer wins')
    t.equal(row.version, 2)
    t.strictSame(await rowCounts(h), counts, 'no revision, no links written')

    for (const bad of ['"2-"', 'W/' + first.headers.etag, '"garbage"', '"1-abc", "3-abc"']) {
      const res = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': bad }, body: { headline: 'Nope' } })
      t.equal(res.statusCode, 412, `If-Match ${bad}`)
    }
    const current = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': `"1-x", ${first.headers.etag}` }, body: { headline: 'Third writer read first' } })
    t.equal(expectStatus(current, 200).headline, 'Third writer read first', 'any listed ETag that matches will do')
    const star = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': '*' }, body: { headline: 'Star' } })
    expectStatus(star, 200)
    t.equal((await rowOf(a.id)).version, 4)
  })

  t.test('two writers with the same ETag at once: exactly one wins', async (t) => {
    const a = await makeArticle(h, { headline: 'Race' })
    const etag = (await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token })).headers.etag as string
    const results = await Promise.all(['Writer A', 'Writer B', 'Writer C'].map((headline) =>
      call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': etag }, body: { headline } })))
    t.strictSame(results.map((r) => r.statusCode).sort(), [200, 412, 412])
    const winner = results.find((r) => r.statusCode === 200)!.json().headline
    const row = await rowOf(a.id)
    t.equal(row.headline, winner)
    t.equal(row.version, 2)
    t.equal((await rowCounts(h)).revisions >= 1, true)
  })

  t.test('If-Match compares whole strong tags: a made-up tag with the right version matches nothing', async (t) => {
    const a = await makeArticle(h, { headline: 'Whole tags', body: [{ type: 'paragraph', text: 'Long enough to be compressed. '.repeat(60) }] })
    const b = await makeArticle(h, { headline: 'Another at version 1' })
    const read = await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token })
    const etag = read.headers.etag as string
    const m = /^"(1)-([A-Za-z0-9_-]+)"$/.exec(etag)
    t.ok(m, `a strong version tag: ${etag}`)
    const flipped = (c: string) => (c === 'A' ? 'B' : 'A')
    const other = (await call(h.app, 'GET', `/v1/articles/${b.id}`, { token: h.editor.token })).headers.etag as string
    t.match(other, /^"1-/, 'the other article is at version 1 too')
    const bad = [
      '"1-anything"', '"1-"', '"1"', 'W/' + etag, etag.slice(1, -1), `"${etag}"`,
      etag.slice(0, -2) + flipped(etag.at(-2)!) + '"', // the check altered
      etag.replace(/^"1-(.)/, (_, c: string) => `"1-${flipped(c)}`), // the body hash altered
      etag.replace('"1-', '"2-'),
      other // a real tag, of another resource at the same version
    ]
    for (const tag of bad) {
      const res = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': tag }, body: { headline: 'Must not land' } })
      t.equal(res.statusCode, 412, `If-Match ${tag}: 412`)
      t.equal(res.json().code, 'PRECONDITION_FAILED')
    }
    t.equal((await rowOf(a.id)).version, 1, 'nothing was written')
    t.equal((await rowOf(a.id)).headline, 'Whole tags')
    // Every tag the server gave the article at its current version matches: other fields,
    // includes, or compressed; the version's own tag in a list with made-up ones too.
    const sparse = (await call(h.app, 'GET', `/v1/articles/${a.id}?fields=headline`, { token: h.editor.token })).headers.etag as string
    t.not(sparse, etag, 'another representation has another tag')
    const gz = await call(h.app, 'GET', `/v1/articles/${a.id}?include=tags`, { token: h.editor.token, headers: { 'accept-encoding': 'gzip' } })
    const ok1 = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': `"1-anything", ${sparse}` }, body: { headline: 'Second' } })
    t.equal(expectStatus(ok1, 200).headline, 'Second', 'the tag of a sparse read matches')
    t.equal(gz.statusCode, 200)
    const stale = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': gz.headers.etag as string }, body: { headline: 'Stale' } })
    t.equal(stale.statusCode, 412, 'a tag of the previous version no longer matches')
    const gz2 = await call(h.app, 'GET', `/v1/articles/${a.id}?include=tags`, { token: h.editor.token, headers: { 'accept-encoding': 'gzip' } })
    t.equal(gz2.headers['content-encoding'], 'gzip')
    const ok2 = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': gz2.headers.etag as string }, body: { headline: 'Third' } })
    t.equal(expectStatus(ok2, 200).headline, 'Third', 'the tag of a compressed read with includes matches')
    const ok3 = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': ok2.headers.etag as string }, body: { headline: 'Fourth' } })
    t.equal(expectStatus(ok3, 200).headline, 'Fourth', 'the tag a write answered with matches')
  })

  t.test('DELETE and status changes honour If-Match too', async (t) => {
    const a = await makeArticle(h, { headline: 'Delete conditionally' })
    const etag = (await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token })).headers.etag as string
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { standfirst: 'Someone else edited' } }), 200)
    const stale = await call(h.app, 'DELETE', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': etag } })
    t.match(expectStatus(stale, 412), { code: 'PRECONDITION_FAILED' })
    t.ok(await rowOf(a.id), 'still there')
    const stalePublish = await call(h.app, 'POST', `/v1/articles/${a.id}/publish`, { token: h.editor.token, headers: { 'if-match': etag } })
    expectStatus(stalePublish, 412)
    t.equal((await rowOf(a.id)).status, 'draft')

    const fresh = (await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token })).headers.etag as string
    expectStatus(await call(h.app, 'DELETE', `/v1/articles/${a.id}`, { token: h.editor.token, headers: { 'if-match': fresh } }), 204)
    t.equal(await rowOf(a.id), undefined)
  })

  t.test('Cache-Control: public for anonymous reads, private for staff and writes', async (t) => {
    const a = await published(h, { headline: 'Cache control' })
    for (const url of [`/v1/articles/${a.id}`, `/v1/articles/by-slug/${a.slug}`, '/v1/articles', '/v1/articles?fields=headline&include=tags']) {
      const anon = await call(h.app, 'GET', url)
      expectStatus(anon, 200)
      t.equal(anon.headers['cache-control'], PUBLIC, `${url} anonymous`)
      t.match(anon.headers.vary, /Authorization/i)
      const staff = await call(h.app, 'GET', url, { token: h.author.token })
      expectStatus(staff, 200)
      t.equal(staff.headers['cache-control'], 'private, no-store', `${url} with a token`)
      t.match(staff.headers.vary, /Authorization/i)
    }
    const created = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Fresh' } })
    t.equal(created.headers['cache-control'], 'private, no-store')
    const patched = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { headline: 'Cache control 2' } })
    t.equal(patched.headers['cache-control'], 'private, no-store')
    t.equal((await call(h.app, 'GET', `/v1/articles/${MISSING}`)).headers['cache-control'], 'no-store', 'a 404 is not cached')
  })

  t.test('the public Cache-Control is configurable', async (t) => {
    const h2 = await build(t, { env: { PUBLIC_CACHE_CONTROL: 'public, max-age=5' }, database: h.database })
    const a = await published(h2, { headline: 'Configured cache' })
    t.equal((await call(h2.app, 'GET', `/v1/articles/${a.id}`)).headers['cache-control'], 'public, max-age=5')
  })
})

t.test('articles: revisions', async (t) => {
  let now = new Date('2034-02-01T10:00:00.000Z')
  const tick = () => { now = new Date(now.getTime() + 60_000); return now }
  const h = await build(t, { now: () => now })
  const db = h.database.db
  const revisionsOf = async (id: string, token = h.editor.token, query: Record<string, string> = {}) =>
    expectStatus(await call(h.app, 'GET', `/v1/articles/${id}/revisions`, { token, query }), 200)

  const tag = await makeTag(h, 'Revision tag')
  const related = await published(h, { headline: 'Revision related' })
  const original = {
    headline: 'Original headline',
    standfirst: 'Original standfirst',
    dateline: 'QUETTA',
    body: [{ type: 'paragraph', text: 'Original <em>body</em>.' }],
    authorIds: [h.author.authorId],
    tagIds: [tag.id],
    relatedArticleIds: [related.id],
    seo: { title: 'SEO', description: 'Desc' }
  }

  t.test('PATCH keeps the previous state as a revision', async (t) => {
    tick()
    const a = await makeArticle(h, original, h.author.token)
    t.strictSame((await revisionsOf(a.id)).data, [], 'a new article has no revisions')
    const editedAt = tick()
    const res = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.author.token, body: { headline: 'Edited headline', body: [{ type: 'paragraph', text: 'Edited body.' }], tagIds: [] } })
    expectStatus(res, 200)
    const list = await revisionsOf(a.id)
    t.strictSame(list.meta, { limit: 20, nextCursor: null })
    t.equal(list.data.length, 1)
    const [rev] = list.data
    t.strictSame(rev, {
      id: rev.id,
      articleId: a.id,
      articleVersion: 1,
      snapshot: {
        headline: 'Original headline',
        slug: 'original-headline',
        standfirst: 'Original standfirst',
        dateline: 'QUETTA',
        body: [{ type: 'paragraph', text: 'Original <em>body</em>.' }],
        excerpt: null,
        authorIds: [h.author.authorId],
        leadPhotoId: null,
        leadPhotoCaption: null,
        sectionId: null,
        tagIds: [tag.id],
        relatedArticleIds: [related.id],
        commentsOpen: true,
        seo: { title: 'SEO', description: 'Desc' }
      },
      status: 'draft',
      publishedAt: null,
      changedFields: ['headline', 'body', 'tagIds'],
      restoredFromId: null,
      createdById: h.author.userId,
      createdBy: { id: h.author.userId, name: 'Amal Author' },
      createdAt: editedAt.toISOString()
    })
    const rows = await db.select().from(articleRevisions).where(eq(articleRevisions.articleId, a.id))
    t.equal(rows.length, 1)
    t.equal(rows[0].articleVersion, 1)
  })

  t.test('revisions are for staff only', async (t) => {
    const a = await makeArticle(h, { headline: 'Staff only revisions' })
    const anon = await call(h.app, 'GET', `/v1/articles/${a.id}/revisions`)
    t.match(expectStatus(anon, 401), { code: 'UNAUTHORIZED' })
    expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}/revisions`, { token: h.otherAuthor.token }), 200)
    t.match(expectStatus(await call(h.app, 'GET', `/v1/articles/${MISSING}/revisions`, { token: h.editor.token }), 404), { code: 'NOT_FOUND' })
    const restoreAnon = await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/${MISSING}/restore`)
    expectStatus(restoreAnon, 401)
  })

  t.test('restore brings back an earlier version and is itself kept as a revision', async (t) => {
    tick()
    const a = await makeArticle(h, original)
    tick()
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { headline: 'Second', body: [{ type: 'paragraph', text: 'Second body.' }], relatedArticleIds: [] } }), 200)
    tick()
    const third = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { headline: 'Third', dateline: null, authorIds: [] } }), 200)
    const list = await revisionsOf(a.id)
    t.strictSame(list.data.map((r: any) => [r.articleVersion, r.snapshot.headline]), [[2, 'Second'], [1, 'Original headline']], 'newest first')

    const oldest = list.data[1]
    const counts = await rowCounts(h)
    tick()
    const res = await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/${oldest.id}/restore`, { token: h.editor.token })
    const restored = expectStatus(res, 200)
    t.strictSame(restored, {
      ...a,
      updatedAt: now.toISOString(),
      modifiedAt: now.toISOString()
    }, 'the article is as it was first written (only updatedAt and modifiedAt moved)')
    t.match(res.headers.etag, /^"4-/)
    t.equal((await rowCounts(h)).revisions, counts.revisions + 1)

    const after = await revisionsOf(a.id)
    t.strictSame(after.data.map((r: any) => [r.articleVersion, r.snapshot.headline]), [[3, 'Third'], [2, 'Second'], [1, 'Original headline']])
    t.strictSame(after.data[0].snapshot.authorIds, [], 'the restore kept the state it replaced')
    t.equal(after.data[0].snapshot.dateline, null)
    void third

    const read = expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token }), 200)
    t.strictSame(read, restored)
  })

  t.test('revisions page newest first, even when written in the same instant', async (t) => {
    const a = await makeArticle(h, { headline: 'Version 1' })
    for (let v = 2; v <= 6; v++) {
      // The clock does not move: the order must still be newest first.
      expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { headline: `Version ${v}` } }), 200)
    }
    const all = await revisionsOf(a.id)
    t.strictSame(all.data.map((r: any) => r.snapshot.headline), ['Version 5', 'Version 4', 'Version 3', 'Version 2', 'Version 1'])
    const paged: string[] = []
    let cursor: string | undefined
    do {
      const page = await revisionsOf(a.id, h.editor.token, { limit: '2', ...(cursor && { cursor }) })
      paged.push(...page.data.map((r: any) => r.snapshot.headline))
      cursor = page.meta.nextCursor ?? undefined
    } while (cursor)
    t.strictSame(paged, ['Version 5', 'Version 4', 'Version 3', 'Version 2', 'Version 1'])
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}/revisions`, { token: h.editor.token, query: { cursor: 'junk' } }), 400).code, 'INVALID_CURSOR')
    t.match(expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}/revisions`, { token: h.editor.token, query: { limit: '101' } }), 400), { errors: [{ path: '/limit' }] })
  })

  t.test('restore refuses what it should', async (t) => {
    tick()
    const a = await makeArticle(h, { headline: 'Restore guard' }, h.author.token)
    tick()
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.author.token, body: { headline: 'Restore guard 2' } }), 200)
    const [rev] = (await revisionsOf(a.id)).data
    const other = await makeArticle(h, { headline: 'Someone else' })

    const wrongArticle = await call(h.app, 'POST', `/v1/articles/${other.id}/revisions/${rev.id}/restore`, { token: h.editor.token })
    t.match(expectStatus(wrongArticle, 404), { code: 'NOT_FOUND' }, 'a revision of another article')
    expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/${MISSING}/restore`, { token: h.editor.token }), 404)
    expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/nope/restore`, { token: h.editor.token }), 400)

    const stale = await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/${rev.id}/restore`, { token: h.editor.token, headers: { 'if-match': '"1-old"' } })
    expectStatus(stale, 412)
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token }), 200).headline, 'Restore guard 2')

    expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/${rev.id}/restore`, { token: h.otherAuthor.token }), 403)
    await publish(h, a.id)
    const counts = await rowCounts(h)
    const published403 = await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/${rev.id}/restore`, { token: h.author.token })
    t.match(expectStatus(published403, 403), { code: 'FORBIDDEN' }, 'an author may not restore a published article')
    t.strictSame(await rowCounts(h), counts)
    t.equal(expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/revisions/${rev.id}/restore`, { token: h.editor.token }), 200).headline, 'Restore guard')
  })

})

t.test('no driver warnings along the way', async (t) => {
  // e.g. pg's "client.query() when the client is already executing a query", which a
  // Promise.all inside a transaction triggers and which pg 9 turns into an error.
  t.strictSame(warnings.map((w) => `${w.name}: ${w.message}`), [])
})
