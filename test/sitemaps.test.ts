// Sitemaps: the index, a month's articles (split past SITEMAP_URLS_PER_FILE), sections, tags,
// authors and Google News, each parsed with an XML parser and checked for the protocols' required
// elements; absolute links; drafts, scheduled and archived articles never listed; the news
// window and cap; ETags, 304s, the public cache and its eviction when a story is published.
import t from 'tap'
import { sql } from 'drizzle-orm'
import type { Test } from 'tap'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import { build, call, type Harness } from './helper.js'
import { expectStatus, makeArticle, makeAuthor, makePhoto, makeSection, makeTag, publish, type Json } from './articles-fixtures.js'

const HEADLINE = 'Floods & "relief" <b>in</b> Sindh: سیلاب کے بعد'
const CAPTION = 'Relief camp <i>Dadu</i> & "tents" — کیمپ'
const SITE = 'https://news.example.com'
const API = 'https://api.example.com'
const NOW = new Date('2026-11-20T12:00:00.000Z')
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000).toISOString()
const env = { SITE_URL: SITE, PUBLIC_URL: API, SITE_TITLE: 'The Daily Dateline', SITE_LANGUAGE: 'en-GB', PUBLIC_CACHE: 'true', SITEMAP_URLS_PER_FILE: '3' }

const parser = new XMLParser({ ignoreAttributes: false, isArray: (name) => ['url', 'sitemap', 'image:image'].includes(name) })
const list = <T> (x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x])

/** A GET that must be a well-formed sitemap, parsed. */
async function read (t: Test, h: Harness, url: string): Promise<{ doc: Json, body: string, headers: Json }> {
  const res = await call(h.app, 'GET', url)
  t.equal(res.statusCode, 200, `${url}: 200`, { body: res.body.slice(0, 300) })
  t.equal(res.headers['content-type'], 'application/xml; charset=utf-8', `${url}: XML`)
  t.equal(XMLValidator.validate(res.body), true, `${url}: well-formed XML`)
  return { doc: parser.parse(res.body), body: res.body, headers: res.headers }
}

/** `urlset` with `url/loc` absolute, `lastmod` a W3C date: its urls. */
function urlsOf (t: Test, doc: Json, what: string): Json[] {
  t.ok(doc.urlset, `${what}: a urlset`)
  t.equal(doc.urlset['@_xmlns'], 'http://www.sitemaps.org/schemas/sitemap/0.9', `${what}: the sitemap namespace`)
  const urls = list<Json>(doc.urlset.url)
  for (const u of urls) {
    t.match(u.loc, /^https:\/\//, `${what}: loc is absolute`)
    t.ok(!Number.isNaN(Date.parse(u.lastmod)), `${what}: lastmod is a date`)
  }
  return urls
}

function sitemapsOf (t: Test, doc: Json): Json[] {
  t.ok(doc.sitemapindex, 'a sitemapindex')
  t.equal(doc.sitemapindex['@_xmlns'], 'http://www.sitemaps.org/schemas/sitemap/0.9')
  const entries = list<Json>(doc.sitemapindex.sitemap)
  for (const s of entries) t.match(s.loc, /^https:\/\/api\.example\.com\/v1\/sitemaps\//, 'sitemap/loc is an absolute address of this API')
  return entries
}

const path = (loc: string) => loc.slice(API.length)

t.test('sitemaps', async (t) => {
  const h = await build(t, { env, now: () => NOW })
  const section = await makeSection(h, 'Pakistan Today')
  const tag = await makeTag(h, 'Floods')
  const author = await makeAuthor(h, 'Ayesha Siddiqui')
  const photo = await makePhoto(h, { url: 'https://img.example/sindh.jpg', caption: CAPTION, altText: 'Tents <by> the "river"' })
  const story = await makeArticle(h, { headline: HEADLINE, authorIds: [author.id], sectionId: section.id, tagIds: [tag.id], leadPhotoId: photo.id })
  await publish(h, story.id, hoursAgo(2))
  // Four in March 2025: one more than a file holds (SITEMAP_URLS_PER_FILE=3).
  const march: Json[] = []
  for (let i = 0; i < 4; i++) {
    const a = await makeArticle(h, { headline: `March story ${i + 1}` })
    await publish(h, a.id, `2025-03-0${i + 1}T10:00:00.000Z`)
    march.push(a)
  }
  const old = await makeArticle(h, { headline: 'Three days old' })
  await publish(h, old.id, hoursAgo(72))
  const draft = await makeArticle(h, { headline: 'Embargoed draft story' })
  const scheduled = await makeArticle(h, { headline: 'Scheduled story for tomorrow' })
  await publish(h, scheduled.id, new Date(NOW.getTime() + 86_400_000).toISOString())
  const archived = await makeArticle(h, { headline: 'Archived story gone' })
  await publish(h, archived.id, hoursAgo(5))
  expectStatus(await call(h.app, 'POST', `/v1/articles/${archived.id}/archive`, { token: h.editor.token }), 200)
  const hidden = [draft, scheduled, archived]

  await t.test('the index names every sitemap, and each one answers', async (t) => {
    const { doc } = await read(t, h, '/v1/sitemaps/index.xml')
    const entries = sitemapsOf(t, doc)
    const paths = entries.map((s) => path(s.loc))
    t.same(paths, [
      '/v1/sitemaps/news.xml', '/v1/sitemaps/sections.xml', '/v1/sitemaps/tags.xml', '/v1/sitemaps/authors.xml',
      '/v1/sitemaps/articles/2026-11.xml', '/v1/sitemaps/articles/2025-03.xml', '/v1/sitemaps/articles/2025-03-2.xml'
    ], 'news, the directories, then the months newest first, March split in two')
    for (const s of entries) t.ok(!Number.isNaN(Date.parse(s.lastmod)), `${s.loc}: lastmod`)
    t.equal(entries.find((s) => s.loc.endsWith('2025-03-2.xml'))!.lastmod, entries.find((s) => s.loc.endsWith('2025-03.xml'))!.lastmod)
    for (const p of paths) await read(t, h, p)
    const root = await read(t, h, '/sitemap.xml')
    t.same(sitemapsOf(t, root.doc).map((s) => s.loc), entries.map((s) => s.loc), '/sitemap.xml is the same index')
    t.match(root.headers['cache-control'], /^public/)
    t.ok(root.headers.etag)
  })

  await t.test('a month: every public article with its lead photo, escaped', async (t) => {
    const { doc, body } = await read(t, h, '/v1/sitemaps/articles/2026-11.xml')
    const urls = urlsOf(t, doc, '2026-11')
    t.same(urls.map((u) => u.loc), [old, story].map((a) => `${SITE}/articles/${a.slug}`), 'oldest first, at their absolute addresses on the site; not the scheduled one')
    const image = urls[1]['image:image']
    t.equal(image.length, 1)
    t.equal(image[0]['image:loc'], 'https://img.example/sindh.jpg')
    t.equal(image[0]['image:caption'], CAPTION, 'the caption comes back as written')
    t.equal(image[0]['image:title'], 'Tents <by> the "river"')
    t.match(body, 'Relief camp &lt;i&gt;Dadu&lt;/i&gt; &amp;', 'markup in the caption is escaped text')
    t.equal(doc.urlset['@_xmlns:image'], 'http://www.google.com/schemas/sitemap-image/1.1')
    t.ok(Date.parse(urls[1].lastmod) >= Date.parse(hoursAgo(2)), 'lastmod no earlier than publication')

    const first = urlsOf(t, (await read(t, h, '/v1/sitemaps/articles/2025-03.xml')).doc, '2025-03')
    const second = urlsOf(t, (await read(t, h, '/v1/sitemaps/articles/2025-03-2.xml')).doc, '2025-03-2')
    t.same([...first, ...second].map((u) => u.loc), march.map((a) => `${SITE}/articles/${a.slug}`), 'oldest first, three then one')
    t.same(first[0]['image:image'], undefined, 'no photo, no image:image')
    expectStatus(await call(h.app, 'GET', '/v1/sitemaps/articles/2025-03-3.xml'), 404)
    expectStatus(await call(h.app, 'GET', '/v1/sitemaps/articles/2024-01.xml'), 404)
    expectStatus(await call(h.app, 'GET', '/v1/sitemaps/articles/2025-13.xml'), 400)
    expectStatus(await call(h.app, 'GET', '/v1/sitemaps/articles/2025-03-1.xml'), 400)
    expectStatus(await call(h.app, 'GET', '/v1/sitemaps/pages.xml'), 400)
  })

  await t.test('Google News: the last 48 hours, with publication, date and title', async (t) => {
    const { doc, body } = await read(t, h, '/v1/sitemaps/news.xml')
    t.equal(doc.urlset['@_xmlns:news'], 'http://www.google.com/schemas/sitemap-news/0.9')
    const urls = urlsOf(t, doc, 'news')
    t.same(urls.map((u) => u.loc), [`${SITE}/articles/${story.slug}`], 'two hours old: in; three days old, archived, scheduled: out')
    const news = urls[0]['news:news']
    t.equal(news['news:publication']['news:name'], 'The Daily Dateline')
    t.equal(news['news:publication']['news:language'], 'en', 'the ISO 639 code of SITE_LANGUAGE')
    t.equal(new Date(news['news:publication_date']).toISOString(), hoursAgo(2))
    t.equal(news['news:title'], HEADLINE, 'the headline, non-ASCII and markup as text')
    t.match(body, 'Floods &amp; "relief" &lt;b&gt;in&lt;/b&gt; Sindh: سیلاب کے بعد', 'escaped in the XML')
  })

  await t.test('sections, tags and authors', async (t) => {
    const sections = urlsOf(t, (await read(t, h, '/v1/sitemaps/sections.xml')).doc, 'sections')
    t.same(sections.map((u) => u.loc), [`${SITE}/sections/${section.slug}`])
    const tags = urlsOf(t, (await read(t, h, '/v1/sitemaps/tags.xml')).doc, 'tags')
    t.same(tags.map((u) => u.loc), [`${SITE}/tags/${tag.slug}`])
    const authors = urlsOf(t, (await read(t, h, '/v1/sitemaps/authors.xml')).doc, 'authors')
    t.ok(authors.some((u) => u.loc === `${SITE}/authors/${author.slug}`))
    t.notMatch(JSON.stringify(authors), /@/, 'no email')
    expectStatus(await call(h.app, 'GET', '/v1/sitemaps/sections-2.xml'), 404)
  })

  await t.test('drafts, scheduled and archived articles appear in no sitemap', async (t) => {
    const index = sitemapsOf(t, (await read(t, h, '/v1/sitemaps/index.xml')).doc)
    for (const s of index) {
      const body = (await call(h.app, 'GET', path(s.loc))).body
      for (const a of hidden) {
        t.notOk(body.includes(a.slug) || body.includes(a.headline), `${s.loc}: not ${a.headline}`)
      }
    }
  })

  await t.test('conditional, cached, and evicted when a story is published', async (t) => {
    for (const url of ['/v1/sitemaps/index.xml', '/v1/sitemaps/articles/2026-11.xml', '/v1/sitemaps/news.xml']) {
      const first = await call(h.app, 'GET', url)
      const etag = first.headers.etag as string
      t.match(etag, /^"/, `${url}: an ETag`)
      t.match(first.headers['cache-control'], /^public/)
      t.match(String(first.headers['surrogate-key']), /(^| )al( |$)/, `${url}: tagged as an article list`)
      t.equal((await call(h.app, 'GET', url, { headers: { 'if-none-match': etag } })).statusCode, 304, `${url}: 304`)
      t.equal((await call(h.app, 'GET', url)).headers['x-cache'], 'hit', `${url}: from the public cache`)
    }
    const fresh = await makeArticle(h, { headline: 'Breaking: dam holds' })
    await publish(h, fresh.id)
    for (const url of ['/v1/sitemaps/articles/2026-11.xml', '/v1/sitemaps/news.xml']) {
      const after = await call(h.app, 'GET', url)
      t.not(after.headers['x-cache'], 'hit', `${url}: evicted`)
      t.match(after.body, `${SITE}/articles/${fresh.slug}`, `${url}: the new story is in the next read`)
    }
    const sections = await call(h.app, 'GET', '/v1/sitemaps/sections.xml')
    t.equal((await call(h.app, 'GET', '/v1/sitemaps/sections.xml')).headers['x-cache'], 'hit')
    const other = await makeSection(h, 'Weather')
    const again = await call(h.app, 'GET', '/v1/sitemaps/sections.xml')
    t.not(again.body, sections.body)
    t.match(again.body, `${SITE}/sections/${other.slug}`, 'a new section evicts the sections sitemap')
  })

})

t.test('the news sitemap holds at most 1,000 articles, newest first; a scheduled story is listed once due', async (t) => {
  let now = NOW
  const h = await build(t, { env: { SITE_URL: SITE, PUBLIC_URL: API }, now: () => now })
  // 1,001 published in the last 40 minutes (one every two seconds), and one just outside the window.
  await h.database.db.execute(sql`
    insert into articles (slug, headline, status, published_at, first_published_at)
    select 'wire-' || i, 'Wire ' || i, 'published', ${NOW.toISOString()}::timestamptz - make_interval(secs => i * 2), ${NOW.toISOString()}::timestamptz - make_interval(secs => i * 2)
    from generate_series(1, 1001) as i`)
  await h.database.db.execute(sql`
    insert into articles (slug, headline, status, published_at) values ('outside', 'Outside', 'published', ${hoursAgo(48.01)}::timestamptz)`)
  const { doc } = await read(t, h, '/v1/sitemaps/news.xml')
  const urls = list<Json>(doc.urlset.url)
  t.equal(urls.length, 1000, 'capped at 1,000')
  t.equal(urls[0].loc, `${SITE}/articles/wire-1`, 'the newest first')
  t.equal(urls[999].loc, `${SITE}/articles/wire-1000`, 'the oldest of the newest 1,000 last')
  t.notOk(urls.some((u) => u.loc.endsWith('/outside')))
  const month = list<Json>((await read(t, h, '/v1/sitemaps/articles/2026-11.xml')).doc.urlset.url)
  t.equal(month.length, 1002, 'the month lists them all')

  const scheduled = await makeArticle(h, { headline: 'Due in an hour' })
  await publish(h, scheduled.id, hoursAgo(-1))
  t.notMatch((await call(h.app, 'GET', '/v1/sitemaps/news.xml')).body, scheduled.slug, 'not before its time')
  now = new Date(NOW.getTime() + 2 * 3_600_000)
  const news = list<Json>((await read(t, h, '/v1/sitemaps/news.xml')).doc.urlset.url)
  t.equal(news[0].loc, `${SITE}/articles/${scheduled.slug}`, 'listed, newest, once due, with no job run')
  t.match((await call(h.app, 'GET', '/v1/sitemaps/articles/2026-11.xml')).body, scheduled.slug)
})

t.test('without PUBLIC_URL, links come from Host, and one host\'s answer is never served for another', async (t) => {
  const h = await build(t, { env: { PUBLIC_CACHE: 'true' } })
  const get = (host: string) => h.app.inject({ method: 'GET', url: '/v1/sitemaps/index.xml', headers: { host } })
  const poisoned = await get('evil.example')
  t.equal(poisoned.statusCode, 200)
  t.match(poisoned.body, 'http://evil.example/v1/sitemaps/', 'built from the Host it was sent')
  t.equal((await get('evil.example')).headers['x-cache'], 'hit', 'cached for that host')
  const honest = await get('news.example.com')
  t.notOk(honest.headers['x-cache'], 'not the other host\'s entry')
  t.match(honest.body, 'http://news.example.com/v1/sitemaps/')
  t.notMatch(honest.body, 'evil.example')
})

t.test('a site with nothing to list: empty but valid sitemaps, not errors', async (t) => {
  const h = await build(t)
  for (const url of ['/v1/sitemaps/news.xml', '/v1/sitemaps/sections.xml', '/v1/sitemaps/tags.xml', '/v1/sitemaps/authors.xml', '/v1/sitemaps/index.xml']) {
    const res = await call(h.app, 'GET', url)
    t.equal(res.statusCode, 200, `${url}: 200`)
    const doc = new XMLParser({ ignoreAttributes: false }).parse(res.body) as Json
    t.ok(doc.urlset ?? doc.sitemapindex, `${url}: a urlset or a sitemapindex`)
  }
  t.match((await call(h.app, 'GET', '/v1/sitemaps/news.xml')).body, 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"')
})
