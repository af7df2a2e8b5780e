// The Idempotency-Key header: a repeat gets the first answer (and writes nothing), the same key
// with another request is a 422, a key still running is a 409, keys are the caller's own and
// expire, and a malformed key is a 400. The same across a database outage: test/db-faults-idempotency.test.ts.
import t from 'tap'
import { and, count, eq, like, sql } from 'drizzle-orm'
import { articleRevisions, articles, comments, idempotencyKeys } from '../src/db/schema.js'
import { build, call } from './helper.js'
import { draftComment, expectStatus, manualClock, postComment, publishedArticle, type Json } from './comments-helpers.js'

const clock = manualClock()
const h = await build(t, { now: clock.now, env: { IDEMPOTENCY_KEY_TTL_SECONDS: '60', COMMENT_RATE_PER_CLIENT: '100' } })
const db = h.database.db

let seq = 0
const fresh = (what: string) => `${what}-${++seq}-${Math.random().toString(36).slice(2)}`
const withKey = (key: string, headers: Record<string, string> = {}) => ({ ...headers, 'idempotency-key': key })

const articlesNamed = async (headline: string) =>
  (await db.select({ n: count() }).from(articles).where(eq(articles.headline, headline)))[0].n
const commentsSaying = async (body: string) =>
  (await db.select({ n: count() }).from(comments).where(eq(comments.body, body)))[0].n

function createArticle (key: string | undefined, body: Json, token = h.editor.token) {
  return call(h.app, 'POST', '/v1/articles', { token, body, headers: key === undefined ? {} : withKey(key) })
}

t.test('a repeat gets the first answer, marked as replayed, and writes nothing', async (t) => {
  const key = fresh('create')
  const body = { headline: fresh('Harbour reopens'), body: [{ type: 'paragraph', text: 'Boats are back.' }] }
  const first = await createArticle(key, body)
  const created = expectStatus(first, 201)
  t.equal(first.headers.location, `/v1/articles/${created.id}`)
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is no replay')

  const again = await createArticle(key, body)
  t.equal(again.statusCode, 201)
  t.equal(again.body, first.body, 'the same body, byte for byte')
  t.equal(again.headers.location, first.headers.location)
  t.equal(again.headers.etag, first.headers.etag)
  t.match(again.headers['content-type'], /^application\/json/)
  t.equal(again.headers['cache-control'], 'private, no-store')
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(await articlesNamed(body.headline), 1, 'one article')

  // The same key sent as a structured-field string is the same key.
  const quoted = await createArticle(`"${key}"`, body)
  t.equal(quoted.statusCode, 201)
  t.equal(quoted.headers['idempotent-replayed'], 'true')
  t.equal(quoted.body, first.body)
  // Key order in the body does not make it another request.
  const reordered = await createArticle(key, { body: body.body, headline: body.headline })
  t.equal(reordered.headers['idempotent-replayed'], 'true')
  t.equal(await articlesNamed(body.headline), 1, 'still one article')

  const [row] = await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key))
  t.match(row, { state: 'done', status: 201, method: 'POST', path: '/v1/articles', scope: /^token:/ })
})

t.test('a request without a key runs each time', async (t) => {
  const body = { headline: fresh('No key') }
  expectStatus(await createArticle(undefined, body), 201)
  expectStatus(await createArticle(undefined, body), 201)
  t.equal(await articlesNamed(body.headline), 2)
})

t.test('the same key with another body or path is a 422, and nothing is written', async (t) => {
  const key = fresh('reuse')
  const body = { headline: fresh('First use') }
  expectStatus(await createArticle(key, body), 201)
  const other = { headline: fresh('Second use') }
  const res = await createArticle(key, other)
  t.equal(res.statusCode, 422)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.match(res.json(), { status: 422, code: 'IDEMPOTENCY_KEY_REUSED', detail: /POST \/v1\/articles/ })
  t.equal(await articlesNamed(other.headline), 0)
  const section = await call(h.app, 'POST', '/v1/sections', { token: h.editor.token, body: { name: fresh('Sport') }, headers: withKey(key) })
  t.equal(section.statusCode, 422, 'another route is another request')
})

t.test('a PATCH repeated: the first answer again, one revision, ETag included', async (t) => {
  const article = expectStatus(await createArticle(undefined, { headline: fresh('To edit') }), 201)
  const key = fresh('patch')
  const patch = () => call(h.app, 'PATCH', `/v1/articles/${article.id}`, { token: h.editor.token, body: { standfirst: 'Now with a standfirst.' }, headers: withKey(key) })
  const first = await patch()
  t.equal(first.statusCode, 200)
  const second = await patch()
  t.equal(second.statusCode, 200)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.equal(second.body, first.body)
  t.equal(second.headers.etag, first.headers.etag)
  const [{ n }] = await db.select({ n: count() }).from(articleRevisions).where(eq(articleRevisions.articleId, article.id))
  t.equal(n, 1, 'one revision: the PATCH ran once')
  t.match(second.headers.etag, /^"2-/, 'the version the PATCH made')
})

t.test('a refusal (4xx) is kept too; a 503 or 429 is not (see the fault suite)', async (t) => {
  const article = expectStatus(await createArticle(undefined, { headline: fresh('Stale edit') }), 201)
  const key = fresh('stale')
  const stale = () => call(h.app, 'PATCH', `/v1/articles/${article.id}`, {
    token: h.editor.token, body: { standfirst: 'x' }, headers: withKey(key, { 'if-match': '"999"' })
  })
  const first = await stale()
  t.equal(first.statusCode, 412)
  const second = await stale()
  t.equal(second.statusCode, 412)
  t.equal(second.headers['idempotent-replayed'], 'true')
  t.equal(second.body, first.body)
  t.match(second.headers['content-type'], /^application\/problem\+json/)
  t.equal(second.headers['cache-control'], first.headers['cache-control'])
})

t.test('a key another request still holds is a 409 with Retry-After; an abandoned one is taken over', async (t) => {
  const key = fresh('held')
  const body = { headline: fresh('Held') }
  expectStatus(await createArticle(key, body), 201)
  // As another instance would leave it mid-request: claimed just now, not yet answered.
  await db.update(idempotencyKeys).set({ state: 'running', owner: 'another-instance', claimedAt: clock.now(), status: null, body: null })
    .where(eq(idempotencyKeys.key, key))
  const res = await createArticle(key, body)
  t.equal(res.statusCode, 409)
  t.equal(res.headers['retry-after'], '1')
  t.match(res.json(), { code: 'IDEMPOTENCY_KEY_IN_USE' })
  t.equal(await articlesNamed(body.headline), 1, 'nothing written')
  // That instance died: after the lease (a minute) the key is taken over, and the request runs.
  // (Its write had not committed, or its answer would be stored: this row was set by hand.)
  await db.update(idempotencyKeys).set({ claimedAt: new Date(clock.t - 61_000) }).where(eq(idempotencyKeys.key, key))
  const taken = await createArticle(key, body)
  t.equal(taken.statusCode, 201)
  t.equal(taken.headers['idempotent-replayed'], undefined)
  t.equal(await articlesNamed(body.headline), 2)
  // A claim of this instance that no request holds (its request failed and could not let go)
  // is taken over at once.
  await db.update(idempotencyKeys).set({ state: 'running', claimedAt: clock.now(), status: null, body: null }).where(eq(idempotencyKeys.key, key))
  t.equal((await createArticle(key, body)).statusCode, 201)
  t.equal(await articlesNamed(body.headline), 3)
})

t.test('two requests with one key at once: one runs, the other waits its turn (409) or gets its answer', async (t) => {
  const key = fresh('race')
  const body = { headline: fresh('Race') }
  const results = await Promise.all([createArticle(key, body), createArticle(key, body)])
  const statuses = results.map((r) => r.statusCode).sort()
  t.ok(statuses[0] === 201 && (statuses[1] === 409 || statuses[1] === 201), `one 201 and one 409 or replayed 201: ${statuses}`)
  if (statuses[1] === 201) t.equal(results.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 1)
  t.equal(await articlesNamed(body.headline), 1, 'one article')
})

t.test('keys are the caller\'s own: another token or client with the same key runs anew', async (t) => {
  const key = fresh('shared')
  const body = { headline: fresh('Two desks') }
  const byEditor = await createArticle(key, body, h.editor.token)
  const byAuthor = await createArticle(key, body, h.author.token)
  t.equal(byEditor.statusCode, 201)
  t.equal(byAuthor.statusCode, 201)
  t.equal(byAuthor.headers['idempotent-replayed'], undefined)
  t.not(byAuthor.json().id, byEditor.json().id)
  t.equal(await articlesNamed(body.headline), 2)
})

t.test('anonymous comments: keyed by the client, replayed to it, new for another client', async (t) => {
  const article = await publishedArticle(h)
  const key = fresh('comment')
  const comment = draftComment()
  const first = await postComment(h.app, article.id, comment, { address: '198.51.100.7', headers: withKey(key) })
  const c = expectStatus(first, 201)
  const again = await postComment(h.app, article.id, comment, { address: '198.51.100.7', headers: withKey(key) })
  t.equal(again.statusCode, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body, first.body)
  t.equal(again.headers.location, `/v1/comments/${c.id}`)
  t.equal(await commentsSaying(comment.body), 1, 'one comment')
  const [row] = await db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, key))
  t.match(row.scope, /^client:[0-9a-f]{32}$/, 'the scope is a keyed hash, not the address')
  t.notMatch(JSON.stringify(row), '198.51.100.7')

  const elsewhere = await postComment(h.app, article.id, comment, { address: '198.51.100.8', headers: withKey(key) })
  t.equal(elsewhere.statusCode, 201)
  t.equal(elsewhere.headers['idempotent-replayed'], undefined)
  t.equal(await commentsSaying(comment.body), 2, 'another client\'s key is its own')
})

t.test('an expired key runs anew', async (t) => {
  const key = fresh('expiring')
  const body = { headline: fresh('Expiring') }
  expectStatus(await createArticle(key, body), 201)
  clock.advance(30_000)
  t.equal((await createArticle(key, body)).headers['idempotent-replayed'], 'true', 'within the TTL (60 s here)')
  clock.advance(31_000)
  const later = await createArticle(key, body)
  t.equal(later.statusCode, 201)
  t.equal(later.headers['idempotent-replayed'], undefined)
  t.equal(await articlesNamed(body.headline), 2)
  // The new answer is kept in its turn.
  t.equal((await createArticle(key, body)).headers['idempotent-replayed'], 'true')
})

t.test('expired keys are pruned', async (t) => {
  const key = fresh('prune')
  expectStatus(await createArticle(key, { headline: fresh('Pruned') }), 201)
  clock.advance(10 * 60_000)
  // The next claim prunes (at most once a minute an instance), without waiting for it.
  expectStatus(await createArticle(fresh('prune-trigger'), { headline: fresh('Trigger') }), 201)
  let left = 1
  for (let i = 0; i < 50 && left > 0; i++) {
    left = (await db.select({ n: count() }).from(idempotencyKeys).where(eq(idempotencyKeys.key, key)))[0].n
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.equal(left, 0)
})

t.test('a malformed key is a 400 naming the header, and nothing is written', async (t) => {
  for (const bad of ['', 'two words', 'x'.repeat(256), '"unterminated', '"a"b"', 'caf\u00e9']) {
    const headline = fresh('Bad key')
    const res = await h.app.inject({
      method: 'POST', url: '/v1/articles', payload: { headline },
      headers: { authorization: `Bearer ${h.editor.token}`, 'idempotency-key': bad }
    })
    t.equal(res.statusCode, 400, JSON.stringify(bad))
    t.match(res.json(), { code: 'VALIDATION_FAILED', errors: [{ path: '/Idempotency-Key', in: 'header' }] })
    t.equal(await articlesNamed(headline), 0)
  }
  const ok = await createArticle(`"with spaces and \\"quotes\\""`, { headline: fresh('Quoted key') })
  t.equal(ok.statusCode, 201, 'a quoted key may hold spaces and escaped quotes')
  t.equal((await db.select({ n: count() }).from(idempotencyKeys).where(eq(idempotencyKeys.key, 'with spaces and "quotes"')))[0].n, 1)
  t.equal((await createArticle('x'.repeat(255), { headline: fresh('Long key') })).statusCode, 201, '255 characters are fine')
})

t.test('token creation refuses a key: its answer holds a secret that is never stored', async (t) => {
  const res = await call(h.app, 'POST', '/v1/tokens', { token: h.editor.token, body: { label: 'laptop' }, headers: withKey(fresh('token')) })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { errors: [{ path: '/Idempotency-Key', in: 'header', message: /secret/ }] })
  const [{ n }] = await db.select({ n: count() }).from(idempotencyKeys).where(like(idempotencyKeys.key, 'token-%'))
  t.equal(n, 0)
})

t.test('every other write takes a key: sections, authors, photos, users, comments moderated', async (t) => {
  const writes: Array<[string, 'POST' | 'PATCH', string, Json]> = [
    ['section', 'POST', '/v1/sections', { name: fresh('Weather') }],
    ['tag', 'POST', '/v1/tags', { name: fresh('storms') }],
    ['author', 'POST', '/v1/authors', { name: fresh('Nia Writer') }],
    ['photo', 'POST', '/v1/photos', { url: 'https://img.example/harbour.jpg', width: 1200, height: 800, caption: fresh('Harbour') }],
    ['user', 'POST', '/v1/users', { name: 'Una User', email: `${fresh('una')}@staff.test`, role: 'author' }]
  ]
  for (const [what, method, url, body] of writes) {
    const key = fresh(what)
    const first = await call(h.app, method, url, { token: h.admin.token, body, headers: withKey(key) })
    t.equal(first.statusCode, 201, `${what}: ${first.body}`)
    const again = await call(h.app, method, url, { token: h.admin.token, body, headers: withKey(key) })
    t.equal(again.headers['idempotent-replayed'], 'true', what)
    t.equal(again.body, first.body, what)
  }
  const article = await publishedArticle(h)
  const c = expectStatus(await postComment(h.app, article.id, draftComment()), 201)
  const key = fresh('moderate')
  const moderate = () => call(h.app, 'PATCH', `/v1/comments/${c.id}`, { token: h.editor.token, body: { status: 'approved' }, headers: withKey(key) })
  const first = await moderate()
  t.equal(first.statusCode, 200)
  const again = await moderate()
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body, first.body)
  const [{ n }] = await db.select({ n: count() }).from(sql`comment_moderations`).where(and(sql`comment_id = ${c.id}`))
  t.equal(n, 1, 'moderated once')
})

// On PostgreSQL only: PGlite runs a transaction's BEGIN and COMMIT itself, out of the query log.
t.test('a write answers from its own transaction: no query runs after its commit', { skip: h.database.driver === 'pg' ? false : 'PGlite does not log its COMMIT' }, async (t) => {
  const article = expectStatus(await createArticle(undefined, { headline: fresh('Answered in its transaction') }), 201)
  const c = expectStatus(await postComment(h.app, (await publishedArticle(h)).id, draftComment()), 201)
  const writes: Array<[string, 'POST' | 'PATCH', string, Json?]> = [
    ['create with a byline', 'POST', '/v1/articles', { headline: fresh('With a byline'), authorIds: [h.author.authorId] }],
    ['PATCH', 'PATCH', `/v1/articles/${article.id}`, { standfirst: 'Read in the transaction.' }],
    ['publish', 'POST', `/v1/articles/${article.id}/publish`],
    ['moderation', 'PATCH', `/v1/comments/${c.id}`, { status: 'approved' }]
  ]
  for (const [what, method, url, body] of writes) {
    for (const key of [undefined, fresh('tx')]) {
      h.queries.length = 0
      const res = await call(h.app, method, url, { token: h.editor.token, body, headers: key ? withKey(key) : {} })
      t.ok(res.statusCode < 300, `${what}: ${res.statusCode}`)
      // What a failing database could still do to the answer: nothing, once it has committed.
      t.equal(h.queries.at(-1)?.trim().toLowerCase(), 'commit', `${what}${key ? ' with a key' : ''}: the commit is the last query`, { queries: h.queries.map((q) => q.slice(0, 60)) })
    }
  }
})
