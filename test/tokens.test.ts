// API tokens and staff users: creation (secret shown once), use, last-used time, revocation,
// expiry, ownership rules for non-admins, malformed credentials, the failed-authentication
// limit, and the users API with its last-admin rule.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { memoryFailureLimiter } from '../src/http/failure-limiter.js'
import { build, call, type Harness } from './helper.js'

type Json = Record<string, any>
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const MINUTE = 60_000

async function rows<T = Json> (h: Harness, query: ReturnType<typeof sql>): Promise<T[]> {
  return ((await h.database.db.execute(query)) as unknown as { rows: T[] }).rows
}

function assertUnauthorized (t: Test, res: Awaited<ReturnType<typeof call>>, error: string, what: string) {
  t.equal(res.statusCode, 401, `${what}: 401`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  t.equal(res.headers['www-authenticate'], `Bearer realm="dateline", error="${error}"`, `${what}: WWW-Authenticate names the error`)
  t.equal(res.json().status, 401, `${what}: the problem says 401`)
}

t.test('tokens and users', async (t) => {
  let clock = new Date()
  const tick = (ms: number) => { clock = new Date(clock.getTime() + ms) }
  // These subtests send many bad credentials from one address on purpose; the failure limiter
  // (tested below) would start answering 429 part way, depending on how fast they run.
  const h = await build(t, { now: () => clock, env: { AUTH_FAILURE_LIMIT: '1000' } })
  const me = (token: string, headers: Record<string, string> = {}) => call(h.app, 'GET', '/v1/users/me', { token, headers })
  const tokenCount = async (userId?: string) =>
    Number((await rows<{ n: number }>(h, userId ? sql`select count(*)::int as n from api_tokens where user_id = ${userId}` : sql`select count(*)::int as n from api_tokens`))[0].n)

  await t.test('an admin creates a token: the secret is shown once, stored only as a hash, and works', async (t) => {
    const expiresAt = new Date(clock.getTime() + 30 * 24 * 60 * MINUTE).toISOString()
    const res = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { userId: h.editor.userId, label: 'CI deploy', expiresAt } })
    t.equal(res.statusCode, 201, 'created', { body: res.body })
    const body = res.json()
    t.match(body.token, /^dl_[A-Za-z0-9_-]{43,}$/, 'dl_ and at least 43 base64url characters (256 bits)')
    t.equal(res.headers.location, `/v1/tokens/${body.id}`, 'Location names the token')
    t.match(res.headers['cache-control'], /no-store/, 'the response with the secret is not stored')
    t.match(body, { userId: h.editor.userId, label: 'CI deploy', expiresAt, lastUsedAt: null, revokedAt: null, prefix: body.token.slice(0, 8) }, 'the token as asked, its prefix the start of the secret')
    t.notOk('tokenHash' in body, 'no hash in the response')

    const [stored] = await rows(h, sql`select * from api_tokens where id = ${body.id}`)
    t.equal(stored.token_hash, sha256(body.token), 'stored as the sha256 of the secret')
    t.notOk(JSON.stringify(stored).includes(body.token), 'the secret itself is not stored')

    const again = await call(h.app, 'GET', `/v1/tokens/${body.id}`, { token: h.admin.token })
    t.equal(again.statusCode, 200, 'GET by id')
    t.notOk('token' in again.json(), 'GET by id has no secret field')
    const list = await call(h.app, 'GET', '/v1/tokens?limit=100', { token: h.admin.token })
    t.ok(list.json().data.some((x: Json) => x.id === body.id), 'the list has the token')
    for (const r of [again, list]) {
      t.notOk(r.body.includes(body.token), 'the secret is never shown again')
      t.notOk(r.body.includes(stored.token_hash) || r.body.includes('tokenHash'), 'nor its hash')
    }

    const second = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { userId: h.editor.userId, label: 'CI deploy' } })
    t.not(second.json().token, body.token, 'every token is a new secret')

    const who = await me(body.token)
    t.equal(who.statusCode, 200, 'the new token authenticates', { body: who.body })
    t.match(who.json(), { id: h.editor.userId, role: 'editor' }, 'the token names its user')
    const used = (await call(h.app, 'GET', `/v1/tokens/${body.id}`, { token: h.admin.token })).json()
    t.equal(used.lastUsedAt, clock.toISOString(), 'last-used time set by the use')

    tick(30_000)
    await me(body.token)
    t.equal((await call(h.app, 'GET', `/v1/tokens/${body.id}`, { token: h.admin.token })).json().lastUsedAt, used.lastUsedAt, 'kept to the minute: a use 30 s later writes nothing')
    tick(2 * MINUTE)
    await me(body.token)
    t.equal((await call(h.app, 'GET', `/v1/tokens/${body.id}`, { token: h.admin.token })).json().lastUsedAt, clock.toISOString(), 'a use minutes later moves it')

    // Revocation
    const revoke = await call(h.app, 'DELETE', `/v1/tokens/${body.id}`, { token: h.admin.token })
    t.equal(revoke.statusCode, 204, 'revoked')
    const revokedAt = clock.toISOString()
    assertUnauthorized(t, await me(body.token), 'invalid_token', 'a revoked token')
    t.equal((await call(h.app, 'GET', `/v1/tokens/${body.id}`, { token: h.admin.token })).json().revokedAt, revokedAt, 'revokedAt recorded')
    tick(MINUTE)
    t.equal((await call(h.app, 'DELETE', `/v1/tokens/${body.id}`, { token: h.admin.token })).statusCode, 204, 'revoking twice is harmless')
    t.equal((await call(h.app, 'GET', `/v1/tokens/${body.id}`, { token: h.admin.token })).json().revokedAt, revokedAt, 'and keeps the first revocation time')
    t.equal((await me(second.json().token)).statusCode, 200, "the user's other tokens still work")
    t.equal((await call(h.app, 'DELETE', '/v1/tokens/00000000-0000-4000-8000-000000000000', { token: h.admin.token })).statusCode, 404, 'no such token: 404')
  })

  await t.test('tokens expire', async (t) => {
    const expiresAt = new Date(clock.getTime() + 60 * MINUTE).toISOString()
    const res = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { userId: h.author.userId, label: 'one hour', expiresAt } })
    t.equal(res.statusCode, 201, 'created with an expiry', { body: res.body })
    const secret = res.json().token
    t.equal((await me(secret)).statusCode, 200, 'works before it expires')
    tick(59 * MINUTE)
    t.equal((await me(secret)).statusCode, 200, 'works a minute before')
    tick(2 * MINUTE)
    assertUnauthorized(t, await me(secret), 'invalid_token', 'an expired token')
    t.equal((await me(h.author.token)).statusCode, 200, 'a token without expiry still works')

    // Requests at once share their token look-ups: each still gets its own user, and the
    // expired and unknown tokens in the same batch their own 401s.
    const secrets = [h.admin.token, secret, h.editor.token, 'dl_unknown', h.author.token, h.otherAuthor.token, h.editor.token]
    h.queries.length = 0
    const answers = await Promise.all(secrets.map((s) => me(s)))
    const lookups = h.queries.filter((q) => /join "api_tokens"/.test(q)).length
    // Over PostgreSQL they overlap (PGlite runs each statement inside the call that sends it).
    if (h.database.driver === 'pg') t.ok(lookups < secrets.length, `${secrets.length} requests, ${lookups} look-ups`)
    t.strictSame(answers.map((r) => r.statusCode), [200, 401, 200, 401, 200, 200, 200])
    const ids = [h.admin.userId, undefined, h.editor.userId, undefined, h.author.userId, h.otherAuthor.userId, h.editor.userId]
    t.strictSame(answers.map((r) => (r.statusCode === 200 ? r.json().id : undefined)), ids, 'each request is its own token\'s user')

    const before = await tokenCount()
    for (const [when, what] of [[new Date(clock.getTime() - MINUTE), 'in the past'], [clock, 'now']] as const) {
      const bad = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { userId: h.author.userId, label: 'late', expiresAt: when.toISOString() } })
      t.equal(bad.statusCode, 400, `expiresAt ${what}: 400`)
      t.match(bad.json(), { status: 400, errors: [{ path: '/expiresAt' }] }, `expiresAt ${what}: the problem names the field`)
    }
    const notADate = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { userId: h.author.userId, label: 'x', expiresAt: 'tomorrow' } })
    t.equal(notADate.statusCode, 400, 'expiresAt not a date: 400')
    t.equal(await tokenCount(), before, 'refused creations write nothing')
  })

  await t.test('a token never outlives the token that made it', async (t) => {
    const limit = new Date(clock.getTime() + 60 * MINUTE)
    const made = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { userId: h.editor.userId, label: 'expiring', expiresAt: limit.toISOString() } })
    t.equal(made.statusCode, 201, made.body)
    const expiring = made.json()
    t.equal(expiring.createdByTokenId, (await rows<{ id: string }>(h, sql`select id from api_tokens where token_hash = ${sha256(h.admin.token)}`))[0].id, 'it names the token that made it')

    const before = await tokenCount()
    for (const [expiresAt, what] of [[null, 'never'], [new Date(limit.getTime() + 1).toISOString(), 'a millisecond later'], [new Date(limit.getTime() + 365 * 24 * 60 * MINUTE).toISOString(), 'a year later']] as const) {
      const res = await call(h.app, 'POST', '/v1/tokens', { token: expiring.token, body: { label: 'longer', expiresAt } })
      t.equal(res.statusCode, 400, `expiresAt ${what}: 400`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.match(res.json(), { code: 'VALIDATION_FAILED', errors: [{ path: '/expiresAt', in: 'body', message: new RegExp(limit.toISOString().replace(/\./g, '\\.')) }] }, `expiresAt ${what}: names the field and the limit`)
    }
    // An admin's expiring token making a token for someone else: the same rule.
    const adminExpiring = (await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { label: 'admin, expiring', expiresAt: limit.toISOString() } })).json()
    const forOther = await call(h.app, 'POST', '/v1/tokens', { token: adminExpiring.token, body: { userId: h.author.userId, label: 'for the author', expiresAt: null } })
    t.equal(forOther.statusCode, 400, 'for another user too')
    t.equal(await tokenCount(), before + 1, 'refused creations write nothing')

    const defaulted = await call(h.app, 'POST', '/v1/tokens', { token: expiring.token, body: { label: 'no expiry given' } })
    t.equal(defaulted.statusCode, 201, defaulted.body)
    t.equal(defaulted.json().expiresAt, limit.toISOString(), 'without expiresAt it expires with its maker')
    t.equal(defaulted.json().createdByTokenId, expiring.id)
    const sooner = new Date(limit.getTime() - 30 * MINUTE).toISOString()
    const shorter = await call(h.app, 'POST', '/v1/tokens', { token: expiring.token, body: { label: 'sooner', expiresAt: sooner } })
    t.equal(shorter.json().expiresAt, sooner, 'an earlier expiry is kept')
    const same = await call(h.app, 'POST', '/v1/tokens', { token: expiring.token, body: { label: 'same time', expiresAt: limit.toISOString() } })
    t.equal(same.statusCode, 201, 'the maker\'s own expiry is allowed')
    const stored = await rows<{ expires: string }>(h, sql`select expires_at as expires from api_tokens where id = ${defaulted.json().id}`)
    t.equal(new Date(stored[0].expires).toISOString(), limit.toISOString(), 'stored so')

    tick(61 * MINUTE)
    for (const [secret, what] of [[expiring.token, 'the maker'], [defaulted.json().token, 'the defaulted child'], [same.json().token, 'the child with the same expiry']]) {
      assertUnauthorized(t, await me(secret), 'invalid_token', `${what}, after its expiry`)
    }
    // A token that never expires still makes tokens that never expire.
    const forever = await call(h.app, 'POST', '/v1/tokens', { token: h.editor.token, body: { label: 'forever', expiresAt: null } })
    t.equal(forever.statusCode, 201)
    t.equal(forever.json().expiresAt, null)
  })

  await t.test('revoking a token revokes the tokens made with it, all the way down', async (t) => {
    const make = async (token: string, label: string, userId?: string) => {
      const res = await call(h.app, 'POST', '/v1/tokens', { token, body: { label, ...(userId && { userId }) } })
      if (res.statusCode !== 201) throw new Error(`fixture token: ${res.statusCode} ${res.body}`)
      return res.json() as Json
    }
    const parent = await make(h.admin.token, 'parent', h.editor.userId)
    const child = await make(parent.token, 'child')
    const grandchild = await make(child.token, 'grandchild')
    const sibling = await make(h.admin.token, 'sibling', h.editor.userId)
    const ownChild = await make(h.author.token, 'author, child')
    const ownGrandchild = await make(ownChild.token, 'author, grandchild')
    for (const tk of [parent, child, grandchild, sibling, ownChild, ownGrandchild]) t.equal((await me(tk.token)).statusCode, 200, `${tk.label} works`)

    t.equal((await call(h.app, 'DELETE', `/v1/tokens/${parent.id}`, { token: h.admin.token })).statusCode, 204)
    for (const tk of [parent, child, grandchild]) assertUnauthorized(t, await me(tk.token), 'invalid_token', `${tk.label}, after the parent's revocation`)
    const revoked = await rows<{ id: string, at: string }>(h, sql`select id, revoked_at as at from api_tokens where id in (${parent.id}, ${child.id}, ${grandchild.id})`)
    t.equal(revoked.length, 3)
    t.ok(revoked.every((r) => r.at !== null && new Date(r.at).getTime() === clock.getTime()), 'all three revoked at the same time')
    const listed = await call(h.app, 'GET', `/v1/tokens/${grandchild.id}`, { token: h.admin.token })
    t.equal(listed.json().revokedAt, clock.toISOString(), 'the API shows the grandchild revoked')
    t.equal((await me(sibling.token)).statusCode, 200, 'a sibling made by the same admin token still works')
    t.equal((await me(h.admin.token)).statusCode, 200, 'the maker of the revoked token still works')

    // An author revoking their own token.
    t.equal((await call(h.app, 'DELETE', `/v1/tokens/${ownChild.id}`, { token: h.author.token })).statusCode, 204)
    assertUnauthorized(t, await me(ownGrandchild.token), 'invalid_token', 'a token made by the author\'s revoked token')
    t.equal((await me(h.author.token)).statusCode, 200, 'the author\'s own token still works')

    // A revoked token makes nothing.
    const count = await tokenCount()
    assertUnauthorized(t, await call(h.app, 'POST', '/v1/tokens', { token: child.token, body: { label: 'too late' } }), 'invalid_token', 'a revoked token making a token')
    t.equal(await tokenCount(), count, 'nothing written')

    // Made and revoked at the same moment: whichever comes first, the new token never outlives
    // the revocation.
    for (let i = 0; i < 5; i++) {
      const maker = await make(h.admin.token, `race ${i}`, h.editor.userId)
      const [created] = await Promise.all([
        call(h.app, 'POST', '/v1/tokens', { token: maker.token, body: { label: `race child ${i}` } }),
        call(h.app, 'DELETE', `/v1/tokens/${maker.id}`, { token: h.admin.token })
      ])
      if (created.statusCode === 201) assertUnauthorized(t, await me(created.json().token), 'invalid_token', `race ${i}: the child was revoked with its maker`)
      else t.equal(created.statusCode, 401, `race ${i}: the maker was revoked first`)
      const live = await rows<{ n: number }>(h, sql`select count(*)::int as n from api_tokens where created_by_token_id = ${maker.id} and revoked_at is null`)
      t.equal(Number(live[0].n), 0, `race ${i}: no live token made by a revoked one`)
    }
  })

  await t.test('non-admins see, create and revoke only their own tokens', async (t) => {
    const own = await call(h.app, 'POST', '/v1/tokens', { token: h.author.token, body: { label: 'my laptop' } })
    t.equal(own.statusCode, 201, 'an author creates a token for themselves', { body: own.body })
    t.equal(own.json().userId, h.author.userId, 'userId defaults to the caller')
    const ownSecret = own.json().token

    const list = await call(h.app, 'GET', '/v1/tokens?limit=100', { token: h.author.token })
    t.equal(list.statusCode, 200, 'an author lists tokens')
    const data = list.json().data as Json[]
    t.ok(data.length >= 2 && data.every((x) => x.userId === h.author.userId), 'an author lists only their own tokens')
    t.equal(data.length, await tokenCount(h.author.userId), 'all of them')
    t.ok(data.some((x) => x.id === own.json().id), 'including the new one')
    t.equal((await call(h.app, 'GET', `/v1/tokens?userId=${h.editor.userId}`, { token: h.author.token })).statusCode, 403, "asking for another user's: 403")
    t.equal((await call(h.app, 'GET', `/v1/tokens?userId=${h.author.userId}`, { token: h.author.token })).statusCode, 200, 'asking for their own: 200')

    const all = (await call(h.app, 'GET', '/v1/tokens?limit=100', { token: h.admin.token })).json().data as Json[]
    t.ok(new Set(all.map((x) => x.userId)).size >= 4, 'an admin lists every user\'s tokens')
    const filtered = (await call(h.app, 'GET', `/v1/tokens?limit=100&userId=${h.author.userId}`, { token: h.admin.token })).json().data as Json[]
    t.same(filtered.map((x) => x.id).sort(), data.map((x) => x.id).sort(), 'an admin filters by user')

    // Someone else's token is not there, for a non-admin.
    for (const [caller, name] of [[h.otherAuthor, 'another author'], [h.editor, 'an editor']] as const) {
      const get = await call(h.app, 'GET', `/v1/tokens/${own.json().id}`, { token: caller.token })
      t.equal(get.statusCode, 404, `${name} cannot read it: 404`)
      const del = await call(h.app, 'DELETE', `/v1/tokens/${own.json().id}`, { token: caller.token })
      t.equal(del.statusCode, 404, `${name} cannot revoke it: 404`)
      t.match(del.headers['content-type'], /problem\+json/, `${name}: problem+json`)
    }
    t.equal((await rows(h, sql`select revoked_at from api_tokens where id = ${own.json().id}`))[0].revoked_at, null, 'still not revoked')
    t.equal((await me(ownSecret)).statusCode, 200, 'and still works')

    for (const [caller, name] of [[h.author, 'an author'], [h.editor, 'an editor']] as const) {
      const before = await tokenCount(h.otherAuthor.userId)
      const res = await call(h.app, 'POST', '/v1/tokens', { token: caller.token, body: { label: 'not yours', userId: h.otherAuthor.userId } })
      t.equal(res.statusCode, 403, `${name} cannot create a token for another user: 403`)
      t.equal(await tokenCount(h.otherAuthor.userId), before, 'and none is created')
    }
    const ghost = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { label: 'ghost', userId: '00000000-0000-4000-8000-000000000000' } })
    t.equal(ghost.statusCode, 404, 'an admin naming a user who does not exist: 404')

    t.equal((await call(h.app, 'DELETE', `/v1/tokens/${own.json().id}`, { token: h.author.token })).statusCode, 204, 'the owner revokes it')
    assertUnauthorized(t, await me(ownSecret), 'invalid_token', 'the revoked token')
  })

  await t.test('malformed or unknown credentials are a 401 with a challenge', async (t) => {
    // Only ASCII spaces and tabs separate the scheme from the token: a no-break space, an
    // ideographic space or a line break is a malformed header, however valid the token.
    const separators = ['\u00a0', '\u2003', '\u3000', '\u000b', '\u000c', ' \u00a0']
    for (const header of ['Basic eDp5', 'Bearer', 'Bearer ', `Bearer ${h.editor.token} extra`, `Token ${h.editor.token}`, ...separators.map((s) => `Bearer${s}${h.editor.token}`), `Bearer ${h.editor.token}\u00a0`]) {
      assertUnauthorized(t, await call(h.app, 'GET', '/v1/users/me', { headers: { authorization: header } }), 'invalid_request', `Authorization: ${header.slice(0, 20)}`)
    }
    for (const secret of ['dl_unknownunknownunknownunknownunknownunknown1', 'not-even-a-dateline-token', h.editor.token.slice(0, -1)]) {
      assertUnauthorized(t, await me(secret), 'invalid_token', `unknown token ${secret.slice(0, 12)}`)
    }
    // A bad token on a public route is refused too, not quietly treated as anonymous.
    assertUnauthorized(t, await call(h.app, 'GET', '/v1/articles', { token: 'dl_nope' }), 'invalid_token', 'a bad token on a public route')
    const noToken = await call(h.app, 'GET', '/v1/users/me')
    t.equal(noToken.statusCode, 401, 'no token: 401')
    t.equal(noToken.headers['www-authenticate'], 'Bearer realm="dateline"', 'no token: a plain challenge')
    const lower = await call(h.app, 'GET', '/v1/users/me', { headers: { authorization: `bearer ${h.editor.token}` } })
    t.equal(lower.statusCode, 200, 'the scheme is case-insensitive')
    for (const sep of ['\t', '  ', ' \t ']) {
      t.equal((await call(h.app, 'GET', '/v1/users/me', { headers: { authorization: `Bearer${sep}${h.editor.token}` } })).statusCode, 200, `spaces and tabs separate the scheme (${JSON.stringify(sep)})`)
    }
  })

  await t.test('users: admins create, list, update and delete staff', async (t) => {
    const author = (await call(h.app, 'POST', '/v1/authors', { token: h.editor.token, body: { name: 'Casey Columnist' } })).json()
    const create = await call(h.app, 'POST', '/v1/users', { token: h.admin.token, body: { name: 'Casey', email: 'Casey@Example.test', role: 'author', authorId: author.id } })
    t.equal(create.statusCode, 201, 'an admin creates a user', { body: create.body })
    const casey = create.json()
    t.match(casey, { name: 'Casey', email: 'Casey@Example.test', role: 'author', authorId: author.id }, 'as given')
    t.equal(create.headers.location, `/v1/users/${casey.id}`, 'Location names the user')

    const list = (await call(h.app, 'GET', '/v1/users?limit=100', { token: h.admin.token })).json().data as Json[]
    t.ok(list.some((u) => u.id === casey.id), 'listed')
    t.equal(list.length, 5, 'four staff from the harness and Casey')
    t.equal((await call(h.app, 'GET', `/v1/users/${casey.id}`, { token: h.admin.token })).json().email, 'Casey@Example.test', 'read by id')

    const users = async () => (await rows(h, sql`select count(*)::int as n from users`))[0].n
    const before = await users()
    const dup = await call(h.app, 'POST', '/v1/users', { token: h.admin.token, body: { name: 'Other Casey', email: 'casey@example.TEST', role: 'editor' } })
    t.equal(dup.statusCode, 409, 'a duplicate email, in any case: 409')
    t.match(dup.json(), { status: 409, errors: [{ path: '/email' }] }, 'the problem names the field')
    t.equal(await users(), before, 'nothing created')

    const patch = await call(h.app, 'PATCH', `/v1/users/${casey.id}`, { token: h.admin.token, body: { name: 'Casey Jones', role: 'editor' } })
    t.equal(patch.statusCode, 200, 'an admin updates a user', { body: patch.body })
    t.match(patch.json(), { name: 'Casey Jones', role: 'editor' }, 'updated')
    const clash = await call(h.app, 'PATCH', `/v1/users/${casey.id}`, { token: h.admin.token, body: { email: (await me(h.editor.token)).json().email.toUpperCase() } })
    t.equal(clash.statusCode, 409, "taking another user's email: 409")
    t.equal((await call(h.app, 'PATCH', `/v1/users/${casey.id}`, { token: h.admin.token, body: { email: 'casey@example.test' } })).statusCode, 200, 'changing the case of their own email is fine')

    // Deleting a user ends their tokens.
    const tok = (await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { userId: casey.id, label: 'casey' } })).json().token
    t.equal((await me(tok)).statusCode, 200, "Casey's token works")
    t.equal((await call(h.app, 'DELETE', `/v1/users/${casey.id}`, { token: h.admin.token })).statusCode, 204, 'deleted')
    assertUnauthorized(t, await me(tok), 'invalid_token', "a deleted user's token")
    t.equal(await tokenCount(casey.id), 0, 'their tokens are gone')
    t.equal((await call(h.app, 'GET', `/v1/users/${casey.id}`, { token: h.admin.token })).statusCode, 404, 'then 404')
    t.equal((await call(h.app, 'DELETE', `/v1/users/${casey.id}`, { token: h.admin.token })).statusCode, 404, 'deleting again: 404')
  })

  await t.test('the last admin cannot be demoted or deleted', async (t) => {
    const admins = async () => (await rows<{ id: string }>(h, sql`select id from users where role = 'admin'`)).map((r) => r.id)
    t.same(await admins(), [h.admin.userId], 'one admin to start with')
    const demote = await call(h.app, 'PATCH', `/v1/users/${h.admin.userId}`, { token: h.admin.token, body: { role: 'editor' } })
    t.equal(demote.statusCode, 409, 'demoting the last admin: 409', { body: demote.body })
    t.equal(demote.json().code, 'INVALID_STATE', 'an illegal state change')
    t.equal((await call(h.app, 'DELETE', `/v1/users/${h.admin.userId}`, { token: h.admin.token })).statusCode, 409, 'deleting the last admin: 409')
    t.same(await admins(), [h.admin.userId], 'still the admin')
    t.equal((await call(h.app, 'PATCH', `/v1/users/${h.admin.userId}`, { token: h.admin.token, body: { name: 'Ada A.' } })).statusCode, 200, 'other changes to the last admin are fine')

    // With a second admin, the first may go; a role change applies to existing tokens at once.
    const newAdmin = async (name: string) => {
      const user = (await call(h.app, 'POST', '/v1/users', { token: h.admin.token, body: { name, email: `${name.toLowerCase()}@admins.test`, role: 'admin' } })).json()
      const token = (await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { userId: user.id, label: name } })).json().token as string
      return { id: user.id as string, token }
    }
    const bea = await newAdmin('Bea')
    t.equal((await call(h.app, 'PATCH', `/v1/users/${h.admin.userId}`, { token: bea.token, body: { role: 'editor' } })).statusCode, 200, 'with another admin, one may be demoted')
    t.equal((await call(h.app, 'GET', '/v1/users', { token: h.admin.token })).statusCode, 403, 'the demoted admin\'s token lost admin rights at once')
    t.equal((await call(h.app, 'PATCH', `/v1/users/${bea.id}`, { token: bea.token, body: { role: 'editor' } })).statusCode, 409, 'now Bea is the last admin')
    t.equal((await call(h.app, 'PATCH', `/v1/users/${h.admin.userId}`, { token: bea.token, body: { role: 'admin' } })).statusCode, 200, 'Ada is admin again')

    // Two admins removing each other at the same moment must not leave none.
    for (const round of [1, 2, 3]) {
      const x = await newAdmin(`X${round}`)
      const y = await newAdmin(`Y${round}`)
      // Leave exactly x and y as admins.
      for (const id of [h.admin.userId, bea.id]) await call(h.app, 'PATCH', `/v1/users/${id}`, { token: x.token, body: { role: 'editor' } })
      t.same((await admins()).sort(), [x.id, y.id].sort(), `round ${round}: two admins`)
      const remove = (u: { id: string }, by: { token: string }) => round === 2
        ? call(h.app, 'DELETE', `/v1/users/${u.id}`, { token: by.token })
        : call(h.app, 'PATCH', `/v1/users/${u.id}`, { token: by.token, body: { role: 'author' } })
      const results = await Promise.all([remove(x, y), remove(y, x)])
      t.same(results.map((r) => r.statusCode).sort(), [round === 2 ? 204 : 200, 409], `round ${round}: one ${round === 2 ? 'delete' : 'demotion'} wins, the other is refused`)
      const left = await admins()
      t.equal(left.length, 1, `round ${round}: one admin remains`)
      const survivor = left[0] === x.id ? x : y
      t.equal((await call(h.app, 'PATCH', `/v1/users/${h.admin.userId}`, { token: survivor.token, body: { role: 'admin' } })).statusCode, 200, 'restore Ada')
      for (const u of [x, y]) await call(h.app, 'DELETE', `/v1/users/${u.id}`, { token: h.admin.token })
    }
    await call(h.app, 'DELETE', `/v1/users/${bea.id}`, { token: h.admin.token })
    t.same(await admins(), [h.admin.userId], 'back to one admin')
    t.equal((await call(h.app, 'GET', '/v1/users', { token: h.admin.token })).statusCode, 200, 'who works as admin')
  })
})

t.test('repeated failed authentication from one client is rate limited', async (t) => {
  const h = await build(t, { env: { AUTH_FAILURE_LIMIT: '3' } })
  const from = (remoteAddress: string, token?: string) =>
    h.app.inject({ method: 'GET', url: '/v1/users/me', remoteAddress, headers: token ? { authorization: `Bearer ${token}` } : {} })
  for (let i = 1; i <= 3; i++) t.equal((await from('203.0.113.9', `dl_guess${i}`)).statusCode, 401, `failure ${i}: 401`)
  const limited = await from('203.0.113.9', 'dl_guess4')
  t.equal(limited.statusCode, 429, 'over the limit: 429')
  t.match(limited.headers['content-type'], /^application\/problem\+json/, '429 is problem+json')
  t.match(limited.json(), { status: 429, code: 'RATE_LIMITED' }, 'RATE_LIMITED')
  const retry = Number(limited.headers['retry-after'])
  t.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After is whole seconds within the window (${limited.headers['retry-after']})`)
  t.equal((await from('203.0.113.9', h.editor.token)).statusCode, 429, 'while blocked, even a right token is not checked (no oracle for guesses)')
  const anonymous = await h.app.inject({ method: 'GET', url: '/v1/articles', remoteAddress: '203.0.113.9' })
  t.equal(anonymous.statusCode, 200, 'anonymous reading is not blocked')
  t.equal((await from('198.51.100.7', h.editor.token)).statusCode, 200, 'another client is not affected')
  t.equal((await from('198.51.100.7', 'dl_wrong')).statusCode, 401, 'and has its own budget')
})

t.test('a burst of bad tokens sent at once gets no more 401s than the limit', async (t) => {
  const h = await build(t, { env: { AUTH_FAILURE_LIMIT: '5' } })
  const burst = await Promise.all(Array.from({ length: 30 }, () =>
    h.app.inject({ method: 'GET', url: '/v1/users/me', remoteAddress: '198.51.100.77', headers: { authorization: 'Bearer dl_wrong' } })))
  const statuses = burst.map((r) => r.statusCode)
  t.equal(statuses.filter((s) => s === 401).length, 5, 'five answered 401')
  t.equal(statuses.filter((s) => s === 429).length, 25, 'the rest 429')
  t.ok(burst.filter((r) => r.statusCode === 429).every((r) => Number(r.headers['retry-after']) >= 1), 'each with Retry-After')
})

t.test('the failure limiter counts per client in fixed windows', async (t) => {
  let now = 1_000_000
  const limiter = memoryFailureLimiter(2, 60, () => now)
  t.equal(await limiter.blockedFor('a'), 0, 'fresh client: not blocked')
  t.equal(await limiter.fail('a'), 0, 'a failure within the limit is answered as itself')
  t.equal(await limiter.blockedFor('a'), 0, 'under the limit')
  t.equal(await limiter.fail('a'), 0)
  t.equal(await limiter.blockedFor('a'), 60, 'at the limit: the rest of the window')
  t.equal(await limiter.fail('a'), 60, 'a failure past the limit is told to wait')
  t.equal(await limiter.blockedFor('b'), 0, 'other clients unaffected')
  now += 45_500
  t.equal(await limiter.blockedFor('a'), 15, 'seconds left, rounded up')
  now += 14_499
  t.equal(await limiter.blockedFor('a'), 1, 'never 0 while blocked')
  now += 1
  t.equal(await limiter.blockedFor('a'), 0, 'a new window starts afresh')
  await limiter.fail('a')
  t.equal(await limiter.blockedFor('a'), 0, 'one failure in the new window')
})
