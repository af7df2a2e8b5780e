// /v1/photos through the real app and a real database: metadata CRUD, URL safety, ownership,
// roles, lists, caching, and the guard that keeps a photo in use from being deleted.
import t from 'tap'
import { count, eq } from 'drizzle-orm'
import { build, call } from './helper.js'
import { ISO, UUID, MISSING, PUBLIC_CACHE, problem, walk, STALE_ETAG_PROBLEM } from './assertions.js'
import { photos } from '../src/db/schema.js'

const FORBIDDEN = {
  type: '/problems/forbidden',
  title: 'Forbidden',
  status: 403,
  code: 'FORBIDDEN',
  detail: 'Authors may change only the photos they added.'
}

t.test('photos', async (t) => {
  const h = await build(t)
  const editor = h.editor.token
  const rows = async () => (await h.database.db.select({ n: count() }).from(photos))[0].n
  const row = async (id: string) => (await h.database.db.select().from(photos).where(eq(photos.id, id)))[0]
  const add = async (token: string, body: Record<string, unknown> = {}) => {
    const res = await call(h.app, 'POST', '/v1/photos', { token, body: { url: 'https://cdn.example.com/p.jpg', ...body } })
    t.equal(res.statusCode, 201, res.body)
    // Anonymous readers see public photos only (test/photos-visibility.test.ts); these are
    // marked so, as reading them is what this file checks.
    await h.database.db.update(photos).set({ public: true }).where(eq(photos.id, res.json().id))
    return { ...res.json(), public: true }
  }

  await t.test('create and read', async (t) => {
    const before = await rows()
    const input = {
      url: 'https://cdn.example.com/2024/flood.jpg',
      caption: 'Water over the bridge at dawn',
      credit: 'PHOTO: Reuters',
      altText: 'A flooded stone bridge',
      width: 1600,
      height: 900,
      mimeType: 'image/jpeg',
      bytes: 245_000,
      renditions: [{ width: 400, url: 'https://cdn.example.com/2024/flood-400.jpg' }, { width: 800, url: '/media/flood-800.jpg' }]
    }
    const res = await call(h.app, 'POST', '/v1/photos', { token: h.author.token, body: input })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.match(body.id, UUID)
    t.match(body.createdAt, ISO)
    t.strictSame(body, { id: body.id, ...input, public: false, createdAt: body.createdAt, updatedAt: body.createdAt })
    t.equal(res.headers.location, `/v1/photos/${body.id}`)
    t.match(res.headers.etag, /^"1-/)
    t.equal(await rows(), before + 1)
    const stored = await row(body.id)
    t.equal(stored.createdById, h.author.userId, 'remembers who added it')
    t.equal(stored.url, input.url)
    t.equal(stored.caption, input.caption)
    t.equal(stored.credit, input.credit)
    t.equal(stored.altText, input.altText)
    t.equal(stored.width, 1600)
    t.equal(stored.height, 900)
    t.strictSame(stored.renditions, input.renditions)

    const unused = await call(h.app, 'GET', `/v1/photos/${body.id}`)
    t.equal(unused.statusCode, 404, 'nothing public uses it yet: not found to the public')
    const marked = await call(h.app, 'PATCH', `/v1/photos/${body.id}`, { token: editor, body: { public: true } })
    t.equal(marked.statusCode, 200, marked.body)
    const shown = marked.json()
    t.strictSame(shown, { ...body, public: true, updatedAt: shown.updatedAt })
    const anonymous = await call(h.app, 'GET', `/v1/photos/${body.id}`)
    t.equal(anonymous.statusCode, 200)
    t.strictSame(anonymous.json(), shown, 'no internal columns (createdById, version) leak')
    t.equal(anonymous.headers['cache-control'], PUBLIC_CACHE)
    const staff = await call(h.app, 'GET', `/v1/photos/${body.id}`, { token: h.otherAuthor.token })
    t.strictSame(staff.json(), shown)
    t.equal(staff.headers['cache-control'], 'private, no-store')

    const minimal = await add(h.author.token, { url: 'https://cdn.example.com/min.png' })
    t.strictSame(minimal, {
      id: minimal.id, caption: null, credit: null, altText: null, width: null, height: null, mimeType: null, bytes: null,
      url: 'https://cdn.example.com/min.png', renditions: [], public: true, createdAt: minimal.createdAt, updatedAt: minimal.createdAt
    })
    const byEditor = await add(editor, { url: '/media/by-editor.jpg' })
    t.equal(byEditor.url, '/media/by-editor.jpg', 'a path on this server is a valid url')
    t.equal((await row(byEditor.id)).createdById, h.editor.userId)
  })

  await t.test('url must be http(s) or a path', async (t) => {
    for (const url of ['http://img.example/a.gif', 'https://img.example/a%20b.jpg?w=2#x', '/media/2024/a.webp', '/']) {
      const res = await call(h.app, 'POST', '/v1/photos', { token: h.author.token, body: { url } })
      t.equal(res.statusCode, 201, `${url}: ${res.body}`)
      t.equal(res.json().url, url)
    }
    const before = await rows()
    const refused = [
      'javascript:alert(1)',
      'JAVASCRIPT:alert(1)',
      ' javascript:alert(1)',
      'data:image/png;base64,iVBORw0KGgo=',
      'vbscript:msgbox(1)',
      'ftp://files.example/a.jpg',
      'file:///etc/passwd',
      '//evil.example/a.jpg',
      'media/a.jpg',
      'https://',
      'https://img.example/a b.jpg',
      '',
      'https://img.example/' + 'a'.repeat(2000)
    ]
    for (const url of refused) {
      const res = await call(h.app, 'POST', '/v1/photos', { token: h.author.token, body: { url } })
      const p = problem(t, res, 400, 'VALIDATION_FAILED')
      t.ok(p.errors.length > 0 && p.errors.every((e: { path: string }) => e.path === '/url'), `${JSON.stringify(url.slice(0, 40))} refused at /url`)
    }
    const rendition = await call(h.app, 'POST', '/v1/photos', { token: h.author.token, body: { url: '/a.jpg', renditions: [{ width: 10, url: 'javascript:alert(1)' }] } })
    t.ok(problem(t, rendition, 400, 'VALIDATION_FAILED').errors.some((e: { path: string }) => e.path === '/renditions/0/url'))
    t.equal(await rows(), before, 'nothing written')

    const target = await add(h.author.token, { url: '/media/safe.jpg' })
    const patch = await call(h.app, 'PATCH', `/v1/photos/${target.id}`, { token: h.author.token, body: { url: 'javascript:alert(1)' } })
    problem(t, patch, 400, 'VALIDATION_FAILED')
    t.equal((await row(target.id)).url, '/media/safe.jpg', 'nothing written')
  })

  await t.test('validation', async (t) => {
    const before = await rows()
    const unknown = await call(h.app, 'POST', '/v1/photos', { token: h.author.token, body: { url: '/a.jpg', bogus: 1 } })
    t.strictSame(problem(t, unknown, 400, 'VALIDATION_FAILED'), {
      type: '/problems/validation-failed',
      title: 'Validation Failed',
      status: 400,
      code: 'VALIDATION_FAILED',
      detail: 'body /bogus: is not a known field',
      errors: [{ path: '/bogus', in: 'body', message: 'is not a known field' }]
    })
    const missing = problem(t, await call(h.app, 'POST', '/v1/photos', { token: h.author.token, body: { caption: 'No url' } }), 400, 'VALIDATION_FAILED')
    t.strictSame(missing.errors, [{ path: '/url', in: 'body', message: 'is required' }])
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ width: 0 }, '/width'],
      [{ width: -5 }, '/width'],
      [{ width: 12.5 }, '/width'],
      [{ width: '800' }, '/width'],
      [{ height: 100_001 }, '/height'],
      [{ bytes: -1 }, '/bytes'],
      [{ bytes: 3_000_000_000 }, '/bytes'],
      [{ mimeType: 'text/html' }, '/mimeType'],
      [{ caption: 5 }, '/caption'],
      [{ caption: 'c'.repeat(2001) }, '/caption'],
      [{ credit: 'c'.repeat(301) }, '/credit'],
      [{ altText: ['alt'] }, '/altText'],
      [{ url: 42 }, '/url'],
      [{ renditions: {} }, '/renditions'],
      [{ renditions: [{ width: 10, url: '/a.jpg', extra: 1 }] }, '/renditions/0/extra'],
      [{ renditions: Array.from({ length: 21 }, (_, i) => ({ width: i + 1, url: '/a.jpg' })) }, '/renditions'],
      [{ createdById: h.otherAuthor.userId }, '/createdById'],
      [{ version: 9 }, '/version'],
      [{ id: MISSING }, '/id']
    ]
    for (const [extra, at] of cases) {
      const body = { url: '/a.jpg', ...extra }
      const res = await call(h.app, 'POST', '/v1/photos', { token: h.author.token, body })
      const p = problem(t, res, 400, 'VALIDATION_FAILED')
      t.ok(p.errors.some((e: { path: string }) => e.path === at), `${JSON.stringify(extra).slice(0, 50)} names ${at}: ${res.body.slice(0, 300)}`)
    }
    t.equal(await rows(), before, 'nothing written')

    const target = await add(h.author.token, { caption: 'Kept' })
    for (const [body, at] of [[{}, '/'], [{ bogus: 1 }, '/bogus'], [{ url: null }, '/url'], [{ width: 0 }, '/width'], [{ createdById: h.otherAuthor.userId }, '/createdById']] as const) {
      const res = await call(h.app, 'PATCH', `/v1/photos/${target.id}`, { token: h.author.token, body })
      t.ok(problem(t, res, 400, 'VALIDATION_FAILED').errors.some((e: { path: string }) => e.path === at), `PATCH ${JSON.stringify(body)} names ${at}`)
    }
    const stored = await row(target.id)
    t.equal(stored.caption, 'Kept')
    t.equal(stored.version, 1)
    t.equal(stored.createdById, h.author.userId)
  })

  await t.test('update', async (t) => {
    const original = await add(h.author.token, { caption: 'Before', width: 100, height: 100 })
    const res = await call(h.app, 'PATCH', `/v1/photos/${original.id}`, { token: h.author.token, body: { caption: 'After', credit: 'PHOTO: Amal', width: 200, altText: null } })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.strictSame(body, { ...original, caption: 'After', credit: 'PHOTO: Amal', width: 200, updatedAt: body.updatedAt })
    t.ok(Date.parse(body.updatedAt) >= Date.parse(original.updatedAt))
    t.match(res.headers.etag, /^"2-/)
    t.strictSame((await call(h.app, 'GET', `/v1/photos/${original.id}`)).json(), body)
    const stored = await row(original.id)
    t.equal(stored.caption, 'After')
    t.equal(stored.width, 200)
    t.equal(stored.height, 100)
    t.equal(stored.version, 2)
    t.equal(stored.createdById, h.author.userId, 'the owner does not change')
  })

  await t.test('unknown and malformed ids', async (t) => {
    const expected = { type: '/problems/not-found', title: 'Not Found', status: 404, code: 'NOT_FOUND', detail: 'Photo not found.' }
    t.strictSame(problem(t, await call(h.app, 'GET', `/v1/photos/${MISSING}`), 404, 'NOT_FOUND'), expected)
    t.strictSame(problem(t, await call(h.app, 'PATCH', `/v1/photos/${MISSING}`, { token: editor, body: { caption: 'X' } }), 404, 'NOT_FOUND'), expected)
    t.strictSame(problem(t, await call(h.app, 'DELETE', `/v1/photos/${MISSING}`, { token: h.author.token }), 404, 'NOT_FOUND'), expected)
    const before = await rows()
    for (const [method, opts] of [['GET', {}], ['PATCH', { token: editor, body: { caption: 'X' } }], ['DELETE', { token: editor }]] as const) {
      const p = problem(t, await call(h.app, method, '/v1/photos/abc', opts), 400, 'VALIDATION_FAILED')
      t.match(p.errors, [{ path: '/id', in: 'path' }], method)
    }
    t.equal(await rows(), before)
  })

  await t.test('authors change only their own photos', async (t) => {
    const mine = await add(h.author.token, { caption: 'Mine' })
    const editors = await add(editor, { caption: 'The desk\'s' })
    const before = await rows()

    t.strictSame(problem(t, await call(h.app, 'PATCH', `/v1/photos/${mine.id}`, { token: h.otherAuthor.token, body: { caption: 'Stolen' } }), 403, 'FORBIDDEN'), FORBIDDEN)
    t.strictSame(problem(t, await call(h.app, 'DELETE', `/v1/photos/${mine.id}`, { token: h.otherAuthor.token }), 403, 'FORBIDDEN'), FORBIDDEN)
    t.strictSame(problem(t, await call(h.app, 'PATCH', `/v1/photos/${editors.id}`, { token: h.author.token, body: { caption: 'Mine now' } }), 403, 'FORBIDDEN'), FORBIDDEN)
    t.strictSame(problem(t, await call(h.app, 'DELETE', `/v1/photos/${editors.id}`, { token: h.author.token }), 403, 'FORBIDDEN'), FORBIDDEN)
    const etag = (await call(h.app, 'GET', `/v1/photos/${mine.id}`)).headers.etag as string
    problem(t, await call(h.app, 'PATCH', `/v1/photos/${mine.id}`, { token: h.otherAuthor.token, headers: { 'if-match': etag }, body: { caption: 'Stolen' } }), 403, 'FORBIDDEN')
    t.equal(await rows(), before, 'nothing deleted')
    t.equal((await row(mine.id)).caption, 'Mine')
    t.equal((await row(mine.id)).version, 1)
    t.equal((await row(editors.id)).caption, 'The desk\'s')

    const own = await call(h.app, 'PATCH', `/v1/photos/${mine.id}`, { token: h.author.token, body: { caption: 'Still mine' } })
    t.equal(own.statusCode, 200)
    t.equal(own.json().caption, 'Still mine')
    const byEditor = await call(h.app, 'PATCH', `/v1/photos/${mine.id}`, { token: editor, body: { credit: 'PHOTO: Desk' } })
    t.equal(byEditor.statusCode, 200, 'editors may change any photo')
    t.equal(byEditor.json().credit, 'PHOTO: Desk')
    t.equal((await row(mine.id)).createdById, h.author.userId, 'an editor\'s edit does not take ownership')
    const byAdmin = await call(h.app, 'PATCH', `/v1/photos/${mine.id}`, { token: h.admin.token, body: { altText: 'Alt' } })
    t.equal(byAdmin.statusCode, 200)

    const ownDelete = await add(h.otherAuthor.token)
    t.equal((await call(h.app, 'DELETE', `/v1/photos/${ownDelete.id}`, { token: h.otherAuthor.token })).statusCode, 204, 'authors may delete their own')
    t.equal(await row(ownDelete.id), undefined)
    const editorDelete = await call(h.app, 'DELETE', `/v1/photos/${mine.id}`, { token: editor })
    t.equal(editorDelete.statusCode, 204, 'editors may delete any photo')
    t.equal(editorDelete.body, '')
    t.equal(await row(mine.id), undefined)
    problem(t, await call(h.app, 'GET', `/v1/photos/${mine.id}`), 404, 'NOT_FOUND')
    problem(t, await call(h.app, 'DELETE', `/v1/photos/${mine.id}`, { token: editor }), 404, 'NOT_FOUND')
  })

  await t.test('anonymous and bad tokens cannot write', async (t) => {
    const target = await add(h.author.token, { caption: 'Guarded' })
    const before = await rows()
    const writes = [
      ['POST', '/v1/photos', { url: '/a.jpg' }],
      ['PATCH', `/v1/photos/${target.id}`, { caption: 'Defaced' }],
      ['DELETE', `/v1/photos/${target.id}`, undefined]
    ] as const
    for (const [method, url, body] of writes) {
      const anonymous = await call(h.app, method, url, { body })
      t.strictSame(problem(t, anonymous, 401, 'UNAUTHORIZED'), {
        type: '/problems/unauthorized',
        title: 'Unauthorized',
        status: 401,
        code: 'UNAUTHORIZED',
        detail: 'This needs a staff token: send `Authorization: Bearer <token>`.'
      })
      t.equal(anonymous.headers['www-authenticate'], 'Bearer realm="dateline"')
      const bad = await call(h.app, method, url, { token: 'dl_forged', body })
      problem(t, bad, 401, 'UNAUTHORIZED')
      t.equal(bad.headers['www-authenticate'], 'Bearer realm="dateline", error="invalid_token"')
    }
    t.equal(await rows(), before, 'nothing written')
    t.equal((await row(target.id)).caption, 'Guarded')
    t.equal((await row(target.id)).version, 1)
  })

  await t.test('lists', async (t) => {
    for (let i = 0; i < 10; i++) await add(i % 2 ? h.author.token : editor, { caption: `List ${i}` })
    // Paging over every photo, as the public sees them: all of them public here.
    await h.database.db.update(photos).set({ public: true })
    const all = (await h.database.db.select({ id: photos.id }).from(photos)).map((r) => r.id).sort()
    t.ok(all.length > 20, `${all.length} photos`)

    const first = await call(h.app, 'GET', '/v1/photos')
    t.equal(first.statusCode, 200)
    t.equal(first.json().data.length, 20)
    t.strictSame(first.json().meta, { limit: 20, nextCursor: first.json().meta.nextCursor })
    t.type(first.json().meta.nextCursor, 'string')

    const orders: Record<string, string[]> = {}
    for (const sort of ['-createdAt', 'createdAt']) {
      const items = await walk(t, h, '/v1/photos', { limit: '2', sort })
      const ids = items.map((i) => i.id)
      t.equal(new Set(ids).size, ids.length, `${sort}: no photo twice`)
      t.strictSame([...ids].sort(), all, `${sort}: every photo once`)
      const onePage = await call(h.app, 'GET', '/v1/photos', { query: { limit: '100', sort } })
      t.strictSame(onePage.json().data.map((i: { id: string }) => i.id), ids, `${sort}: pages join into the one-page order`)
      const times = items.map((i) => Date.parse(i.createdAt))
      t.ok(times.every((x, i) => i === 0 || (sort === 'createdAt' ? times[i - 1] <= x : times[i - 1] >= x)), `${sort}: in order`)
      orders[sort] = ids
    }
    t.strictSame(orders.createdAt, [...orders['-createdAt']].reverse())
    t.strictSame((await walk(t, h, '/v1/photos', { limit: '3' })).map((i) => i.id), orders['-createdAt'], 'newest first by default')

    // A photo added while paging (newest first) does not shift the pages.
    const page1 = (await call(h.app, 'GET', '/v1/photos', { query: { limit: '2' } })).json()
    const fresh = await add(h.author.token, { caption: 'Fresh' })
    const rest = await walk(t, h, '/v1/photos', { limit: '2', cursor: page1.meta.nextCursor })
    const seen = [...page1.data, ...rest].map((i) => i.id)
    t.notOk(seen.includes(fresh.id))
    t.strictSame([...seen].sort(), all)

    const sparse = await call(h.app, 'GET', '/v1/photos', { query: { fields: 'url', limit: '10' } })
    for (const item of sparse.json().data) t.strictSame(Object.keys(item).sort(), ['id', 'url'])
    const one = await call(h.app, 'GET', `/v1/photos/${fresh.id}`, { query: { fields: 'caption,width' } })
    t.strictSame(one.json(), { id: fresh.id, caption: 'Fresh', width: null })

    const refusals: Array<[Record<string, string>, string, string]> = [
      [{ limit: '101' }, '/limit', 'VALIDATION_FAILED'],
      [{ limit: '0' }, '/limit', 'VALIDATION_FAILED'],
      [{ sort: 'name' }, '/sort', 'VALIDATION_FAILED'],
      [{ sort: 'width' }, '/sort', 'VALIDATION_FAILED'],
      [{ fields: 'url,createdById' }, '/fields', 'VALIDATION_FAILED'],
      [{ fields: 'version' }, '/fields', 'VALIDATION_FAILED'],
      [{ include: 'author' }, '/include', 'VALIDATION_FAILED'],
      [{ bogus: '1' }, '/bogus', 'VALIDATION_FAILED'],
      [{ cursor: 'garbage' }, '/cursor', 'INVALID_CURSOR'],
      [{ cursor: page1.meta.nextCursor, sort: 'createdAt' }, '/cursor', 'INVALID_CURSOR']
    ]
    for (const [query, at, code] of refusals) {
      const p = problem(t, await call(h.app, 'GET', '/v1/photos', { query }), 400, code)
      t.match(p.errors[0], { path: at, in: 'query' }, JSON.stringify(query))
    }
    t.strictSame(problem(t, await call(h.app, 'GET', '/v1/photos', { query: { limit: '101' } }), 400, 'VALIDATION_FAILED').errors,
      [{ path: '/limit', in: 'query', message: 'must be <= 100' }])
    problem(t, await call(h.app, 'GET', `/v1/photos/${fresh.id}`, { query: { fields: 'createdById' } }), 400, 'VALIDATION_FAILED')
    problem(t, await call(h.app, 'GET', `/v1/photos/${fresh.id}`, { query: { limit: '2' } }), 400, 'VALIDATION_FAILED')
  })

  await t.test('ETag, If-None-Match and If-Match', async (t) => {
    const item = await add(h.author.token, { caption: 'Versioned' })
    const read = await call(h.app, 'GET', `/v1/photos/${item.id}`)
    const etag = read.headers.etag as string
    t.match(etag, /^"1-[A-Za-z0-9_-]+"$/)
    const notModified = await call(h.app, 'GET', `/v1/photos/${item.id}`, { headers: { 'if-none-match': etag } })
    t.equal(notModified.statusCode, 304)
    t.equal(notModified.body, '')
    t.equal((await call(h.app, 'GET', `/v1/photos/${item.id}`, { headers: { 'if-none-match': '"1-different"' } })).statusCode, 200)
    const list = await call(h.app, 'GET', '/v1/photos', { query: { limit: '4' } })
    t.equal((await call(h.app, 'GET', '/v1/photos', { query: { limit: '4' }, headers: { 'if-none-match': list.headers.etag as string } })).statusCode, 304)

    const patched = await call(h.app, 'PATCH', `/v1/photos/${item.id}`, { token: h.author.token, headers: { 'if-match': etag }, body: { caption: 'One' } })
    t.equal(patched.statusCode, 200, patched.body)
    const etag2 = patched.headers.etag as string
    t.match(etag2, /^"2-/)
    t.equal((await call(h.app, 'GET', `/v1/photos/${item.id}`, { headers: { 'if-none-match': etag } })).statusCode, 200, 'the old ETag no longer matches')

    for (const stale of [etag, '"5-abc"', `W/${etag2}`]) {
      const res = await call(h.app, 'PATCH', `/v1/photos/${item.id}`, { token: h.author.token, headers: { 'if-match': stale }, body: { caption: 'Lost' } })
      t.strictSame(problem(t, res, 412, 'PRECONDITION_FAILED'), STALE_ETAG_PROBLEM)
      problem(t, await call(h.app, 'DELETE', `/v1/photos/${item.id}`, { token: editor, headers: { 'if-match': stale } }), 412, 'PRECONDITION_FAILED')
    }
    const stored = await row(item.id)
    t.equal(stored.caption, 'One', 'nothing changed')
    t.equal(stored.version, 2)

    const del = await call(h.app, 'DELETE', `/v1/photos/${item.id}`, { token: h.author.token, headers: { 'if-match': etag2 } })
    t.equal(del.statusCode, 204)
    t.equal(await row(item.id), undefined)
  })

  await t.test('a photo in use cannot be deleted', async (t) => {
    const pic = await add(h.author.token, { caption: 'Much used' })
    const postArticle = async (body: Record<string, unknown>) => {
      const res = await call(h.app, 'POST', '/v1/articles', { token: editor, body })
      t.equal(res.statusCode, 201, res.body)
      return res.json()
    }
    const lead = await postArticle({ headline: 'Lead photo story', leadPhotoId: pic.id })
    const inBody = await postArticle({ headline: 'Photo in the body', body: [{ type: 'paragraph', text: 'Look:' }, { type: 'photo', photoId: pic.id }] })
    const avatarOf = await call(h.app, 'POST', '/v1/authors', { token: editor, body: { name: 'Pictured Person', avatarId: pic.id } })
    t.equal(avatarOf.statusCode, 201, avatarOf.body)
    const person = avatarOf.json()

    const refused = await call(h.app, 'DELETE', `/v1/photos/${pic.id}`, { token: h.author.token })
    t.strictSame(problem(t, refused, 409, 'STILL_REFERENCED'), {
      type: '/problems/still-referenced',
      title: 'Still Referenced',
      status: 409,
      code: 'STILL_REFERENCED',
      detail: `Photo ${pic.id} is still used by article "Lead photo story", article "Photo in the body", author "Pictured Person"; remove those references first.`,
      references: [
        { resource: 'article', id: lead.id, label: 'Lead photo story' },
        { resource: 'article', id: inBody.id, label: 'Photo in the body' },
        { resource: 'author', id: person.id, label: 'Pictured Person' }
      ]
    })
    t.ok(await row(pic.id), 'still there')

    t.equal((await call(h.app, 'PATCH', `/v1/articles/${lead.id}`, { token: editor, body: { leadPhotoId: null } })).statusCode, 200)
    const afterLead = problem(t, await call(h.app, 'DELETE', `/v1/photos/${pic.id}`, { token: editor }), 409, 'STILL_REFERENCED')
    t.strictSame(afterLead.references, [
      { resource: 'article', id: inBody.id, label: 'Photo in the body' },
      { resource: 'author', id: person.id, label: 'Pictured Person' }
    ])

    t.equal((await call(h.app, 'PATCH', `/v1/articles/${inBody.id}`, { token: editor, body: { body: [{ type: 'paragraph', text: 'No picture now.' }] } })).statusCode, 200)
    const afterBody = problem(t, await call(h.app, 'DELETE', `/v1/photos/${pic.id}`, { token: editor }), 409, 'STILL_REFERENCED')
    t.strictSame(afterBody.references, [{ resource: 'author', id: person.id, label: 'Pictured Person' }])

    t.equal((await call(h.app, 'PATCH', `/v1/authors/${person.id}`, { token: editor, body: { avatarId: null } })).statusCode, 200)
    const deleted = await call(h.app, 'DELETE', `/v1/photos/${pic.id}`, { token: h.author.token })
    t.equal(deleted.statusCode, 204, deleted.body)
    t.equal(await row(pic.id), undefined)

    // One article that uses a photo twice is named once.
    const twice = await add(editor, { caption: 'Twice' })
    const both = await postArticle({ headline: 'Lead and body', leadPhotoId: twice.id, body: [{ type: 'photo', photoId: twice.id }] })
    const once = problem(t, await call(h.app, 'DELETE', `/v1/photos/${twice.id}`, { token: editor }), 409, 'STILL_REFERENCED')
    t.strictSame(once.references, [{ resource: 'article', id: both.id, label: 'Lead and body' }])
    t.equal((await call(h.app, 'DELETE', `/v1/articles/${both.id}`, { token: editor })).statusCode, 204)
    t.equal((await call(h.app, 'DELETE', `/v1/photos/${twice.id}`, { token: editor })).statusCode, 204, 'deleting the article frees the photo')
  })
})
