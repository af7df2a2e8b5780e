// Articles: create, read, update and delete; slugs; byline, lead photo, section, tags and
// related links; referential integrity; and malformed requests.
import t, { type Test } from 'tap'
import { eq } from 'drizzle-orm'
import { articleAuthors, articleRelated, articleTags, articles } from '../src/db/schema.js'
import { build, call } from './helper.js'
import {
  ISO, MISSING, UUID, expectStatus, makeArticle, makeAuthor, makePhoto, makeSection, makeTag, post, published, rowCounts
} from './articles-fixtures.js'

t.test('articles: create, read, update, delete', async (t) => {
  const h = await build(t)
  const db = h.database.db
  const world = await makeSection(h, 'World')

  t.test('POST creates a draft: 201, Location, the whole article, and the row', async (t) => {
    const res = await call(h.app, 'POST', '/v1/articles', {
      token: h.author.token,
      body: { headline: '  Floods hit the valley  ', standfirst: 'Rivers <b>burst</b> their banks', dateline: ' LAHORE ', sectionId: world.id, seo: { title: 'Floods' } }
    })
    const a = expectStatus(res, 201)
    t.match(a.id, UUID)
    t.equal(res.headers.location, `/v1/articles/${a.id}`)
    t.match(res.headers.etag, /^"1-[\w-]+"$/)
    t.match(a.createdAt, ISO)
    t.strictSame(a, {
      id: a.id,
      slug: 'floods-hit-the-valley',
      headline: 'Floods hit the valley',
      standfirst: 'Rivers <strong>burst</strong> their banks',
      dateline: 'LAHORE',
      body: [],
      bodyHtml: '',
      corrections: [],
      excerpt: 'Rivers burst their banks',
      status: 'draft',
      publishedAt: null,
      firstPublishedAt: null,
      createdAt: a.createdAt,
      updatedAt: a.updatedAt,
      modifiedAt: a.updatedAt,
      authorIds: [h.author.authorId],
      leadPhotoId: null,
      leadPhotoCaption: null,
      sectionId: world.id,
      tagIds: [],
      relatedArticleIds: [],
      commentsOpen: true,
      commentCount: 0,
      wordCount: 0,
      readingTimeMinutes: 0,
      seo: { title: 'Floods', description: null }
    })
    const [row] = await db.select().from(articles).where(eq(articles.id, a.id))
    t.equal(row.headline, 'Floods hit the valley')
    t.equal(row.status, 'draft')
    t.equal(row.createdById, h.author.userId)
    t.equal(row.version, 1)

    const byId = await call(h.app, 'GET', res.headers.location as string, { token: h.author.token })
    t.strictSame(expectStatus(byId, 200), a, 'GET by id returns what POST returned')
    const bySlug = await call(h.app, 'GET', '/v1/articles/by-slug/floods-hit-the-valley', { token: h.editor.token })
    t.strictSame(expectStatus(bySlug, 200), a, 'GET by slug returns the same article')
  })

  t.test('a create that refers to nothing is one insert, and answers what a read returns', async (t) => {
    h.queries.length = 0
    const res = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Ferry timetable changes', body: [{ type: 'paragraph', text: 'From <em>Monday</em> on.' }] } })
    const created = expectStatus(res, 201)
    const writes = h.queries.filter((q) => !/join "api_tokens"/.test(q))
    t.equal(writes.length, 1, `one statement besides the token look-up: ${writes.join(' | ')}`)
    t.match(writes[0], /^insert into "articles"/)
    const read = await call(h.app, 'GET', `/v1/articles/${created.id}`, { token: h.editor.token })
    t.strictSame(created, read.json(), 'the answer is the stored article')
    t.equal(res.headers.etag, read.headers.etag)
    t.equal(created.authorIds.length, 0, 'an editor with no author profile has no default byline')
    t.equal(created.commentsOpen, true, 'an unset column takes its default')

    // Every column such a create can set goes through the same statement.
    h.queries.length = 0
    const full = expectStatus(await call(h.app, 'POST', '/v1/articles', {
      token: h.editor.token,
      body: {
        headline: ' Ferry fares fall ', slug: 'ferry-fares-fall-chosen', standfirst: 'Cheaper <b>crossings</b><script>x</script>', dateline: ' HARBOUR ',
        excerpt: 'Fares fall.', leadPhotoCaption: 'The quay <i>at dawn</i>', commentsOpen: false, seo: { title: 'Fares', description: 'Fares fall' }
      }
    }), 201)
    t.equal(h.queries.filter((q) => !/join "api_tokens"/.test(q)).length, 1)
    t.match(full, {
      headline: 'Ferry fares fall', slug: 'ferry-fares-fall-chosen', standfirst: 'Cheaper <strong>crossings</strong>', dateline: 'HARBOUR',
      excerpt: 'Fares fall.', leadPhotoCaption: 'The quay <em>at dawn</em>', commentsOpen: false, seo: { title: 'Fares', description: 'Fares fall' }
    })
    t.strictSame(full, (await call(h.app, 'GET', `/v1/articles/${full.id}`, { token: h.editor.token })).json())
    const clash = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Other', slug: 'ferry-fares-fall-chosen' } })
    t.equal(clash.statusCode, 409, 'a chosen slug that is taken is still a 409')
    const again = expectStatus(await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Ferry timetable changes' } }), 201)
    t.equal(again.slug, `${created.slug}-2`, 'a generated slug that is taken moves on to -2')

    h.queries.length = 0
    const linked = expectStatus(await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Ferry fares rise', sectionId: world.id } }), 201)
    t.ok(h.queries.some((q) => /from "sections"/.test(q)), 'a create with a reference checks it first')
    t.equal(linked.sectionId, world.id)
  })

  t.test('slugs: generated from the headline, a clash gets -2, a client-given clash is 409', async (t) => {
    const first = await makeArticle(h, { headline: 'Élections: the RESULTS are in!' })
    t.equal(first.slug, 'elections-the-results-are-in')
    const second = await makeArticle(h, { headline: 'Elections — the results are in' })
    t.equal(second.slug, 'elections-the-results-are-in-2')
    const third = await makeArticle(h, { headline: 'Elections: the results are in' })
    t.equal(third.slug, 'elections-the-results-are-in-3')
    const chosen = await makeArticle(h, { headline: 'Anything', slug: 'my-own-slug' })
    t.equal(chosen.slug, 'my-own-slug')

    let before = await rowCounts(h)
    const clash = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Other', slug: 'elections-the-results-are-in' } })
    const problem = expectStatus(clash, 409)
    t.match(clash.headers['content-type'], /^application\/problem\+json/)
    t.match(problem, { status: 409, code: 'SLUG_TAKEN', errors: [{ path: '/slug' }] })
    t.strictSame(await rowCounts(h), before, 'nothing written')
    // The same through a create with links, which runs in a transaction: rolled back whole.
    const linkedClash = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Other', slug: 'elections-the-results-are-in', sectionId: world.id, authorIds: [h.author.authorId] } })
    t.match(expectStatus(linkedClash, 409), { code: 'SLUG_TAKEN', errors: [{ path: '/slug' }] })
    t.strictSame(await rowCounts(h), before, 'no row and no byline written')

    const patchClash = await call(h.app, 'PATCH', `/v1/articles/${chosen.id}`, { token: h.editor.token, body: { slug: 'elections-the-results-are-in-2' } })
    t.match(expectStatus(patchClash, 409), { code: 'SLUG_TAKEN' })
    const [row] = await db.select().from(articles).where(eq(articles.id, chosen.id))
    t.equal(row.slug, 'my-own-slug', 'slug unchanged after refused PATCH')

    // Concurrent creates with one headline still get distinct slugs.
    const racers = await Promise.all(Array.from({ length: 6 }, () =>
      call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Race to the slug' } })))
    t.strictSame(racers.map((r) => r.statusCode), [201, 201, 201, 201, 201, 201])
    t.strictSame(racers.map((r) => r.json().slug).sort(), ['race-to-the-slug', 'race-to-the-slug-2', 'race-to-the-slug-3', 'race-to-the-slug-4', 'race-to-the-slug-5', 'race-to-the-slug-6'])

    before = await rowCounts(h)
    for (const slug of ['Bad Slug', 'UPPER', 'trailing-', 'double--dash', 'x'.repeat(121)]) {
      const bad = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Bad', slug } })
      t.match(expectStatus(bad, 400), { code: 'VALIDATION_FAILED', errors: [{ path: '/slug', in: 'body' }] }, `slug ${JSON.stringify(slug)} refused`)
    }
    t.strictSame(await rowCounts(h), before, 'nothing written by the refused creates')
  })

  t.test('many writers creating one headline at once all get a slug', async (t) => {
    const replies = await Promise.all(Array.from({ length: 40 }, () => call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Storm warning for the coast' } })))
    t.same(replies.map((r) => r.statusCode), Array(40).fill(201), 'no 500 when generated slugs clash')
    const slugs = replies.map((r) => r.json().slug as string)
    t.equal(new Set(slugs).size, 40, 'forty different slugs')
    t.ok(slugs.includes('storm-warning-for-the-coast'))
    t.ok(slugs.every((slug) => /^storm-warning-for-the-coast(-\d+|-[0-9a-f]{6})?$/.test(slug)), 'the plain slug, -N, or a random suffix')
  })

  t.test('PATCH changes only what it names and bumps updatedAt and the version', async (t) => {
    const a = await makeArticle(h, { headline: 'Budget passes', standfirst: 'Old standfirst', dateline: 'KARACHI', body: [{ type: 'paragraph', text: 'One two three.' }] })
    const res = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { headline: 'Budget passes narrowly', commentsOpen: false, standfirst: null } })
    const b = expectStatus(res, 200)
    t.strictSame(b, {
      ...a,
      headline: 'Budget passes narrowly',
      standfirst: null,
      commentsOpen: false,
      excerpt: 'One two three.',
      updatedAt: b.updatedAt,
      modifiedAt: b.modifiedAt
    })
    t.equal(b.updatedAt, b.modifiedAt, 'a draft never published nor updated in substance shows its last change as updatedAt')
    t.equal(b.slug, 'budget-passes', 'slug is kept when the headline changes')
    t.not(res.headers.etag, undefined)
    t.match(res.headers.etag, /^"2-/)
    const [row] = await db.select().from(articles).where(eq(articles.id, a.id))
    t.equal(row.version, 2)
    t.equal(row.headline, 'Budget passes narrowly')
    t.equal(row.dateline, 'KARACHI')

    const empty = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: {} })
    expectStatus(empty, 400)
    const unknown = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { headline: 'x', colour: 'red' } })
    t.match(expectStatus(unknown, 400), { errors: [{ path: '/colour', in: 'body', message: 'is not a known field' }] })
    const missing = await call(h.app, 'PATCH', `/v1/articles/${MISSING}`, { token: h.editor.token, body: { headline: 'x' } })
    t.match(expectStatus(missing, 404), { code: 'NOT_FOUND' })
  })

  t.test('DELETE is 204 with no body, removes the row and its links', async (t) => {
    const tag = await makeTag(h, 'Delete me tag')
    const a = await makeArticle(h, { headline: 'Short-lived', tagIds: [tag.id], authorIds: [h.author.authorId] })
    const res = await call(h.app, 'DELETE', `/v1/articles/${a.id}`, { token: h.editor.token })
    expectStatus(res, 204)
    t.equal(res.body, '')
    t.strictSame(await db.select().from(articles).where(eq(articles.id, a.id)), [])
    t.strictSame(await db.select().from(articleTags).where(eq(articleTags.articleId, a.id)), [])
    t.strictSame(await db.select().from(articleAuthors).where(eq(articleAuthors.articleId, a.id)), [])
    expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token }), 404)
    expectStatus(await call(h.app, 'DELETE', `/v1/articles/${a.id}`, { token: h.editor.token }), 404)
  })
})

t.test('articles: byline, lead photo, section, tags, related articles, referential integrity and malformed requests', async (t) => {
  const h = await build(t)
  const db = h.database.db

  t.test('the byline keeps its order; the default byline is the author\'s own profile', async (t) => {
    const x = await makeAuthor(h, 'Xena Writer')
    const y = await post(h, '/v1/authors', { name: 'Yusuf Writer', email: 'yusuf@example.com' })
    const ordered = await makeArticle(h, { headline: 'Three bylines', authorIds: [y.id, h.author.authorId, x.id] })
    t.strictSame(ordered.authorIds, [y.id, h.author.authorId, x.id])
    const rows = await db.select().from(articleAuthors).where(eq(articleAuthors.articleId, ordered.id)).orderBy(articleAuthors.position)
    t.strictSame(rows.map((r) => [r.authorId, r.position]), [[y.id, 0], [h.author.authorId, 1], [x.id, 2]])

    const withAuthors = expectStatus(await call(h.app, 'GET', `/v1/articles/${ordered.id}?include=authors`, { token: h.editor.token }), 200)
    t.strictSame(withAuthors.authors.map((a: any) => a.name), ['Yusuf Writer', 'Amal Author', 'Xena Writer'])
    t.strictSame(withAuthors.authors[0], { ...y, email: 'yusuf@example.com' }, 'the embedded author is the author resource, email for staff')

    // Anonymous readers get the byline without private fields.
    expectStatus(await call(h.app, 'POST', `/v1/articles/${ordered.id}/publish`, { token: h.editor.token }), 200)
    const anon = expectStatus(await call(h.app, 'GET', `/v1/articles/${ordered.id}?include=authors`), 200)
    t.strictSame(anon.authors.map((a: any) => a.id), [y.id, h.author.authorId, x.id])
    t.notOk(anon.authors.some((a: any) => 'email' in a), 'no email in an anonymous response')
    t.notMatch(JSON.stringify(anon), /yusuf@example\.com/)
    expectStatus(await call(h.app, 'POST', `/v1/articles/${ordered.id}/unpublish`, { token: h.editor.token }), 200)

    const reordered = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${ordered.id}`, { token: h.editor.token, body: { authorIds: [x.id, y.id] } }), 200)
    t.strictSame(reordered.authorIds, [x.id, y.id])

    const own = await makeArticle(h, { headline: 'My own story' }, h.author.token)
    t.strictSame(own.authorIds, [h.author.authorId], 'an author\'s article defaults to their profile')
    const other = await makeArticle(h, { headline: 'Omar\'s story' }, h.otherAuthor.token)
    t.strictSame(other.authorIds, [h.otherAuthor.authorId])
    const editors = await makeArticle(h, { headline: 'Desk story' })
    t.strictSame(editors.authorIds, [], 'an editor without a profile gets an empty byline')
    const explicitEmpty = await makeArticle(h, { headline: 'No byline', authorIds: [] }, h.author.token)
    t.strictSame(explicitEmpty.authorIds, [])
  })

  t.test('lead photo with a caption override', async (t) => {
    const photo = await makePhoto(h, { caption: 'The photo\'s own caption' })
    const a = await makeArticle(h, { headline: 'Lead photo story', leadPhotoId: photo.id, leadPhotoCaption: 'Overridden <i>here</i><script>x</script>' })
    t.equal(a.leadPhotoId, photo.id)
    t.equal(a.leadPhotoCaption, 'Overridden <em>here</em>')
    t.notOk('leadPhoto' in a, 'not embedded without include')
    const res = await call(h.app, 'GET', `/v1/articles/${a.id}?include=leadPhoto`, { token: h.editor.token })
    t.strictSame(expectStatus(res, 200).leadPhoto, { ...photo, caption: 'Overridden <em>here</em>' })

    const plain = await makeArticle(h, { headline: 'Lead photo without override', leadPhotoId: photo.id })
    const res2 = await call(h.app, 'GET', `/v1/articles/${plain.id}?include=leadPhoto`, { token: h.editor.token })
    t.equal(expectStatus(res2, 200).leadPhoto.caption, 'The photo\'s own caption')
    const none = await makeArticle(h, { headline: 'No lead photo' })
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/articles/${none.id}?include=leadPhoto`, { token: h.editor.token }), 200).leadPhoto, null)
  })

  t.test('section and tags (in order)', async (t) => {
    const section = await makeSection(h, 'Business')
    const [t1, t2, t3] = [await makeTag(h, 'Economy'), await makeTag(h, 'Budget'), await makeTag(h, 'Taxes')]
    const a = await makeArticle(h, { headline: 'Tax story', sectionId: section.id, tagIds: [t3.id, t1.id, t2.id] })
    t.equal(a.sectionId, section.id)
    t.strictSame(a.tagIds, [t3.id, t1.id, t2.id])
    const full = expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}?include=section,tags`, { token: h.editor.token }), 200)
    t.strictSame(full.section, section)
    t.strictSame(full.tags, [t3, t1, t2])
    const moved = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { sectionId: null, tagIds: [t2.id] } }), 200)
    t.equal(moved.sectionId, null)
    t.strictSame(moved.tagIds, [t2.id])
    t.strictSame((await db.select().from(articleTags).where(eq(articleTags.articleId, a.id))).map((r) => r.tagId), [t2.id])
    const dup = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Dup tags', tagIds: [t1.id, t1.id] } })
    t.match(expectStatus(dup, 400), { errors: [{ path: '/tagIds' }] })
  })

  t.test('relatedArticleIds keep their order', async (t) => {
    const r1 = await published(h, { headline: 'Related one' })
    const r2 = await published(h, { headline: 'Related two' })
    const a = await makeArticle(h, { headline: 'Has related', relatedArticleIds: [r2.id, r1.id] })
    t.strictSame(a.relatedArticleIds, [r2.id, r1.id])
    const full = expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}?include=relatedArticles`, { token: h.editor.token }), 200)
    t.strictSame(full.relatedArticles, [
      { id: r2.id, slug: 'related-two', headline: 'Related two' },
      { id: r1.id, slug: 'related-one', headline: 'Related one' }
    ])
    const rows = await db.select().from(articleRelated).where(eq(articleRelated.articleId, a.id)).orderBy(articleRelated.position)
    t.strictSame(rows.map((r) => [r.relatedId, r.listed]), [[r2.id, true], [r1.id, true]])
  })

  // ---- referential integrity
  const author = await makeAuthor(h, 'Real Author')
  const tag = await makeTag(h, 'Real tag')
  const photo = await makePhoto(h)
  const target = await published(h, { headline: 'Link target' })

  const refused = async (t: Test, method: 'POST' | 'PATCH', url: string, body: unknown, errors: Array<{ path: string, message: string }>) => {
    const before = await rowCounts(h)
    const res = await call(h.app, method, url, { token: h.editor.token, body })
    const problem = expectStatus(res, 400)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.equal(problem.code, 'VALIDATION_FAILED')
    t.strictSame(problem.errors, errors.map((e) => ({ ...e, in: 'body' })))
    t.strictSame(await rowCounts(h), before, 'nothing written')
  }

  t.test('ids that do not exist are 400s naming each path', async (t) => {
    await refused(t, 'POST', '/v1/articles', { headline: 'Bad author', authorIds: [author.id, MISSING] },
      [{ path: '/authorIds/1', message: 'is not the id of an author' }])
    await refused(t, 'POST', '/v1/articles', { headline: 'Bad tag', tagIds: [MISSING, tag.id] },
      [{ path: '/tagIds/0', message: 'is not the id of a tag' }])
    await refused(t, 'POST', '/v1/articles', { headline: 'Bad section', sectionId: MISSING },
      [{ path: '/sectionId', message: 'is not the id of a section' }])
    await refused(t, 'POST', '/v1/articles', { headline: 'Bad photo', leadPhotoId: MISSING },
      [{ path: '/leadPhotoId', message: 'is not the id of a photo' }])
    await refused(t, 'POST', '/v1/articles', { headline: 'Bad related', relatedArticleIds: [target.id, MISSING] },
      [{ path: '/relatedArticleIds/1', message: 'is not the id of an article' }])
    await refused(t, 'POST', '/v1/articles', {
      headline: 'Bad body',
      body: [
        { type: 'paragraph', text: 'Fine.' },
        { type: 'photo', photoId: photo.id },
        { type: 'related', articleId: MISSING },
        { type: 'photo', photoId: MISSING }
      ]
    }, [
      { path: '/body/2/articleId', message: 'is not the id of an article' },
      { path: '/body/3/photoId', message: 'is not the id of a photo' }
    ])
  })

  t.test('PATCH with a missing id changes nothing', async (t) => {
    const a = await makeArticle(h, { headline: 'Patched badly', authorIds: [author.id], tagIds: [tag.id] })
    await refused(t, 'PATCH', `/v1/articles/${a.id}`, { headline: 'Should not stick', authorIds: [MISSING], tagIds: [] },
      [{ path: '/authorIds/0', message: 'is not the id of an author' }])
    const now = expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token }), 200)
    t.strictSame(now, a, 'the article is as it was')
  })

  t.test('an article cannot relate to itself', async (t) => {
    const a = await makeArticle(h, { headline: 'Narcissus' })
    await refused(t, 'PATCH', `/v1/articles/${a.id}`, { relatedArticleIds: [a.id] },
      [{ path: '/relatedArticleIds/0', message: 'is this article itself' }])
    await refused(t, 'PATCH', `/v1/articles/${a.id}`, { body: [{ type: 'related', articleId: a.id }] },
      [{ path: '/body/0/articleId', message: 'is this article itself' }])
  })

  t.test('deleting a linked article is 409 naming what links to it', async (t) => {
    const linked = await makeArticle(h, { headline: 'Linked from elsewhere' })
    const viaList = await makeArticle(h, { headline: 'Links by list', relatedArticleIds: [linked.id] })
    const viaBody = await makeArticle(h, { headline: 'Links by body', body: [{ type: 'related', articleId: linked.id }] })
    const before = await rowCounts(h)
    const res = await call(h.app, 'DELETE', `/v1/articles/${linked.id}`, { token: h.editor.token })
    const problem = expectStatus(res, 409)
    t.equal(problem.code, 'STILL_REFERENCED')
    t.strictSame(
      [...problem.references].sort((a: any, b: any) => a.label.localeCompare(b.label)),
      [
        { resource: 'article', id: viaBody.id, label: 'Links by body' },
        { resource: 'article', id: viaList.id, label: 'Links by list' }
      ]
    )
    t.match(problem.detail, /Links by/)
    t.strictSame(await rowCounts(h), before, 'nothing deleted')

    // Once the links are gone the delete goes through.
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${viaList.id}`, { token: h.editor.token, body: { relatedArticleIds: [] } }), 200)
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${viaBody.id}`, { token: h.editor.token, body: { body: [] } }), 200)
    expectStatus(await call(h.app, 'DELETE', `/v1/articles/${linked.id}`, { token: h.editor.token }), 204)
  })

  t.test('a tag, section, photo or author in use cannot be deleted out from under an article', async (t) => {
    const s = await makeSection(h, 'Busy section')
    const a = await makeArticle(h, { headline: 'Uses things', sectionId: s.id, leadPhotoId: photo.id })
    expectStatus(await call(h.app, 'DELETE', `/v1/sections/${s.id}`, { token: h.editor.token }), 409)
    expectStatus(await call(h.app, 'DELETE', `/v1/photos/${photo.id}`, { token: h.editor.token }), 409)
    const still = expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token }), 200)
    t.equal(still.sectionId, s.id)
    t.equal(still.leadPhotoId, photo.id)
  })

  // ---- malformed requests

  t.test('malformed JSON is a 400 problem', async (t) => {
    const before = await rowCounts(h)
    const res = await h.app.inject({
      method: 'POST', url: '/v1/articles',
      headers: { authorization: `Bearer ${h.editor.token}`, 'content-type': 'application/json' },
      payload: '{"headline": "Broken",'
    })
    const problem = expectStatus(res, 400)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(problem, { status: 400, title: String, type: String, detail: String })
    t.strictSame(await rowCounts(h), before)
  })

  t.test('a non-uuid id is a 400 naming the path parameter', async (t) => {
    for (const [method, url] of [['GET', '/v1/articles/not-a-uuid'], ['PATCH', '/v1/articles/123'], ['DELETE', '/v1/articles/xyz'], ['POST', '/v1/articles/nope/publish']] as const) {
      const res = await call(h.app, method, url, { token: h.editor.token, ...(method === 'PATCH' && { body: { headline: 'x' } }) })
      t.match(expectStatus(res, 400), { code: 'VALIDATION_FAILED', errors: [{ path: '/id', in: 'path' }] }, `${method} ${url}`)
    }
  })

  t.test('a missing headline is a 400 naming /headline', async (t) => {
    const before = await rowCounts(h)
    const res = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { standfirst: 'No headline' } })
    t.strictSame(expectStatus(res, 400).errors, [{ path: '/headline', in: 'body', message: 'is required' }])
    const blank = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: '   ' } })
    t.match(expectStatus(blank, 400).errors, [{ path: '/headline' }])
    const unknown = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Fine', title: 'Extra' } })
    t.strictSame(expectStatus(unknown, 400).errors, [{ path: '/title', in: 'body', message: 'is not a known field' }])
    t.strictSame(await rowCounts(h), before)
  })

  t.test('a body that is not JSON is a 415', async (t) => {
    const res = await h.app.inject({
      method: 'POST', url: '/v1/articles',
      headers: { authorization: `Bearer ${h.editor.token}`, 'content-type': 'text/plain' },
      payload: 'headline=Plain'
    })
    t.match(expectStatus(res, 415), { code: 'UNSUPPORTED_MEDIA_TYPE' })
  })

  t.test('writes need a staff token', async (t) => {
    const res = await call(h.app, 'POST', '/v1/articles', { body: { headline: 'Anonymous' } })
    t.match(expectStatus(res, 401), { code: 'UNAUTHORIZED' })
    t.match(res.headers['www-authenticate'], /^Bearer/)
    expectStatus(await call(h.app, 'POST', '/v1/articles', { token: 'dl_bogus', body: { headline: 'Bogus' } }), 401)
  })
})
