// The in-process cache of anonymous responses: hits skip the database, and no write, schedule
// or staff request can make it serve something stale or private.
import { request } from 'node:http'
import t from 'tap'
import { build, call } from './helper.js'

const on = { PUBLIC_CACHE: 'true' }

t.test('public cache', async (t) => {
  let now = new Date('2026-06-01T12:00:00.000Z')
  const one = await build(t, { env: on, now: () => now })
  const two = await build(t, { env: on, now: () => now, database: one.database })
  const editor = one.editor.token
  const create = async (headline: string, publish = true) => {
    now = new Date(now.getTime() + 1000) // distinct publication times, so the newest is first
    const res = await call(one.app, 'POST', '/v1/articles', { token: editor, body: { headline } })
    if (publish) await call(one.app, 'POST', `/v1/articles/${res.json().id}/publish`, { token: editor })
    return res.json().id as string
  }
  const headlines = async (app: typeof one.app, url = '/v1/articles') => { // a list
    const res = await call(app, 'GET', url)
    return { res, list: res.json().data.map((a: { headline: string }) => a.headline) as string[] }
  }
  const first = await create('Harbour reopens')

  t.test('a repeated anonymous read is a hit and costs no query', async (t) => {
    const miss = await call(one.app, 'GET', `/v1/articles/${first}`)
    t.equal(miss.statusCode, 200)
    t.notOk(miss.headers['x-cache'])
    one.queries.length = 0
    const hit = await call(one.app, 'GET', `/v1/articles/${first}`)
    t.equal(hit.headers['x-cache'], 'hit')
    t.equal(one.queries.length, 0, 'no SQL for a hit')
    t.equal(hit.body, miss.body)
    t.equal(hit.headers.etag, miss.headers.etag)
    t.equal(hit.headers['cache-control'], 'public, max-age=60, stale-while-revalidate=600')
    t.match(hit.headers['content-type'], /application\/json/)
    t.equal(hit.headers['content-length'], String(Buffer.byteLength(miss.body)))
    for (const name of ['x-content-type-options', 'strict-transport-security', 'access-control-allow-origin', 'vary']) {
      t.equal(hit.headers[name], miss.headers[name], `a hit carries ${name} as computed`)
    }
    t.match(hit.headers['x-request-id'], /^[0-9a-f-]{36}$/)
    t.not(hit.headers['x-request-id'], miss.headers['x-request-id'], 'each hit has its own request id')
    const revalidated = await call(one.app, 'GET', `/v1/articles/${first}`, { headers: { 'if-none-match': String(hit.headers.etag) } })
    t.equal(revalidated.statusCode, 304)
    t.equal(revalidated.body, '')
  })

  t.test('simultaneous misses of one URL cost one computation', async (t) => {
    const url = `/v1/articles/${first}?include=authors,section,tags`
    await call(one.app, 'POST', '/v1/tags', { token: editor, body: { name: 'Ports' } }) // empties the cache
    await call(one.app, 'GET', '/v1/sections') // the cache learns the next scheduled time again
    one.queries.length = 0
    const solo = await call(one.app, 'GET', `/v1/articles/${first}?include=tags,section,authors`) // another key, the same work
    const perRequest = one.queries.length
    t.ok(perRequest > 0)
    one.queries.length = 0
    const replies = await Promise.all(Array.from({ length: 8 }, () => call(one.app, 'GET', url)))
    t.equal(one.queries.length, perRequest, 'eight readers, the queries of one')
    t.same(replies.map((r) => r.statusCode), Array(8).fill(200))
    t.equal(replies.filter((r) => r.headers['x-cache'] === 'hit').length, 7, 'seven waited and were served the stored answer')
    t.ok(replies.every((r) => r.body === replies[0].body))
    t.equal(solo.statusCode, 200)
    const missing = await Promise.all(Array.from({ length: 3 }, () => call(one.app, 'GET', '/v1/articles/by-slug/no-such-story')))
    t.same(missing.map((r) => r.statusCode), [404, 404, 404], 'a miss that is not stored lets the waiting requests go on')
  })

  t.test('a conditional request that misses warms the cache with the full answer', async (t) => {
    const url = `/v1/articles/${first}?include=tags`
    const etag = String((await call(one.app, 'GET', url)).headers.etag)
    one.app.publicCache.clear()
    const revalidated = await call(one.app, 'GET', url, { headers: { 'if-none-match': etag } })
    t.equal(revalidated.statusCode, 304)
    t.notOk(revalidated.headers['x-cache'], 'computed, not cached')
    const plain = await call(one.app, 'GET', url)
    t.equal(plain.headers['x-cache'], 'hit', 'the 200 behind the 304 was stored')
    t.equal(plain.statusCode, 200)
    t.equal(plain.json().id, first)
    const again = await call(one.app, 'GET', url, { headers: { 'if-none-match': etag } })
    t.equal(again.statusCode, 304)
    t.equal(again.headers['x-cache'], 'hit')
    t.equal(again.headers.etag, etag)
    t.notOk(again.headers['content-type'], 'a 304 has no body type')
  })

  t.test('staff requests are neither served from nor stored in the cache', async (t) => {
    const draft = await create('Secret draft', false)
    const staff = await call(one.app, 'GET', '/v1/articles?status=draft', { token: editor })
    t.equal(staff.json().data[0].id, draft)
    await headlines(one.app)
    t.equal((await headlines(one.app)).res.headers['x-cache'], 'hit', 'the anonymous list is cached')
    const staffAgain = await call(one.app, 'GET', '/v1/articles?status=any', { token: editor })
    t.notOk(staffAgain.headers['x-cache'], 'never a hit with a token')
    t.ok(staffAgain.json().data.some((a: { id: string }) => a.id === draft), 'the staff list is computed, draft included')
    t.equal(staffAgain.headers['cache-control'], 'private, no-store')
    const { res, list } = await headlines(one.app)
    t.notOk(res.body.includes('Secret draft'), 'the anonymous list has no draft')
    t.notOk(list.includes('Secret draft'))
    t.notOk(res.body.includes('@staff.test'))
  })

  t.test('a write through one instance is seen by the very next read on another', async (t) => {
    await headlines(two.app)
    t.equal((await headlines(two.app)).res.headers['x-cache'], 'hit', 'instance two is warm')
    await create('Bridge closes')
    const after = await headlines(two.app)
    t.notOk(after.res.headers['x-cache'], 'the write emptied the other instance too')
    t.equal(after.list[0], 'Bridge closes')

    await call(two.app, 'GET', `/v1/articles/${first}`)
    t.equal((await call(two.app, 'GET', `/v1/articles/${first}`)).headers['x-cache'], 'hit')
    const patched = await call(one.app, 'PATCH', `/v1/articles/${first}`, { token: editor, body: { headline: 'Harbour reopens at last' } })
    t.equal(patched.statusCode, 200)
    const read = await call(two.app, 'GET', `/v1/articles/${first}`)
    t.equal(read.json().headline, 'Harbour reopens at last')
  })

  t.test('concurrent writes: every one is seen by the next read on the other instance', async (t) => {
    await call(two.app, 'GET', '/v1/tags?limit=100')
    t.equal((await call(two.app, 'GET', '/v1/tags?limit=100')).headers['x-cache'], 'hit', 'instance two holds the list')
    const names = ['Ferries', 'Lighthouses', 'Moorings', 'Piers', 'Slipways', 'Tides']
    const created = await Promise.all(names.map((name) => call(one.app, 'POST', '/v1/tags', { token: editor, body: { name } })))
    t.same(created.map((r) => r.statusCode), names.map(() => 201))
    const read = await call(two.app, 'GET', '/v1/tags?limit=100')
    t.notOk(read.headers['x-cache'])
    const listed = read.json().data.map((tag: { name: string }) => tag.name)
    t.ok(names.every((name) => listed.includes(name)), 'every write is in the next read on the other instance')
  })

  t.test('creating a draft keeps the cache; publishing it evicts the lists', async (t) => {
    await headlines(two.app)
    const changesBefore = (await call(one.app, 'GET', '/v1/changes?limit=1000', { token: editor })).json().data.length
    const id = await create('Draft for the night desk', false)
    t.equal((await call(one.app, 'GET', '/v1/changes?limit=1000', { token: editor })).json().data.length, changesBefore, 'a draft records no change')
    const warm = await headlines(two.app)
    t.equal(warm.res.headers['x-cache'], 'hit', 'a draft changes nothing public')
    t.notOk(warm.list.includes('Draft for the night desk'))
    t.equal((await call(one.app, 'POST', `/v1/articles/${id}/publish`, { token: editor })).statusCode, 200)
    const fresh = await headlines(two.app)
    t.notOk(fresh.res.headers['x-cache'])
    t.equal(fresh.list[0], 'Draft for the night desk')
  })

  t.test('a refused write changes nothing and keeps the cache', async (t) => {
    await headlines(two.app)
    const refused = await call(one.app, 'PATCH', `/v1/articles/${first}`, { token: editor, body: { headline: '' } })
    t.equal(refused.statusCode, 400)
    t.equal((await headlines(two.app)).res.headers['x-cache'], 'hit')
  })

  t.test('a scheduled article appears when its time comes, even with a warm list', async (t) => {
    const id = (await call(one.app, 'POST', '/v1/articles', { token: editor, body: { headline: 'Budget vote tonight' } })).json().id
    const publishedAt = new Date(now.getTime() + 60_000).toISOString()
    t.equal((await call(one.app, 'POST', `/v1/articles/${id}/publish`, { token: editor, body: { publishedAt } })).json().status, 'scheduled')
    for (const app of [one.app, two.app]) {
      await headlines(app)
      const warm = await headlines(app)
      t.equal(warm.res.headers['x-cache'], 'hit')
      t.notOk(warm.list.includes('Budget vote tonight'))
    }
    now = new Date(now.getTime() + 61_000)
    // What an instance's timer does within CHANGES_POLL_MS: record the publication, once.
    await Promise.all([one.app.changeJobs.tick(), two.app.changeJobs.tick()])
    const published = (await call(one.app, 'GET', '/v1/changes?limit=1000', { token: editor })).json().data.filter((c: { id: string, event: string }) => c.id === id)
    t.same(published.map((c: { event: string }) => c.event), ['article.published'], 'one change, whichever instances ticked')
    await Promise.all([one.app.changeFollower.follow(), two.app.changeFollower.follow()])
    for (const app of [one.app, two.app]) {
      const due = await headlines(app)
      t.equal(due.list[0], 'Budget vote tonight', 'listed once its time has passed')
      t.equal((await call(app, 'GET', `/v1/articles/${id}`)).statusCode, 200)
    }
  })

  t.test('posting a comment keeps the cache; approving one empties it', async (t) => {
    const url = `/v1/articles/${first}/comments`
    await call(two.app, 'GET', url)
    const posted = await one.app.inject({ method: 'POST', url, payload: { authorName: 'Reader', authorEmail: 'r@example.org', body: 'Good news.' } })
    t.equal(posted.statusCode, 201)
    const stillCached = await call(two.app, 'GET', url)
    t.equal(stillCached.headers['x-cache'], 'hit', 'a pending comment changes nothing public')
    t.same(stillCached.json().data, [])
    await call(one.app, 'PATCH', `/v1/comments/${posted.json().id}`, { token: editor, body: { status: 'approved' } })
    const fresh = await call(two.app, 'GET', url)
    t.notOk(fresh.headers['x-cache'])
    t.equal(fresh.json().data[0].body, 'Good news.')
  })

  t.test('an instance that cannot read the change log serves nothing from its cache', async (t) => {
    await headlines(two.app)
    t.equal((await headlines(two.app)).res.headers['x-cache'], 'hit')
    // As if its last read of the log were long ago (the database unreachable since).
    two.app.changeFollower.lastRead = Date.now() - 60_000
    t.notOk((await headlines(two.app)).res.headers['x-cache'])
    t.notOk((await headlines(two.app)).res.headers['x-cache'], 'still off')
    await two.app.changeFollower.follow()
    await headlines(two.app)
    t.equal((await headlines(two.app)).res.headers['x-cache'], 'hit', 'back once it reads the log again')
  })
})

t.test('over a socket, a hit is answered before Fastify, with the headers of the miss', async (t) => {
  const h = await build(t, { env: on })
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' })
  const get = (path: string, headers: Record<string, string> = {}) => fetch(address + path, { headers })
  const url = '/v1/sections?limit=5'
  const miss = await get(url)
  t.equal(miss.status, 200)
  t.equal(miss.headers.get('x-cache'), null)
  const missBody = await miss.text()
  h.queries.length = 0
  const early = h.app.publicCache.stats.early
  const hit = await get(url)
  t.equal(hit.status, 200)
  t.equal(hit.headers.get('x-cache'), 'hit')
  t.equal(await hit.text(), missBody)
  t.equal(h.app.publicCache.stats.early, early + 1, 'answered by the server, not by the Fastify hook')
  t.equal(h.queries.length, 0)
  for (const name of ['etag', 'cache-control', 'content-type', 'content-length', 'x-content-type-options', 'strict-transport-security', 'access-control-allow-origin', 'access-control-expose-headers', 'vary']) {
    t.equal(hit.headers.get(name), miss.headers.get(name), `${name} as computed for the miss`)
  }
  t.equal(hit.headers.get('access-control-allow-origin'), '*')
  t.match(hit.headers.get('access-control-expose-headers'), /^ETag, Location, /)
  t.match(hit.headers.get('x-request-id'), /^[0-9a-f-]{36}$/)
  t.not(hit.headers.get('x-request-id'), miss.headers.get('x-request-id'))
  t.equal((await get(url, { 'x-request-id': 'trace-42' })).headers.get('x-request-id'), 'trace-42', "a caller's request id is kept")

  const revalidated = await get(url, { 'if-none-match': String(miss.headers.get('etag')) })
  t.equal(revalidated.status, 304)
  t.equal(revalidated.headers.get('x-cache'), 'hit')
  t.equal(await revalidated.text(), '')

  const staff = await get(url, { authorization: `Bearer ${h.editor.token}` })
  t.equal(staff.headers.get('x-cache'), null, 'never with a token')
  t.equal(staff.headers.get('cache-control'), 'private, no-store')
  const wrongToken = await get(url, { authorization: 'Bearer nope' })
  t.equal(wrongToken.status, 401, 'a bad token is refused, not served from the cache')

  const head = await fetch(address + url, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.headers.get('x-cache'), null, 'only GETs are answered from the cache')

  const created = await fetch(address + '/v1/sections', { method: 'POST', headers: { authorization: `Bearer ${h.editor.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Aardvarks' }) })
  t.equal(created.status, 201)
  const after = await get(url)
  t.equal(after.headers.get('x-cache'), null, 'a write empties the cache')
  t.equal(((await after.json()) as { data: Array<{ name: string }> }).data[0].name, 'Aardvarks')
  t.equal(h.app.publicCache.stats.early, early + 3, 'the hit, the one with an id, the 304')

  // Should the early path ever throw, the request goes on to Fastify rather than crash the process.
  const serveRaw = h.app.publicCache.serveRaw
  h.app.publicCache.serveRaw = () => { throw new Error('early path broken') }
  const fallback = await get(url)
  t.equal(fallback.status, 200, 'answered all the same')
  t.equal(fallback.headers.get('x-cache'), 'hit', 'by the hook')
  // One that fails after its headers went out cuts the connection; the server goes on.
  h.app.publicCache.serveRaw = (_req, res) => { res.writeHead(200); throw new Error('early path broken mid-answer') }
  await t.rejects(get(url), 'the half-made answer is cut off')
  h.app.publicCache.serveRaw = serveRaw
  t.equal((await get(url)).status, 200, 'and the next request is answered')

  // As the app closes, Fastify answers again (with its 503s once closed); until then the hook serves hits.
  h.app.publicCache.closing = true
  const beforeClosing = h.app.publicCache.stats.early
  const closingHit = await get(url)
  t.equal(closingHit.headers.get('x-cache'), 'hit', 'a hit from the hook')
  t.equal(h.app.publicCache.stats.early, beforeClosing, 'not from the server')
  h.app.publicCache.closing = false
  await h.app.close()
  t.ok(h.app.publicCache.closing, 'closing the app sets it')
})

t.test('with some origins allowed, each origin has its own cached answer', async (t) => {
  const h = await build(t, { env: { ...on, CORS_ORIGIN: 'https://a.test,https://b.test' } })
  // Over a socket, so the server's early path keys by Origin too (node:http: fetch may not set it).
  const address = new URL(await h.app.listen({ port: 0, host: '127.0.0.1' }))
  const read = (origin: string) => new Promise<{ headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
    request({ host: address.hostname, port: address.port, path: '/v1/sections', headers: { origin } }, (res) => {
      res.resume().on('end', () => resolve({ headers: res.headers }))
    }).on('error', reject).end()
  })
  await read('https://a.test')
  const early = h.app.publicCache.stats.early
  const a = await read('https://a.test')
  t.equal(a.headers['x-cache'], 'hit')
  t.equal(h.app.publicCache.stats.early, early + 1, 'from the server path')
  t.equal(a.headers['access-control-allow-origin'], 'https://a.test')
  t.match(a.headers['access-control-expose-headers'], /^ETag, Location, /, 'and what a script may read')
  t.match(a.headers.vary, /\bOrigin\b/, "CORS's Vary: Origin is kept")
  t.match(a.headers.vary, /\bAuthorization\b/)
  const b = await read('https://b.test')
  t.notOk(b.headers['x-cache'], 'another origin is another entry')
  t.equal(b.headers['access-control-allow-origin'], 'https://b.test')
  const other = await read('https://evil.test')
  t.notOk(other.headers['access-control-allow-origin'], 'an origin not allowed gets no CORS header, cached or not')
  t.notOk((await read('https://evil.test')).headers['access-control-allow-origin'])
})

t.test('with the database gone, a write is a 503 and an uncached read too', async (t) => {
  const h = await build(t, { env: on })
  await h.database.close()
  const write = await call(h.app, 'POST', '/v1/sections', { token: h.editor.token, body: { name: 'Weather' } })
  t.equal(write.statusCode, 503, 'not a 500')
  t.equal(write.json().code, 'UNAVAILABLE')
  const uncached = await call(h.app, 'GET', '/v1/tags')
  t.equal(uncached.statusCode, 503)
  // The batched and prepared statements fail the same way: a comment post, a read of one article.
  const comment = await call(h.app, 'POST', '/v1/articles/00000000-0000-4000-8000-000000000000/comments', { body: { authorName: 'Rita', authorEmail: 'rita@reader.test', body: 'Hello' } })
  t.equal(comment.statusCode, 503)
  t.equal(comment.json().code, 'UNAVAILABLE')
  t.equal((await call(h.app, 'GET', '/v1/articles/by-slug/anything')).statusCode, 503)
  // Many at once, so they share batches: every caller gets its 503, none is left waiting.
  const together = await Promise.all([
    ...Array.from({ length: 6 }, (_, i) => call(h.app, 'POST', '/v1/articles/00000000-0000-4000-8000-000000000000/comments', { body: { authorName: 'Rita', authorEmail: 'rita@reader.test', body: `Hello ${i}` } })),
    ...Array.from({ length: 6 }, (_, i) => call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline: `Story ${i}` } }))
  ])
  t.strictSame(together.map((r) => r.statusCode), Array(12).fill(503))
  t.ok(together.every((r) => r.json().code === 'UNAVAILABLE'))
})

t.test('a full cache lets go of what was not read again', async (t) => {
  const h = await build(t, { env: { ...on, PUBLIC_CACHE_MAX_ENTRIES: '2' } })
  const hit = async (url: string) => (await call(h.app, 'GET', url)).headers['x-cache'] === 'hit'
  await hit('/v1/sections')
  await hit('/v1/tags')
  t.ok(await hit('/v1/sections'), 'read again: marked as used')
  await hit('/v1/authors') // a third entry: one must go
  t.equal(h.app.publicCache.stats.entries, 2)
  t.ok(await hit('/v1/authors'), 'the newest stays')
  t.ok(await hit('/v1/sections'), 'the one read again stays')
  t.notOk(await hit('/v1/tags'), 'the one not read again went')
  // Both held entries (sections, tags) read since they were stored or spared:
  t.ok(await hit('/v1/tags'))
  t.ok(await hit('/v1/sections'))
  await hit('/v1/photos')
  t.ok(await hit('/v1/photos'), 'with every other entry read, the one just stored still stays')
})

t.test('the cache can be switched off', async (t) => {
  const h = await build(t, { env: { PUBLIC_CACHE: 'false' } })
  await call(h.app, 'GET', '/v1/sections')
  h.queries.length = 0
  t.notOk((await call(h.app, 'GET', '/v1/sections')).headers['x-cache'])
  t.ok(h.queries.length > 0, 'the second read queries the database again')
})
