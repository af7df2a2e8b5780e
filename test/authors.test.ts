// /v1/authors through the real app and a real database: CRUD, slugs, validation, the private
// email, avatars, links, roles, lists, caching and the byline guard on delete.
import t from 'tap'
import { count, eq } from 'drizzle-orm'
import { build, call } from './helper.js'
import { ISO, UUID, MISSING, PUBLIC_CACHE, problem, walk, STALE_ETAG_PROBLEM } from './assertions.js'
import { authors, users } from '../src/db/schema.js'
import { uniqueSlug } from '../src/lib/slug.js'

t.test('authors', async (t) => {
  const h = await build(t)
  const editor = h.editor.token
  const rows = async () => (await h.database.db.select({ n: count() }).from(authors))[0].n
  const row = async (id: string) => (await h.database.db.select().from(authors).where(eq(authors.id, id)))[0]
  const create = async (body: Record<string, unknown>) => {
    const res = await call(h.app, 'POST', '/v1/authors', { token: editor, body })
    t.equal(res.statusCode, 201, res.body)
    return res.json()
  }
  const photo = async (body: Record<string, unknown> = {}) => {
    const res = await call(h.app, 'POST', '/v1/photos', { token: editor, body: { url: 'https://cdn.example.com/portrait.jpg', ...body } })
    t.equal(res.statusCode, 201, res.body)
    return res.json()
  }

  await t.test('create, then read by id and by slug', async (t) => {
    const before = await rows()
    const input = {
      name: 'Café Politics & Society!',
      bio: 'Writes about coffee houses.',
      email: 'cafe@news.example',
      links: { website: 'https://cafe.example/about', x: 'https://x.com/cafe' }
    }
    const res = await call(h.app, 'POST', '/v1/authors', { token: editor, body: input })
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.match(body.id, UUID)
    t.match(body.createdAt, ISO)
    t.strictSame(body, { id: body.id, slug: 'cafe-politics-society', avatarId: null, ...input, createdAt: body.createdAt, updatedAt: body.createdAt })
    t.equal(res.headers.location, `/v1/authors/${body.id}`)
    t.match(res.headers.etag, /^"1-/)
    t.equal(res.headers['cache-control'], 'private, no-store')
    t.equal(await rows(), before + 1)
    const stored = await row(body.id)
    t.strictSame(
      { slug: stored.slug, name: stored.name, bio: stored.bio, email: stored.email, links: stored.links, avatarId: stored.avatarId, version: stored.version },
      { slug: 'cafe-politics-society', name: input.name, bio: input.bio, email: input.email, links: input.links, avatarId: null, version: 1 }
    )

    const { email: _email, ...publicView } = body
    const anonymous = await call(h.app, 'GET', `/v1/authors/${body.id}`)
    t.equal(anonymous.statusCode, 200)
    t.strictSame(anonymous.json(), publicView, 'anonymous readers get no email')
    t.notOk('email' in anonymous.json())
    t.notMatch(anonymous.body, /cafe@news\.example/)
    t.equal(anonymous.headers['cache-control'], PUBLIC_CACHE)

    const staff = await call(h.app, 'GET', `/v1/authors/${body.id}`, { token: h.author.token })
    t.strictSame(staff.json(), body, 'staff (even the author role) get the email')
    t.equal(staff.headers['cache-control'], 'private, no-store')
    t.not(staff.headers.etag, anonymous.headers.etag, 'the two representations have their own ETags')

    const bySlug = await call(h.app, 'GET', '/v1/authors/by-slug/cafe-politics-society')
    t.equal(bySlug.statusCode, 200)
    t.strictSame(bySlug.json(), publicView)
    t.notMatch(bySlug.body, /cafe@news\.example/)
    const bySlugStaff = await call(h.app, 'GET', '/v1/authors/by-slug/cafe-politics-society', { token: editor })
    t.strictSame(bySlugStaff.json(), body)

    const minimal = await create({ name: 'Mina Minimal' })
    t.strictSame(minimal, {
      id: minimal.id, slug: 'mina-minimal', name: 'Mina Minimal', bio: null, avatarId: null, email: null, links: {},
      createdAt: minimal.createdAt, updatedAt: minimal.createdAt
    })
    const admin = await call(h.app, 'POST', '/v1/authors', { token: h.admin.token, body: { name: 'Made By Admin' } })
    t.equal(admin.statusCode, 201)
  })

  await t.test('email never reaches anonymous callers', async (t) => {
    await create({ name: 'Priya Private', email: 'priya@news.example' })
    const lists: Array<{ query: Record<string, string> }> = [
      { query: {} },
      { query: { include: 'avatar' } },
      { query: { fields: 'email,name' } },
      { query: { sort: '-createdAt', limit: '100' } }
    ]
    for (const { query } of lists) {
      const res = await call(h.app, 'GET', '/v1/authors', { query: { limit: '100', ...query } })
      t.equal(res.statusCode, 200, res.body)
      t.notMatch(res.body, /@/, `no email anywhere in ${JSON.stringify(query)}`)
      for (const item of res.json().data) t.notOk('email' in item)
    }
    const staff = await call(h.app, 'GET', '/v1/authors', { token: h.author.token, query: { limit: '100' } })
    const priya = staff.json().data.find((a: { name: string }) => a.name === 'Priya Private')
    t.equal(priya.email, 'priya@news.example', 'staff lists carry the email')
    t.ok(staff.json().data.every((a: object) => 'email' in a))
    t.equal(staff.headers['cache-control'], 'private, no-store')

    const sparse = await call(h.app, 'GET', `/v1/authors/${priya.id}`, { query: { fields: 'email,name' } })
    t.strictSame(sparse.json(), { id: priya.id, name: 'Priya Private' }, 'asking for email does not reveal it')
    const sparseSlug = await call(h.app, 'GET', '/v1/authors/by-slug/priya-private', { query: { fields: 'email' } })
    t.strictSame(sparseSlug.json(), { id: priya.id })
    const staffSparse = await call(h.app, 'GET', `/v1/authors/${priya.id}`, { token: editor, query: { fields: 'email' } })
    t.strictSame(staffSparse.json(), { id: priya.id, email: 'priya@news.example' })

    // A bad token is refused rather than treated as anonymous.
    const bad = await call(h.app, 'GET', `/v1/authors/${priya.id}`, { token: 'dl_nope' })
    problem(t, bad, 401, 'UNAUTHORIZED')
  })

  await t.test('avatars', async (t) => {
    const portrait = await photo({ caption: 'At the desk', credit: 'PHOTO: Staff', altText: 'A woman at a desk', width: 800, height: 600 })
    const author = await create({ name: 'Ava Avatar', avatarId: portrait.id, email: 'ava@news.example' })
    t.equal(author.avatarId, portrait.id)
    t.notOk('avatar' in author, 'no embedding unless asked')

    const plain = await call(h.app, 'GET', `/v1/authors/${author.id}`)
    t.notOk('avatar' in plain.json())
    const embedded = await call(h.app, 'GET', `/v1/authors/${author.id}`, { query: { include: 'avatar' } })
    t.equal(embedded.statusCode, 200, embedded.body)
    const { email: _e, ...publicAuthor } = author
    t.strictSame(embedded.json(), { ...publicAuthor, avatar: portrait })
    const bySlug = await call(h.app, 'GET', '/v1/authors/by-slug/ava-avatar', { query: { include: 'avatar' } })
    t.strictSame(bySlug.json(), { ...publicAuthor, avatar: portrait })

    const none = await create({ name: 'Noel Noavatar' })
    const noneEmbedded = await call(h.app, 'GET', `/v1/authors/${none.id}`, { query: { include: 'avatar' } })
    t.equal(noneEmbedded.json().avatar, null, 'no avatar embeds as null')

    const list = await call(h.app, 'GET', '/v1/authors', { query: { include: 'avatar', limit: '100' } })
    const items = list.json().data
    t.ok(items.every((a: object) => 'avatar' in a))
    t.strictSame(items.find((a: { id: string }) => a.id === author.id).avatar, portrait)
    t.equal(items.find((a: { id: string }) => a.id === none.id).avatar, null)

    // One query embeds every avatar on the page, whatever its size.
    h.queries.length = 0
    await call(h.app, 'GET', '/v1/authors', { query: { limit: '100' } })
    const without = h.queries.length
    h.queries.length = 0
    await call(h.app, 'GET', '/v1/authors', { query: { limit: '100', include: 'avatar' } })
    t.equal(h.queries.length, without + 1, 'include=avatar costs one query')

    problem(t, await call(h.app, 'GET', `/v1/authors/${author.id}`, { query: { include: 'photos' } }), 400, 'VALIDATION_FAILED')
    const badInclude = problem(t, await call(h.app, 'GET', '/v1/authors', { query: { include: 'avatar,section' } }), 400, 'VALIDATION_FAILED')
    t.match(badInclude.errors, [{ path: '/include', in: 'query' }])

    const before = await rows()
    const missing = await call(h.app, 'POST', '/v1/authors', { token: editor, body: { name: 'Ghost Avatar', avatarId: MISSING } })
    t.strictSame(problem(t, missing, 400, 'VALIDATION_FAILED').errors, [{ path: '/avatarId', in: 'body', message: 'is not the id of a photo' }])
    problem(t, await call(h.app, 'POST', '/v1/authors', { token: editor, body: { name: 'Ghost Avatar', avatarId: 'portrait.jpg' } }), 400, 'VALIDATION_FAILED')
    t.equal(await rows(), before, 'nothing written')

    const badPatch = await call(h.app, 'PATCH', `/v1/authors/${author.id}`, { token: editor, body: { avatarId: MISSING } })
    t.strictSame(problem(t, badPatch, 400, 'VALIDATION_FAILED').errors, [{ path: '/avatarId', in: 'body', message: 'is not the id of a photo' }])
    t.equal((await row(author.id)).avatarId, portrait.id, 'avatar unchanged')
    t.equal((await row(author.id)).version, 1)

    const other = await photo({ url: '/media/other.jpg' })
    const swapped = await call(h.app, 'PATCH', `/v1/authors/${author.id}`, { token: editor, body: { avatarId: other.id }, query: {} })
    t.equal(swapped.statusCode, 200, swapped.body)
    t.equal(swapped.json().avatarId, other.id)
    const cleared = await call(h.app, 'PATCH', `/v1/authors/${author.id}`, { token: editor, body: { avatarId: null } })
    t.equal(cleared.json().avatarId, null)
    t.equal((await row(author.id)).avatarId, null)
  })

  await t.test('links', async (t) => {
    const before = await rows()
    const refused: Array<[unknown, string]> = [
      [{ website: 'javascript:alert(1)' }, '/links/website'],
      [{ x: 'JavaScript:alert(1)' }, '/links/x'],
      [{ website: 'data:text/html,<script>alert(1)</script>' }, '/links/website'],
      [{ website: 'ftp://files.example/me' }, '/links/website'],
      [{ website: 'example.com' }, '/links/website'],
      [{ website: '/about' }, '/links/website'],
      [{ website: 42 }, '/links/website'],
      [{ myspace: 'https://myspace.com/me' }, '/links/myspace'],
      ['https://me.example', '/links']
    ]
    for (const [links, at] of refused) {
      const res = await call(h.app, 'POST', '/v1/authors', { token: editor, body: { name: 'Linked', links } })
      const p = problem(t, res, 400, 'VALIDATION_FAILED')
      t.ok(p.errors.some((e: { path: string }) => e.path === at), `${JSON.stringify(links)} names ${at}: ${res.body}`)
    }
    const unknown = problem(t, await call(h.app, 'POST', '/v1/authors', { token: editor, body: { name: 'Linked', links: { myspace: 'https://myspace.com/me' } } }), 400, 'VALIDATION_FAILED')
    t.strictSame(unknown.errors, [{ path: '/links/myspace', in: 'body', message: 'is not a known field' }])
    t.equal(await rows(), before, 'nothing written')

    const links = { website: 'http://lina.example', bluesky: 'https://bsky.app/profile/lina', mastodon: 'https://mastodon.social/@lina', linkedin: 'https://linkedin.com/in/lina' }
    const author = await create({ name: 'Lina Links', links })
    t.strictSame(author.links, links)
    t.strictSame((await call(h.app, 'GET', `/v1/authors/${author.id}`)).json().links, links, 'links are public')

    const replaced = await call(h.app, 'PATCH', `/v1/authors/${author.id}`, { token: editor, body: { links: { x: 'https://x.com/lina' } } })
    t.equal(replaced.statusCode, 200)
    t.strictSame(replaced.json().links, { x: 'https://x.com/lina' }, 'PATCH replaces the links')
    t.strictSame((await row(author.id)).links, { x: 'https://x.com/lina' })

    const bad = await call(h.app, 'PATCH', `/v1/authors/${author.id}`, { token: editor, body: { links: { website: 'javascript:alert(document.cookie)' } } })
    problem(t, bad, 400, 'VALIDATION_FAILED')
    t.strictSame((await row(author.id)).links, { x: 'https://x.com/lina' }, 'nothing written')
  })

  await t.test('slugs', async (t) => {
    t.equal((await create({ name: 'Café Politics & Society!' })).slug, 'cafe-politics-society-2')
    t.equal((await create({ name: 'café politics — society' })).slug, 'cafe-politics-society-3')
    t.equal((await create({ name: 'José Ñúñez' })).slug, 'jose-nunez')
    t.equal((await create({ name: 'Mary O\'Brien' })).slug, 'mary-obrien')
    t.equal((await create({ name: 'Chosen', slug: 'the-chosen-one' })).slug, 'the-chosen-one')

    const before = await rows()
    const taken = await call(h.app, 'POST', '/v1/authors', { token: editor, body: { name: 'Impostor', slug: 'the-chosen-one' } })
    t.strictSame(problem(t, taken, 409, 'SLUG_TAKEN'), {
      type: '/problems/slug-taken',
      title: 'Slug Taken',
      status: 409,
      code: 'SLUG_TAKEN',
      detail: 'The slug "the-chosen-one" is already taken.',
      errors: [{ path: '/slug', in: 'body', message: 'is already taken' }]
    })
    for (const slug of ['The-Chosen', 'two words', 'x'.repeat(121), 'end-', 'a--b', '']) {
      const res = await call(h.app, 'POST', '/v1/authors', { token: editor, body: { name: 'Sluggish', slug } })
      t.equal(problem(t, res, 400, 'VALIDATION_FAILED').errors[0].path, '/slug', `slug ${JSON.stringify(slug)}`)
    }
    t.equal(await rows(), before, 'nothing written')
    t.equal((await create({ name: 'Longest', slug: 'x'.repeat(120) })).slug, 'x'.repeat(120))

    const mover = await create({ name: 'Mo Mover' })
    const clash = await call(h.app, 'PATCH', `/v1/authors/${mover.id}`, { token: editor, body: { slug: 'the-chosen-one', bio: 'New bio' } })
    t.strictSame(problem(t, clash, 409, 'SLUG_TAKEN').errors, [{ path: '/slug', in: 'body', message: 'is already taken' }])
    const stored = await row(mover.id)
    t.equal(stored.slug, 'mo-mover')
    t.equal(stored.bio, null, 'nothing written')
    t.equal(stored.version, 1)

    const moved = await call(h.app, 'PATCH', `/v1/authors/${mover.id}`, { token: editor, body: { slug: 'mo' } })
    t.equal(moved.json().slug, 'mo')
    t.equal((await call(h.app, 'GET', '/v1/authors/by-slug/mo')).json().id, mover.id)
    const old = await call(h.app, 'GET', '/v1/authors/by-slug/mo-mover')
    t.equal(old.statusCode, 301, 'the old slug leads to the new one (test/redirects.test.ts)')
    t.equal(old.headers.location, '/v1/authors/by-slug/mo')
    const renamed = await call(h.app, 'PATCH', `/v1/authors/${mover.id}`, { token: editor, body: { name: 'Morris Mover' } })
    t.equal(renamed.json().slug, 'mo', 'a new name keeps the slug')
  })

  await t.test('validation', async (t) => {
    const before = await rows()
    const unknown = await call(h.app, 'POST', '/v1/authors', { token: editor, body: { name: 'Val', bogus: true } })
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
      [{ name: 7 }, '/name'],
      [{ name: 'n'.repeat(201) }, '/name'],
      [{ name: 'Val', bio: 5 }, '/bio'],
      [{ name: 'Val', bio: 'b'.repeat(5001) }, '/bio'],
      [{ name: 'Val', email: 'not-an-email' }, '/email'],
      [{ name: 'Val', email: 12 }, '/email'],
      [{ name: 'Val', links: null }, '/links'],
      [{ name: 'Val', avatarId: 5 }, '/avatarId'],
      [{ name: 'Val', id: MISSING }, '/id'],
      [{ name: 'Val', createdAt: '2020-01-01T00:00:00.000Z' }, '/createdAt']
    ]
    for (const [body, at] of cases) {
      const res = await call(h.app, 'POST', '/v1/authors', { token: editor, body })
      const p = problem(t, res, 400, 'VALIDATION_FAILED')
      t.ok(p.errors.some((e: { path: string }) => e.path === at), `${JSON.stringify(body).slice(0, 50)} names ${at}: ${res.body}`)
    }
    t.equal(await rows(), before, 'nothing written')

    const target = await create({ name: 'Vera Valid', bio: 'Kept.' })
    for (const [body, at] of [[{}, '/'], [{ bogus: 1 }, '/bogus'], [{ name: ' ' }, '/name'], [{ email: 'nope' }, '/email'], [{ links: [] }, '/links']] as const) {
      const res = await call(h.app, 'PATCH', `/v1/authors/${target.id}`, { token: editor, body })
      t.equal(problem(t, res, 400, 'VALIDATION_FAILED').errors[0].path, at, `PATCH ${JSON.stringify(body)}`)
    }
    const stored = await row(target.id)
    t.equal(stored.version, 1)
    t.equal(stored.name, 'Vera Valid')
    t.equal(stored.bio, 'Kept.')
  })

  await t.test('update', async (t) => {
    const original = await create({ name: 'Una Update', bio: 'Old bio.', email: 'una@news.example' })
    const res = await call(h.app, 'PATCH', `/v1/authors/${original.id}`, { token: editor, body: { name: 'Una Updated', bio: null, email: 'una@else.example' } })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.strictSame(body, { ...original, name: 'Una Updated', bio: null, email: 'una@else.example', updatedAt: body.updatedAt })
    t.ok(Date.parse(body.updatedAt) >= Date.parse(original.updatedAt))
    t.match(res.headers.etag, /^"2-/)
    const stored = await row(original.id)
    t.equal(stored.name, 'Una Updated')
    t.equal(stored.email, 'una@else.example')
    t.equal(stored.version, 2)
    const { email: _e, ...publicView } = body
    t.strictSame((await call(h.app, 'GET', `/v1/authors/${original.id}`)).json(), publicView)
  })

  await t.test('unknown and malformed ids', async (t) => {
    const expected = { type: '/problems/not-found', title: 'Not Found', status: 404, code: 'NOT_FOUND', detail: 'Author not found.' }
    t.strictSame(problem(t, await call(h.app, 'GET', `/v1/authors/${MISSING}`), 404, 'NOT_FOUND'), expected)
    t.strictSame(problem(t, await call(h.app, 'PATCH', `/v1/authors/${MISSING}`, { token: editor, body: { name: 'X' } }), 404, 'NOT_FOUND'), expected)
    t.strictSame(problem(t, await call(h.app, 'DELETE', `/v1/authors/${MISSING}`, { token: editor }), 404, 'NOT_FOUND'), expected)
    t.strictSame(problem(t, await call(h.app, 'GET', '/v1/authors/by-slug/nobody-at-all'), 404, 'NOT_FOUND'), expected)
    const before = await rows()
    for (const [method, opts] of [['GET', {}], ['PATCH', { token: editor, body: { name: 'X' } }], ['DELETE', { token: editor }]] as const) {
      const p = problem(t, await call(h.app, method, '/v1/authors/12345', opts), 400, 'VALIDATION_FAILED')
      t.match(p.errors, [{ path: '/id', in: 'path' }], method)
    }
    t.equal(await rows(), before)
  })

  await t.test('roles', async (t) => {
    const target = await create({ name: 'Rhea Role' })
    const before = await rows()
    const writes = [
      ['POST', '/v1/authors', { name: 'Intruder' }],
      ['PATCH', `/v1/authors/${target.id}`, { name: 'Intruder' }],
      ['DELETE', `/v1/authors/${target.id}`, undefined]
    ] as const
    for (const [method, url, body] of writes) {
      t.strictSame(problem(t, await call(h.app, method, url, { token: h.author.token, body }), 403, 'FORBIDDEN'), {
        type: '/problems/forbidden',
        title: 'Forbidden',
        status: 403,
        code: 'FORBIDDEN',
        detail: 'This needs the editor role or higher; your token has author.'
      })
      const anonymous = await call(h.app, method, url, { body })
      problem(t, anonymous, 401, 'UNAUTHORIZED')
      t.equal(anonymous.headers['www-authenticate'], 'Bearer realm="dateline"')
      const bad = await call(h.app, method, url, { token: 'dl_forged', body })
      problem(t, bad, 401, 'UNAUTHORIZED')
      t.equal(bad.headers['www-authenticate'], 'Bearer realm="dateline", error="invalid_token"')
      const malformed = await call(h.app, method, url, { headers: { authorization: 'Basic dXNlcjpwYXNz' }, body })
      problem(t, malformed, 401, 'UNAUTHORIZED')
      t.match(malformed.headers['www-authenticate'], /^Bearer realm="dateline"/)
    }
    t.equal(await rows(), before, 'nothing created or deleted')
    const stored = await row(target.id)
    t.equal(stored.name, 'Rhea Role')
    t.equal(stored.version, 1)
  })

  await t.test('lists', async (t) => {
    for (const name of ['Kilo', 'Mike', 'Lima', 'Mike', 'November']) await create({ name })
    const all = (await h.database.db.select({ id: authors.id }).from(authors)).map((r) => r.id).sort()
    t.ok(all.length > 20, `${all.length} authors`)

    const first = await call(h.app, 'GET', '/v1/authors')
    t.equal(first.json().data.length, 20)
    t.equal(first.json().meta.limit, 20)
    t.type(first.json().meta.nextCursor, 'string')

    const orders: Record<string, string[]> = {}
    for (const sort of ['name', '-name', 'createdAt', '-createdAt']) {
      const items = await walk(t, h, '/v1/authors', { limit: '2', sort })
      const ids = items.map((i) => i.id)
      t.equal(new Set(ids).size, ids.length, `${sort}: no author twice`)
      t.strictSame([...ids].sort(), all, `${sort}: every author once`)
      const onePage = await call(h.app, 'GET', '/v1/authors', { query: { limit: '100', sort } })
      t.strictSame(onePage.json().data.map((i: { id: string }) => i.id), ids, `${sort}: pages join into the one-page order`)
      orders[sort] = ids
      if (sort === 'name') {
        t.strictSame(items.map((i) => i.name).filter((n) => ['Kilo', 'Lima', 'Mike', 'November'].includes(n)), ['Kilo', 'Lima', 'Mike', 'Mike', 'November'])
      }
      if (sort === 'createdAt') {
        const times = items.map((i) => Date.parse(i.createdAt))
        t.ok(times.every((x, i) => i === 0 || times[i - 1] <= x), 'oldest first')
      }
    }
    t.strictSame(orders['-name'], [...orders.name].reverse())
    t.strictSame(orders['-createdAt'], [...orders.createdAt].reverse())
    t.strictSame((await walk(t, h, '/v1/authors', { limit: '7' })).map((i) => i.id), orders.name, 'name is the default order')
    const staffWalk = await walk(t, h, '/v1/authors', { limit: '3', include: 'avatar' }, editor)
    t.strictSame(staffWalk.map((i) => i.id), orders.name)

    const sparse = await call(h.app, 'GET', '/v1/authors', { query: { fields: 'name', limit: '50' } })
    t.equal(sparse.statusCode, 200)
    for (const item of sparse.json().data) t.strictSame(Object.keys(item).sort(), ['id', 'name'])
    const sparseStaff = await call(h.app, 'GET', '/v1/authors', { token: editor, query: { fields: 'name,slug', limit: '50' } })
    for (const item of sparseStaff.json().data) t.strictSame(Object.keys(item).sort(), ['id', 'name', 'slug'])

    const refusals: Array<[Record<string, string>, string, string]> = [
      [{ limit: '101' }, '/limit', 'VALIDATION_FAILED'],
      [{ limit: '0' }, '/limit', 'VALIDATION_FAILED'],
      [{ limit: '-1' }, '/limit', 'VALIDATION_FAILED'],
      [{ sort: 'email' }, '/sort', 'VALIDATION_FAILED'],
      [{ fields: 'name,password' }, '/fields', 'VALIDATION_FAILED'],
      [{ bogus: '1' }, '/bogus', 'VALIDATION_FAILED'],
      [{ cursor: 'garbage' }, '/cursor', 'INVALID_CURSOR'],
      [{ cursor: first.json().meta.nextCursor, sort: '-name' }, '/cursor', 'INVALID_CURSOR']
    ]
    for (const [query, at, code] of refusals) {
      const p = problem(t, await call(h.app, 'GET', '/v1/authors', { query }), 400, code)
      t.match(p.errors[0], { path: at, in: 'query' }, JSON.stringify(query))
    }
    t.strictSame(problem(t, await call(h.app, 'GET', '/v1/authors', { query: { bogus: '1' } }), 400, 'VALIDATION_FAILED').errors,
      [{ path: '/bogus', in: 'query', message: 'is not a known parameter' }])
    problem(t, await call(h.app, 'GET', `/v1/authors/${all[0]}`, { query: { fields: 'nope' } }), 400, 'VALIDATION_FAILED')
    problem(t, await call(h.app, 'GET', `/v1/authors/${all[0]}`, { query: { sort: 'name' } }), 400, 'VALIDATION_FAILED')
  })

  await t.test('ETag, If-None-Match and If-Match', async (t) => {
    const item = await create({ name: 'Eli Etag', email: 'eli@news.example' })
    const read = await call(h.app, 'GET', `/v1/authors/${item.id}`)
    const etag = read.headers.etag as string
    t.match(etag, /^"1-[A-Za-z0-9_-]+"$/)
    const notModified = await call(h.app, 'GET', `/v1/authors/${item.id}`, { headers: { 'if-none-match': etag } })
    t.equal(notModified.statusCode, 304)
    t.equal(notModified.body, '')
    const staffRead = await call(h.app, 'GET', `/v1/authors/${item.id}`, { token: editor })
    t.equal((await call(h.app, 'GET', `/v1/authors/${item.id}`, { token: editor, headers: { 'if-none-match': staffRead.headers.etag as string } })).statusCode, 304)
    t.equal((await call(h.app, 'GET', `/v1/authors/${item.id}`, { token: editor, headers: { 'if-none-match': etag } })).statusCode, 200,
      'the anonymous ETag does not validate the staff representation')
    const list = await call(h.app, 'GET', '/v1/authors', { query: { limit: '5' } })
    t.equal((await call(h.app, 'GET', '/v1/authors', { query: { limit: '5' }, headers: { 'if-none-match': list.headers.etag as string } })).statusCode, 304)
    const slugRead = await call(h.app, 'GET', '/v1/authors/by-slug/eli-etag')
    t.equal((await call(h.app, 'GET', '/v1/authors/by-slug/eli-etag', { headers: { 'if-none-match': slugRead.headers.etag as string } })).statusCode, 304)

    const patched = await call(h.app, 'PATCH', `/v1/authors/${item.id}`, { token: editor, headers: { 'if-match': etag }, body: { bio: 'One.' } })
    t.equal(patched.statusCode, 200, 'the anonymous ETag carries the version If-Match needs')
    const etag2 = patched.headers.etag as string
    t.match(etag2, /^"2-/)

    for (const stale of [etag, '"7-xyz"', `W/${etag2}`]) {
      const res = await call(h.app, 'PATCH', `/v1/authors/${item.id}`, { token: editor, headers: { 'if-match': stale }, body: { bio: 'Lost.' } })
      t.strictSame(problem(t, res, 412, 'PRECONDITION_FAILED'), STALE_ETAG_PROBLEM)
      problem(t, await call(h.app, 'DELETE', `/v1/authors/${item.id}`, { token: editor, headers: { 'if-match': stale } }), 412, 'PRECONDITION_FAILED')
    }
    const stored = await row(item.id)
    t.equal(stored.bio, 'One.', 'nothing changed')
    t.equal(stored.version, 2)

    const del = await call(h.app, 'DELETE', `/v1/authors/${item.id}`, { token: editor, headers: { 'if-match': etag2 } })
    t.equal(del.statusCode, 204)
    t.equal(del.body, '')
    t.equal(await row(item.id), undefined)
  })

  await t.test('an author in a byline cannot be deleted', async (t) => {
    const lead = await create({ name: 'Byline Bea' })
    const second = await create({ name: 'Second Sam' })
    const a1 = await call(h.app, 'POST', '/v1/articles', { token: editor, body: { headline: 'Rivers rise in the north', authorIds: [lead.id, second.id] } })
    t.equal(a1.statusCode, 201, a1.body)
    const a2 = await call(h.app, 'POST', '/v1/articles', { token: editor, body: { headline: 'Dams hold, for now', authorIds: [lead.id] } })
    t.equal(a2.statusCode, 201, a2.body)

    const refused = await call(h.app, 'DELETE', `/v1/authors/${lead.id}`, { token: editor })
    t.strictSame(problem(t, refused, 409, 'STILL_REFERENCED'), {
      type: '/problems/still-referenced',
      title: 'Still Referenced',
      status: 409,
      code: 'STILL_REFERENCED',
      detail: 'Author "Byline Bea" is still used by article "Rivers rise in the north", article "Dams hold, for now"; remove those references first.',
      references: [
        { resource: 'article', id: a1.json().id, label: 'Rivers rise in the north' },
        { resource: 'article', id: a2.json().id, label: 'Dams hold, for now' }
      ]
    })
    t.ok(await row(lead.id), 'still there')

    t.equal((await call(h.app, 'PATCH', `/v1/articles/${a1.json().id}`, { token: editor, body: { authorIds: [second.id] } })).statusCode, 200)
    const still = problem(t, await call(h.app, 'DELETE', `/v1/authors/${lead.id}`, { token: editor }), 409, 'STILL_REFERENCED')
    t.strictSame(still.references, [{ resource: 'article', id: a2.json().id, label: 'Dams hold, for now' }])
    t.equal((await call(h.app, 'PATCH', `/v1/articles/${a2.json().id}`, { token: editor, body: { authorIds: [] } })).statusCode, 200)
    const deleted = await call(h.app, 'DELETE', `/v1/authors/${lead.id}`, { token: editor })
    t.equal(deleted.statusCode, 204, deleted.body)
    t.equal(await row(lead.id), undefined)

    // Deleting the article frees its byline too.
    problem(t, await call(h.app, 'DELETE', `/v1/authors/${second.id}`, { token: editor }), 409, 'STILL_REFERENCED')
    t.equal((await call(h.app, 'DELETE', `/v1/articles/${a1.json().id}`, { token: editor })).statusCode, 204)
    t.equal((await call(h.app, 'DELETE', `/v1/authors/${second.id}`, { token: editor })).statusCode, 204)
  })

  await t.test('deleting a staff member\'s author profile unlinks their account', async (t) => {
    const authorId = h.otherAuthor.authorId as string
    const res = await call(h.app, 'DELETE', `/v1/authors/${authorId}`, { token: editor })
    t.equal(res.statusCode, 204, res.body)
    t.equal(await row(authorId), undefined)
    const [user] = await h.database.db.select().from(users).where(eq(users.id, h.otherAuthor.userId))
    t.ok(user, 'the user stays')
    t.equal(user.authorId, null, 'unlinked')
    t.equal((await call(h.app, 'GET', '/v1/authors', { token: h.otherAuthor.token })).statusCode, 200, 'their token still works')
  })
})

t.test('a generated slug that keeps clashing ends its race with a random suffix', async (t) => {
  // Under a real race (test/articles.test.ts races 40 creates) each round lets one writer
  // through; from the sixth round, uniqueSlug stops computing the next -N.
  const h = await build(t)
  t.equal((await call(h.app, 'POST', '/v1/authors', { token: h.editor.token, body: { name: 'Sam Reporter' } })).json().slug, 'sam-reporter')
  t.equal(await uniqueSlug(h.database.db, authors, authors.slug, 'Sam Reporter'), 'sam-reporter-2')
  t.equal(await uniqueSlug(h.database.db, authors, authors.slug, 'Sam Reporter', 4), 'sam-reporter-2')
  const raced = await uniqueSlug(h.database.db, authors, authors.slug, 'Sam Reporter', 5)
  t.match(raced, /^sam-reporter-[0-9a-f]{6}$/)
  t.not(raced, await uniqueSlug(h.database.db, authors, authors.slug, 'Sam Reporter', 5), 'random each time')
})
