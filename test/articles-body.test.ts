// Article bodies: the seven block types, validation naming the path, sanitising on write,
// the rendered bodyHtml, and word counts.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { articleBodyPhotos, articleRelated, articles } from '../src/db/schema.js'
import { build, call } from './helper.js'
import { MISSING, expectStatus, makeArticle, makePhoto, published, rowCounts, type Json } from './articles-fixtures.js'

t.test('articles: body blocks', async (t) => {
  const h = await build(t)
  const db = h.database.db
  const photo = await makePhoto(h, { url: 'https://img.example/dam.jpg', caption: 'Own <caption>', credit: 'PHOTO: "AP" & co', altText: 'The dam', width: 1200, height: 800 })
  const target = await published(h, { headline: 'Dams & "rivers" <fall>' })

  t.test('all seven block types are accepted, stored and rendered', async (t) => {
    const body = [
      { type: 'paragraph', text: 'Water rose <em>fast</em>.' },
      { type: 'heading', level: 2, text: 'What happened' },
      { type: 'quote', text: 'We lost everything.', attribution: 'A farmer' },
      { type: 'photo', photoId: photo.id, caption: 'The dam at <strong>dawn</strong>' },
      { type: 'related', articleId: target.id },
      { type: 'list', ordered: true, items: ['First', 'Second'] },
      { type: 'embed', url: 'https://video.example/watch?v=1&t=2' }
    ]
    const a = await makeArticle(h, { headline: 'All blocks', body })
    t.strictSame(a.body, body, 'clean input is stored as given')
    t.equal(a.bodyHtml, [
      '<p>Water rose <em>fast</em>.</p>',
      '<h2>What happened</h2>',
      '<blockquote><p>We lost everything.</p><cite>A farmer</cite></blockquote>',
      '<figure class="photo"><img src="https://img.example/dam.jpg" width="1200" height="800" alt="The dam" loading="lazy" decoding="async"><figcaption>The dam at <strong>dawn</strong> <span class="credit">PHOTO: &quot;AP&quot; &amp; co</span></figcaption></figure>',
      `<aside class="related"><p>Also read: <a href="/articles/${target.slug}">Dams &amp; &quot;rivers&quot; &lt;fall&gt;</a></p></aside>`,
      '<ol><li>First</li><li>Second</li></ol>',
      '<figure class="embed"><a href="https://video.example/watch?v=1&amp;t=2" rel="noopener noreferrer">https://video.example/watch?v=1&amp;t=2</a></figure>'
    ].join('\n'))
    const [row] = await db.select().from(articles).where(eq(articles.id, a.id))
    t.strictSame(row.body, body)
    t.strictSame((await db.select().from(articleBodyPhotos).where(eq(articleBodyPhotos.articleId, a.id))).map((r) => r.photoId), [photo.id])
    t.strictSame((await db.select().from(articleRelated).where(eq(articleRelated.articleId, a.id))).map((r) => [r.relatedId, r.listed]), [[target.id, false]],
      'a related block is a link, not a listed related article')
    t.strictSame(a.relatedArticleIds, [])
  })

  t.test('a photo block without its own caption uses the photo\'s caption, escaped', async (t) => {
    const bare = await makePhoto(h, { url: 'https://img.example/bare.jpg', caption: null, credit: null, altText: null, width: null, height: null })
    const a = await makeArticle(h, { headline: 'Photo captions', body: [{ type: 'photo', photoId: photo.id }, { type: 'photo', photoId: bare.id }] })
    t.equal(a.bodyHtml, [
      '<figure class="photo"><img src="https://img.example/dam.jpg" width="1200" height="800" alt="The dam" loading="lazy" decoding="async"><figcaption>Own &lt;caption&gt; <span class="credit">PHOTO: &quot;AP&quot; &amp; co</span></figcaption></figure>',
      '<figure class="photo"><img src="https://img.example/bare.jpg" alt="" loading="lazy" decoding="async"></figure>'
    ].join('\n'))
  })

  t.test('an invalid block is a 400 naming its path, and nothing is written', async (t) => {
    const cases: Array<[string, unknown, string]> = [
      ['paragraph without text', { type: 'paragraph' }, '/body/1/text'],
      ['empty paragraph', { type: 'paragraph', text: '' }, '/body/1/text'],
      ['heading level 5', { type: 'heading', level: 5, text: 'Too deep' }, '/body/1/level'],
      ['heading level 1', { type: 'heading', level: 1, text: 'Too high' }, '/body/1/level'],
      ['heading level as a string', { type: 'heading', level: '2', text: 'Strings' }, '/body/1/level'],
      ['quote attribution not a string', { type: 'quote', text: 'Q', attribution: 7 }, '/body/1/attribution'],
      ['photo id not a uuid', { type: 'photo', photoId: 'photo-1' }, '/body/1/photoId'],
      ['related without articleId', { type: 'related' }, '/body/1/articleId'],
      ['list with no items', { type: 'list', ordered: false, items: [] }, '/body/1/items'],
      ['list with ordered as a string', { type: 'list', ordered: 'yes', items: ['a'] }, '/body/1/ordered'],
      ['list with an empty item', { type: 'list', ordered: true, items: ['a', ''] }, '/body/1/items/1'],
      ['embed over plain http', { type: 'embed', url: 'http://video.example/1' }, '/body/1/url'],
      ['embed with javascript:', { type: 'embed', url: 'javascript:alert(1)' }, '/body/1/url'],
      ['an extra field', { type: 'paragraph', text: 'Hi', colour: 'red' }, '/body/1/colour'],
      ['an extra field on a heading', { type: 'heading', level: 3, text: 'Hi', id: 'anchor' }, '/body/1/id']
    ]
    const before = await rowCounts(h)
    for (const [name, block, path] of cases) {
      const res = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: name, body: [{ type: 'paragraph', text: 'ok' }, block] } })
      const problem = expectStatus(res, 400)
      t.equal(problem.code, 'VALIDATION_FAILED', name)
      t.ok(problem.errors.length >= 1, `${name}: has errors`)
      t.ok(problem.errors.every((e: any) => e.path === path && e.in === 'body'), `${name}: every error names ${path}: ${JSON.stringify(problem.errors)}`)
    }
    const unknown = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Unknown type', body: [{ type: 'video', url: 'https://x.example' }] } })
    const problem = expectStatus(unknown, 400)
    t.ok(problem.errors.length >= 1)
    t.ok(problem.errors.every((e: any) => e.path.startsWith('/body/0')), JSON.stringify(problem.errors))
    t.match(problem.detail, /type/)
    // A block that is not an object at all once got past validation and crashed the write (500).
    for (const block of ['just text', null, 3, [], { text: 'no type' }]) {
      const res = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Not a block', body: [block] } })
      const expected = typeof block === 'object' && block !== null && !Array.isArray(block) ? '/body/0/type' : '/body/0'
      t.strictSame(expectStatus(res, 400).errors.map((e: any) => e.path), [expected], `${JSON.stringify(block)} is refused`)
    }
    t.strictSame(await rowCounts(h), before, 'nothing written')

    const a = await makeArticle(h, { headline: 'Patch a bad block' })
    const patch = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { body: [{ type: 'heading', level: 9, text: 'x' }] } })
    t.match(expectStatus(patch, 400).errors, [{ path: '/body/0/level' }])
  })

  t.test('inline text is sanitised on write', async (t) => {
    const dirty = 'Hello <script>alert(1)</script><b>bold</b> <i>it</i> <a href="javascript:alert(1)">x</a> ' +
      '<a href="https://ok.example/" onclick="evil()">ok</a> <img src=x onerror=alert(1)><span style="color:red">red</span>'
    const clean = 'Hello <strong>bold</strong> <em>it</em> <a>x</a> <a href="https://ok.example/">ok</a> red'
    const a = await makeArticle(h, {
      headline: 'Dirty input',
      standfirst: 'Stand <script>x()</script>first',
      body: [
        { type: 'paragraph', text: dirty },
        { type: 'heading', level: 3, text: '<u>Under</u> <b>line</b>' },
        { type: 'quote', text: '<a href="JaVaScRiPt:alert(1)">q</a>', attribution: '  Someone  ' },
        { type: 'list', ordered: false, items: ['<iframe src="https://evil.example">i</iframe>one', '<a href="data:text/html,x">two</a>'] },
        { type: 'photo', photoId: photo.id, caption: '<b>Cap</b><script>1</script>' }
      ]
    })
    t.strictSame(a.body, [
      { type: 'paragraph', text: clean },
      { type: 'heading', level: 3, text: 'Under <strong>line</strong>' },
      { type: 'quote', text: '<a>q</a>', attribution: 'Someone' },
      { type: 'list', ordered: false, items: ['one', '<a>two</a>'] },
      { type: 'photo', photoId: photo.id, caption: '<strong>Cap</strong>' }
    ])
    t.equal(a.standfirst, 'Stand first')
    const [row] = await db.select().from(articles).where(eq(articles.id, a.id))
    t.strictSame(row.body, a.body, 'the database holds the cleaned body')
    t.notMatch(a.bodyHtml, /script|javascript|onclick|onerror|<img src="x"|iframe|style=|data:/i)
    t.match(a.bodyHtml, '<p>Hello <strong>bold</strong> <em>it</em> <a>x</a> <a href="https://ok.example/">ok</a> red</p>')

    const patched = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { body: [{ type: 'paragraph', text: '<b>again</b><script>2</script>' }] } }), 200)
    t.strictSame(patched.body, [{ type: 'paragraph', text: '<strong>again</strong>' }], 'PATCH sanitises too')
  })

  t.test('quote attribution is escaped in bodyHtml', async (t) => {
    const a = await makeArticle(h, { headline: 'Quoted', body: [{ type: 'quote', text: 'Words', attribution: 'Ali "the <b>boss</b>" & co' }] })
    t.equal(a.body[0].attribution, 'Ali "the <b>boss</b>" & co', 'attribution is plain text, kept as written')
    t.equal(a.bodyHtml, '<blockquote><p>Words</p><cite>Ali &quot;the &lt;b&gt;boss&lt;/b&gt;&quot; &amp; co</cite></blockquote>')
  })

  t.test('a related block pointing at a draft is left out for anonymous readers', async (t) => {
    const draft = await makeArticle(h, { headline: 'Secret draft' })
    const host = await published(h, {
      headline: 'Host story',
      body: [
        { type: 'paragraph', text: 'Before.' },
        { type: 'related', articleId: draft.id },
        { type: 'related', articleId: target.id },
        { type: 'paragraph', text: 'After.' }
      ]
    })
    const also = (a: Json) => `<aside class="related"><p>Also read: <a href="/articles/${a.slug}">${a.headline.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</a></p></aside>`
    const anon = expectStatus(await call(h.app, 'GET', `/v1/articles/${host.id}`), 200)
    t.equal(anon.bodyHtml, ['<p>Before.</p>', also(target), '<p>After.</p>'].join('\n'))
    t.notMatch(anon.bodyHtml, /Secret draft/)
    const bySlug = expectStatus(await call(h.app, 'GET', `/v1/articles/by-slug/${host.slug}`), 200)
    t.equal(bySlug.bodyHtml, anon.bodyHtml)
    const list = expectStatus(await call(h.app, 'GET', '/v1/articles', { query: { fields: 'bodyHtml', limit: '100' } }), 200)
    t.equal(list.data.find((a: any) => a.id === host.id).bodyHtml, anon.bodyHtml, 'lists render it the same way')

    const staff = expectStatus(await call(h.app, 'GET', `/v1/articles/${host.id}`, { token: h.author.token }), 200)
    t.equal(staff.bodyHtml, ['<p>Before.</p>', also(draft), also(target), '<p>After.</p>'].join('\n'))

    // Published later, it shows up for everyone.
    expectStatus(await call(h.app, 'POST', `/v1/articles/${draft.id}/publish`, { token: h.editor.token }), 200)
    const later = expectStatus(await call(h.app, 'GET', `/v1/articles/${host.id}`), 200)
    t.equal(later.bodyHtml, staff.bodyHtml)
  })

  t.test('listed related articles hidden from anonymous readers too', async (t) => {
    const draft = await makeArticle(h, { headline: 'Another draft' })
    const host = await published(h, { headline: 'Lists a draft', relatedArticleIds: [draft.id, target.id] })
    const anon = expectStatus(await call(h.app, 'GET', `/v1/articles/${host.id}?include=relatedArticles`), 200)
    t.strictSame(anon.relatedArticleIds, [target.id])
    t.strictSame(anon.relatedArticles, [{ id: target.id, slug: target.slug, headline: target.headline }])
    const staff = expectStatus(await call(h.app, 'GET', `/v1/articles/${host.id}?include=relatedArticles`, { token: h.editor.token }), 200)
    t.strictSame(staff.relatedArticleIds, [draft.id, target.id])
  })

  t.test('wordCount and readingTimeMinutes', async (t) => {
    const words = (n: number, w = 'word') => Array.from({ length: n }, () => w).join(' ')
    const a = await makeArticle(h, {
      headline: 'Counting words',
      body: [
        { type: 'paragraph', text: `<strong>Don't</strong> stop-gap ${words(98)}` }, // 100
        { type: 'heading', level: 2, text: 'Two words' }, // 2
        { type: 'quote', text: words(50), attribution: 'Three word attribution' }, // 53
        { type: 'list', ordered: false, items: [words(45), words(100)] }, // 145
        { type: 'photo', photoId: photo.id, caption: words(40, 'ignored') },
        { type: 'related', articleId: target.id },
        { type: 'embed', url: 'https://video.example/not-counted' }
      ]
    })
    t.equal(a.wordCount, 300)
    t.equal(a.readingTimeMinutes, 2, '300 words at 200 a minute rounds to 2')
    const [row] = await db.select({ wordCount: articles.wordCount, minutes: articles.readingTimeMinutes, text: articles.bodyText }).from(articles).where(eq(articles.id, a.id))
    t.equal(row.wordCount, 300)
    t.equal(row.minutes, 2)
    t.notMatch(row.text, /<strong>/, 'the search text holds no markup')

    const short = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { body: [{ type: 'paragraph', text: 'Tiny.' }] } }), 200)
    t.equal(short.wordCount, 1)
    t.equal(short.readingTimeMinutes, 1, 'any text takes at least a minute')
    const long = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { body: [{ type: 'paragraph', text: words(1000) }] } }), 200)
    t.equal(long.wordCount, 1000)
    t.equal(long.readingTimeMinutes, 5)
    const empty = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { body: [] } }), 200)
    t.equal(empty.wordCount, 0)
    t.equal(empty.readingTimeMinutes, 0)
    t.equal(empty.bodyHtml, '')
  })

  t.test('excerpt: custom, else from the standfirst, else from the body', async (t) => {
    const long = 'Lorem ipsum dolor sit amet, '.repeat(20)
    const fromBody = await makeArticle(h, { headline: 'Excerpt from body', body: [{ type: 'paragraph', text: `<em>${long}</em>` }] })
    t.ok(fromBody.excerpt.length <= 201)
    t.ok(fromBody.excerpt.endsWith('…'))
    t.ok(long.startsWith(fromBody.excerpt.slice(0, -1)))
    const custom = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${fromBody.id}`, { token: h.editor.token, body: { excerpt: 'Custom one' } }), 200)
    t.equal(custom.excerpt, 'Custom one')
    const back = expectStatus(await call(h.app, 'PATCH', `/v1/articles/${fromBody.id}`, { token: h.editor.token, body: { excerpt: null, standfirst: 'From the <b>standfirst</b>' } }), 200)
    t.equal(back.excerpt, 'From the standfirst')
  })

  t.test('a body photo that does not exist is a 400; a photo used in a body cannot be deleted', async (t) => {
    const p = await makePhoto(h, { url: 'https://img.example/used.jpg' })
    await makeArticle(h, { headline: 'Uses a body photo', body: [{ type: 'photo', photoId: p.id }] })
    const del = await call(h.app, 'DELETE', `/v1/photos/${p.id}`, { token: h.editor.token })
    t.match(expectStatus(del, 409), { references: [{ resource: 'article', label: 'Uses a body photo' }] })
    const bad = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Missing body photo', body: [{ type: 'photo', photoId: MISSING }] } })
    t.strictSame(expectStatus(bad, 400).errors, [{ path: '/body/0/photoId', in: 'body', message: 'is not the id of a photo' }])
  })
})
