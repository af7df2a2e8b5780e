// `total=true` on every list: meta.total counts the items the filters match across all pages,
// costs one statement more, and only when asked.
import t from 'tap'
import { build, call, type Harness } from './helper.js'
import { expectStatus, makeArticle, makeAuthor, makePhoto, makeSection, makeTag, publish, type Json } from './articles-fixtures.js'
import { posted, setStatus } from './comments-helpers.js'

/** Walks a list with total=true: every item, and the total each page reported. */
async function walk (h: Harness, url: string, query: Record<string, string>, token?: string) {
  const items: Json[] = []
  const totals = new Set<number>()
  let cursor: string | undefined
  for (let pages = 1; pages <= 50; pages++) {
    const page = expectStatus(await call(h.app, 'GET', url, { token, query: { ...query, total: 'true', ...(cursor && { cursor }) } }), 200)
    items.push(...page.data)
    totals.add(page.meta.total)
    cursor = page.meta.nextCursor ?? undefined
    if (!cursor) return { items, totals: [...totals], pages }
  }
  throw new Error('more than 50 pages')
}

t.test('lists: total on request', async (t) => {
  const h = await build(t)

  // Content for every list: three sections and tags, four authors (and the harness's two), five
  // photos, seven articles (two drafts), comments in each status, revisions.
  const sections = [await makeSection(h, 'Total one'), await makeSection(h, 'Total two'), await makeSection(h, 'Total three')]
  const tags = [await makeTag(h, 'Total tag one'), await makeTag(h, 'Total tag two'), await makeTag(h, 'Total tag three')]
  for (const name of ['Tina Total', 'Tom Total', 'Tara Total', 'Ted Total']) await makeAuthor(h, name)
  for (let i = 0; i < 5; i++) await makePhoto(h, { caption: `Photo ${i}` })
  // Nothing public uses these photos: the public sees only the one an editor marks public.
  const shown = await makePhoto(h, { caption: 'Photo shown' })
  expectStatus(await call(h.app, 'PATCH', `/v1/photos/${shown.id}`, { token: h.editor.token, body: { public: true } }), 200)
  const articles: Json[] = []
  for (let i = 0; i < 7; i++) {
    const a = await makeArticle(h, { headline: `Total story ${i}`, sectionId: sections[i % 3].id, tagIds: [tags[i % 2].id] })
    articles.push(i < 5 ? await publish(h, a.id) : a)
  }
  const story = articles[0]
  const comments: Json[] = []
  for (let i = 0; i < 9; i++) comments.push(await posted(h.app, story.id))
  for (const c of comments.slice(0, 5)) await setStatus(h, c.id, 'approved')
  for (const c of comments.slice(5, 7)) await setStatus(h, c.id, 'spam')
  // A reply: a thread's replies come with it and are not counted as threads.
  await setStatus(h, (await posted(h.app, story.id, { parentId: comments[0].id })).id, 'approved')
  for (let i = 0; i < 5; i++) {
    expectStatus(await call(h.app, 'PATCH', `/v1/articles/${story.id}`, { token: h.editor.token, body: { headline: `Total story 0, edit ${i}` } }), 200)
  }
  for (let i = 0; i < 3; i++) expectStatus(await call(h.app, 'POST', '/v1/tokens', { token: h.author.token, body: { label: `Author token ${i}` } }), 201)

  const lists: Array<{ name: string, url: string, query?: Record<string, string>, token?: string, expected: number }> = [
    { name: 'articles (public)', url: '/v1/articles', expected: 5 },
    { name: 'articles (staff, any status)', url: '/v1/articles', query: { status: 'any' }, token: h.editor.token, expected: 7 },
    { name: 'articles by tag', url: '/v1/articles', query: { tag: tags[0].slug }, expected: 3 },
    { name: 'articles by any of two sections, for staff', url: '/v1/articles', query: { section: `${sections[0].id},${sections[2].slug}`, status: 'any' }, token: h.editor.token, expected: 5 },
    { name: 'drafts', url: '/v1/articles', query: { status: 'draft' }, token: h.editor.token, expected: 2 },
    { name: 'a search, ranked', url: '/v1/articles', query: { q: 'story' }, expected: 5 },
    { name: 'authors', url: '/v1/authors', expected: 6 },
    { name: 'photos (staff)', url: '/v1/photos', token: h.editor.token, expected: 6 },
    { name: 'photos (public: only the one marked public)', url: '/v1/photos', expected: 1 },
    { name: 'sections', url: '/v1/sections', expected: 3 },
    { name: 'tags', url: '/v1/tags', expected: 3 },
    { name: 'comment threads (public)', url: `/v1/articles/${story.id}/comments`, expected: 5 },
    { name: 'comment threads (staff, spam)', url: `/v1/articles/${story.id}/comments`, query: { status: 'spam' }, token: h.editor.token, expected: 2 },
    { name: 'the moderation queue', url: '/v1/comments', token: h.editor.token, expected: 2 },
    { name: 'the queue, approved', url: '/v1/comments', query: { status: 'approved', article: story.id }, token: h.editor.token, expected: 6 },
    { name: 'users', url: '/v1/users', token: h.admin.token, expected: 4 },
    { name: 'tokens (admin: all)', url: '/v1/tokens', token: h.admin.token, expected: 7 },
    { name: 'tokens (an author: their own)', url: '/v1/tokens', token: h.author.token, expected: 4 },
    { name: 'tokens of one user', url: '/v1/tokens', query: { userId: h.author.userId }, token: h.admin.token, expected: 4 },
    { name: 'revisions', url: `/v1/articles/${story.id}/revisions`, token: h.editor.token, expected: 5 }
  ]

  t.test('meta.total is the number of matching items across the pages, on every page', async (t) => {
    for (const list of lists) {
      const { items, totals, pages } = await walk(h, list.url, { limit: '2', ...list.query }, list.token)
      t.equal(items.length, list.expected, `${list.name}: ${list.expected} items`)
      t.strictSame(totals, [items.length], `${list.name}: total ${items.length} on each of ${pages} pages`)
      t.equal(new Set(items.map((i) => i.id)).size, items.length, `${list.name}: no item twice`)
    }
  })

  t.test('no total unless asked; total=false is the same; other values are a 400', async (t) => {
    for (const list of lists) {
      for (const query of [{}, { total: 'false' }] as Array<Record<string, string>>) {
        const page = expectStatus(await call(h.app, 'GET', list.url, { token: list.token, query: { ...list.query, ...query } }), 200)
        t.strictSame(Object.keys(page.meta).sort(), ['limit', 'nextCursor'], `${list.name} ${JSON.stringify(query)}`)
      }
      const res = await call(h.app, 'GET', list.url, { token: list.token, query: { ...list.query, total: 'yes' } })
      t.match(expectStatus(res, 400), { code: 'VALIDATION_FAILED', errors: [{ path: '/total', in: 'query' }] }, `${list.name}: total=yes`)
    }
  })

  t.test('a total follows the rows: an article published is counted on the next request', async (t) => {
    const count = async () => expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { tag: tags[0].id, total: 'true', limit: '1' } }), 200).meta.total
    const before = await count()
    t.strictSame(articles[6].tagIds, [tags[0].id], 'a draft with the tag')
    await publish(h, articles[6].id)
    t.equal(await count(), before + 1)
    await publish(h, (await makeArticle(h, { headline: 'One more tagged', tagIds: [tags[0].id, tags[1].id] })).id)
    t.equal(await count(), before + 2, 'counted once, whatever else it is tagged with')
  })

  t.test('a total costs one statement more, and only when asked', async (t) => {
    for (const list of lists) {
      const cost = async (query: Record<string, string>) => {
        h.queries.length = 0
        expectStatus(await call(h.app, 'GET', list.url, { token: list.token, query: { ...list.query, ...query } }), 200)
        return h.queries.length
      }
      const without = await cost({})
      const withTotal = await cost({ total: 'true' })
      t.equal(withTotal, without + 1, `${list.name}: ${without} statements, ${withTotal} with the total`)
      t.ok(h.queries.some((q) => /count\(\*\)/i.test(q)), `${list.name}: a count`)
    }
  })
})
