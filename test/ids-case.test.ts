// Ids are UUIDs, which PostgreSQL reads in either case: the API takes them in either case too,
// in paths, query strings and bodies, and compares them as one (an article written with its own
// id in capitals still may not relate to itself).
import t from 'tap'
import { sql } from 'drizzle-orm'
import { build, call } from './helper.js'
import { expectStatus, makeArticle, makePhoto, makeSection, makeTag, publish, rowCounts } from './articles-fixtures.js'
import { problem } from './assertions.js'

const up = (id: string) => id.toUpperCase()

t.test('upper-case ids are the same ids, everywhere', async (t) => {
  const h = await build(t)
  const rows = async (query: ReturnType<typeof sql>) => ((await h.database.db.execute(query)) as unknown as { rows: Array<Record<string, any>> }).rows

  const section = await makeSection(h, 'Metro')
  const tag = await makeTag(h, 'Transport')
  const photo = await makePhoto(h)
  const other = await makeArticle(h, { headline: 'Earlier story' })
  await publish(h, other.id)

  await t.test('references in a body are accepted in capitals and stored as the ids they name', async (t) => {
    const res = await call(h.app, 'POST', '/v1/articles', {
      token: h.editor.token,
      body: {
        headline: 'Capital ids',
        authorIds: [up(h.author.authorId!)],
        sectionId: up(section.id),
        tagIds: [up(tag.id)],
        leadPhotoId: up(photo.id),
        relatedArticleIds: [up(other.id)],
        body: [{ type: 'photo', photoId: up(photo.id) }, { type: 'related', articleId: up(other.id) }]
      }
    })
    const a = expectStatus(res, 201)
    t.same(a.authorIds, [h.author.authorId], 'the byline, in lower case')
    t.equal(a.sectionId, section.id)
    t.same(a.tagIds, [tag.id])
    t.equal(a.leadPhotoId, photo.id)
    t.same(a.relatedArticleIds, [other.id])
    t.same(a.body, [{ type: 'photo', photoId: photo.id }, { type: 'related', articleId: other.id }], 'the body keeps one spelling')
    const [row] = await rows(sql`select body::text as body, lead_photo_id::text as lead from articles where id = ${a.id}`)
    t.notMatch(row.body, /[A-F]/, 'the stored body has no capital ids')
    t.equal(row.lead, photo.id)
    t.same((await rows(sql`select related_id::text as id from article_related where article_id = ${a.id}`)).map((r) => r.id), [other.id], 'one link, not two')

    // The same id twice, in two spellings, is a duplicate.
    const twice = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Twice', tagIds: [tag.id, up(tag.id)] } })
    const body = problem(t, twice, 400, 'VALIDATION_FAILED')
    t.match(body.errors, [{ path: '/tagIds', in: 'body' }], 'names the field')
  })

  await t.test('PATCH /v1/articles/<UPPER> with its own id, in any case, is refused as a self-reference', async (t) => {
    const a = await makeArticle(h, { headline: 'Self' })
    const before = await rowCounts(h)
    for (const own of [a.id, up(a.id)]) {
      const res = await call(h.app, 'PATCH', `/v1/articles/${up(a.id)}`, { token: h.editor.token, body: { relatedArticleIds: [own] } })
      const body = problem(t, res, 400, 'VALIDATION_FAILED')
      t.same(body.errors, [{ path: '/relatedArticleIds/0', in: 'body', message: 'is this article itself' }], `relatedArticleIds: [${own === a.id ? 'lower' : 'upper'}]`)
      const inBody = await call(h.app, 'PATCH', `/v1/articles/${up(a.id)}`, { token: h.editor.token, body: { body: [{ type: 'related', articleId: own }] } })
      t.same(problem(t, inBody, 400, 'VALIDATION_FAILED').errors, [{ path: '/body/0/articleId', in: 'body', message: 'is this article itself' }])
    }
    t.strictSame(await rowCounts(h), before, 'nothing written')
    t.same(await rows(sql`select * from article_related where article_id = ${a.id}`), [], 'no self-link')

    const ok = await call(h.app, 'PATCH', `/v1/articles/${up(a.id)}`, { token: h.editor.token, body: { relatedArticleIds: [up(other.id)] } })
    t.same(expectStatus(ok, 200).relatedArticleIds, [other.id])
    t.equal(ok.json().id, a.id, 'the answer names the article in lower case')
  })

  await t.test('paths and query strings', async (t) => {
    const got = await call(h.app, 'GET', `/v1/articles/${up(other.id)}`)
    t.equal(expectStatus(got, 200).id, other.id)
    t.equal(expectStatus(await call(h.app, 'GET', `/v1/photos/${up(photo.id)}`, { token: h.author.token }), 200).id, photo.id)
    const filtered = await call(h.app, 'GET', `/v1/articles?tag=${up(tag.id)}&section=${up(section.id)}`)
    t.equal(filtered.statusCode, 200, filtered.body)
    // An author's own tokens, named by their own user id in capitals.
    const mine = await call(h.app, 'POST', '/v1/tokens', { token: h.author.token, body: { label: 'capitals', userId: up(h.author.userId) } })
    t.equal(mine.statusCode, 201, `an author names themself in capitals: ${mine.body}`)
    t.equal(mine.json().userId, h.author.userId)
    const listed = await call(h.app, 'GET', `/v1/tokens?userId=${up(h.author.userId)}`, { token: h.author.token })
    t.equal(listed.statusCode, 200, listed.body)
    t.ok(listed.json().data.every((tk: { userId: string }) => tk.userId === h.author.userId))
    const tok = await call(h.app, 'GET', `/v1/tokens/${up(mine.json().id)}`, { token: h.author.token })
    t.equal(tok.statusCode, 200, 'the owner reads it by an upper-case id')
    // Comments: the article in the path, the parent in the body.
    const posted = await call(h.app, 'POST', `/v1/articles/${up(other.id)}/comments`, { body: { authorName: 'Reader', authorEmail: 'r@example.org', body: 'First.' } })
    const c = expectStatus(posted, 201)
    t.equal(c.articleId, other.id)
    expectStatus(await call(h.app, 'PATCH', `/v1/comments/${up(c.id)}`, { token: h.editor.token, body: { status: 'approved' } }), 200)
    const reply = await call(h.app, 'POST', `/v1/articles/${up(other.id)}/comments`, { body: { authorName: 'Replier', authorEmail: 'q@example.org', body: 'Second.', parentId: up(c.id) } })
    t.equal(expectStatus(reply, 201).parentId, c.id, 'a reply names its parent in capitals')
    const queue = await call(h.app, 'GET', `/v1/comments?status=approved&article=${up(other.id)}`, { token: h.editor.token })
    t.same(expectStatus(queue, 200).data.map((x: { id: string }) => x.id), [c.id])
  })
})
