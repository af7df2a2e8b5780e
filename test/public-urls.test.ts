// PUBLIC_URL and MEDIA_URL: every URL the API hands out (photos, renditions, avatars, bodyHtml,
// Location) absolute under the configured bases, stored rows still holding server paths, and the
// <figure> of a body photo: <picture>, srcset and sizes from the renditions, escaped captions.
import t from 'tap'
import { eq } from 'drizzle-orm'
import sharp from 'sharp'
import { ConfigError, loadConfig } from '../src/config.js'
import { photos } from '../src/db/schema.js'
import { build, call, type Harness } from './helper.js'
import { expectStatus, makeArticle, publish, type Json } from './articles-fixtures.js'
import { canvas, filePart, upload } from './photos-upload-helpers.js'

const SIZES = '(min-width: 720px) 720px, 100vw'

/** Uploads a 700 × 420 PNG: renditions 320 and 640 wide in PNG and WebP, and a WebP 700 wide. */
async function uploadPhoto (h: Harness, meta: Record<string, string> = {}, seed = 1): Promise<{ photo: Json, location: string }> {
  const res = await upload(h, h.editor.token, [
    filePart(await canvas(700, 420, seed), 'photo.png', 'image/png'),
    ...Object.entries(meta).map(([name, value]) => ({ name, value }))
  ])
  return { photo: expectStatus(res, 201), location: String(res.headers.location) }
}

const decode = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')

/** The tags of an HTML fragment with their attributes (decoded), in order. */
function tagsOf (html: string) {
  return [...html.matchAll(/<([a-z]+)((?:\s+[a-z-]+(?:="[^"]*")?)*)\s*>/g)].map(([, name, attrs]) => ({
    name,
    attrs: Object.fromEntries([...attrs.matchAll(/([a-z-]+)(?:="([^"]*)")?/g)].map(([, k, v]) => [k, v === undefined ? '' : decode(v)]))
  }))
}

function refusal (env: Record<string, string>): Error | undefined {
  try {
    loadConfig(env)
  } catch (error) {
    return error as Error
  }
}

const candidates = (srcset: string) => srcset.split(', ').map((c) => {
  const [url, w] = c.split(' ')
  return { url, width: Number(w.replace(/w$/, '')) }
})

t.test('with PUBLIC_URL and MEDIA_URL', async (t) => {
  const h = await build(t, { env: { PUBLIC_URL: 'https://api.example.com/news/', MEDIA_URL: 'https://cdn.example.net/m' } })
  const API = 'https://api.example.com/news'
  const CDN = 'https://cdn.example.net/m'
  t.equal(h.config.PUBLIC_URL, API, 'the trailing slash is dropped')

  const { photo, location } = await uploadPhoto(h, { caption: 'The harbour at dawn', credit: 'PHOTO: Dateline', altText: 'Boats in a harbour' })
  const hash = /\/m\/([0-9a-f]{64})\//.exec(photo.url)?.[1]
  const C = `${CDN}/${hash}`

  t.test('an upload answers with absolute URLs and Location; the row keeps server paths', async (t) => {
    t.equal(location, `${API}/v1/photos/${photo.id}`)
    t.equal(photo.url, `${C}/original.png`)
    t.strictSame(photo.renditions, [
      { width: 320, url: `${C}/320.png`, mimeType: 'image/png' },
      { width: 320, url: `${C}/320.webp`, mimeType: 'image/webp' },
      { width: 640, url: `${C}/640.png`, mimeType: 'image/png' },
      { width: 640, url: `${C}/640.webp`, mimeType: 'image/webp' },
      { width: 700, url: `${C}/700.webp`, mimeType: 'image/webp' }
    ])
    const [row] = await h.database.db.select().from(photos).where(eq(photos.id, photo.id))
    t.equal(row.url, `/media/${hash}/original.png`)
    t.ok(row.renditions.every((r) => r.url.startsWith(`/media/${hash}/`)), 'renditions stored as server paths')
  })

  t.test('reads give the same URLs: one photo, lists, a sparse fieldset, a PATCH', async (t) => {
    // Read by staff: nothing public uses the photo yet.
    const one = expectStatus(await call(h.app, 'GET', `/v1/photos/${photo.id}`, { token: h.author.token }), 200)
    t.equal(one.url, photo.url)
    t.strictSame(one.renditions, photo.renditions)
    const list = expectStatus(await call(h.app, 'GET', '/v1/photos', { token: h.author.token, query: { fields: 'url,renditions' } }), 200)
    t.strictSame(list.data.find((p: Json) => p.id === photo.id), { id: photo.id, url: photo.url, renditions: photo.renditions })
    const patched = expectStatus(await call(h.app, 'PATCH', `/v1/photos/${photo.id}`, { token: h.editor.token, body: { caption: 'Renamed' } }), 200)
    t.equal(patched.url, photo.url)
  })

  t.test('a photo added by URL: an external one stays as given, a server path gets PUBLIC_URL, one of ours is stored as a path', async (t) => {
    const post = (body: Json) => call(h.app, 'POST', '/v1/photos', { token: h.editor.token, body })
    const external = await post({ url: 'https://img.example/a.jpg', renditions: [{ width: 300, url: 'https://img.example/a-300.jpg' }] })
    t.equal(external.headers.location, `${API}/v1/photos/${external.json().id}`)
    t.equal(external.json().url, 'https://img.example/a.jpg')
    t.strictSame(external.json().renditions, [{ width: 300, url: 'https://img.example/a-300.jpg' }])
    const local = expectStatus(await post({ url: '/images/b.jpg' }), 201)
    t.equal(local.url, `${API}/images/b.jpg`)
    const echoed = expectStatus(await post({ url: photo.url, renditions: [{ width: 320, url: `${API}/media/${hash}/320.png` }] }), 201)
    t.equal(echoed.url, photo.url, 'read back under MEDIA_URL')
    t.equal(echoed.renditions[0].url, `${C}/320.png`, 'PUBLIC_URL/media is media too')
    const [row] = await h.database.db.select().from(photos).where(eq(photos.id, echoed.id))
    t.equal(row.url, `/media/${hash}/original.png`)
    t.equal(row.renditions[0].url, `/media/${hash}/320.png`)
    const odd = expectStatus(await post({ url: `${API}//elsewhere.example/x.jpg` }), 201)
    const [oddRow] = await h.database.db.select().from(photos).where(eq(photos.id, odd.id))
    t.equal(oddRow.url, `${API}//elsewhere.example/x.jpg`, 'never turned into a protocol-relative URL')
  })

  t.test('bodyHtml: <picture> with a WebP <source>, srcset of every width, sizes, width, height, alt, lazy, and the figcaption', async (t) => {
    const a = await makeArticle(h, {
      headline: 'Harbour pictures',
      leadPhotoId: photo.id,
      body: [{ type: 'photo', photoId: photo.id }]
    })
    const res = await call(h.app, 'GET', `/v1/articles/${a.id}`, { token: h.editor.token, query: { include: 'leadPhoto' } })
    const article = expectStatus(res, 200)
    t.equal(article.bodyHtml,
      '<figure class="photo"><picture>' +
      `<source type="image/webp" srcset="${C}/320.webp 320w, ${C}/640.webp 640w, ${C}/700.webp 700w" sizes="${SIZES}">` +
      `<img src="${C}/original.png" srcset="${C}/320.png 320w, ${C}/640.png 640w, ${C}/original.png 700w" sizes="${SIZES}" width="700" height="420" alt="Boats in a harbour" loading="lazy" decoding="async">` +
      '</picture><figcaption>Renamed <span class="credit">PHOTO: Dateline</span></figcaption></figure>')
    t.equal(article.leadPhoto.url, photo.url, 'the embedded lead photo too')
    t.strictSame(article.leadPhoto.renditions, photo.renditions)

    // Every candidate is real: under the CDN base, served by /media in the type and width it claims.
    const tags = tagsOf(article.bodyHtml)
    const offered = tags.flatMap((tag) => (tag.attrs.srcset ? candidates(tag.attrs.srcset).map((c) => ({ ...c, type: tag.attrs.type ?? 'image/png' })) : []))
    t.equal(offered.length, 6)
    for (const c of offered) {
      t.ok(c.url.startsWith(`${CDN}/`), c.url)
      const file = await call(h.app, 'GET', `/media/${c.url.slice(CDN.length + 1)}`, { token: h.author.token })
      t.equal(file.statusCode, 200)
      t.equal(file.headers['content-type'], c.type)
      t.equal((await sharp(file.rawPayload).metadata()).width, c.width, `${c.url} is ${c.width} px wide`)
    }
  })

  t.test('"Also read" links follow ARTICLE_URL_TEMPLATE, which names the site, not the API', async (t) => {
    const target = await makeArticle(h, { headline: 'Target story' })
    await publish(h, target.id)
    const a = await makeArticle(h, { headline: 'Links on', body: [{ type: 'related', articleId: target.id }] })
    t.match(a.bodyHtml, `<a href="/articles/${target.slug}">Target story</a>`)
  })

  t.test('a hostile caption, credit and alt text are escaped inside the figure', async (t) => {
    const { photo: bad } = await uploadPhoto(h, {
      caption: '<script>alert(1)</script>',
      credit: '</span><img src=x onerror=alert(2)>',
      altText: '" onerror="alert(3)'
    }, 2)
    const a = await makeArticle(h, { headline: 'Hostile', body: [{ type: 'photo', photoId: bad.id }, { type: 'photo', photoId: bad.id, caption: 'Own <img src=x onerror=alert(4)><em>caption</em>' }] })
    const html: string = a.bodyHtml
    t.notMatch(html, /<script|<img src=x|onerror="alert/)
    t.match(html, ' alt="&quot; onerror=&quot;alert(3)" loading="lazy"')
    t.match(html, '<figcaption>&lt;script&gt;alert(1)&lt;/script&gt; <span class="credit">&lt;/span&gt;&lt;img src=x onerror=alert(2)&gt;</span></figcaption>')
    t.match(html, '<figcaption>Own <em>caption</em> <span class="credit">')
    t.strictSame(tagsOf(html).map((tag) => tag.name),
      ['figure', 'picture', 'source', 'img', 'figcaption', 'span', 'figure', 'picture', 'source', 'img', 'figcaption', 'em', 'span'],
      'no tag but the figure\'s own')
    t.equal(tagsOf(html).find((tag) => tag.name === 'img')?.attrs.alt, '" onerror="alert(3)')
  })

  t.test('Location of every 201 is absolute', async (t) => {
    const section = await call(h.app, 'POST', '/v1/sections', { token: h.editor.token, body: { name: 'Harbours' } })
    t.equal(section.headers.location, `${API}/v1/sections/${section.json().id}`)
    const article = await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: 'Located', commentsOpen: true } })
    t.equal(article.headers.location, `${API}/v1/articles/${article.json().id}`)
    await publish(h, article.json().id)
    const comment = await call(h.app, 'POST', `/v1/articles/${article.json().id}/comments`, { body: { authorName: 'Reader', authorEmail: 'reader@example.com', body: 'Fine pictures.' } })
    t.equal(comment.headers.location, `${API}/v1/comments/${comment.json().id}`)
    const token = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { label: 'app' } })
    t.equal(token.headers.location, `${API}/v1/tokens/${token.json().id}`)
    const author = await call(h.app, 'POST', '/v1/authors', { token: h.editor.token, body: { name: 'Pia Photographer', avatarId: photo.id } })
    t.equal(author.headers.location, `${API}/v1/authors/${author.json().id}`)
    const withAvatar = expectStatus(await call(h.app, 'GET', `/v1/authors/${author.json().id}`, { query: { include: 'avatar' } }), 200)
    t.equal(withAvatar.avatar.url, photo.url, 'an embedded avatar too')
    t.equal(withAvatar.avatar.renditions[0].url, `${C}/320.png`)
  })
})

t.test('the Host header never chooses the base, and a cached public answer keeps the configured one', async (t) => {
  const h = await build(t, { env: { PUBLIC_URL: 'https://api.example.com', PUBLIC_CACHE: 'true' } })
  const { photo } = await uploadPhoto(h)
  t.match(photo.url, /^https:\/\/api\.example\.com\/media\/[0-9a-f]{64}\/original\.png$/, 'PUBLIC_URL/media without MEDIA_URL')
  const a = await makeArticle(h, { headline: 'Cached pictures', body: [{ type: 'photo', photoId: photo.id }] })
  await publish(h, a.id)
  const first = await call(h.app, 'GET', `/v1/articles/${a.id}`, { headers: { host: 'evil.example' } })
  const second = await call(h.app, 'GET', `/v1/articles/${a.id}`, { headers: { host: 'other.example' } })
  t.equal(second.headers['x-cache'], 'hit')
  t.equal(second.body, first.body)
  t.notMatch(first.body, /evil\.example|other\.example|localhost/)
  t.match(first.json().bodyHtml, `<img src="${photo.url}"`)
})

t.test('without PUBLIC_URL and MEDIA_URL, URLs stay relative', async (t) => {
  const h = await build(t)
  const { photo, location } = await uploadPhoto(h, { altText: 'Boats' })
  t.equal(location, `/v1/photos/${photo.id}`)
  t.match(photo.url, /^\/media\/[0-9a-f]{64}\/original\.png$/)
  t.ok(photo.renditions.every((r: Json) => r.url.startsWith('/media/')))
  const a = await makeArticle(h, { headline: 'Relative', body: [{ type: 'photo', photoId: photo.id }] })
  const base = photo.url.replace(/original\.png$/, '')
  t.equal(a.bodyHtml,
    '<figure class="photo"><picture>' +
    `<source type="image/webp" srcset="${base}320.webp 320w, ${base}640.webp 640w, ${base}700.webp 700w" sizes="${SIZES}">` +
    `<img src="${photo.url}" srcset="${base}320.png 320w, ${base}640.png 640w, ${photo.url} 700w" sizes="${SIZES}" width="700" height="420" alt="Boats" loading="lazy" decoding="async">` +
    '</picture></figure>')
  const local = expectStatus(await call(h.app, 'POST', '/v1/photos', { token: h.editor.token, body: { url: '/images/b.jpg' } }), 201)
  t.equal(local.url, '/images/b.jpg')
})

t.test('MEDIA_URL alone: media on the CDN, API paths relative; BODY_PHOTO_SIZES configures sizes', async (t) => {
  const h = await build(t, { env: { MEDIA_URL: 'https://cdn.example.net/', BODY_PHOTO_SIZES: '(min-width: 60em) 40em, 90vw' } })
  const { photo, location } = await uploadPhoto(h)
  t.equal(location, `/v1/photos/${photo.id}`)
  t.match(photo.url, /^https:\/\/cdn\.example\.net\/[0-9a-f]{64}\/original\.png$/)
  t.ok(photo.renditions.every((r: Json) => r.url.startsWith('https://cdn.example.net/')))
  const local = expectStatus(await call(h.app, 'POST', '/v1/photos', { token: h.editor.token, body: { url: '/images/b.jpg' } }), 201)
  t.equal(local.url, '/images/b.jpg', 'a server path outside /media stays relative')
  const a = await makeArticle(h, { headline: 'CDN', body: [{ type: 'photo', photoId: photo.id }] })
  const tags = tagsOf(a.bodyHtml)
  t.strictSame(tags.filter((tag) => tag.attrs.sizes).map((tag) => tag.attrs.sizes), ['(min-width: 60em) 40em, 90vw', '(min-width: 60em) 40em, 90vw'])
  t.ok(tags.flatMap((tag) => (tag.attrs.srcset ? candidates(tag.attrs.srcset) : [])).every((c) => c.url.startsWith('https://cdn.example.net/')))
})

t.test('a photo without renditions gets a plain <img>; renditions of an external photo make its srcset (one candidate a width; a trailing comma, which srcset would cut, encoded)', async (t) => {
  const h = await build(t, { env: { PUBLIC_URL: 'https://api.example.com' } })
  const post = async (body: Json) => expectStatus(await call(h.app, 'POST', '/v1/photos', { token: h.editor.token, body }), 201)
  const plain = await post({ url: 'https://img.example/plain.jpg', altText: 'Plain', width: 800, height: 600 })
  const sized = await post({
    url: '/images/big.jpg', mimeType: 'image/jpeg', width: 2000, height: 1000,
    renditions: [{ width: 1000, url: '/images/big-1000.jpg' }, { width: 500, url: 'https://img.example/big-500.jpg,' }, { width: 1000, url: '/images/again-1000.jpg' }]
  })
  const a = await makeArticle(h, { headline: 'External', body: [{ type: 'photo', photoId: plain.id }, { type: 'photo', photoId: sized.id }] })
  t.equal(a.bodyHtml, [
    '<figure class="photo"><img src="https://img.example/plain.jpg" width="800" height="600" alt="Plain" loading="lazy" decoding="async"></figure>',
    '<figure class="photo"><img src="https://api.example.com/images/big.jpg" srcset="https://img.example/big-500.jpg%2C 500w, https://api.example.com/images/big-1000.jpg 1000w, https://api.example.com/images/big.jpg 2000w" ' +
      `sizes="${SIZES}" width="2000" height="1000" alt="" loading="lazy" decoding="async"></figure>`
  ].join('\n'))
})

t.test('a PUBLIC_URL or MEDIA_URL that is not an absolute http(s) base is refused at start, naming the setting', async (t) => {
  for (const bad of ['api.example.com', 'ftp://api.example.com', 'https://api.example.com/?x=1', 'https://api.example.com/#top', 'https://user:pw@api.example.com', 'https://api.example.com/a b', '/relative']) {
    for (const key of ['PUBLIC_URL', 'MEDIA_URL']) {
      const error = refusal({ [key]: bad })
      t.ok(error instanceof ConfigError, `${key}=${bad} is refused`)
      t.match(error?.message, new RegExp(`^${key}=".*" is not allowed: ${key} takes an absolute http\\(s\\) URL without query or fragment`))
    }
  }
  t.equal(loadConfig({ PUBLIC_URL: 'http://[::1]:8080/api//' }).PUBLIC_URL, 'http://[::1]:8080/api')
  t.equal(loadConfig({ MEDIA_URL: 'https://cdn.example.net' }).MEDIA_URL, 'https://cdn.example.net')
  t.equal(loadConfig({}).PUBLIC_URL, undefined)
})
