// Preview links: staff share a draft's current version with reviewers who hold no token. The
// link is unguessable, expires, can be revoked, is never cached, and shows what readers would see.
import { createHash } from 'node:crypto'
import t from 'tap'
import { sql } from 'drizzle-orm'
import { build, call, type Harness, type Staff } from './helper.js'

type Json = Record<string, any>
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const DAY = 86_400

async function ok (h: Harness, staff: Staff, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<Json> {
  const res = await call(h.app, method, url, { token: staff.token, body })
  if (res.statusCode >= 300) throw new Error(`fixture ${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.statusCode === 204 ? {} : res.json()
}

/** The path of a preview URL (PUBLIC_URL is unset in tests: URLs are paths). */
const pathOf = (link: Json) => new URL(link.url, 'http://localhost').pathname

// One app for the whole file (each build costs a database): the public cache on, the clock ours,
// and a preview budget per client that the rate-limit test spends from its own address.
t.test('preview links', async (t) => {
  let now = new Date('2026-06-01T12:00:00.000Z')
  const h = await build(t, { env: { PUBLIC_CACHE: 'true', PREVIEW_LINK_MAX_SECONDS: String(30 * DAY), PREVIEW_RATE_PER_CLIENT: '40' }, now: () => now })

  t.test('a preview link shows the draft as readers will see it, never cached, until it expires or is revoked', async (t) => {
    await ok(h, h.editor, 'PATCH', `/v1/authors/${h.author.authorId}`, { email: 'amal.byline@preview.test' })
    const section = await ok(h, h.editor, 'POST', '/v1/sections', { name: 'Courts' })
    const tag = await ok(h, h.editor, 'POST', '/v1/tags', { name: 'Appeals' })
    const lead = await ok(h, h.author, 'POST', '/v1/photos', { url: 'https://img.example.test/court.jpg', caption: 'The court' })
    const earlier = await ok(h, h.editor, 'POST', '/v1/articles', { headline: 'Earlier ruling' })
    await ok(h, h.editor, 'POST', `/v1/articles/${earlier.id}/publish`)
    const secretDraft = await ok(h, h.editor, 'POST', '/v1/articles', { headline: 'Unannounced merger scoop' })
    const draft = await ok(h, h.author, 'POST', '/v1/articles', {
      headline: 'Court rules on appeal',
      leadPhotoId: lead.id,
      sectionId: section.id,
      tagIds: [tag.id],
      relatedArticleIds: [earlier.id, secretDraft.id],
      body: [
        { type: 'paragraph', text: 'First version of the ruling.' },
        { type: 'related', articleId: earlier.id },
        { type: 'related', articleId: secretDraft.id }
      ]
    })

    // ---- create
    const res = await call(h.app, 'POST', `/v1/articles/${draft.id}/preview-links`, { token: h.author.token, body: { label: '  For the legal desk ' } })
    t.equal(res.statusCode, 201, 'the author makes a link to their own draft')
    t.equal(res.headers['cache-control'], 'no-store', 'the answer with the secret is not stored')
    const link = res.json()
    t.match(link.token, /^dlp_[A-Za-z0-9_-]{43}$/, 'the secret: a recognisable prefix and 32 random bytes')
    t.equal(link.url, `/v1/previews/${link.token}`, 'the URL opens the preview')
    t.same({ ...link, id: undefined, url: undefined, token: undefined }, {
      articleId: draft.id,
      label: 'For the legal desk',
      state: 'active',
      expiresAt: new Date(now.getTime() + 7 * DAY * 1000).toISOString(),
      revokedAt: null,
      createdAt: now.toISOString(),
      createdBy: { id: h.author.userId, name: 'Amal Author' }
    }, 'the link lives PREVIEW_LINK_DEFAULT_SECONDS (7 days) by default')
    const { rows } = await h.database.db.execute(sql`select token_hash as hash from preview_links`) as unknown as { rows: Array<{ hash: string }> }
    t.same(rows.map((r) => r.hash), [sha256(link.token)], 'only the SHA-256 of the secret is stored')

    // ---- read it without any token
    const read = async () => call(h.app, 'GET', pathOf(link))
    const first = await read()
    t.equal(first.statusCode, 200)
    const article = first.json()
    t.equal(article.id, draft.id)
    t.equal(article.status, 'draft', 'the reviewer sees that it is a draft')
    t.match(article.bodyHtml, 'First version of the ruling.')
    t.equal(first.headers['cache-control'], 'private, no-store')
    t.equal(first.headers['x-robots-tag'], 'noindex')
    for (const name of ['surrogate-key', 'cache-tag', 'x-cache']) t.notOk(first.headers[name], `no ${name} header`)
    t.ok(first.headers.etag, 'an ETag like any read')
    t.same(article.authors.map((a: Json) => a.name), ['Amal Author'], 'the byline is embedded')
    t.notOk('email' in article.authors[0], 'without the author\'s email')
    t.notMatch(first.body, /@[\w-]+\.test/, 'no email anywhere')
    t.notMatch(first.body, /createdById|tokenHash|token_hash/, 'no private key')
    t.equal(article.leadPhoto.id, lead.id)
    t.equal(article.section.id, section.id)
    t.same(article.tags.map((x: Json) => x.id), [tag.id])
    t.same(article.relatedArticleIds, [earlier.id], 'only related articles readers may follow are listed')
    t.match(article.bodyHtml, 'Also read: <a href="/articles/earlier-ruling">Earlier ruling</a>', 'a published related story is linked as for readers')
    t.notMatch(first.body, secretDraft.headline, 'an unpublished related story is left out')
    t.notMatch(first.body, secretDraft.id, 'and so is its id')
    t.notOk(article.body.some((b: Json) => b.type === 'related' && b.articleId === secretDraft.id), 'the raw body keeps only related blocks readers may follow')
    t.equal((await call(h.app, 'GET', `/v1/articles/${draft.id}`)).statusCode, 404, 'the draft itself stays hidden from readers')

    // ---- an edit shows at once: nothing was cached
    const entries = h.app.publicCache.stats.entries
    await ok(h, h.author, 'PATCH', `/v1/articles/${draft.id}`, { body: [{ type: 'paragraph', text: 'Second version, after the lawyers.' }] })
    for (const n of [1, 2]) {
      const again = await read()
      t.equal(again.statusCode, 200)
      t.match(again.json().bodyHtml, 'Second version, after the lawyers.', `read ${n} after the edit shows the new text`)
      t.notMatch(again.body, 'First version', `read ${n} no longer shows the old text`)
      t.notOk(again.headers['x-cache'], `read ${n} is not a cache hit`)
    }
    // A path spelled with escapes is the same route, and it is not cached either.
    const escaped = `/v1/%70reviews/${link.token}`
    for (const n of [1, 2]) {
      const again = await call(h.app, 'GET', escaped)
      t.notOk(again.headers['x-cache'] || again.headers['surrogate-key'], `escaped path, read ${n}: neither cached nor tagged (${again.statusCode})`)
    }
    t.equal(h.app.publicCache.stats.entries, entries, 'no preview entered the public cache')
    const conditional = await call(h.app, 'GET', pathOf(link), { headers: { 'if-none-match': (await read()).headers.etag as string } })
    t.equal(conditional.statusCode, 304, 'If-None-Match works as on any read')

    // ---- the list never shows a secret
    const list = await call(h.app, 'GET', `/v1/articles/${draft.id}/preview-links`, { token: h.author.token })
    t.equal(list.statusCode, 200)
    t.equal(list.headers['cache-control'], 'private, no-store')
    t.same(list.json().data.map((l: Json) => [l.id, l.state, l.label]), [[link.id, 'active', 'For the legal desk']])
    t.notOk('url' in list.json().data[0] || 'token' in list.json().data[0], 'no url or token field')
    t.notMatch(list.body, link.token.slice(4, 20), 'no part of the secret')
    t.notMatch(list.body, sha256(link.token), 'nor its hash')

    // ---- what is a 404, all alike
    const notFound: Array<[string, Json]> = []
    const expectGone = async (what: string, path: string) => {
      const res = await call(h.app, 'GET', path)
      t.equal(res.statusCode, 404, `${what}: 404`)
      t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
      t.notOk(res.headers['surrogate-key'], `${what}: no surrogate key`)
      t.match(res.headers['cache-control'], /no-store/, `${what}: not stored`)
      t.equal(res.headers['x-robots-tag'], 'noindex', `${what}: not indexed either`)
      notFound.push([what, res.json()])
    }
    const tampered = link.token.slice(0, 10) + (link.token[10] === 'A' ? 'B' : 'A') + link.token.slice(11)
    await expectGone('a tampered token (one character changed)', `/v1/previews/${tampered}`)
    await expectGone('a malformed token', '/v1/previews/not-a-token')
    await expectGone('a token one character short', `/v1/previews/${link.token.slice(0, -1)}`)
    await expectGone('an API token', `/v1/previews/${h.admin.token}`)

    now = new Date(now.getTime() + 1000)
    const revoked = await ok(h, h.editor, 'POST', `/v1/articles/${draft.id}/preview-links`, { expiresInSeconds: 3600 })
    t.equal(revoked.expiresAt, new Date(now.getTime() + 3600_000).toISOString(), 'expiresInSeconds sets the lifetime')
    t.equal((await call(h.app, 'GET', pathOf(revoked))).statusCode, 200, 'a second link works too')
    const del = await call(h.app, 'DELETE', `/v1/articles/${draft.id}/preview-links/${revoked.id}`, { token: h.author.token })
    t.equal(del.statusCode, 204, 'the author revokes a link to their draft')
    await expectGone('a revoked link', pathOf(revoked))
    t.equal((await call(h.app, 'DELETE', `/v1/articles/${draft.id}/preview-links/${revoked.id}`, { token: h.editor.token })).statusCode, 204, 'revoking again changes nothing')
    t.equal((await call(h.app, 'DELETE', `/v1/articles/${earlier.id}/preview-links/${revoked.id}`, { token: h.editor.token })).statusCode, 404, 'a link is revoked through its own article only')
    t.equal((await call(h.app, 'GET', pathOf(link))).statusCode, 200, 'the other link still works')

    const doomed = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Spiked story' })
    const doomedLink = await ok(h, h.author, 'POST', `/v1/articles/${doomed.id}/preview-links`)
    t.equal((await call(h.app, 'GET', pathOf(doomedLink))).statusCode, 200)
    await ok(h, h.author, 'DELETE', `/v1/articles/${doomed.id}`)
    await expectGone('a link to a deleted article', pathOf(doomedLink))

    const archived = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Withdrawn story' })
    const archivedLink = await ok(h, h.author, 'POST', `/v1/articles/${archived.id}/preview-links`)
    await ok(h, h.editor, 'POST', `/v1/articles/${archived.id}/archive`)
    await expectGone('a link to an article archived since', pathOf(archivedLink))

    now = new Date(now.getTime() + 7 * DAY * 1000)
    await expectGone('a link at its expiry time', pathOf(link))
    const states = (await ok(h, h.editor, 'GET', `/v1/articles/${draft.id}/preview-links`)).data.map((l: Json) => [l.id, l.state])
    t.same(states, [[revoked.id, 'revoked'], [link.id, 'expired']], 'the list says which links expired and which were revoked, newest first')

    const [, body] = notFound[0]
    t.same(body, { type: '/problems/not-found', title: 'Not Found', status: 404, code: 'NOT_FOUND', detail: 'Preview not found.' })
    for (const [what, other] of notFound) t.same(other, body, `${what}: the same body as every other 404`)
  })

  t.test('a preview shows exactly the public representation, and keeps working once the article is published', async (t) => {
    const photo = await ok(h, h.editor, 'POST', '/v1/photos', { url: 'https://img.example.test/a.jpg', caption: 'A' })
    const draft = await ok(h, h.editor, 'POST', '/v1/articles', { headline: 'Harbour reopens', authorIds: [h.author.authorId], leadPhotoId: photo.id, body: [{ type: 'paragraph', text: 'Ships return.' }] })
    const link = await ok(h, h.editor, 'POST', `/v1/articles/${draft.id}/preview-links`)
    await ok(h, h.editor, 'POST', `/v1/articles/${draft.id}/publish`)
    const include = 'authors,leadPhoto,section,tags'
    const preview = await call(h.app, 'GET', pathOf(link))
    const reader = await call(h.app, 'GET', `/v1/articles/${draft.id}?include=${include}`)
    t.equal(preview.statusCode, 200)
    t.same(preview.json(), reader.json(), 'the preview is what an anonymous reader gets, embeds included')
    t.equal(preview.json().status, 'published')
    t.same((await call(h.app, 'GET', `${pathOf(link)}?include=relatedArticles&fields=headline`)).json(), { id: draft.id, headline: 'Harbour reopens', relatedArticles: [] }, 'include and fields work as on the article')
    t.equal((await call(h.app, 'GET', `${pathOf(link)}?fields=email`)).statusCode, 400, 'an unknown field is a 400 as on the article')
  })

  t.test('who may make, list and revoke links, and for how long', async (t) => {
    const draft = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Amal\'s draft' })
    const url = `/v1/articles/${draft.id}/preview-links`
    const count = async () => ((await h.database.db.execute(sql`select count(*)::int as n from preview_links where article_id = ${draft.id}`)) as unknown as { rows: Array<{ n: number }> }).rows[0].n

    const tooLong = await call(h.app, 'POST', url, { token: h.editor.token, body: { expiresInSeconds: 30 * DAY + 1 } })
    t.equal(tooLong.statusCode, 400, 'a lifetime over PREVIEW_LINK_MAX_SECONDS is a 400')
    t.same(tooLong.json().errors, [{ path: '/expiresInSeconds', in: 'body', message: `must be at most ${30 * DAY} (PREVIEW_LINK_MAX_SECONDS)` }], 'naming the field and the maximum')
    t.equal((await call(h.app, 'POST', url, { token: h.editor.token, body: { expiresInSeconds: 10 } })).statusCode, 400, 'under a minute is a 400')
    t.equal((await call(h.app, 'POST', url, { token: h.editor.token, body: { secret: 'x' } })).statusCode, 400, 'an unknown field is a 400')
    t.equal(await count(), 0, 'a refused request writes nothing')
    t.equal((await call(h.app, 'POST', url, { token: h.editor.token, body: { expiresInSeconds: 30 * DAY } })).statusCode, 201, 'the maximum itself is allowed')

    t.equal((await call(h.app, 'POST', url)).statusCode, 401, 'anonymous: 401')
    t.equal((await call(h.app, 'POST', url, { token: h.otherAuthor.token })).statusCode, 403, 'another author: 403, as for editing the draft')
    t.equal((await call(h.app, 'GET', url, { token: h.otherAuthor.token })).statusCode, 403, 'another author may not list them')
    t.equal((await call(h.app, 'POST', url, { token: h.author.token })).statusCode, 201, 'the author of the draft may')
    t.equal((await call(h.app, 'POST', url, { token: h.admin.token })).statusCode, 201, 'admins may')
    t.equal((await call(h.app, 'POST', '/v1/articles/00000000-0000-4000-8000-000000000000/preview-links', { token: h.editor.token })).statusCode, 404, 'no article: 404')
    t.equal((await call(h.app, 'POST', url, { token: h.editor.token, headers: { 'idempotency-key': 'once' } })).statusCode, 400, 'an Idempotency-Key is refused: the secret could not be answered again')

    const scheduled = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Tomorrow\'s story' })
    await ok(h, h.editor, 'POST', `/v1/articles/${scheduled.id}/publish`, { publishedAt: new Date(now.getTime() + DAY * 1000).toISOString() })
    const link = await call(h.app, 'POST', `/v1/articles/${scheduled.id}/preview-links`, { token: h.editor.token })
    t.equal(link.statusCode, 201, 'an editor makes a link to a scheduled article')
    const shown = await call(h.app, 'GET', pathOf(link.json()))
    t.equal(shown.json().status, 'scheduled', 'the preview says it is scheduled')
    t.equal((await call(h.app, 'POST', `/v1/articles/${scheduled.id}/preview-links`, { token: h.author.token })).statusCode, 403, 'its author may not, as they may not edit it')

    await ok(h, h.editor, 'POST', `/v1/articles/${draft.id}/publish`)
    const published = await call(h.app, 'POST', url, { token: h.editor.token })
    t.equal(published.statusCode, 409, 'a published article needs no preview link: 409')
    t.match(published.json(), { code: 'INVALID_STATE', detail: /drafts and scheduled articles; this one is published/ })
  })

  t.test('preview reads are rate limited per client', async (t) => {
    const draft = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Guarded' })
    const link = await ok(h, h.author, 'POST', `/v1/articles/${draft.id}/preview-links`)
    const get = (url: string, remoteAddress: string) => h.app.inject({ method: 'GET', url, remoteAddress })
    const guesses = await Promise.all(Array.from({ length: 40 }, (_, i) => get(`/v1/previews/dlp_guess${i}`, '203.0.113.5')))
    t.same(guesses.map((r) => r.statusCode), Array(40).fill(404), 'PREVIEW_RATE_PER_CLIENT guesses are answered (404)')
    t.equal(guesses[0].headers['ratelimit-policy'], '"preview-client";q=40;w=60', 'with the IETF RateLimit fields')
    t.same(guesses.map((r) => Number(/r=(\d+)/.exec(String(r.headers.ratelimit))?.[1])).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i), 'counting down to 0')
    const limited = await get(pathOf(link), '203.0.113.5')
    t.equal(limited.statusCode, 429, 'the next read in the minute from that client is a 429, even with a good link')
    t.ok(Number(limited.headers['retry-after']) > 0, 'with Retry-After')
    t.match(limited.headers.ratelimit, /^"preview-client";r=0;t=\d+$/)
    t.match(limited.json(), { code: 'RATE_LIMITED' })
    t.equal((await get(pathOf(link), '198.51.100.7')).statusCode, 200, 'another client is not held back')
  })
})
