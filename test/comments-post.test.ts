// Posting reader comments: who may post where, validation, replies and their depth, the
// screen (links, blocklist, repeat, honeypot, shouting), flood control, hostile input, and
// what an anonymous poster gets back (nothing private, never the address).
import t from 'tap'
import { createHash } from 'node:crypto'
import { eq, sql } from 'drizzle-orm'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { commentModerations, comments } from '../src/db/schema.js'
import type { Candidate, Verdict } from '../src/modules/comments/screen.js'
import { build, call } from './helper.js'
import {
  MISSING, UUID, allKeys, approvedComment, commentRow, draftArticle, draftComment, expectStatus, freshAddress,
  manualClock, postComment, posted, publishedArticle, setStatus, totalComments, type Json
} from './comments-helpers.js'

const PRIVATE_KEYS = ['authorEmail', 'moderationReasons', 'clientId', 'clientHash', 'moderatedById', 'ip']

const clock = manualClock()
const h = await build(t, {
  now: clock.now,
  env: { COMMENT_BLOCKLIST: 'casino, Viagra ,', COMMENT_RATE_PER_ARTICLE: '20' }
})
const db = h.database.db

/** The verdict the screen left, as staff see it. */
async function screened (id: string) {
  const c = expectStatus(await call(h.app, 'GET', `/v1/comments/${id}`, { token: h.editor.token }), 200)
  return { status: c.status, reasons: c.moderationReasons }
}

t.test('a reader posts a comment: 201, pending, Location, and only public fields', async (t) => {
  const article = await publishedArticle(h)
  const res = await postComment(h.app, article.id, {
    authorName: '  Rita Reader ', authorEmail: 'rita.private@reader.test', body: '  First, a fair point.\n  '
  }, { address: '203.0.113.9' })
  const c = expectStatus(res, 201)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers.location, `/v1/comments/${c.id}`)
  t.equal(res.headers['cache-control'], 'private, no-store')
  t.match(c.id, UUID)
  t.strictSame(c, {
    id: c.id, articleId: article.id, parentId: null, replyingTo: null, depth: 0,
    authorName: 'Rita Reader', body: 'First, a fair point.', status: 'pending', createdAt: clock.iso()
  }, 'exactly the public fields, trimmed')

  const row = await commentRow(h, c.id)
  t.equal(row.status, 'pending')
  t.strictSame(row.moderationReasons, [])
  t.equal(row.authorEmail, 'rita.private@reader.test')
  t.equal(row.body, 'First, a fair point.')
  t.equal(row.depth, 0)
  t.equal(row.threadId, c.id, 'a top-level comment heads its own thread')

  // Not public until approved.
  const before = expectStatus(await call(h.app, 'GET', `/v1/articles/${article.id}/comments`), 200)
  t.strictSame(before.data, [])

  // The Location answers for staff, with the private fields.
  const staff = expectStatus(await call(h.app, 'GET', res.headers.location as string, { token: h.editor.token }), 200)
  t.equal(staff.authorEmail, 'rita.private@reader.test')
  t.strictSame(staff.moderationReasons, [])
  t.equal(staff.clientId, row.clientHash.slice(0, 12))
  expectStatus(await call(h.app, 'GET', res.headers.location as string), 401)
})

t.test('privacy: no private field and never the client address in any response or in the table', async (t) => {
  const ip = '203.0.113.9'
  const article = await publishedArticle(h)
  const res = await postComment(h.app, article.id, draftComment({ authorEmail: 'secret.reader@leak.test' }), { address: ip })
  const c = expectStatus(res, 201)
  const reply = await postComment(h.app, article.id, draftComment({ authorEmail: 'secret.reader@leak.test', website: 'x' }), { address: ip })
  expectStatus(reply, 201)
  await setStatus(h, c.id, 'approved')
  const replyToIt = await posted(h.app, article.id, { parentId: c.id, authorEmail: 'secret.reader@leak.test' }, { address: ip })
  await setStatus(h, replyToIt.id, 'approved')

  const thread = await call(h.app, 'GET', `/v1/articles/${article.id}/comments`, { headers: { 'x-forwarded-for': ip } })
  const list = expectStatus(thread, 200)
  t.equal(list.data.length, 1)
  t.equal(list.data[0].replies.length, 1)
  t.equal(thread.headers['cache-control'], h.config.PUBLIC_CACHE_CONTROL, 'a public read')

  for (const [name, r] of [['POST', res], ['POST (spam)', reply], ['thread list', thread]] as const) {
    const keys = allKeys(r.json())
    for (const k of PRIVATE_KEYS) t.notOk(keys.has(k), `${name}: no ${k}`)
    t.notOk(r.body.includes('secret.reader@leak.test'), `${name}: no email`)
    t.notOk(r.body.includes(ip), `${name}: no address in the body`)
    t.notOk(JSON.stringify(r.headers).includes(ip), `${name}: no address in the headers`)
  }

  // Staff responses: private fields, but a hash, never the address.
  const row = await commentRow(h, c.id)
  t.match(row.clientHash, /^[0-9a-f]{32}$/)
  t.not(row.clientHash, createHash('sha256').update(ip).digest('hex').slice(0, 32), 'a keyed hash, not a bare digest of the address')
  t.equal((await commentRow(h, replyToIt.id)).clientHash, row.clientHash, 'the same client gets the same hash')
  t.not((await commentRow(h, (await posted(h.app, article.id)).id)).clientHash, row.clientHash, 'another client, another hash')
  for (const url of [`/v1/comments/${c.id}`, `/v1/comments?article=${article.id}`, `/v1/comments/${c.id}/moderations`, `/v1/articles/${article.id}/comments`]) {
    const r = expectStatus(await call(h.app, 'GET', url, { token: h.editor.token }), 200)
    t.notOk(JSON.stringify(r).includes(ip), `staff ${url}: no address`)
  }
  const staffThread = expectStatus(await call(h.app, 'GET', `/v1/articles/${article.id}/comments`, { token: h.editor.token }), 200)
  const staffCopy = staffThread.data.find((x: Json) => x.id === c.id)
  t.equal(staffCopy.clientId, row.clientHash.slice(0, 12))
  t.equal(staffCopy.authorEmail, 'secret.reader@leak.test')

  // A staff poster sees the private fields of what they posted.
  const byStaff = expectStatus(await postComment(h.app, article.id, draftComment(), { token: h.editor.token }), 201)
  t.strictSame(byStaff.moderationReasons, [])
  t.equal(byStaff.authorEmail, 'rita@reader.test')

  const everything = JSON.stringify([
    await db.select().from(comments), await db.select().from(commentModerations)
  ])
  t.notOk(everything.includes(ip), 'the address is stored nowhere in the comments tables')
  t.notOk(everything.includes(Buffer.from(ip).toString('base64')), 'not even base64-encoded')
})

t.test('validation: a refused post is a 400 naming the field and stores nothing', async (t) => {
  const article = await publishedArticle(h)
  const url = `/v1/articles/${article.id}/comments`
  const before = await totalComments(h)
  const cases: Array<[string, unknown, string]> = [
    ['blank body', draftComment({ body: ' \n\t  ' }), '/body'],
    ['empty body', draftComment({ body: '' }), '/body'],
    ['5001 characters after trimming', draftComment({ body: `  ${'x'.repeat(5001)}  ` }), '/body'],
    ['a body that is not a string', draftComment({ body: 42 }), '/body'],
    ['an unknown field', draftComment({ rating: 5 }), '/rating'],
    ['a status from the poster', draftComment({ status: 'approved' }), '/status'],
    ['no author name', { authorEmail: 'a@b.test', body: 'Hi' }, '/authorName'],
    ['a blank author name', draftComment({ authorName: '   ' }), '/authorName'],
    ['a 101-character author name', draftComment({ authorName: 'n'.repeat(101) }), '/authorName'],
    ['no email', { authorName: 'Rita', body: 'Hi' }, '/authorEmail'],
    ['a malformed email', draftComment({ authorEmail: 'not-an-email' }), '/authorEmail'],
    ['a parentId that is no uuid', draftComment({ parentId: 'abc' }), '/parentId']
  ]
  for (const [name, payload, path] of cases) {
    const res = await postComment(h.app, article.id, payload)
    const problem = expectStatus(res, 400)
    t.match(res.headers['content-type'], /^application\/problem\+json/, name)
    t.ok(problem.errors?.some((e: Json) => e.path === path), `${name}: names ${path} (${JSON.stringify(problem.errors)})`)
  }
  const malformed = await h.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"authorName": "Rita",', remoteAddress: freshAddress() })
  t.equal(malformed.statusCode, 400, 'malformed JSON')
  const text = await h.app.inject({ method: 'POST', url, headers: { 'content-type': 'text/plain' }, payload: 'hello', remoteAddress: freshAddress() })
  t.equal(text.statusCode, 415, 'not JSON')
  const nul = await postComment(h.app, article.id, draftComment({ body: 'a\u0000b' }))
  t.equal(nul.statusCode, 400, `a NUL character is refused, not a 500 (${nul.body})`)
  t.match(nul.json(), { errors: [{ path: '/body', message: /NUL/ }] }, 'before any SQL, naming the field')
  const half = await postComment(h.app, article.id, draftComment({ authorName: 'Rita \ud83d' }))
  t.match(expectStatus(half, 400), { errors: [{ path: '/authorName', message: /unpaired surrogates/ }] }, 'half an emoji is refused: it could not be stored as sent')
  t.equal(await totalComments(h), before, 'nothing stored')

  // Exactly 5,000 characters after trimming is fine, and the padding goes.
  const roomy = await publishedArticle(h)
  const longest = expectStatus(await postComment(h.app, roomy.id, draftComment({ body: `\n  ${'y'.repeat(5000)}  \n` })), 201)
  t.equal(longest.body.length, 5000)
  t.equal((await commentRow(h, longest.id)).body, 'y'.repeat(5000))
  // ... counted in characters, not UTF-16 code units.
  const emoji = expectStatus(await postComment(h.app, roomy.id, draftComment({ body: '👍'.repeat(5000) })), 201)
  t.equal([...emoji.body].length, 5000)
  expectStatus(await postComment(h.app, roomy.id, draftComment({ body: '👍'.repeat(5001) })), 400)
})

t.test('where a comment may go: closed → 409, draft, scheduled or unknown article → 404', async (t) => {
  const before = await totalComments(h)
  const closed = await publishedArticle(h, { commentsOpen: false })
  const res = await postComment(h.app, closed.id, draftComment())
  t.match(expectStatus(res, 409), { status: 409, code: 'COMMENTS_CLOSED' })
  t.match(res.headers['content-type'], /^application\/problem\+json/)

  const closedLater = await publishedArticle(h)
  await posted(h.app, closedLater.id)
  expectStatus(await call(h.app, 'PATCH', `/v1/articles/${closedLater.id}`, { token: h.editor.token, body: { commentsOpen: false } }), 200)
  t.match(expectStatus(await postComment(h.app, closedLater.id, draftComment()), 409), { code: 'COMMENTS_CLOSED' })

  const draft = await draftArticle(h)
  t.match(expectStatus(await postComment(h.app, draft.id, draftComment()), 404), { code: 'NOT_FOUND' })
  t.match(expectStatus(await postComment(h.app, draft.id, draftComment(), { token: h.editor.token }), 404), { code: 'NOT_FOUND' }, 'staff cannot comment on a draft either')
  expectStatus(await call(h.app, 'GET', `/v1/articles/${draft.id}/comments`), 404)

  const scheduled = await draftArticle(h)
  expectStatus(await call(h.app, 'POST', `/v1/articles/${scheduled.id}/publish`, { token: h.editor.token, body: { publishedAt: new Date(clock.t + 86_400_000).toISOString() } }), 200)
  expectStatus(await postComment(h.app, scheduled.id, draftComment()), 404)

  expectStatus(await postComment(h.app, MISSING, draftComment()), 404)
  expectStatus(await postComment(h.app, 'not-a-uuid', draftComment()), 400)
  t.equal(await totalComments(h), before + 1, 'only the comment posted while comments were open')
})

t.test('replies answer an approved comment of the same article', async (t) => {
  const article = await publishedArticle(h)
  const other = await publishedArticle(h)
  const root = await approvedComment(h, article.id, { authorName: 'Olu Original' })
  const pending = await posted(h.app, article.id)
  const rejected = await posted(h.app, article.id)
  await setStatus(h, rejected.id, 'rejected')
  const elsewhere = await approvedComment(h, other.id)

  const reply = await posted(h.app, article.id, { parentId: root.id, authorName: 'Rae Replier' })
  t.match(reply, { parentId: root.id, depth: 1, status: 'pending', replyingTo: 'Olu Original' })
  t.equal((await commentRow(h, reply.id)).threadId, root.id)
  t.match(await setStatus(h, reply.id, 'approved'), { replyingTo: 'Olu Original' }, 'in the moderation response too')
  t.match(expectStatus(await call(h.app, 'GET', `/v1/comments/${reply.id}`, { token: h.editor.token }), 200), { replyingTo: 'Olu Original' }, 'and to GET')
  const shouted = await posted(h.app, article.id.toUpperCase(), { parentId: root.id.toUpperCase() })
  t.match(shouted, { articleId: article.id, parentId: root.id, depth: 1 }, 'ids in capitals are the same ids')

  const before = await totalComments(h)
  for (const [name, parentId] of [['a pending comment', pending.id], ['a rejected comment', rejected.id], ['a comment of another article', elsewhere.id], ['no comment at all', MISSING]]) {
    const problem = expectStatus(await postComment(h.app, article.id, draftComment({ parentId })), 400)
    t.match(problem, { code: 'VALIDATION_FAILED' }, name)
    t.strictSame(problem.errors.map((e: Json) => e.path), ['/parentId'], `${name}: names /parentId`)
  }
  t.equal(await totalComments(h), before, 'no refused reply was stored')
})

t.test(`replies nest at most ${3} levels deep`, async (t) => {
  t.equal(h.config.COMMENT_MAX_DEPTH, 3, 'the default')
  const article = await publishedArticle(h)
  let parent = await approvedComment(h, article.id)
  for (const depth of [1, 2, 3]) {
    const reply = await posted(h.app, article.id, { parentId: parent.id })
    t.equal(reply.depth, depth)
    t.equal((await commentRow(h, reply.id)).threadId, (await commentRow(h, parent.id)).threadId, 'same thread')
    parent = await setStatus(h, reply.id, 'approved')
  }
  const before = await totalComments(h)
  const problem = expectStatus(await postComment(h.app, article.id, draftComment({ parentId: parent.id })), 400)
  t.strictSame(problem.errors.map((e: Json) => e.path), ['/parentId'])
  t.match(problem.detail, /3/)
  t.equal(await totalComments(h), before)
})

t.test('the screen: links, blocklist, honeypot, shouting', async (t) => {
  const article = await publishedArticle(h)
  const verdictOf = async (overrides: Json) => {
    const c = await posted(h.app, article.id, overrides)
    t.notOk('moderationReasons' in c, 'the poster does not see the reasons')
    const v = await screened(c.id)
    t.equal(c.status, v.status, 'the poster sees the status')
    return v
  }

  t.strictSame(await verdictOf({ body: 'Quite right, see https://a.example/x and http://b.example/y for more.' }), { status: 'pending', reasons: [] }, 'two links are fine')
  t.strictSame(await verdictOf({ body: 'Both https://www.a.example/x and https://www.b.example/y agree.' }), { status: 'pending', reasons: [] }, 'a link is one link, whatever its form')
  t.strictSame(await verdictOf({ body: 'See https://a.example, https://b.example and www.c.example today.' }), { status: 'pending', reasons: ['too_many_links'] }, 'three links wait for an editor')
  const many = Array.from({ length: 8 }, (_, i) => `https://s${i}.example/buy`).join(' ')
  t.strictSame(await verdictOf({ body: `Deals: ${many}` }), { status: 'spam', reasons: ['too_many_links'] }, 'eight links are spam')

  t.strictSame(await verdictOf({ body: 'Best CASINO bonus here.' }), { status: 'pending', reasons: ['blocklist'] }, 'a blocked word, any case')
  t.strictSame(await verdictOf({ authorName: 'Cheap viagra', body: 'Nice article.' }), { status: 'pending', reasons: ['blocklist'] }, 'in the name too')
  t.strictSame(await verdictOf({ body: 'Occasionally casinos and casinolike places close.' }), { status: 'pending', reasons: [] }, 'whole words only')

  t.strictSame(await verdictOf({ website: 'https://bot.example' }), { status: 'spam', reasons: ['honeypot'] }, 'a filled honeypot is spam')
  t.strictSame(await verdictOf({ website: '' }), { status: 'pending', reasons: [] }, 'an empty honeypot is fine')

  t.strictSame(await verdictOf({ body: 'THIS IS AN OUTRAGE AND EVERYONE SHOULD KNOW ABOUT IT!' }), { status: 'pending', reasons: ['shouting'] })
  t.strictSame(await verdictOf({ body: 'OK BBC, fine.' }), { status: 'pending', reasons: [] }, 'a short acronym is not shouting')

  const v = await verdictOf({ body: 'VISIT THE CASINO NOW: HTTPS://A.EXAMPLE HTTPS://B.EXAMPLE HTTPS://C.EXAMPLE' })
  t.equal(v.status, 'spam', 'three reasons together are spam')
  t.strictSame([...v.reasons].sort(), ['blocklist', 'shouting', 'too_many_links'])

  // Stored as a JSON array, not as a string holding one: SQL over the column sees the reasons.
  const held = await posted(h.app, article.id, { body: 'Best CASINO bonus, again.' })
  const stored = await db.execute(sql`select jsonb_typeof(moderation_reasons) as kind, moderation_reasons->>0 as first from comments where id = ${held.id}`)
  t.strictSame({ ...(stored as unknown as { rows: Json[] }).rows[0] }, { kind: 'array', first: 'blocklist' })
})

t.test('the same body again from the same client within 24 hours is spam', async (t) => {
  const article = await publishedArticle(h)
  const address = freshAddress()
  const body = 'I have said this before and I will say it again.'
  h.queries.length = 0
  const first = await posted(h.app, article.id, { body }, { address })
  // (The keyed-hash secret is read once per app; any earlier post here may have read it.)
  const statements = h.queries.filter((q) => !/"settings"/.test(q))
  t.equal(statements.length, 2, 'one statement checks the article and the repeat, one inserts')
  t.match(statements[0], /^\s*select q\.n, "articles"\."comments_open"/)
  t.match(statements[0], /exists \(select 1 from "comments" c where c\.client_hash = q\.client_hash and c\.body_hash = q\.body_hash and c\.created_at > q\.since\)/)
  t.match(statements[1], /^insert into "comments" \("id", "article_id"/)
  t.strictSame(await screened(first.id), { status: 'pending', reasons: [] })

  clock.advance(60 * 60_000)
  const again = await posted(h.app, article.id, { body: `  i have said THIS before   and I will say it again. ` }, { address })
  t.strictSame(await screened(again.id), { status: 'spam', reasons: ['repeat'] }, 'case and spacing do not hide a repeat')

  const elsewhere = await publishedArticle(h)
  const onAnother = await posted(h.app, elsewhere.id, { body }, { address })
  t.strictSame(await screened(onAnother.id), { status: 'spam', reasons: ['repeat'] }, 'on another article too')

  const someoneElse = await posted(h.app, article.id, { body })
  t.strictSame(await screened(someoneElse.id), { status: 'pending', reasons: [] }, 'another client may say the same')

  clock.advance(25 * 3600_000)
  const nextDay = await posted(h.app, article.id, { body: 'A different remark, to move the window.' }, { address: freshAddress() })
  t.equal(nextDay.status, 'pending')
  const later = await posted(h.app, article.id, { body }, { address: freshAddress() })
  t.equal(later.status, 'pending')
  const sameClientLater = await posted(h.app, article.id, { body: 'Yet another, from the first client, to check the clock moved.' }, { address })
  t.equal(sameClientLater.status, 'pending')
  const sameTextLater = await posted(h.app, article.id, { body }, { address })
  t.strictSame(await screened(sameTextLater.id), { status: 'pending', reasons: [] }, 'a day on, the same text from the same client is no repeat')
})

t.test('posts that arrive together share their statements, and each gets its own answer', async (t) => {
  const open = await publishedArticle(h)
  const closed = await publishedArticle(h, { commentsOpen: false })
  const draft = await draftArticle(h)
  const repeater = freshAddress()
  await posted(h.app, open.id, { body: 'Said once already.' }, { address: repeater })
  const before = await totalComments(h)
  h.queries.length = 0
  const posts: Array<[string, Json, string]> = [
    ...Array.from({ length: 6 }, (_, i): [string, Json, string] => [open.id, draftComment({ authorName: `Reader ${i}` }), freshAddress()]),
    [open.id, draftComment({ body: 'SAID once   already.' }), repeater],
    [closed.id, draftComment(), freshAddress()],
    [draft.id, draftComment(), freshAddress()],
    [MISSING, draftComment(), freshAddress()]
  ]
  const answers = await Promise.all(posts.map(([id, payload, address]) => postComment(h.app, id, payload, { address })))
  t.strictSame(answers.map((r) => r.statusCode), [201, 201, 201, 201, 201, 201, 201, 409, 404, 404])
  for (const [i, r] of answers.slice(0, 7).entries()) {
    const c = r.json()
    t.match(c, { articleId: open.id, authorName: posts[i][1].authorName, body: posts[i][1].body.trim() }, `post ${i} answers with its own comment`)
    const row = await commentRow(h, c.id)
    t.equal(row.body, posts[i][1].body.trim(), `post ${i} is stored as its own row`)
    t.equal(c.createdAt, row.createdAt.toISOString(), `post ${i}: the answer's time is the stored one`)
  }
  t.equal(answers[6].json().status, 'spam', 'a repeat of a stored post, checked in a batch, is still found')
  t.strictSame(await screened(answers[6].json().id), { status: 'spam', reasons: ['repeat'] })
  t.equal(await totalComments(h), before + 7, 'the refused posts stored nothing')
  const checks = h.queries.filter((q) => /^\s*select q\.n, "articles"/.test(q)).length
  const inserts = h.queries.filter((q) => /^\s*insert into "comments"/.test(q)).length
  // PostgreSQL's posts wait for each other's statements (past the first few in flight at once);
  // PGlite runs each statement to the end inside the call that sends it, so they overlap there
  // only by chance, and nothing is asserted of its count.
  if (h.database.driver === 'pg') t.ok(checks + inserts < posts.length + 7, `${posts.length} checks and 7 inserts in ${checks + inserts} statements`)
})

t.test('the same post sent several times at once is one comment and repeats', async (t) => {
  const article = await publishedArticle(h)
  const address = freshAddress()
  const payload = draftComment({ body: 'Posted once, sent five times by an impatient button.' })
  const answers = await Promise.all(Array.from({ length: 5 }, () => postComment(h.app, article.id, payload, { address })))
  t.strictSame(answers.map((r) => r.statusCode), [201, 201, 201, 201, 201])
  const verdicts = await Promise.all(answers.map((r) => screened(r.json().id)))
  t.equal(verdicts.filter((v) => v.status === 'pending').length, 1, 'one waits for an editor')
  t.strictSame(verdicts.filter((v) => v.status === 'spam').map((v) => v.reasons), [['repeat'], ['repeat'], ['repeat'], ['repeat']], 'the others are repeats')
})

t.test('flood control per client: the sixth comment in a minute is a 429 and stores nothing', async (t) => {
  t.equal(h.config.COMMENT_RATE_PER_CLIENT, 5, 'the default')
  const article = await publishedArticle(h)
  const address = freshAddress()
  const first = await postComment(h.app, article.id, draftComment(), { address })
  expectStatus(first, 201)
  // The IETF RateLimit fields: both limits with their quotas, and what is left of each.
  t.equal(first.headers['ratelimit-policy'], '"comment-client";q=5;w=60, "comment-article";q=20;w=60')
  t.match(first.headers.ratelimit, /^"comment-client";r=4;t=(60|59), "comment-article";r=19;t=(60|59)$/)
  for (let i = 0; i < 4; i++) await posted(h.app, article.id, {}, { address })
  const before = await totalComments(h)
  const res = await postComment(h.app, article.id, draftComment(), { address })
  const problem = expectStatus(res, 429)
  t.match(res.headers.ratelimit, /^"comment-client";r=0;t=\d+$/, 'the 429 names the limit it met, and the article\'s is not counted')
  t.equal(res.headers['ratelimit-policy'], '"comment-client";q=5;w=60')
  t.match(problem, { status: 429, code: 'RATE_LIMITED' })
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  const retry = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${res.headers['retry-after']} is 1-60 s`)
  expectStatus(await postComment(h.app, (await publishedArticle(h)).id, draftComment(), { address }), 429)
  t.equal(await totalComments(h), before, 'the row count does not grow')

  await posted(h.app, article.id, {}, { address: freshAddress() })
  t.equal(await totalComments(h), before + 1, 'another client still gets through')

  // An IPv6 subscriber holds a whole /64: new addresses in it are the same client.
  const other = await publishedArticle(h)
  for (let i = 1; i <= 5; i++) await posted(h.app, other.id, {}, { address: `2001:db8:77:1::${i.toString(16)}` })
  expectStatus(await postComment(h.app, other.id, draftComment(), { address: '2001:db8:77:1:ffff:1:2:3' }), 429)
  await posted(h.app, other.id, {}, { address: '2001:db8:77:2::1' })
  t.pass('the next /64 is another client')
})

t.test('flood control counts a concurrent burst one by one: the limit gets through, the rest is refused', async (t) => {
  const article = await publishedArticle(h)
  const address = freshAddress()
  const burst = await Promise.all(Array.from({ length: 8 }, () => postComment(h.app, article.id, draftComment(), { address })))
  t.strictSame(burst.map((r) => r.statusCode).sort(), [201, 201, 201, 201, 201, 429, 429, 429], 'five in, three refused (not all eight)')
  const left = burst.filter((r) => r.statusCode === 201).map((r) => Number(/^"comment-client";r=(\d+)/.exec(String(r.headers.ratelimit))?.[1])).sort()
  t.strictSame(left, [0, 1, 2, 3, 4], 'each answer says what it left')
})

t.test('flood control per article: past COMMENT_RATE_PER_ARTICLE a minute, a 429 for everyone', async (t) => {
  t.equal(h.config.COMMENT_RATE_PER_ARTICLE, 20)
  const article = await publishedArticle(h)
  for (let i = 0; i < 20; i++) await posted(h.app, article.id)
  const before = await totalComments(h)
  const res = await postComment(h.app, article.id, draftComment())
  t.match(expectStatus(res, 429), { code: 'RATE_LIMITED' })
  t.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After given')
  t.match(res.headers.ratelimit, /^"comment-client";r=4;t=\d+, "comment-article";r=0;t=\d+$/, 'the article\'s limit is the one met')
  expectStatus(await postComment(h.app, article.id.toUpperCase(), draftComment()), 429)
  t.equal(await totalComments(h), before, 'nor through another spelling of the id')
  const address = freshAddress()
  await posted(h.app, (await publishedArticle(h)).id, {}, { address })
  t.pass('other articles still take comments')
})

t.test('hostile input is stored and returned byte for byte as JSON strings; the tables survive', async (t) => {
  const corpus = [
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE comments; --",
    "Robert'); DELETE FROM articles WHERE ('1'='1",
    '{{7*7}} ${7*7} <%= 7*7 %>',
    'javascript:alert(1)',
    'abc\u202Egnp.exe \u200F\u202A mixed \u05D0\u05D1 \\u0000 &amp; &lt;b&gt;'
  ]
  const article = await publishedArticle(h)
  const ids: string[] = []
  for (const payload of corpus) {
    clock.advance(1000)
    const res = await postComment(h.app, article.id, draftComment({ authorName: payload.slice(0, 100), body: payload }))
    const c = expectStatus(res, 201)
    t.match(res.headers['content-type'], /^application\/json/)
    t.equal(c.body, payload, `body back unchanged: ${payload}`)
    t.equal(c.authorName, payload.slice(0, 100))
    t.ok(res.body.includes(JSON.stringify(payload)), 'the raw response holds it as a plain JSON string')
    const row = await commentRow(h, c.id)
    t.equal(row.body, payload, 'stored unchanged')
    ids.push(c.id)
  }
  expectStatus(await call(h.app, 'POST', '/v1/comments/moderate', { token: h.editor.token, body: { ids, status: 'approved' } }), 200)

  const res = await call(h.app, 'GET', `/v1/articles/${article.id}/comments`, { query: { limit: '50' } })
  const list = expectStatus(res, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.strictSame(list.data.map((c: Json) => c.body), corpus)
  t.strictSame(list.data.map((c: Json) => c.authorName), corpus)
  t.notOk(list.data.some((c: Json) => /49/.test(c.body)), 'no template was evaluated')

  // Injection through the query string and path is refused as input, never run.
  expectStatus(await call(h.app, 'GET', '/v1/comments', { token: h.editor.token, query: { article: "' OR 1=1 --" } }), 400)
  expectStatus(await call(h.app, 'GET', `/v1/articles/${encodeURIComponent("'; DROP TABLE comments; --")}/comments`), 400)
  expectStatus(await call(h.app, 'GET', `/v1/articles/${article.id}/comments`, { query: { cursor: "'; DROP TABLE comments; --" } }), 400)

  const tables = await db.execute(sql`select to_regclass('public.comments')::text as c, to_regclass('public.articles')::text as a, to_regclass('public.comment_moderations')::text as m`)
  const row = ((tables as unknown as { rows: Json[] }).rows ?? tables)[0] as Json
  t.strictSame(row, { c: 'comments', a: 'articles', m: 'comment_moderations' }, 'every table still exists')
  t.equal((await db.select().from(comments).where(eq(comments.articleId, article.id))).length, corpus.length)
})

t.test('the commentScreen app option replaces the built-in screen', async (t) => {
  const seen: Candidate[] = []
  let verdict: Verdict = { status: 'pending', reasons: ['classifier:fine'] }
  const app = await buildApp({
    config: loadConfig({ LOG_LEVEL: 'silent', COMMENT_BLOCKLIST: 'casino' }),
    database: h.database,
    now: clock.now,
    commentScreen: async (c) => { seen.push(c); return verdict }
  })
  await app.ready()
  t.teardown(() => app.close())

  const article = await publishedArticle(h)
  const loud = 'CASINO CASINO HTTPS://A.EXAMPLE HTTPS://B.EXAMPLE HTTPS://C.EXAMPLE WWW.D.EXAMPLE BUY NOW'
  const first = await posted(app, article.id, { authorName: ' Casino Carl ', body: `  ${loud}  `, website: 'filled by a bot' }, { address: '192.0.2.77' })
  t.equal(first.status, 'pending', 'the built-in rules would have called this spam')
  t.strictSame((await commentRow(h, first.id)).moderationReasons, ['classifier:fine'], 'only the custom reasons')
  t.equal(seen.length, 1)
  t.match(seen[0], { articleId: article.id, authorName: 'Casino Carl', authorEmail: 'rita@reader.test', body: loud, honeypot: 'filled by a bot', repeat: false })
  t.equal(seen[0].clientHash, (await commentRow(h, first.id)).clientHash)
  t.notOk(JSON.stringify(seen).includes('192.0.2.77'), 'the screen never sees the address')

  // The screen is told of a repeat (same client, same text, case and spacing aside) as the built-in rules are.
  await posted(app, article.id, { body: loud.toLowerCase() }, { address: '192.0.2.77' })
  t.equal(seen[1].repeat, true, 'the same text again from the same client')
  await posted(app, article.id, { body: loud }, { address: '192.0.2.78' })
  t.equal(seen[2].repeat, false, 'the same text from another client')
  seen.length = 1

  verdict = { status: 'spam', reasons: ['classifier:toxic'] }
  const second = await posted(app, article.id, { body: 'A perfectly polite remark.' })
  t.equal(second.status, 'spam', 'and a custom spam verdict stands')
  t.strictSame((await commentRow(h, second.id)).moderationReasons, ['classifier:toxic'])

  // The default app keeps the built-in rules.
  const builtIn = await posted(h.app, article.id, { body: 'A perfectly polite remark with a casino in it.' })
  t.strictSame((await commentRow(h, builtIn.id)).moderationReasons, ['blocklist'])
  t.equal(seen.length, 2, 'the custom screen is not called by the other app')
})
