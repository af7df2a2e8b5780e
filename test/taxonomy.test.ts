// Sections and tags: one implementation (src/modules/taxonomy) served at /v1/sections and /v1/tags.
// Every behaviour is checked on both routes, through the real app and a real database.
import t from 'tap'
import { count, eq } from 'drizzle-orm'
import { build, call } from './helper.js'
import { ISO, UUID, MISSING, problem, walk, STALE_ETAG_PROBLEM } from './assertions.js'
import { sections, tags } from '../src/db/schema.js'

const kinds = [
  { path: '/v1/sections', table: sections, label: 'Section' },
  { path: '/v1/tags', table: tags as unknown as typeof sections, label: 'Tag' }
] as const

t.test('sections and tags', async (t) => {
  const h = await build(t)
  const editor = h.editor.token

  for (const { path, table, label } of kinds) {
    const rows = async () => (await h.database.db.select({ n: count() }).from(table))[0].n
    const row = async (id: string) => (await h.database.db.select().from(table).where(eq(table.id, id)))[0]
    const create = async (body: Record<string, unknown>) => {
      const res = await call(h.app, 'POST', path, { token: editor, body })
      t.equal(res.statusCode, 201, res.body)
      return res.json()
    }

    await t.test(`${path}: create, read by id and by slug`, async (t) => {
      const before = await rows()
      const res = await call(h.app, 'POST', path, { token: editor, body: { name: 'Café Politics & Society!', description: 'Debate and opinion.' } })
      t.equal(res.statusCode, 201, res.body)
      const body = res.json()
      t.match(body.id, UUID)
      t.match(body.createdAt, ISO)
      t.strictSame(body, {
        id: body.id,
        slug: 'cafe-politics-society',
        name: 'Café Politics & Society!',
        description: 'Debate and opinion.',
        createdAt: body.createdAt,
        updatedAt: body.createdAt
      })
      t.equal(res.headers.location, `${path}/${body.id}`)
      t.match(res.headers.etag, /^"1-[A-Za-z0-9_-]+"$/)
      t.equal(res.headers['cache-control'], 'private, no-store')
      t.equal(await rows(), before + 1)
      const stored = await row(body.id)
      t.equal(stored.name, 'Café Politics & Society!')
      t.equal(stored.slug, 'cafe-politics-society')
      t.equal(stored.description, 'Debate and opinion.')
      t.equal(stored.version, 1)

      const byId = await call(h.app, 'GET', res.headers.location as string)
      t.equal(byId.statusCode, 200)
      t.strictSame(byId.json(), body)
      t.match(byId.headers['content-type'], /^application\/json/)
      t.equal(byId.headers['cache-control'], 'public, max-age=60, stale-while-revalidate=600')
      t.match(byId.headers.etag, /^"1-/)

      const bySlug = await call(h.app, 'GET', `${path}/by-slug/cafe-politics-society`)
      t.equal(bySlug.statusCode, 200)
      t.strictSame(bySlug.json(), body)

      const staff = await call(h.app, 'GET', `${path}/${body.id}`, { token: h.author.token })
      t.equal(staff.statusCode, 200)
      t.strictSame(staff.json(), body)
      t.equal(staff.headers['cache-control'], 'private, no-store')

      const minimal = await create({ name: 'Bare' })
      t.equal(minimal.description, null, 'description defaults to null')
      t.equal(minimal.slug, 'bare')

      const admin = await call(h.app, 'POST', path, { token: h.admin.token, body: { name: 'By The Admin' } })
      t.equal(admin.statusCode, 201, 'admins may write too')
      t.equal(admin.json().slug, 'by-the-admin')
    })

    await t.test(`${path}: generated slugs`, async (t) => {
      const second = await create({ name: 'Café Politics & Society!' })
      t.equal(second.slug, 'cafe-politics-society-2')
      const third = await create({ name: 'CAFÉ — politics, society' })
      t.equal(third.slug, 'cafe-politics-society-3')

      t.equal((await create({ name: 'Économie Ñandú Zürich' })).slug, 'economie-nandu-zurich')
      t.equal((await create({ name: "Children's Books" })).slug, 'childrens-books')

      // A client slug that is free is used as given, and a generated one steps around it.
      t.equal((await create({ name: 'Weather', slug: 'weather-2' })).slug, 'weather-2')
      t.equal((await create({ name: 'Weather' })).slug, 'weather')
      t.equal((await create({ name: 'Weather' })).slug, 'weather-3')

      const long = await create({ name: 'Word '.repeat(40).trim() })
      t.ok(long.slug.length <= 120, `slug of ${long.slug.length} chars`)
      t.match(long.slug, /^[a-z0-9]+(?:-[a-z0-9]+)*$/)
      t.ok(long.slug.startsWith('word-word-'))

      // Several at once still get distinct slugs.
      const many = await Promise.all([1, 2, 3, 4].map(() => call(h.app, 'POST', path, { token: editor, body: { name: 'Breaking Now' } })))
      t.strictSame(many.map((r) => r.statusCode), [201, 201, 201, 201], many.map((r) => r.body).join('\n'))
      t.strictSame(many.map((r) => r.json().slug).sort(), ['breaking-now', 'breaking-now-2', 'breaking-now-3', 'breaking-now-4'])
    })

    await t.test(`${path}: client slugs`, async (t) => {
      const before = await rows()
      const taken = await call(h.app, 'POST', path, { token: editor, body: { name: 'Another', slug: 'cafe-politics-society' } })
      t.strictSame(problem(t, taken, 409, 'SLUG_TAKEN'), {
        type: '/problems/slug-taken',
        title: 'Slug Taken',
        status: 409,
        code: 'SLUG_TAKEN',
        detail: 'The slug "cafe-politics-society" is already taken.',
        errors: [{ path: '/slug', in: 'body', message: 'is already taken' }]
      })
      t.equal(await rows(), before, 'nothing written')

      for (const slug of ['Politics', 'two words', 'a'.repeat(121), '-lead', 'trail-', 'double--hyphen', '', 'ünï', 'under_score', 7]) {
        const res = await call(h.app, 'POST', path, { token: editor, body: { name: 'Slugged', slug } })
        const body = problem(t, res, 400, 'VALIDATION_FAILED')
        t.equal(body.errors[0].path, '/slug', `slug ${JSON.stringify(slug)} refused`)
        t.equal(body.errors[0].in, 'body')
      }
      t.equal(await rows(), before, 'nothing written')

      const max = await create({ name: 'Longest', slug: 'a'.repeat(120) })
      t.equal(max.slug, 'a'.repeat(120), '120 characters is allowed')
    })

    await t.test(`${path}: validation`, async (t) => {
      const before = await rows()
      const unknown = await call(h.app, 'POST', path, { token: editor, body: { name: 'Sports', bogus: 1 } })
      t.strictSame(problem(t, unknown, 400, 'VALIDATION_FAILED'), {
        type: '/problems/validation-failed',
        title: 'Validation Failed',
        status: 400,
        code: 'VALIDATION_FAILED',
        detail: 'body /bogus: is not a known field',
        errors: [{ path: '/bogus', in: 'body', message: 'is not a known field' }]
      })

      const cases: Array<[unknown, string]> = [
        [{}, '/name'],
        [{ name: '' }, '/name'],
        [{ name: '   ' }, '/name'],
        [{ name: '\n\t' }, '/name'],
        [{ name: 42 }, '/name'],
        [{ name: null }, '/name'],
        [{ name: ['Sports'] }, '/name'],
        [{ name: 'x'.repeat(201) }, '/name'],
        [{ name: 'Sports', description: 7 }, '/description'],
        [{ name: 'Sports', description: 'd'.repeat(2001) }, '/description'],
        [{ name: 'Sports', slug: null }, '/slug'],
        [[{ name: 'Sports' }], '/']
      ]
      for (const [body, at] of cases) {
        const res = await call(h.app, 'POST', path, { token: editor, body })
        const p = problem(t, res, 400, 'VALIDATION_FAILED')
        t.ok(p.errors.some((e: { path: string }) => e.path === at), `${JSON.stringify(body).slice(0, 40)} names ${at}: ${res.body}`)
      }
      const missing = problem(t, await call(h.app, 'POST', path, { token: editor, body: {} }), 400, 'VALIDATION_FAILED')
      t.strictSame(missing.errors, [{ path: '/name', in: 'body', message: 'is required' }])

      const malformed = await h.app.inject({
        method: 'POST', url: path, payload: '{"name": "Spo',
        headers: { authorization: `Bearer ${editor}`, 'content-type': 'application/json' }
      })
      problem(t, malformed, 400, 'BAD_REQUEST')
      const text = await h.app.inject({
        method: 'POST', url: path, payload: 'name=Sports',
        headers: { authorization: `Bearer ${editor}`, 'content-type': 'text/plain' }
      })
      problem(t, text, 415, 'UNSUPPORTED_MEDIA_TYPE')
      t.equal(await rows(), before, 'no refused request wrote a row')

      const target = await create({ name: 'Patched Badly', description: 'As it was.' })
      const patches: Array<[unknown, string]> = [
        [{}, '/'],
        [{ bogus: true }, '/bogus'],
        [{ name: '   ' }, '/name'],
        [{ name: null }, '/name'],
        [{ name: 5 }, '/name'],
        [{ slug: 'Not A Slug' }, '/slug'],
        [{ description: false }, '/description'],
        [{ id: MISSING }, '/id'],
        [{ createdAt: '2020-01-01T00:00:00.000Z' }, '/createdAt']
      ]
      for (const [body, at] of patches) {
        const res = await call(h.app, 'PATCH', `${path}/${target.id}`, { token: editor, body })
        const p = problem(t, res, 400, 'VALIDATION_FAILED')
        t.equal(p.errors[0].path, at, `PATCH ${JSON.stringify(body)} names ${at}`)
      }
      const noBody = await h.app.inject({ method: 'PATCH', url: `${path}/${target.id}`, headers: { authorization: `Bearer ${editor}` } })
      problem(t, noBody, 400, 'VALIDATION_FAILED')
      const stored = await row(target.id)
      t.equal(stored.version, 1, 'no refused PATCH changed the row')
      t.equal(stored.name, 'Patched Badly')
      t.equal(stored.description, 'As it was.')
      t.equal(stored.slug, 'patched-badly')
    })

    await t.test(`${path}: unknown and malformed ids`, async (t) => {
      const expected = { type: '/problems/not-found', title: 'Not Found', status: 404, code: 'NOT_FOUND', detail: `${label} not found.` }
      t.strictSame(problem(t, await call(h.app, 'GET', `${path}/${MISSING}`), 404, 'NOT_FOUND'), expected)
      t.strictSame(problem(t, await call(h.app, 'PATCH', `${path}/${MISSING}`, { token: editor, body: { name: 'X' } }), 404, 'NOT_FOUND'), expected)
      t.strictSame(problem(t, await call(h.app, 'DELETE', `${path}/${MISSING}`, { token: editor }), 404, 'NOT_FOUND'), expected)
      t.strictSame(problem(t, await call(h.app, 'GET', `${path}/by-slug/no-such-slug`), 404, 'NOT_FOUND'), expected)
      t.strictSame(problem(t, await call(h.app, 'GET', `${path}/by-slug/NOT%20a%20slug`), 404, 'NOT_FOUND'), expected)

      const before = await rows()
      for (const [method, opts] of [['GET', {}], ['PATCH', { token: editor, body: { name: 'X' } }], ['DELETE', { token: editor }]] as const) {
        const p = problem(t, await call(h.app, method, `${path}/not-a-uuid`, opts), 400, 'VALIDATION_FAILED')
        t.equal(p.errors.length, 1)
        t.match(p.errors[0], { path: '/id', in: 'path' }, `${method} names the id`)
      }
      t.equal(await rows(), before)
    })

    await t.test(`${path}: update`, async (t) => {
      const original = await create({ name: 'Culture', description: 'Arts.' })
      const res = await call(h.app, 'PATCH', `${path}/${original.id}`, { token: editor, body: { name: 'Culture & Arts', description: 'Arts, books and film.' } })
      t.equal(res.statusCode, 200, res.body)
      const body = res.json()
      t.match(body.updatedAt, ISO)
      t.ok(Date.parse(body.updatedAt) >= Date.parse(original.updatedAt))
      t.strictSame(body, { ...original, name: 'Culture & Arts', description: 'Arts, books and film.', updatedAt: body.updatedAt }, 'slug kept when the name changes')
      t.match(res.headers.etag, /^"2-/)
      t.strictSame((await call(h.app, 'GET', `${path}/${original.id}`)).json(), body)
      const stored = await row(original.id)
      t.equal(stored.version, 2)
      t.equal(stored.name, 'Culture & Arts')

      const cleared = await call(h.app, 'PATCH', `${path}/${original.id}`, { token: editor, body: { description: null } })
      t.equal(cleared.statusCode, 200)
      t.equal(cleared.json().description, null)
      t.equal((await row(original.id)).description, null)

      const same = await call(h.app, 'PATCH', `${path}/${original.id}`, { token: editor, body: { slug: 'culture' } })
      t.equal(same.statusCode, 200, 'a PATCH to its own slug is no clash')

      const moved = await call(h.app, 'PATCH', `${path}/${original.id}`, { token: editor, body: { slug: 'arts' } })
      t.equal(moved.statusCode, 200)
      t.equal(moved.json().slug, 'arts')
      const old = await call(h.app, 'GET', `${path}/by-slug/culture`)
      t.equal(old.statusCode, 301, 'the old slug leads to the new one (test/redirects.test.ts)')
      t.equal(old.headers.location, `${path}/by-slug/arts`)
      t.equal((await call(h.app, 'GET', `${path}/by-slug/arts`)).json().id, original.id)

      // The old slug stays reserved: a generated one goes around it.
      t.equal((await create({ name: 'Culture' })).slug, 'culture-2')

      const versionBefore = (await row(original.id)).version
      const clash = await call(h.app, 'PATCH', `${path}/${original.id}`, { token: editor, body: { name: 'Renamed', slug: 'cafe-politics-society' } })
      t.strictSame(problem(t, clash, 409, 'SLUG_TAKEN').errors, [{ path: '/slug', in: 'body', message: 'is already taken' }])
      const after = await row(original.id)
      t.equal(after.slug, 'arts', 'nothing written')
      t.equal(after.name, 'Culture & Arts', 'nothing written')
      t.equal(after.version, versionBefore)
    })

    await t.test(`${path}: delete`, async (t) => {
      const doomed = await create({ name: 'Doomed' })
      const before = await rows()
      const res = await call(h.app, 'DELETE', `${path}/${doomed.id}`, { token: editor })
      t.equal(res.statusCode, 204)
      t.equal(res.body, '')
      t.equal(await rows(), before - 1)
      t.equal(await row(doomed.id), undefined)
      problem(t, await call(h.app, 'GET', `${path}/${doomed.id}`), 404, 'NOT_FOUND')
      problem(t, await call(h.app, 'GET', `${path}/by-slug/doomed`), 404, 'NOT_FOUND')
      problem(t, await call(h.app, 'DELETE', `${path}/${doomed.id}`, { token: editor }), 404, 'NOT_FOUND')
      t.equal((await create({ name: 'Doomed' })).slug, 'doomed', 'the slug is free again')
    })

    await t.test(`${path}: roles`, async (t) => {
      const target = await create({ name: 'Guarded' })
      const before = await rows()
      const writes = [
        ['POST', path, { name: 'Intruder' }],
        ['PATCH', `${path}/${target.id}`, { name: 'Intruder' }],
        ['DELETE', `${path}/${target.id}`, undefined]
      ] as const
      for (const [method, url, body] of writes) {
        const forbidden = await call(h.app, method, url, { token: h.author.token, body })
        t.strictSame(problem(t, forbidden, 403, 'FORBIDDEN'), {
          type: '/problems/forbidden',
          title: 'Forbidden',
          status: 403,
          code: 'FORBIDDEN',
          detail: 'This needs the editor role or higher; your token has author.'
        })
        const anonymous = await call(h.app, method, url, { body })
        problem(t, anonymous, 401, 'UNAUTHORIZED')
        t.equal(anonymous.headers['www-authenticate'], 'Bearer realm="dateline"')
        const bad = await call(h.app, method, url, { token: 'dl_not-a-real-token', body })
        problem(t, bad, 401, 'UNAUTHORIZED')
        t.equal(bad.headers['www-authenticate'], 'Bearer realm="dateline", error="invalid_token"')
      }
      t.equal(await rows(), before, 'nothing created or deleted')
      const stored = await row(target.id)
      t.equal(stored.name, 'Guarded')
      t.equal(stored.version, 1)
    })

    await t.test(`${path}: lists`, async (t) => {
      for (const name of ['Kilo', 'Mike', 'Lima', 'Mike', 'November']) await create({ name })
      const all = (await h.database.db.select({ id: table.id }).from(table)).map((r) => r.id).sort()
      t.ok(all.length > 20, `${all.length} rows, more than a default page`)

      const first = await call(h.app, 'GET', path)
      t.equal(first.statusCode, 200)
      t.equal(first.json().data.length, 20)
      t.equal(first.json().meta.limit, 20)
      t.type(first.json().meta.nextCursor, 'string')
      t.strictSame(Object.keys(first.json()).sort(), ['data', 'meta'])

      const orders: Record<string, string[]> = {}
      for (const sort of ['name', '-name', 'createdAt', '-createdAt']) {
        const items = await walk(t, h, path, { limit: '2', sort })
        const ids = items.map((i) => i.id)
        t.equal(new Set(ids).size, ids.length, `${sort}: no item twice`)
        t.strictSame([...ids].sort(), all, `${sort}: every item once`)
        const onePage = await call(h.app, 'GET', path, { query: { limit: '100', sort } })
        t.strictSame(onePage.json().data.map((i: { id: string }) => i.id), ids, `${sort}: pages join into the one-page order`)
        t.equal(onePage.json().meta.nextCursor, null)
        orders[sort] = ids
        if (sort === 'name') {
          const names = items.map((i) => i.name).filter((n) => ['Kilo', 'Lima', 'Mike', 'November'].includes(n))
          t.strictSame(names, ['Kilo', 'Lima', 'Mike', 'Mike', 'November'])
        }
        if (sort === 'createdAt') {
          const times = items.map((i) => Date.parse(i.createdAt))
          t.ok(times.every((x, i) => i === 0 || times[i - 1] <= x), 'oldest first')
        }
      }
      t.strictSame(orders['-name'], [...orders.name].reverse())
      t.strictSame(orders['-createdAt'], [...orders.createdAt].reverse())
      const byDefault = await walk(t, h, path, { limit: '3' })
      t.strictSame(byDefault.map((i) => i.id), orders.name, 'name is the default order')

      // Inserts between requests neither repeat nor skip an item.
      const page1 = (await call(h.app, 'GET', path, { query: { limit: '2' } })).json()
      const early = await create({ name: 'Aaaa First' })
      const late = await create({ name: 'Zzzz Last' })
      const rest = await walk(t, h, path, { limit: '2', cursor: page1.meta.nextCursor })
      const seen = [...page1.data, ...rest].map((i) => i.id)
      t.equal(new Set(seen).size, seen.length)
      t.notOk(seen.includes(early.id), 'an item before the cursor is not shown')
      t.equal(seen.filter((id) => id === late.id).length, 1, 'an item after the cursor is shown once')
      t.strictSame([...seen].sort(), [...all, late.id].sort())

      const sparse = await call(h.app, 'GET', path, { query: { fields: 'name', limit: '5' } })
      t.equal(sparse.statusCode, 200)
      t.equal(sparse.json().data.length, 5)
      for (const item of sparse.json().data) t.strictSame(Object.keys(item).sort(), ['id', 'name'])
      const one = await call(h.app, 'GET', `${path}/${late.id}`, { query: { fields: 'slug,name' } })
      t.strictSame(one.json(), { id: late.id, slug: 'zzzz-last', name: 'Zzzz Last' })
      const bySlug = await call(h.app, 'GET', `${path}/by-slug/zzzz-last`, { query: { fields: 'description' } })
      t.strictSame(bySlug.json(), { id: late.id, description: null })

      const refusals: Array<[Record<string, string>, string, string]> = [
        [{ limit: '101' }, '/limit', 'VALIDATION_FAILED'],
        [{ limit: '0' }, '/limit', 'VALIDATION_FAILED'],
        [{ limit: 'ten' }, '/limit', 'VALIDATION_FAILED'],
        [{ sort: 'slug' }, '/sort', 'VALIDATION_FAILED'],
        [{ sort: 'description' }, '/sort', 'VALIDATION_FAILED'],
        [{ fields: 'name,bogus' }, '/fields', 'VALIDATION_FAILED'],
        [{ bogus: '1' }, '/bogus', 'VALIDATION_FAILED'],
        [{ include: 'section' }, '/include', 'VALIDATION_FAILED'],
        [{ cursor: 'garbage' }, '/cursor', 'INVALID_CURSOR'],
        [{ cursor: Buffer.from('{"s":"name","v":"x","id":"zz"}').toString('base64url') }, '/cursor', 'INVALID_CURSOR'],
        [{ cursor: page1.meta.nextCursor, sort: 'createdAt' }, '/cursor', 'INVALID_CURSOR'],
        [{ cursor: Buffer.from('{"s":"createdAt","v":"yesterday","id":"00000000-0000-4000-8000-000000000000"}').toString('base64url'), sort: 'createdAt' }, '/cursor', 'INVALID_CURSOR']
      ]
      for (const [query, at, code] of refusals) {
        const res = await call(h.app, 'GET', path, { query })
        const p = problem(t, res, 400, code)
        t.match(p.errors[0], { path: at, in: 'query' }, `${JSON.stringify(query)} names ${at}`)
      }
      const unknown = problem(t, await call(h.app, 'GET', path, { query: { bogus: '1' } }), 400, 'VALIDATION_FAILED')
      t.strictSame(unknown.errors, [{ path: '/bogus', in: 'query', message: 'is not a known parameter' }])
      const garbage = problem(t, await call(h.app, 'GET', path, { query: { cursor: 'garbage' } }), 400, 'INVALID_CURSOR')
      t.strictSame(garbage.errors, [{ path: '/cursor', in: 'query', message: 'is not a cursor this list issued' }])
      problem(t, await call(h.app, 'GET', `${path}/${late.id}`, { query: { fields: 'bogus' } }), 400, 'VALIDATION_FAILED')
      problem(t, await call(h.app, 'GET', `${path}/${late.id}`, { query: { bogus: '1' } }), 400, 'VALIDATION_FAILED')
      problem(t, await call(h.app, 'GET', `${path}/by-slug/zzzz-last`, { query: { limit: '1' } }), 400, 'VALIDATION_FAILED')
    })

    await t.test(`${path}: ETag, If-None-Match and If-Match`, async (t) => {
      const item = await create({ name: 'Versioned' })
      const read = await call(h.app, 'GET', `${path}/${item.id}`)
      const etag = read.headers.etag as string
      t.match(etag, /^"1-[A-Za-z0-9_-]+"$/)
      const again = await call(h.app, 'GET', `${path}/${item.id}`)
      t.equal(again.headers.etag, etag, 'the same representation has the same ETag')

      const notModified = await call(h.app, 'GET', `${path}/${item.id}`, { headers: { 'if-none-match': etag } })
      t.equal(notModified.statusCode, 304)
      t.equal(notModified.body, '')
      t.equal(notModified.headers.etag, etag)
      t.equal((await call(h.app, 'GET', `${path}/${item.id}`, { headers: { 'if-none-match': `"0-nope", ${etag}` } })).statusCode, 304)
      const stale = await call(h.app, 'GET', `${path}/${item.id}`, { headers: { 'if-none-match': '"1-other"' } })
      t.equal(stale.statusCode, 200)
      t.strictSame(stale.json(), item)

      const list = await call(h.app, 'GET', path, { query: { limit: '3' } })
      t.ok(list.headers.etag)
      t.equal((await call(h.app, 'GET', path, { query: { limit: '3' }, headers: { 'if-none-match': list.headers.etag as string } })).statusCode, 304)
      const bySlug = await call(h.app, 'GET', `${path}/by-slug/versioned`)
      t.equal((await call(h.app, 'GET', `${path}/by-slug/versioned`, { headers: { 'if-none-match': bySlug.headers.etag as string } })).statusCode, 304)

      const patched = await call(h.app, 'PATCH', `${path}/${item.id}`, { token: editor, headers: { 'if-match': etag }, body: { description: 'First edit.' } })
      t.equal(patched.statusCode, 200, patched.body)
      const etag2 = patched.headers.etag as string
      t.match(etag2, /^"2-/)
      t.not(etag2, etag)
      t.equal((await call(h.app, 'GET', `${path}/${item.id}`, { headers: { 'if-none-match': etag } })).statusCode, 200, 'the old ETag no longer matches')

      const precondition = STALE_ETAG_PROBLEM
      for (const stale of [etag, '"99-abc"', `W/${etag2}`, 'garbage']) {
        const res = await call(h.app, 'PATCH', `${path}/${item.id}`, { token: editor, headers: { 'if-match': stale }, body: { description: 'Lost update.' } })
        t.strictSame(problem(t, res, 412, 'PRECONDITION_FAILED'), precondition, `PATCH If-Match ${stale}`)
        const del = await call(h.app, 'DELETE', `${path}/${item.id}`, { token: editor, headers: { 'if-match': stale } })
        t.strictSame(problem(t, del, 412, 'PRECONDITION_FAILED'), precondition, `DELETE If-Match ${stale}`)
      }
      const stored = await row(item.id)
      t.equal(stored.description, 'First edit.', 'nothing changed')
      t.equal(stored.version, 2)

      const both = await call(h.app, 'PATCH', `${path}/${item.id}`, { token: editor, headers: { 'if-match': `"1-x", ${etag2}` }, body: { description: 'Second edit.' } })
      t.equal(both.statusCode, 200, 'any listed ETag may match')
      const star = await call(h.app, 'PATCH', `${path}/${item.id}`, { token: editor, headers: { 'if-match': '*' }, body: { description: 'Third edit.' } })
      t.equal(star.statusCode, 200)
      const current = (await call(h.app, 'GET', `${path}/${item.id}`)).headers.etag as string
      t.match(current, /^"4-/)
      const del = await call(h.app, 'DELETE', `${path}/${item.id}`, { token: editor, headers: { 'if-match': current } })
      t.equal(del.statusCode, 204)
      t.equal(await row(item.id), undefined)
    })
  }

  await t.test('sections and tags keep separate slugs', async (t) => {
    const section = await call(h.app, 'POST', '/v1/sections', { token: editor, body: { name: 'Shared Name' } })
    const tag = await call(h.app, 'POST', '/v1/tags', { token: editor, body: { name: 'Shared Name' } })
    t.equal(section.json().slug, 'shared-name')
    t.equal(tag.json().slug, 'shared-name')
    const clientTag = await call(h.app, 'POST', '/v1/tags', { token: editor, body: { name: 'X', slug: 'only-a-section' } })
    const clientSection = await call(h.app, 'POST', '/v1/sections', { token: editor, body: { name: 'X', slug: 'only-a-section' } })
    t.equal(clientTag.statusCode, 201)
    t.equal(clientSection.statusCode, 201)
    problem(t, await call(h.app, 'GET', `/v1/tags/${section.json().id}`), 404, 'NOT_FOUND')
    problem(t, await call(h.app, 'GET', `/v1/sections/${tag.json().id}`), 404, 'NOT_FOUND')
  })

  await t.test('a section or tag used by an article cannot be deleted', async (t) => {
    const post = async (p: string, body: Record<string, unknown>) => {
      const res = await call(h.app, 'POST', p, { token: editor, body })
      t.equal(res.statusCode, 201, res.body)
      return res.json()
    }
    const section = await post('/v1/sections', { name: 'Politics' })
    const tag = await post('/v1/tags', { name: 'Elections' })
    const other = await post('/v1/tags', { name: 'Budget' })
    const first = await post('/v1/articles', { headline: 'Polls open across the country', sectionId: section.id, tagIds: [other.id, tag.id] })
    const second = await post('/v1/articles', { headline: 'Turnout "higher than expected"', sectionId: section.id, tagIds: [tag.id] })

    const cases = [
      { path: '/v1/sections', item: section, table: sections, what: 'Section "Politics"', detach: [{ sectionId: null }, { sectionId: null }] },
      { path: '/v1/tags', item: tag, table: tags as unknown as typeof sections, what: 'Tag "Elections"', detach: [{ tagIds: [other.id] }, { tagIds: [] }] }
    ]
    for (const { path, item, table, what, detach } of cases) {
      const refused = await call(h.app, 'DELETE', `${path}/${item.id}`, { token: editor })
      t.strictSame(problem(t, refused, 409, 'STILL_REFERENCED'), {
        type: '/problems/still-referenced',
        title: 'Still Referenced',
        status: 409,
        code: 'STILL_REFERENCED',
        detail: `${what} is still used by article "Polls open across the country", article "Turnout "higher than expected""; remove those references first.`,
        references: [
          { resource: 'article', id: first.id, label: 'Polls open across the country' },
          { resource: 'article', id: second.id, label: 'Turnout "higher than expected"' }
        ]
      })
      t.equal((await h.database.db.select().from(table).where(eq(table.id, item.id))).length, 1, 'still there')

      const patch1 = await call(h.app, 'PATCH', `/v1/articles/${first.id}`, { token: editor, body: detach[0] })
      t.equal(patch1.statusCode, 200, patch1.body)
      const still = problem(t, await call(h.app, 'DELETE', `${path}/${item.id}`, { token: editor }), 409, 'STILL_REFERENCED')
      t.strictSame(still.references, [{ resource: 'article', id: second.id, label: 'Turnout "higher than expected"' }])

      const patch2 = await call(h.app, 'PATCH', `/v1/articles/${second.id}`, { token: editor, body: detach[1] })
      t.equal(patch2.statusCode, 200, patch2.body)
      const deleted = await call(h.app, 'DELETE', `${path}/${item.id}`, { token: editor })
      t.equal(deleted.statusCode, 204, deleted.body)
      t.equal((await h.database.db.select().from(table).where(eq(table.id, item.id))).length, 0, 'gone')
    }
    // The untouched tag is still on the first article.
    const article = await call(h.app, 'GET', `/v1/articles/${first.id}`, { token: editor })
    t.strictSame(article.json().tagIds, [other.id])
    t.equal(article.json().sectionId, null)
    problem(t, await call(h.app, 'DELETE', `/v1/tags/${other.id}`, { token: editor }), 409, 'STILL_REFERENCED')

    // Deleting the article frees the tag.
    t.equal((await call(h.app, 'DELETE', `/v1/articles/${first.id}`, { token: editor })).statusCode, 204)
    t.equal((await call(h.app, 'DELETE', `/v1/tags/${other.id}`, { token: editor })).statusCode, 204)
  })
})
