// Text is stored as it was sent, or refused naming the field: bytes that are not UTF-8, escaped
// lone surrogates and NUL, in any JSON string, photo form field or query parameter, are a 400 with
// the field's JSON Pointer; a JSON body in another charset is a 415. Nothing is written.
import t, { type Test } from 'tap'
import { count, eq } from 'drizzle-orm'
import { articles, authors, comments, photos, sections, tags, users } from '../src/db/schema.js'
import { build, call, type Harness } from './helper.js'
import { problem } from './assertions.js'
import { makePhoto, published } from './articles-fixtures.js'
import { freshAddress } from './comments-helpers.js'
import { canvas, nothingStored, snapshot } from './photos-upload-helpers.js'

// Each stands where a JSON string's contents go, between its quotes.
const RAW: Array<[string, Buffer]> = [
  ['byte ff', Buffer.from([0xff])],
  ['overlong c0 af', Buffer.from([0xc0, 0xaf])],
  ['CESU-8 surrogate ed a0 80', Buffer.from([0xed, 0xa0, 0x80])],
  ['cut sequence e2 82', Buffer.from([0xe2, 0x82])]
]
const ESCAPED: Array<[string, string, RegExp]> = [
  ['escaped lone high surrogate', '\\ud800', /unpaired surrogates/],
  ['escaped lone low surrogate', '\\udc00', /unpaired surrogates/],
  ['escaped NUL', '\\u0000', /NUL/]
]

/** A JSON body whose `%%` placeholder (inside a string) becomes the given bytes. */
const bodyWith = (template: object, insert: Buffer) => {
  const [before, after] = JSON.stringify(template).split('%%')
  return Buffer.concat([Buffer.from(`${before}before `), insert, Buffer.from(` after${after}`)])
}

const rows = async (h: Harness) => {
  const db = h.database.db
  const n = async (table: typeof articles | typeof authors | typeof sections | typeof tags | typeof users | typeof photos | typeof comments) =>
    (await db.select({ n: count() }).from(table))[0].n
  return { articles: await n(articles), authors: await n(authors), sections: await n(sections), tags: await n(tags), users: await n(users), photos: await n(photos), comments: await n(comments) }
}

t.test('text that is not what was sent', async (t) => {
  const h = await build(t)
  const photo = await makePhoto(h)
  const article = await published(h, { headline: 'Open for comments', commentsOpen: true })

  type Target = { name: string, method: 'POST' | 'PATCH', url: string, body: object, path: string, token?: string, anonymous?: boolean }
  const targets: Target[] = [
    { name: 'article headline', method: 'POST', url: '/v1/articles', body: { headline: '%%' }, path: '/headline' },
    { name: 'article body block', method: 'POST', url: '/v1/articles', body: { headline: 'Fine', body: [{ type: 'paragraph', text: 'ok' }, { type: 'paragraph', text: '%%' }] }, path: '/body/1/text' },
    { name: 'article update', method: 'PATCH', url: `/v1/articles/${article.id}`, body: { standfirst: '%%' }, path: '/standfirst' },
    { name: 'author name', method: 'POST', url: '/v1/authors', body: { name: '%%' }, path: '/name' },
    { name: 'author links', method: 'POST', url: '/v1/authors', body: { name: 'Fine', links: { website: 'https://x.test/%%' } }, path: '/links/website' },
    { name: 'section name', method: 'POST', url: '/v1/sections', body: { name: '%%' }, path: '/name' },
    { name: 'tag name', method: 'POST', url: '/v1/tags', body: { name: '%%' }, path: '/name' },
    { name: 'user name', method: 'POST', url: '/v1/users', body: { name: '%%', email: 'u@x.test', role: 'author' }, path: '/name', token: h.admin.token },
    { name: 'photo caption', method: 'PATCH', url: `/v1/photos/${photo.id}`, body: { caption: '%%' }, path: '/caption' },
    { name: 'comment body', method: 'POST', url: `/v1/articles/${article.id}/comments`, body: { authorName: 'Rita', authorEmail: 'rita@reader.test', body: '%%' }, path: '/body', anonymous: true },
    { name: 'comment author', method: 'POST', url: `/v1/articles/${article.id}/comments`, body: { authorName: '%%', authorEmail: 'rita@reader.test', body: 'A remark.' }, path: '/authorName', anonymous: true }
  ]
  const send = (target: Target, payload: Buffer, contentType = 'application/json') => h.app.inject({
    method: target.method,
    url: target.url,
    remoteAddress: freshAddress(),
    headers: { 'content-type': contentType, ...(!target.anonymous && { authorization: `Bearer ${target.token ?? h.editor.token}` }) },
    payload
  })
  const refused = (t: Test, res: Awaited<ReturnType<typeof send>>, path: string, message: RegExp) => {
    const body = problem(t, res, 400, 'VALIDATION_FAILED')
    t.strictSame(body.errors.map((e: any) => [e.path, e.in]), [[path, 'body']], `names body ${path}`)
    t.match(body.errors[0].message, message)
  }

  t.test('bytes that are not UTF-8, and escaped lone surrogates and NUL: 400 naming the field, nothing written', async (t) => {
    const before = await rows(h)
    const [articleBefore] = await h.database.db.select().from(articles).where(eq(articles.id, article.id))
    const [photoBefore] = await h.database.db.select().from(photos).where(eq(photos.id, photo.id))
    for (const target of targets) {
      for (const [label, bytes] of RAW) {
        const res = await send(target, bodyWith(target.body, bytes))
        refused(t, res, target.path, new RegExp(`not valid UTF-8 \\(byte 0x${bytes[0].toString(16)} at offset \\d+`))
        t.equal(res.json().errors[0].message.match(/offset (\d+)/)[1], String(bodyWith(target.body, bytes).indexOf(bytes)), `${target.name}, ${label}: the offset is the bad byte's`)
      }
      for (const [label, escape, message] of ESCAPED) {
        t.comment(`${target.name}, ${label}`)
        refused(t, await send(target, bodyWith(target.body, Buffer.from(escape))), target.path, message)
      }
    }
    t.strictSame(await rows(h), before, 'no row added anywhere')
    t.strictSame((await h.database.db.select().from(articles).where(eq(articles.id, article.id)))[0], articleBefore, 'the article is unchanged')
    t.strictSame((await h.database.db.select().from(photos).where(eq(photos.id, photo.id)))[0], photoBefore, 'the photo is unchanged')
  })

  t.test('a field name is text too', async (t) => {
    const res = await send(targets[5], Buffer.from('{"name":"Fine","na\\u0000me":"x"}'))
    refused(t, res, '/na\u0000me', /field name that must not contain NUL/)
  })

  t.test('well-formed text, astral characters and U+FFFD itself are stored as sent', async (t) => {
    const text = 'Café — 東京 😀 \ufffd "quoted" \\ end'
    for (const target of targets.filter((x) => x.method === 'POST' && x.path === '/name')) {
      const res = await send(target, Buffer.from(JSON.stringify({ ...target.body, name: text, ...(target.url === '/v1/users' && { email: `u${Math.random()}@x.test` }) })))
      t.equal(res.statusCode, 201, `${target.name}: ${res.body}`)
      t.equal(res.json().name, text, `${target.name} comes back as sent`)
    }
    const res = await send(targets[0], Buffer.from(JSON.stringify({ headline: text })), 'application/json; charset="UTF-8"')
    t.equal(res.statusCode, 201, 'charset=UTF-8 is the same JSON')
    t.equal(res.json().headline, text)
  })

  t.test('a JSON body in another charset is a 415, not read as UTF-8', async (t) => {
    const before = await rows(h)
    for (const charset of ['latin1', 'iso-8859-1', 'utf-16']) {
      const res = await send(targets[5], Buffer.from('{"name":"Caf\xe9"}', 'latin1'), `application/json; charset=${charset}`)
      const body = problem(t, res, 415, 'UNSUPPORTED_MEDIA_TYPE')
      t.match(body.detail, new RegExp(`UTF-8.*charset=${charset}`))
    }
    t.strictSame(await rows(h), before, 'nothing written')
  })

  t.test('photo form fields: the same rules, and UTF-8 kept as sent', async (t) => {
    const image = await canvas(40, 30)
    const before = await snapshot(h)
    // The helper writes text fields as UTF-8, so raw bytes go as a field built by hand.
    const field = (name: string, bytes: Buffer, boundary: string) =>
      Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`), bytes, Buffer.from('\r\n')])
    const send = (bytes: Buffer, name = 'caption') => {
      const boundary = 'xx-boundary-xx'
      const payload = Buffer.concat([
        field(name, bytes, boundary),
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`), image, Buffer.from(`\r\n--${boundary}--\r\n`)
      ])
      return h.app.inject({ method: 'POST', url: '/v1/photos', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, authorization: `Bearer ${h.author.token}` }, payload })
    }
    for (const [label, bytes] of RAW) {
      for (const name of ['caption', 'credit', 'altText']) {
        const res = await send(Buffer.concat([Buffer.from('A caption '), bytes]), name)
        const body = problem(t, res, 400, 'VALIDATION_FAILED')
        t.strictSame(body.errors, [{ path: `/${name}`, in: 'body', message: `is not valid UTF-8 (byte 0x${bytes[0].toString(16)} at offset 10)` }], `${name}, ${label}`)
      }
    }
    const nul = problem(t, await send(Buffer.from('a\u0000b')), 400, 'VALIDATION_FAILED')
    t.match(nul.errors, [{ path: '/caption', in: 'body', message: /NUL/ }])
    await nothingStored(t, h, before)

    const text = 'Café — 東京 😀'
    const ok = await send(Buffer.from(text))
    t.equal(ok.statusCode, 201, ok.body)
    t.equal(ok.json().caption, text, 'a UTF-8 caption is kept as sent')
  })

  t.test('query parameters: escapes that are not UTF-8, or NUL, are a 400 naming the parameter', async (t) => {
    for (const [url, path] of [
      ['/v1/articles?q=%FF', '/q'],
      ['/v1/articles?q=%C0%AF', '/q'],
      ['/v1/articles?q=%ED%A0%80', '/q'],
      ['/v1/articles?limit=5&q=caf%E2%82', '/q'],
      ['/v1/photos?credit=a%00b', '/credit'],
      ['/v1/authors?fields=%FF', '/fields']
    ]) {
      const body = problem(t, await call(h.app, 'GET', url), 400, 'VALIDATION_FAILED')
      t.strictSame(body.errors.map((e: any) => [e.path, e.in]), [[path, 'query']], url)
    }
    const ok = await call(h.app, 'GET', '/v1/photos?credit=caf%C3%A9+cr%C3%A8me&q=100%')
    t.equal(ok.statusCode, 200, `well-formed escapes, + and a bare % still work: ${ok.body}`)
    const path = await call(h.app, 'GET', '/v1/articles/by-slug/%FF')
    problem(t, path, 400, 'BAD_REQUEST')
  })
})
