// Feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1) for the site and each section, tag and author, read
// back with independent parsers (rss-parser; @extractus/feed-extractor): a seed-like story comes
// through with its non-ASCII text and the markup in its headline escaped, drafts never do,
// links are absolute, and the feeds are cached, conditional and evicted like any public read.
import t from 'tap'
import Parser from 'rss-parser'
import { extractFromJson, extractFromXml } from '@extractus/feed-extractor'
import { build, call } from './helper.js'
import { expectStatus, makeArticle, makeAuthor, makePhoto, makeSection, makeTag, publish, type Json } from './articles-fixtures.js'

const HEADLINE = 'Floods & "relief" <b>in</b> Sindh: سیلاب کے بعد'
const SITE = 'https://news.example.com'

t.test('feeds', async (t) => {
  const h = await build(t, { env: { SITE_URL: SITE, SITE_TITLE: 'The Daily Dateline', SITE_LANGUAGE: 'en', PUBLIC_URL: 'https://api.example.com', PUBLIC_CACHE: 'true' } })
  const section = await makeSection(h, 'Pakistan Today')
  const tag = await makeTag(h, 'Floods')
  const author = await makeAuthor(h, 'Ayesha Siddiqui')
  const photo = await makePhoto(h, { url: 'https://img.example/sindh.jpg', caption: 'Relief camp, Dadu', credit: 'PHOTO: ISPR' })
  const story = await makeArticle(h, {
    headline: HEADLINE,
    standfirst: 'Families begin the journey home — کراچی',
    body: [{ type: 'paragraph', text: 'The water has gone, but the fields are still under mud.' }],
    authorIds: [author.id], sectionId: section.id, tagIds: [tag.id], leadPhotoId: photo.id
  })
  const published = await publish(h, story.id)
  const draft = await makeArticle(h, { headline: 'Embargoed: not yet', sectionId: section.id, tagIds: [tag.id], authorIds: [author.id] })
  const get = (url: string, headers: Record<string, string> = {}) => call(h.app, 'GET', url, { headers })
  const link = `${SITE}/articles/${story.slug}`

  const scopes = ['/v1/feeds', `/v1/feeds/sections/${section.slug}`, `/v1/feeds/tags/${tag.slug}`, `/v1/feeds/authors/${author.slug}`]
  for (const scope of scopes) {
    await t.test(`${scope}: RSS, Atom and JSON Feed carry the story`, async (t) => {
      const rss = await get(`${scope}/rss.xml`)
      t.equal(rss.statusCode, 200, rss.body.slice(0, 300))
      t.match(rss.headers['content-type'], /^application\/rss\+xml; charset=utf-8/)
      t.match(rss.body, '<![CDATA[Floods & "relief" <b>in</b> Sindh', 'markup in the headline is character data, not markup')
      const parsed = await new Parser<Json, Json>({ customFields: { item: ['content:encoded'] } }).parseString(rss.body)
      t.match(parsed.title, /^The Daily Dateline/)
      t.equal(parsed.items.length, 1, 'the draft is not in it')
      const item = parsed.items[0]
      t.equal(item.title, HEADLINE, 'the headline, non-ASCII and markup as text')
      t.equal(item.link, link, 'an absolute link to the site')
      t.ok(Math.abs(Date.parse(item.isoDate!) - Date.parse(published.publishedAt)) < 1000, 'its publication date (to the second)')
      t.equal(item.enclosure?.url, 'https://img.example/sindh.jpg', 'the lead photo as an enclosure')
      t.match(item['content:encoded'], /still under mud/, 'the body')
      t.match(item.content, /journey home/, 'the standfirst as its description')
      t.ok([item.categories].flat().some((c: unknown) => JSON.stringify(c).includes('Floods')), 'the tag as a category')

      const atom = await get(`${scope}/atom.xml`)
      t.match(atom.headers['content-type'], /^application\/atom\+xml/)
      const a = extractFromXml(atom.body, { normalization: true })
      t.equal(a.entries?.length, 1)
      t.equal(a.entries![0].title, HEADLINE)
      t.equal(a.entries![0].link, link)
      const atomParsed = await new Parser().parseString(atom.body)
      t.equal(atomParsed.items[0].title, HEADLINE, 'rss-parser reads the Atom feed too')
      t.equal((atomParsed.items[0] as Json).author, 'Ayesha Siddiqui')

      const json = await get(`${scope}/feed.json`)
      t.match(json.headers['content-type'], /^application\/feed\+json/)
      const feed = json.json()
      t.equal(feed.version, 'https://jsonfeed.org/version/1.1')
      t.equal(feed.language, 'en')
      t.equal(feed.items.length, 1)
      t.equal(feed.items[0].title, HEADLINE)
      t.equal(feed.items[0].url, link)
      t.same(feed.items[0].authors, [{ name: 'Ayesha Siddiqui' }], 'JSON Feed 1.1 authors')
      t.notOk('author' in feed.items[0], 'not the 1.0 author')
      t.match(feed.items[0].content_html, /still under mud/)
      t.match(feed.items[0].date_published, /^\d{4}-\d\d-\d\dT/)
      const j = extractFromJson(feed, { normalization: true })
      t.equal(j.entries![0].title, HEADLINE, 'feed-extractor reads the JSON Feed')
    })
  }

  await t.test('nothing of a draft or private field in any feed', async (t) => {
    for (const scope of scopes) {
      for (const file of ['rss.xml', 'atom.xml', 'feed.json']) {
        const body = (await get(`${scope}/${file}`)).body
        t.notMatch(body, /Embargoed|@staff\.test|tokenHash|clientHash/, `${scope}/${file}`)
        t.notMatch(body, new RegExp(draft.id))
      }
    }
  })

  await t.test('unknown scopes and files', async () => {
    expectStatus(await get('/v1/feeds/sections/no-such-section/rss.xml'), 404)
    expectStatus(await get('/v1/feeds/places/x/rss.xml'), 404)
    expectStatus(await get('/v1/feeds/rss.html'), 400)
  })

  await t.test('conditional, cached, and evicted when a story is published', async (t) => {
    const first = await get('/v1/feeds/rss.xml')
    const etag = first.headers.etag as string
    t.match(etag, /^"/)
    t.equal((await get('/v1/feeds/rss.xml', { 'if-none-match': etag })).statusCode, 304)
    t.equal((await get('/v1/feeds/rss.xml')).headers['x-cache'], 'hit', 'served from the public cache')
    t.match(first.headers['cache-control'], /public/)
    await publish(h, draft.id)
    const after = await get('/v1/feeds/rss.xml')
    t.not(after.headers['x-cache'], 'hit')
    t.match(after.body, /Embargoed: not yet/, 'the newly published story is in the next read')
  })

  await t.test('a story without a byline, photo or section', async (t) => {
    const bare = await makeArticle(h, { headline: 'Wire copy' })
    await publish(h, bare.id)
    for (const file of ['rss.xml', 'atom.xml', 'feed.json']) t.equal((await get(`/v1/feeds/${file}`)).statusCode, 200, file)
    const item = (await get('/v1/feeds/feed.json')).json().items.find((i: Json) => i.title === 'Wire copy')
    t.same(item.authors, [])
    t.equal(item.image, undefined)
  })

  await t.test('FEED_CONTENT=excerpt leaves the body out', async (t) => {
    const short = await build(t, { env: { FEED_CONTENT: 'excerpt', SITE_URL: SITE }, database: h.database })
    const feed = (await call(short.app, 'GET', '/v1/feeds/feed.json')).json()
    const item = feed.items.find((i: Json) => i.title === HEADLINE)
    t.equal(item.content_html, undefined, 'no body')
    t.match(item.content_text, /journey home/, 'the standfirst instead')
  })
})
