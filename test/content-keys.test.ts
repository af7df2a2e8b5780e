// Content keys: read-only keys for frontends and apps. A key reads what anonymous readers read,
// from the same public cache, within its own rate limit; it writes nothing; revoking it takes
// effect at once; PUBLIC_READS=key makes reads need one.
import t from 'tap'
import { randomInt } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { build, call, type Harness } from './helper.js'
import { expectStatus, post, type Json } from './articles-fixtures.js'
import { redisMissing, testRedisUrl as REDIS_URL } from './redis-helpers.js'

const cached = { PUBLIC_CACHE: 'true' }

/** A clock stopped inside this minute: a rate-limit window cannot turn over during a test. */
function stoppedClock () {
  const at = new Date()
  at.setUTCSeconds(5, 0)
  return () => at
}

async function makeKey (h: Harness, body: Json = { label: 'Website' }) {
  const res = await call(h.app, 'POST', '/v1/content-keys', { token: h.admin.token, body })
  return expectStatus(res, 201)
}

async function publishedStory (h: Harness, headline: string) {
  const a = await post(h, '/v1/articles', { headline, body: [{ type: 'paragraph', text: 'Words.' }] })
  expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/publish`, { token: h.editor.token }), 200)
  return a
}

const rowCount = async (h: Harness, table: string) =>
  ((await h.database.db.execute(sql.raw(`select count(*)::int as n from ${table}`))) as unknown as { rows: Array<{ n: number }> }).rows[0].n

t.test('admins make, list and revoke keys; the key is shown once and stored as a hash', async (t) => {
  const h = await build(t)
  const res = await call(h.app, 'POST', '/v1/content-keys', { token: h.admin.token, body: { label: 'iOS app', allowedOrigins: ['https://News.Example.com'] } })
  const made = expectStatus(res, 201)
  t.match(made.key, /^dlc_[A-Za-z0-9_-]{43}$/, 'a dlc_ key')
  t.equal(made.prefix, made.key.slice(0, 10))
  t.strictSame(made.allowedOrigins, ['https://news.example.com'], 'origins are kept in lower case')
  t.equal(res.headers['cache-control'], 'no-store')
  t.match(res.headers.location, `/v1/content-keys/${made.id}`)

  const listed = expectStatus(await call(h.app, 'GET', '/v1/content-keys', { token: h.admin.token }), 200)
  t.equal(listed.data.length, 1)
  t.notOk('key' in listed.data[0], 'never the key again')
  const raw = JSON.stringify(listed) + JSON.stringify(expectStatus(await call(h.app, 'GET', `/v1/content-keys/${made.id}`, { token: h.admin.token }), 200))
  t.notOk(raw.includes(made.key.slice(10)), 'no part of the secret past its prefix')
  const { rows } = await h.database.db.execute(sql`select key_hash from content_keys`) as unknown as { rows: Array<{ key_hash: string }> }
  t.notOk(raw.includes(rows[0].key_hash), 'nor its hash')
  t.not(rows[0].key_hash, made.key, 'the database holds a hash, not the key')

  t.match(expectStatus(await call(h.app, 'POST', '/v1/content-keys', { token: h.admin.token, body: { label: 'x', allowedOrigins: ['https://a.test/path'] } }), 400), { errors: [{ path: '/allowedOrigins/0' }] }, 'an origin has no path')
  t.match(expectStatus(await call(h.app, 'POST', '/v1/content-keys', { token: h.admin.token, body: { label: ' ' } }), 400), { errors: [{ path: '/label' }] })
  expectStatus(await call(h.app, 'POST', '/v1/content-keys', { token: h.editor.token, body: { label: 'x' } }), 403)
  t.equal(await rowCount(h, 'content_keys'), 1, 'refused requests made nothing')

  expectStatus(await call(h.app, 'DELETE', `/v1/content-keys/${made.id}`, { token: h.admin.token }), 204)
  expectStatus(await call(h.app, 'DELETE', `/v1/content-keys/${made.id}`, { token: h.admin.token }), 204)
  t.ok(expectStatus(await call(h.app, 'GET', `/v1/content-keys/${made.id}`, { token: h.admin.token }), 200).revokedAt, 'revocation time shown')
  expectStatus(await call(h.app, 'DELETE', '/v1/content-keys/00000000-0000-4000-8000-000000000000', { token: h.admin.token }), 404)
  const log = expectStatus(await call(h.app, 'GET', '/v1/changes', { token: h.editor.token, query: { after: '0' } }), 200)
  t.match(log.data.find((c: Json) => c.event === 'content_key.revoked'), { entity: 'content_key', id: made.id }, 'the revocation is in the change log, which still reads')
})

t.test('a key reads published content as anonymous readers do, from the same cache', async (t) => {
  const h = await build(t, { env: cached })
  const { key } = await makeKey(h)
  const story = await publishedStory(h, 'Keys story')
  const draft = await post(h, '/v1/articles', { headline: 'Keys draft' })

  const anonymous = expectStatus(await call(h.app, 'GET', '/v1/articles'), 200)
  const res = await call(h.app, 'GET', '/v1/articles', { token: key })
  t.strictSame(expectStatus(res, 200), anonymous, 'the same list as anonymous readers get')
  t.equal(res.headers['x-cache'], 'hit', 'answered from the entry an anonymous read stored')
  t.match(res.headers['cache-control'], /^public/)
  t.match(res.headers['ratelimit-policy'], /^"content-key";q=6000;w=60$/)
  t.match(res.headers.ratelimit, /^"content-key";r=\d+;t=\d+$/)
  t.notOk(anonymous.data.some((a: Json) => a.id === draft.id))

  // A key's miss is stored for everyone, without its rate-limit headers.
  const one = await call(h.app, 'GET', `/v1/articles/${story.id}`, { token: key })
  t.notOk(one.headers['x-cache'], 'a miss')
  t.ok(one.headers['surrogate-key'], 'tagged for outside caches like an anonymous read')
  const anonymousOne = await call(h.app, 'GET', `/v1/articles/${story.id}`)
  t.equal(anonymousOne.headers['x-cache'], 'hit', 'an anonymous reader gets the entry the key stored')
  t.notOk(anonymousOne.headers.ratelimit, 'and no key\'s rate-limit headers')

  expectStatus(await call(h.app, 'GET', `/v1/articles/${draft.id}`, { token: key }), 404)
  expectStatus(await call(h.app, 'GET', '/v1/articles?status=draft', { token: key }), 401)
  expectStatus(await call(h.app, 'GET', '/v1/content-keys', { token: key }), 403)
})

t.test('a key writes nothing', async (t) => {
  const h = await build(t)
  const { key } = await makeKey(h)
  const story = await publishedStory(h, 'Comment on me')
  const before = await rowCount(h, 'comments') + await rowCount(h, 'articles')
  const comment = await call(h.app, 'POST', `/v1/articles/${story.id}/comments`, { token: key, body: { authorName: 'R', authorEmail: 'r@readers.test', body: 'A fine remark.' } })
  t.match(expectStatus(comment, 403), { detail: /reads only/ })
  t.match(expectStatus(await call(h.app, 'POST', '/v1/articles', { token: key, body: { headline: 'No' } }), 403), { detail: /staff token/ })
  expectStatus(await call(h.app, 'PATCH', `/v1/articles/${story.id}`, { token: key, body: { headline: 'No' } }), 403)
  t.equal(await rowCount(h, 'comments') + await rowCount(h, 'articles'), before, 'nothing written')
})

t.test('unknown and revoked keys are refused at once, cache hits included', async (t) => {
  const h = await build(t, { env: cached })
  const { id, key } = await makeKey(h)
  await publishedStory(h, 'Revocation story')
  const unknown = await call(h.app, 'GET', '/v1/articles', { token: `dlc_${'x'.repeat(43)}` })
  t.match(expectStatus(unknown, 401), { code: 'UNAUTHORIZED' })
  t.match(unknown.headers['www-authenticate'], /invalid_token/)

  expectStatus(await call(h.app, 'GET', '/v1/articles', { token: key }), 200)
  t.equal((await call(h.app, 'GET', '/v1/articles', { token: key })).headers['x-cache'], 'hit')
  expectStatus(await call(h.app, 'DELETE', `/v1/content-keys/${id}`, { token: h.admin.token }), 204)
  const after = await call(h.app, 'GET', '/v1/articles', { token: key })
  t.equal(after.statusCode, 401, 'the next read with the revoked key is refused')
  t.equal((await call(h.app, 'GET', '/v1/articles')).headers['x-cache'], 'hit', 'the cached list itself stays')
})

t.test('a revocation on one instance reaches another through the change log', async (t) => {
  const h1 = await build(t, { env: cached })
  const h2 = await build(t, { env: cached, database: h1.database })
  const { id, key } = await makeKey(h1)
  await publishedStory(h1, 'Two instances')
  expectStatus(await call(h2.app, 'GET', '/v1/articles', { token: key }), 200)
  t.equal((await call(h2.app, 'GET', '/v1/articles', { token: key })).headers['x-cache'], 'hit', 'the other instance knows the key')
  expectStatus(await call(h1.app, 'DELETE', `/v1/content-keys/${id}`, { token: h1.admin.token }), 204)
  await h2.app.changeFollower.follow()
  expectStatus(await call(h2.app, 'GET', '/v1/articles', { token: key }), 401)
})

t.test('allowed origins', async (t) => {
  const h = await build(t, { env: cached })
  const { key } = await makeKey(h, { label: 'Site', allowedOrigins: ['https://news.example.com'] })
  await publishedStory(h, 'Origins story')
  for (let i = 0; i < 2; i++) {
    expectStatus(await call(h.app, 'GET', '/v1/articles', { token: key, headers: { origin: 'https://news.example.com' } }), 200)
    expectStatus(await call(h.app, 'GET', '/v1/articles', { token: key }), 200)
    const other = await call(h.app, 'GET', '/v1/articles', { token: key, headers: { origin: 'https://elsewhere.example' } })
    t.match(expectStatus(other, 403), { detail: /may not be used from https:\/\/elsewhere\.example/ }, `refused from another origin (${i === 0 ? 'a miss' : 'cached'})`)
  }
})

t.test('each key has its own rate limit, cache hits included', async (t) => {
  const h = await build(t, { env: { ...cached, CONTENT_KEY_RATE_LIMIT: '3' }, now: stoppedClock() })
  const first = await makeKey(h)
  const second = await makeKey(h, { label: 'Other' })
  await publishedStory(h, 'Rate story')
  const remaining: string[] = []
  for (let i = 0; i < 3; i++) {
    const res = await call(h.app, 'GET', '/v1/articles', { token: first.key })
    expectStatus(res, 200)
    remaining.push(/r=(\d+)/.exec(String(res.headers.ratelimit))![1])
  }
  t.strictSame(remaining, ['2', '1', '0'])
  const limited = await call(h.app, 'GET', '/v1/articles', { token: first.key })
  t.match(expectStatus(limited, 429), { code: 'RATE_LIMITED' })
  const retry = Number(limited.headers['retry-after'])
  t.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`)
  t.match(limited.headers.ratelimit, /r=0;/)
  t.equal(limited.headers['ratelimit-policy'], '"content-key";q=3;w=60')
  expectStatus(await call(h.app, 'GET', '/v1/articles', { token: second.key }), 200)
  t.equal((await call(h.app, 'GET', '/v1/articles')).statusCode, 200, 'anonymous reads are not held to a key\'s limit')
})

t.test('over a real socket, a key\'s hit is answered before routing, with its limit', async (t) => {
  const h = await build(t, { env: { ...cached, CONTENT_KEY_RATE_LIMIT: '4' }, now: stoppedClock() })
  const { key } = await makeKey(h)
  await publishedStory(h, 'Socket story')
  const base = await h.app.listen({ port: 0, host: '127.0.0.1' })
  const get = (headers: Record<string, string> = {}) => fetch(`${base}/v1/articles`, { headers: { authorization: `Bearer ${key}`, ...headers } })
  const early = h.app.publicCache.early
  const statuses: number[] = []
  const caches: Array<string | null> = []
  for (let i = 0; i < 5; i++) {
    const res = await get()
    statuses.push(res.status)
    caches.push(res.headers.get('x-cache'))
    if (i === 2) t.match(res.headers.get('ratelimit'), /^"content-key";r=1;t=\d+$/)
    await res.arrayBuffer()
  }
  t.strictSame(statuses, [200, 200, 200, 200, 429])
  t.strictSame(caches.slice(1, 4), ['hit', 'hit', 'hit'])
  t.ok(h.app.publicCache.early - early >= 3, 'hits answered by the HTTP server before Fastify')
  const other = await get({ origin: 'https://elsewhere.example' })
  t.equal(other.status, 429, 'a refused key is never a hit')
  await other.arrayBuffer()
})

t.test('PUBLIC_READS=key: reads need a key or a staff token, but feeds', async (t) => {
  const h = await build(t, { env: { ...cached, PUBLIC_READS: 'key' } })
  const { key } = await makeKey(h)
  const story = await publishedStory(h, 'Keyed site')
  expectStatus(await call(h.app, 'GET', '/v1/articles', { token: key }), 200)
  for (const url of ['/v1/articles', `/v1/articles/${story.id}`, '/v1/sections', `/v1/articles/${story.id}/comments`]) {
    const res = await call(h.app, 'GET', url)
    t.match(expectStatus(res, 401), { detail: /content key/ }, `${url} refused without a key`)
    t.match(res.headers['www-authenticate'], /^Bearer realm=/)
  }
  t.equal((await call(h.app, 'GET', '/v1/articles', { token: key })).headers['x-cache'], 'hit', 'a key still reads from the cache')
  expectStatus(await call(h.app, 'GET', '/v1/articles', { token: h.author.token }), 200)
  t.equal((await call(h.app, 'GET', '/v1/feeds/rss.xml')).statusCode, 200, 'feeds stay open for feed readers')
  t.equal((await call(h.app, 'GET', '/v1/sitemaps/index.xml')).statusCode, 200, 'so do sitemaps, for crawlers')
  t.equal((await call(h.app, 'GET', `/media/${'0'.repeat(64)}/640.webp`)).statusCode, 404, 'and media files, which <img> tags load without a key')
  const comment = await call(h.app, 'POST', `/v1/articles/${story.id}/comments`, { body: { authorName: 'Reader', authorEmail: 'r@readers.test', body: 'Posting stays open.' } })
  t.equal(comment.statusCode, 201, 'readers still post comments')
})

t.test('with Redis, a key\'s limit holds across instances', { skip: await redisMissing() }, async (t) => {
  const env = { ...cached, CONTENT_KEY_RATE_LIMIT: '4', REDIS_URL, REDIS_PREFIX: `test-keys-${randomInt(1e9)}:` }
  const now = stoppedClock()
  const h1 = await build(t, { env, now })
  const h2 = await build(t, { env, database: h1.database, now })
  const { key } = await makeKey(h1)
  await publishedStory(h1, 'Shared limit')
  for (const h of [h1, h2]) for (let i = 0; i < 2; i++) expectStatus(await call(h.app, 'GET', '/v1/articles', { token: key }), 200)
  // Each instance adds its counts to the shared ones, and reads the total back, every second.
  await new Promise((resolve) => setTimeout(resolve, 2500))
  for (const h of [h1, h2]) expectStatus(await call(h.app, 'GET', '/v1/articles', { token: key }), 429)
})
