// Article lists: keyset pagination, sorts, filters, sparse fieldsets and includes, a fixed
// query count per page (no N+1), and full-text search.
import t from 'tap'
import { build, call } from './helper.js'
import {
  MISSING, expectStatus, makeArticle, makeAuthor, makePhoto, makeSection, makeTag, publish, walk, type Json
} from './articles-fixtures.js'

const byId = (a: Json, b: Json) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
const ids = (items: Json[]) => items.map((a) => a.id)

t.test('articles: lists', async (t) => {
  let now = new Date('2032-06-01T00:00:00.000Z')
  const tick = (seconds = 1) => { now = new Date(now.getTime() + seconds * 1000); return now }
  const h = await build(t, { now: () => now })

  // A fixed set in a section of its own: published at distinct times, two headlines tied,
  // and two drafts (null publishedAt) for the nulls-last rule.
  const section = await makeSection(h, 'Pagination')
  const headlines = ['Echo', 'Alpha', 'Delta', 'Charlie', 'Delta', 'Bravo', 'Golf', 'Foxtrot']
  const set: Json[] = []
  for (const [i, headline] of headlines.entries()) {
    tick()
    const a = await makeArticle(h, { headline, sectionId: section.id })
    set.push(i < 6 ? await publish(h, a.id, new Date(Date.UTC(2030, 0, 1 + i)).toISOString()) : a)
  }
  const publicSet = set.filter((a) => a.status === 'published')

  const expectedOrder = (items: Json[], sort: string) => {
    const desc = sort.startsWith('-')
    const key = desc ? sort.slice(1) : sort
    return [...items].sort((a, b) => {
      const [x, y] = [a[key], b[key]]
      if (x === null && y !== null) return 1
      if (y === null && x !== null) return -1
      const c = x < y ? -1 : x > y ? 1 : 0
      return (desc ? -1 : 1) * (c || byId(a, b))
    })
  }

  t.test('limit=2 walks every item exactly once, in order, for each sort', async (t) => {
    for (const sort of ['headline', '-headline', 'publishedAt', '-publishedAt', 'createdAt', '-createdAt', 'updatedAt', '-updatedAt']) {
      const { items, pages } = await walk(h, { section: section.id, limit: '2', sort, status: 'any' }, { token: h.editor.token })
      t.equal(pages, 4, `${sort}: 8 items in 4 pages`)
      t.equal(new Set(ids(items)).size, items.length, `${sort}: no duplicates`)
      t.strictSame([...ids(items)].sort(), [...ids(set)].sort(), `${sort}: every item`)
      const onePage = expectStatus(await call(h.app, 'GET', '/v1/articles', { token: h.editor.token, query: { section: section.id, limit: '100', sort, status: 'any' } }), 200)
      t.strictSame(ids(items), ids(onePage.data), `${sort}: pages in the same order as one big page`)
      t.strictSame(ids(items), ids(expectedOrder(set, sort)), `${sort}: in the right order`)
    }
    const anon = await walk(h, { section: section.id, limit: '2' })
    t.strictSame(ids(anon.items), ids(expectedOrder(publicSet, '-publishedAt')), 'anonymous default: -publishedAt, published only')
    t.strictSame(anon.items.map((a) => a.headline), ['Bravo', 'Delta', 'Charlie', 'Delta', 'Alpha', 'Echo'])
  })

  t.test('the last page has a null nextCursor and meta echoes the limit', async (t) => {
    const page = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: section.id, limit: '6' } }), 200)
    t.strictSame(page.meta, { limit: 6, nextCursor: null })
    t.equal(page.data.length, 6)
    const first = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: section.id, limit: '5' } }), 200)
    t.equal(first.meta.limit, 5)
    t.type(first.meta.nextCursor, 'string')
    const dflt = expectStatus(await call(h.app, 'GET', '/v1/articles'), 200)
    t.equal(dflt.meta.limit, 20, 'default limit 20')
  })

  t.test('an insert between two page requests neither duplicates nor skips', async (t) => {
    const s2 = await makeSection(h, 'Moving target')
    const originals: Json[] = []
    for (const headline of ['Mike', 'November', 'Oscar', 'Papa', 'Quebec']) {
      tick()
      const a = await makeArticle(h, { headline, sectionId: s2.id })
      originals.push(await publish(h, a.id))
    }
    const inserted: Json[] = []
    const { items } = await walk(h, { section: s2.id, limit: '2' }, {
      between: async () => {
        tick()
        // Newer than anything seen: sorts before the cursor, so this walk does not see it.
        const a = await makeArticle(h, { headline: `Newest ${inserted.length}`, sectionId: s2.id })
        inserted.push(await publish(h, a.id))
      }
    })
    t.equal(inserted.length, 2)
    t.strictSame(ids(items), ids(expectedOrder(originals, '-publishedAt')), 'each original exactly once, none of the newer ones')

    // Sorted by headline, a new item after the cursor is seen once and one before it never.
    const byHeadline: string[] = []
    let cursor: string | undefined
    let round = 0
    do {
      const page = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: s2.id, limit: '2', sort: 'headline', ...(cursor && { cursor }) } }), 200)
      byHeadline.push(...page.data.map((a: Json) => a.headline))
      cursor = page.meta.nextCursor ?? undefined
      if (round++ === 0) {
        await publish(h, (await makeArticle(h, { headline: 'Alfa early', sectionId: s2.id })).id)
        await publish(h, (await makeArticle(h, { headline: 'Zulu late', sectionId: s2.id })).id)
      }
    } while (cursor)
    t.strictSame(byHeadline, ['Mike', 'Newest 0', 'Newest 1', 'November', 'Oscar', 'Papa', 'Quebec', 'Zulu late'])
  })

  t.test('bad limits and cursors are 400s', async (t) => {
    for (const limit of ['101', '0', '-1', 'ten', '2.5']) {
      const res = await call(h.app, 'GET', '/v1/articles', { query: { limit } })
      t.match(expectStatus(res, 400), { code: 'VALIDATION_FAILED', errors: [{ path: '/limit', in: 'query' }] }, `limit=${limit}`)
    }
    t.equal(expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { limit: '100' } }), 200).meta.limit, 100)

    const forged = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const garbage = ['garbage', '!!!', forged({ s: '-publishedAt', v: 'not a date', id: MISSING }), forged({ s: '-publishedAt', v: 5, id: MISSING }),
      forged({ s: '-publishedAt', v: null, id: 'x' }), forged([1, 2]), forged(null), forged('string')]
    for (const cursor of garbage) {
      const res = await call(h.app, 'GET', '/v1/articles', { query: { cursor } })
      t.match(expectStatus(res, 400), { code: 'INVALID_CURSOR', errors: [{ path: '/cursor', in: 'query' }] }, `cursor ${cursor}`)
    }

    const byHeadline = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: section.id, limit: '2', sort: 'headline' } }), 200)
    t.type(byHeadline.meta.nextCursor, 'string')
    for (const sort of ['-publishedAt', '-headline', 'createdAt']) {
      const res = await call(h.app, 'GET', '/v1/articles', { query: { section: section.id, limit: '2', sort, cursor: byHeadline.meta.nextCursor } })
      t.equal(expectStatus(res, 400).code, 'INVALID_CURSOR', `a headline cursor with sort=${sort}`)
    }
    const same = await call(h.app, 'GET', '/v1/articles', { query: { section: section.id, limit: '2', sort: 'headline', cursor: byHeadline.meta.nextCursor } })
    expectStatus(same, 200)
    t.match(expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { sort: 'wordCount' } }), 400), { errors: [{ path: '/sort' }] })
  })

  t.test('filters: section, tag, author (id or slug), publishedAfter, publishedBefore', async (t) => {
    const sec = await makeSection(h, 'Filter section')
    const other = await makeSection(h, 'Other filter section')
    const tagA = await makeTag(h, 'Filter tag A')
    const tagB = await makeTag(h, 'Filter tag B')
    const writer = await makeAuthor(h, 'Filter Writer')
    const mk = async (headline: string, body: Json, day: number) =>
      publish(h, (await makeArticle(h, { headline, ...body })).id, new Date(Date.UTC(2029, 2, day)).toISOString())
    const f1 = await mk('F1', { sectionId: sec.id, tagIds: [tagA.id], authorIds: [writer.id] }, 1)
    const f2 = await mk('F2', { sectionId: sec.id, tagIds: [tagB.id, tagA.id], authorIds: [h.author.authorId, writer.id] }, 2)
    const f3 = await mk('F3', { sectionId: other.id, tagIds: [tagB.id], authorIds: [h.author.authorId] }, 3)
    const f4 = await mk('F4', { sectionId: sec.id }, 4)
    const draft = await makeArticle(h, { headline: 'F draft', sectionId: sec.id, tagIds: [tagA.id], authorIds: [writer.id] })

    const list = async (query: Record<string, string>, token?: string) =>
      expectStatus(await call(h.app, 'GET', '/v1/articles', { token, query: { limit: '100', ...query } }), 200).data.map((a: Json) => a.headline)
    t.strictSame(await list({ section: sec.id }), ['F4', 'F2', 'F1'])
    t.strictSame(await list({ section: sec.slug }), ['F4', 'F2', 'F1'], 'section by slug')
    t.strictSame(await list({ tag: tagA.id }), ['F2', 'F1'])
    t.strictSame(await list({ tag: tagB.slug }), ['F3', 'F2'], 'tag by slug')
    t.strictSame(await list({ author: writer.id }), ['F2', 'F1'])
    t.strictSame(await list({ author: writer.slug }), ['F2', 'F1'], 'author by slug')
    t.strictSame(await list({ author: writer.slug, status: 'any' }, h.editor.token), ['F2', 'F1', 'F draft'], 'staff asking for any status see the draft too, nulls last')
    t.strictSame(await list({ author: writer.slug }, h.editor.token), ['F2', 'F1'], 'staff see published articles only unless they ask')
    t.strictSame(await list({ author: writer.slug, status: 'draft' }, h.editor.token), ['F draft'], 'status=draft: drafts only')
    t.strictSame(await list({ author: writer.slug, status: 'published,draft' }, h.editor.token), ['F2', 'F1', 'F draft'], 'several statuses, comma-separated')
    t.match(expectStatus(await call(h.app, 'GET', '/v1/articles', { token: h.editor.token, query: { status: 'draft,nope' } }), 400), { errors: [{ path: '/status' }] }, 'an unknown status is a 400 naming the parameter')
    t.strictSame(await list({ section: sec.id, tag: tagA.slug, author: h.author.authorId! }), ['F2'], 'filters combine')
    const day = (d: number) => new Date(Date.UTC(2029, 2, d)).toISOString()
    t.strictSame(await list({ publishedAfter: day(2), publishedBefore: day(3) }), ['F3', 'F2'], 'both bounds inclusive')
    t.strictSame(await list({ publishedAfter: day(3), publishedBefore: day(30) }), ['F4', 'F3'])
    t.strictSame(await list({ publishedBefore: day(1), section: sec.id }), ['F1'])
    t.strictSame(await list({ publishedAfter: '2029-03-02T00:00:00.001Z', section: sec.id }), ['F4'])
    t.match(expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { publishedAfter: 'last week' } }), 400), { errors: [{ path: '/publishedAfter', in: 'query' }] })

    // Any of several values, ids and slugs mixed; an article matching two of them comes once.
    t.strictSame(await list({ tag: `${tagA.slug},${tagB.id}` }), ['F3', 'F2', 'F1'], 'tags: any of, slug and id mixed')
    t.strictSame(await list({ tag: `${tagA.id},${tagA.slug}` }), ['F2', 'F1'], 'the same tag twice is one')
    t.strictSame(await list({ section: `${other.slug},${sec.id}` }), ['F4', 'F3', 'F2', 'F1'])
    t.strictSame(await list({ author: `${h.author.authorId!.toUpperCase()},${writer.slug}` }), ['F3', 'F2', 'F1'], 'authors, an id in capitals too')
    t.strictSame(await list({ author: `${writer.slug},${h.author.authorId}`, status: 'any' }, h.editor.token), ['F3', 'F2', 'F1', 'F draft'])
    t.strictSame(await list({ tag: `${tagA.id},${tagB.slug}`, section: other.slug }), ['F3'], 'any of within a filter, all of across filters')
    const walked = await walk(h, { tag: `${tagB.slug},${tagA.slug}`, author: `${writer.id},${h.author.authorId}`, limit: '1' })
    t.strictSame(walked.items.map((a) => a.headline), ['F3', 'F2', 'F1'], 'pages of one: each match once, in order')

    // A value that matches nothing is a 400 naming the parameter and the value, never an empty page.
    const refused = async (query: Record<string, string>) => {
      const res = await call(h.app, 'GET', '/v1/articles', { query })
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      const problem = expectStatus(res, 400)
      t.equal(problem.code, 'VALIDATION_FAILED')
      return problem.errors
    }
    t.strictSame(await refused({ tag: `${tagA.slug},no-such-tag` }), [{ path: '/tag', in: 'query', message: 'no tag "no-such-tag"' }])
    t.strictSame(await refused({ section: 'no-such-section' }), [{ path: '/section', in: 'query', message: 'no section "no-such-section"' }])
    t.strictSame(await refused({ author: `${writer.id},${MISSING}` }), [{ path: '/author', in: 'query', message: `no author "${MISSING}"` }])
    t.strictSame(await refused({ tag: sec.slug, author: 'nobody', section: tagA.slug }), [
      { path: '/section', in: 'query', message: `no section "${tagA.slug}"` },
      { path: '/tag', in: 'query', message: `no tag "${sec.slug}"` },
      { path: '/author', in: 'query', message: 'no author "nobody"' }
    ], 'a tag is no section: every unknown value is named')
    t.match(await refused({ tag: `${tagA.slug},,${tagB.slug}` }), [{ path: '/tag', in: 'query', message: /empty value/ }])
    t.match(await refused({ section: ',' }), [{ path: '/section', message: /empty value/ }])
    const many = Array.from({ length: 21 }, (_, i) => `tag-${i}`).join(',')
    t.strictSame(await refused({ tag: many }), [{ path: '/tag', in: 'query', message: 'has 21 values; at most 20' }])
    const twenty = [tagA.slug, ...Array.from({ length: 19 }, () => tagA.id)].join(',')
    t.strictSame(await list({ tag: twenty }), ['F2', 'F1'], 'twenty values are fine')
    void f1; void f2; void f3; void f4; void draft
  })

  t.test('several values in each filter cost no more queries than one', async (t) => {
    const tags = [await makeTag(h, 'Cost one'), await makeTag(h, 'Cost two'), await makeTag(h, 'Cost three')]
    const secs = [await makeSection(h, 'Cost section one'), await makeSection(h, 'Cost section two')]
    for (const [i, tag] of tags.entries()) {
      await publish(h, (await makeArticle(h, { headline: `Cost ${i}`, tagIds: [tag.id], sectionId: secs[i % 2].id, authorIds: [h.author.authorId] })).id)
    }
    const cost = async (query: Record<string, string>) => {
      h.queries.length = 0
      const page = expectStatus(await call(h.app, 'GET', '/v1/articles', { query }), 200)
      return { n: h.queries.length, found: page.data.length }
    }
    const one = await cost({ tag: tags[0].slug, section: secs[0].id, author: h.author.authorId! })
    const all = await cost({ tag: tags.map((x, i) => (i % 2 ? x.id : x.slug)).join(','), section: secs.map((x) => x.slug).join(','), author: `${h.author.authorId},${h.author.authorId}` })
    t.equal(one.found, 1)
    t.equal(all.found, 3)
    t.equal(all.n, one.n, `the same number of statements (${one.n}) for one value or several in each filter`)
    const none = await cost({})
    t.equal(one.n, none.n + 1, 'the filters add one look-up in all')
  })

  t.test('an unknown query parameter is a 400 naming it', async (t) => {
    const res = await call(h.app, 'GET', '/v1/articles', { query: { colour: 'red', section: section.id } })
    t.strictSame(expectStatus(res, 400).errors, [{ path: '/colour', in: 'query', message: 'is not a known parameter' }])
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    const one = await call(h.app, 'GET', `/v1/articles/${publicSet[0].id}`, { query: { page: '2' } })
    t.strictSame(expectStatus(one, 400).errors, [{ path: '/page', in: 'query', message: 'is not a known parameter' }])
  })

  t.test('lists are summaries; fields and include shape them', async (t) => {
    const a = publicSet[0]
    const summary = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: section.id, limit: '100' } }), 200)
    const item = summary.data.find((x: Json) => x.id === a.id)
    const full = expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`), 200)
    t.ok('body' in full && 'bodyHtml' in full, 'a single article has its body')
    const { body: _b, bodyHtml: _h, corrections: _c, ...rest } = full
    t.strictSame(item, rest, 'a list item is the article without body, bodyHtml and corrections')
    t.notOk('body' in item)
    t.notOk('bodyHtml' in item)

    const withBody = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: section.id, fields: 'headline,body,bodyHtml' } }), 200)
    t.strictSame(withBody.data.find((x: Json) => x.id === a.id), { id: a.id, headline: a.headline, body: full.body, bodyHtml: full.bodyHtml })

    const sparse = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: section.id, fields: 'headline,slug' } }), 200)
    t.equal(sparse.data.length, publicSet.length)
    for (const x of sparse.data) t.strictSame(Object.keys(x).sort(), ['headline', 'id', 'slug'])
    const one = expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`, { query: { fields: 'headline,slug' } }), 200)
    t.strictSame(one, { id: a.id, headline: a.headline, slug: a.slug }, 'fields works on a single article too')
    const bySlug = expectStatus(await call(h.app, 'GET', `/v1/articles/by-slug/${a.slug}`, { query: { fields: 'status' } }), 200)
    t.strictSame(bySlug, { id: a.id, status: 'published' })
    const inc = expectStatus(await call(h.app, 'GET', `/v1/articles/${a.id}`, { query: { fields: 'headline', include: 'section' } }), 200)
    t.strictSame(inc, { id: a.id, headline: a.headline, section }, 'an include is shown alongside the chosen fields')

    for (const [query, path] of [[{ fields: 'headline,nope' }, '/fields'], [{ fields: 'email' }, '/fields'], [{ include: 'authors,comments' }, '/include'], [{ include: 'body' }, '/include']] as const) {
      const res = await call(h.app, 'GET', '/v1/articles', { query })
      const problem = expectStatus(res, 400)
      t.match(problem, { code: 'VALIDATION_FAILED', errors: [{ path, in: 'query' }] }, JSON.stringify(query))
      const single = await call(h.app, 'GET', `/v1/articles/${a.id}`, { query })
      t.match(expectStatus(single, 400), { errors: [{ path }] })
    }
    t.match(expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { include: 'comments' } }), 400).detail, /comments/)
  })

  t.test('a list page costs a fixed number of queries (no N+1)', async (t) => {
    const photo = await makePhoto(h)
    const bodyPhoto = await makePhoto(h, { url: 'https://img.example/body.jpg' })
    const [tag1, tag2] = [await makeTag(h, 'N+1 one'), await makeTag(h, 'N+1 two')]
    const avatar = await makePhoto(h, { url: 'https://img.example/avatar.jpg', caption: 'The writer' })
    const writer = expectStatus(await call(h.app, 'POST', '/v1/authors', { token: h.editor.token, body: { name: 'N Plus Writer', avatarId: avatar.id, email: 'writer@n-plus.test' } }), 201)
    const target = await publish(h, (await makeArticle(h, { headline: 'N+1 target' })).id)

    const fill = async (name: string, n: number) => {
      const s = await makeSection(h, name)
      for (let i = 0; i < n; i++) {
        const a = await makeArticle(h, {
          headline: `${name} ${i}`, sectionId: s.id, leadPhotoId: photo.id, leadPhotoCaption: `Caption ${i}`,
          authorIds: [writer.id, h.author.authorId], tagIds: [tag2.id, tag1.id], relatedArticleIds: [target.id],
          body: [{ type: 'paragraph', text: `Story ${i}` }, { type: 'photo', photoId: bodyPhoto.id }, { type: 'related', articleId: target.id }]
        })
        await publish(h, a.id)
      }
      return s
    }
    const small = await fill('Small', 3)
    const large = await fill('Large', 25)

    const cost = async (sectionId: string, expected: number, authors = 'authors') => {
      h.queries.length = 0
      const res = await call(h.app, 'GET', '/v1/articles', {
        query: {
          section: sectionId, limit: '25',
          include: `${authors},leadPhoto,section,tags,relatedArticles`,
          fields: 'headline,body,bodyHtml,authorIds,tagIds,relatedArticleIds,leadPhotoId,sectionId'
        }
      })
      const page = expectStatus(res, 200)
      const count = h.queries.length
      t.equal(page.data.length, expected)
      for (const a of page.data) {
        t.strictSame(a.authors.map((x: Json) => x.id), [writer.id, h.author.authorId])
        t.notOk(a.authors.some((x: Json) => 'email' in x), 'no author email for the public')
        if (authors === 'authors.avatar') t.strictSame(a.authors.map((x: Json) => x.avatar?.id ?? x.avatar), [avatar.id, null], 'each author with an avatar (or null)')
        else t.notOk(a.authors.some((x: Json) => 'avatar' in x), 'no avatar unless asked')
        t.strictSame(a.tags.map((x: Json) => x.id), [tag2.id, tag1.id])
        t.equal(a.leadPhoto.id, photo.id)
        t.equal(a.section.id, sectionId)
        t.strictSame(a.relatedArticles, [{ id: target.id, slug: target.slug, headline: target.headline }])
        t.match(a.bodyHtml, '<figure class="photo"><img src="https://img.example/body.jpg"')
        t.match(a.bodyHtml, 'Also read: <a href="/articles/n-1-target">N+1 target</a>')
      }
      return count
    }
    const three = await cost(small.id, 3)
    const twentyFive = await cost(large.id, 25)
    t.comment(`a list page with every include and the body costs ${three} SQL statements for 3 articles and ${twentyFive} for 25`)
    t.equal(twentyFive, three, 'the same number of queries for 25 articles as for 3')
    t.ok(three <= 10, `a small fixed number (${three})`)
    const threeWithAvatars = await cost(small.id, 3, 'authors.avatar')
    t.equal(await cost(large.id, 25, 'authors.avatar'), threeWithAvatars, 'with the authors\' avatars, the same number for 25 as for 3')
    t.equal(threeWithAvatars, three + 1, 'the avatars of a whole page cost one query')

    h.queries.length = 0
    const single = await call(h.app, 'GET', `/v1/articles/${target.id}?include=authors,leadPhoto,section,tags,relatedArticles`)
    expectStatus(single, 200)
    t.ok(h.queries.length <= 10, `a single article too (${h.queries.length})`)

    const [first] = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { section: small.id, limit: '1' } }), 200).data
    const shown = expectStatus(await call(h.app, 'GET', `/v1/articles/by-slug/${first.slug}`, { query: { include: 'authors.avatar' } }), 200)
    t.strictSame(shown.authors[0].avatar, expectStatus(await call(h.app, 'GET', `/v1/photos/${avatar.id}`), 200), 'the avatar is the whole photo')
    t.equal(shown.authors[1].avatar, null, 'an author without one has a null avatar')
    t.notOk('leadPhoto' in shown || 'section' in shown || 'email' in shown.authors[0], 'the byline only, and no email for the public')
    const staff = expectStatus(await call(h.app, 'GET', `/v1/articles/${first.id}`, { token: h.editor.token, query: { include: 'authors.avatar,leadPhoto' } }), 200)
    t.equal(staff.authors[0].email, 'writer@n-plus.test', 'staff see the email')
    t.equal(staff.leadPhoto.id, photo.id)
  })

  t.test('full-text search', async (t) => {
    const mk = async (headline: string, text: string, standfirst?: string) => {
      tick()
      const a = await makeArticle(h, { headline, standfirst, body: [{ type: 'paragraph', text }] })
      return publish(h, a.id)
    }
    const bodyOnly = await mk('Weather report for the week', 'Heavy monsoon rain is expected across the plains.')
    const inHeadline = await mk('Monsoon arrives early', 'Rain fell across the region on Tuesday.')
    const unrelated = await mk('Cricket season opens', 'The first match was played in Lahore.')
    const turbines = await mk('Energy policy', 'New wind turbines were installed on the coast.')
    const draft = await makeArticle(h, { headline: 'Monsoon draft', body: [{ type: 'paragraph', text: 'monsoon monsoon' }] })

    const search = async (query: Record<string, string>, token?: string) =>
      expectStatus(await call(h.app, 'GET', '/v1/articles', { token, query }), 200)

    t.test('finds an article by a word in its body, stemmed', async (t) => {
      t.strictSame(ids((await search({ q: 'turbine' })).data), [turbines.id])
      t.strictSame(ids((await search({ q: 'installing turbines' })).data), [turbines.id])
      t.strictSame((await search({ q: 'xylophone' })).data, [])
      t.strictSame(ids((await search({ q: 'lahore' })).data), [unrelated.id])
    })

    t.test('a headline match ranks above a body-only match; drafts only for staff', async (t) => {
      t.strictSame(ids((await search({ q: 'monsoon' })).data), [inHeadline.id, bodyOnly.id])
      const staff = ids((await search({ q: 'monsoon', status: 'any' }, h.editor.token)).data)
      t.equal(staff.length, 3)
      t.ok(staff.includes(draft.id))
      t.ok(staff.indexOf(inHeadline.id) < staff.indexOf(bodyOnly.id))
      t.strictSame(ids((await search({ q: 'monsoon', sort: 'headline' })).data), [inHeadline.id, bodyOnly.id])
      t.strictSame(ids((await search({ q: 'monsoon', sort: '-headline' })).data), [bodyOnly.id, inHeadline.id], 'an explicit sort wins over relevance')
    })

    t.test('search results page with a cursor', async (t) => {
      const cyclones: Json[] = []
      for (let i = 0; i < 7; i++) {
        // Ranks differ (headline, standfirst or body; once or twice) and some tie.
        const headline = i % 3 === 0 ? `Cyclone warning ${i}` : `Coastal bulletin ${i}`
        const standfirst = i % 3 === 1 ? 'A cyclone nears' : undefined
        cyclones.push(await mk(headline, i % 2 === 0 ? 'The cyclone turned north. The cyclone weakened.' : 'Boats stayed in port.', standfirst))
      }
      const all = (await search({ q: 'cyclone', limit: '100' })).data
      const expectedMatches = cyclones.filter((_, i) => i % 3 === 0 || i % 3 === 1 || i % 2 === 0)
      t.strictSame(ids(all).sort(), ids(expectedMatches).sort())
      const { items, pages } = await walk(h, { q: 'cyclone', limit: '2' })
      t.equal(pages, Math.ceil(all.length / 2))
      t.strictSame(ids(items), ids(all), 'every match exactly once, in relevance order')
      const first = await search({ q: 'cyclone', limit: '2' })
      const wrong = await call(h.app, 'GET', '/v1/articles', { query: { q: 'cyclone', limit: '2', sort: 'headline', cursor: first.meta.nextCursor } })
      t.equal(expectStatus(wrong, 400).code, 'INVALID_CURSOR', 'a relevance cursor is no good for another sort')
      const noQ = await call(h.app, 'GET', '/v1/articles', { query: { limit: '2', cursor: first.meta.nextCursor } })
      t.equal(expectStatus(noQ, 400).code, 'INVALID_CURSOR', 'nor without q')
    })

    t.test('odd search input never fails', async (t) => {
      for (const q of ['"unclosed', 'a & b | !c', '(((', '-', 'or', '<script>', '\'; drop table articles; --']) {
        const res = await call(h.app, 'GET', '/v1/articles', { query: { q } })
        t.equal(res.statusCode, 200, `q=${q}`)
      }
      t.match(expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { q: '' } }), 400), { errors: [{ path: '/q' }] })
    })
  })
})
