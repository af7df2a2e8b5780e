// Who sees a photo: anyone once something public uses it (a published article's lead or body
// photo, an author's avatar) or an editor marks it public; until then staff only, and its files
// under /media too. Worked out at read time, so a scheduled article's photos go public with it.
import t, { type Test } from 'tap'
import { eq, sql } from 'drizzle-orm'
import sharp from 'sharp'
import { build, call } from './helper.js'
import { photos } from '../src/db/schema.js'
import { canvas, filePart, IMMUTABLE, upload } from './photos-upload-helpers.js'
import { expectStatus, makeArticle } from './articles-fixtures.js'

type Json = Record<string, any>
const HOUR = 3_600_000

t.test('photos are public only when something public uses them, or an editor says so', async (t) => {
  let clock = new Date('2026-06-01T08:00:00.000Z')
  // The public cache is on: what it holds must follow publication and the editor's mark.
  const h = await build(t, { now: () => clock, env: { PUBLIC_CACHE: 'true' } })
  let seed = 900
  const add = async (token = h.author.token, data?: Buffer): Promise<Json> => {
    const file = data ?? await sharp(await canvas(400, 300, seed++)).jpeg().toBuffer()
    return expectStatus(await upload(h, token, [{ name: 'caption', value: `Photo ${seed}` }, filePart(file)]), 201)
  }
  const files = (p: Json): string[] => [p.url, ...p.renditions.map((r: Json) => r.url)]
  const anonList = async (query = '') => (await call(h.app, 'GET', `/v1/photos?limit=100&total=true${query}`)).json()
  const anonIds = async () => (await anonList()).data.map((p: Json) => p.id)

  /** Everything the public can reach of a photo, and what staff can. */
  async function assertPrivate (t: Test, p: Json, what: string) {
    t.notOk((await anonIds()).includes(p.id), `${what}: not in the public list`)
    const one = await call(h.app, 'GET', `/v1/photos/${p.id}`)
    t.equal(one.statusCode, 404, `${what}: a 404 by id`)
    t.equal(one.headers['cache-control'], 'no-store')
    for (const url of files(p)) {
      const res = await call(h.app, 'GET', url)
      t.equal(res.statusCode, 404, `${what}: ${url} is a 404`)
      t.notMatch(String(res.headers['cache-control']), /public|immutable/, `${what}: the 404 is not kept by caches`)
      t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
      const staff = await call(h.app, 'GET', url, { token: h.otherAuthor.token })
      t.equal(staff.statusCode, 200, `${what}: staff get ${url}`)
      t.equal(staff.headers['cache-control'], 'private, no-store', `${what}: never kept by a shared cache`)
      t.ok(staff.rawPayload.length > 0)
    }
    const ranged = await call(h.app, 'GET', p.url, { headers: { range: 'bytes=0-9' } })
    t.equal(ranged.statusCode, 404, `${what}: no byte of it either`)
    const staffOne = await call(h.app, 'GET', `/v1/photos/${p.id}`, { token: h.author.token })
    t.equal(staffOne.statusCode, 200, `${what}: staff read it`)
    t.equal(staffOne.headers['cache-control'], 'private, no-store')
    t.ok((await call(h.app, 'GET', '/v1/photos?limit=100', { token: h.author.token })).json().data.some((x: Json) => x.id === p.id), `${what}: staff list it`)
  }
  async function assertPublic (t: Test, p: Json, what: string) {
    t.ok((await anonIds()).includes(p.id), `${what}: in the public list`)
    const one = await call(h.app, 'GET', `/v1/photos/${p.id}`)
    t.equal(one.statusCode, 200, `${what}: readable by id`)
    t.match(one.headers['cache-control'], /^public/)
    for (const url of files(p)) {
      const res = await call(h.app, 'GET', url)
      t.equal(res.statusCode, 200, `${what}: ${url} served`)
      t.equal(res.headers['cache-control'], IMMUTABLE)
    }
  }

  await t.test('a draft\'s and an embargoed story\'s lead photo stay private until the story goes out', async (t) => {
    const lead = await add()
    const inBody = await add()
    t.equal(lead.public, false, 'not marked public')
    const draft = await makeArticle(h, { headline: 'Embargoed merger', leadPhotoId: lead.id, body: [{ type: 'photo', photoId: inBody.id }] })
    await assertPrivate(t, lead, 'a draft\'s lead photo')
    await assertPrivate(t, inBody, 'a draft\'s body photo')
    const before = await anonList()

    // Scheduled for ten o'clock: still private at nine, public from ten.
    expectStatus(await call(h.app, 'POST', `/v1/articles/${draft.id}/publish`, { token: h.editor.token, body: { publishedAt: new Date(clock.getTime() + 2 * HOUR).toISOString() } }), 200)
    clock = new Date(clock.getTime() + HOUR)
    await assertPrivate(t, lead, 'a scheduled story\'s lead photo, before its time')
    t.equal((await anonList()).meta.total, before.meta.total, 'the public total counts public photos only')
    clock = new Date(clock.getTime() + HOUR)
    // What the instance's timer does within CHANGES_POLL_MS: the story going out is a change,
    // which evicts the photo list the cache holds.
    await h.app.changeJobs.tick()
    await h.app.changeFollower.follow()
    await assertPublic(t, lead, 'the lead photo once the story is out')
    await assertPublic(t, inBody, 'the body photo once the story is out')
    t.equal((await anonList()).meta.total, before.meta.total + 2)

    // Unpublished again: private again.
    expectStatus(await call(h.app, 'POST', `/v1/articles/${draft.id}/unpublish`, { token: h.editor.token }), 200)
    await assertPrivate(t, lead, 'the lead photo of a story taken down')
  })

  await t.test('an author\'s avatar is public: authors are', async (t) => {
    const avatar = await add(h.editor.token)
    await assertPrivate(t, avatar, 'a new photo')
    expectStatus(await call(h.app, 'POST', '/v1/authors', { token: h.editor.token, body: { name: 'Pia Portrait', avatarId: avatar.id } }), 201)
    await assertPublic(t, avatar, 'an avatar')
  })

  await t.test('editors mark a photo public; authors may not', async (t) => {
    const p = await add()
    const refused = await call(h.app, 'PATCH', `/v1/photos/${p.id}`, { token: h.author.token, body: { public: true } })
    t.equal(refused.statusCode, 403, 'the photo\'s own author: 403')
    t.match(refused.json(), { code: 'FORBIDDEN' })
    const [row] = await h.database.db.select().from(photos).where(eq(photos.id, p.id))
    t.equal(row.public, false, 'nothing written')
    t.equal(row.version, 1)
    await assertPrivate(t, p, 'after the refusal')

    const marked = await call(h.app, 'PATCH', `/v1/photos/${p.id}`, { token: h.editor.token, body: { public: true } })
    t.equal(expectStatus(marked, 200).public, true)
    await assertPublic(t, p, 'marked public')
    const unmarked = await call(h.app, 'PATCH', `/v1/photos/${p.id}`, { token: h.admin.token, body: { public: false } })
    t.equal(expectStatus(unmarked, 200).public, false)
    await assertPrivate(t, p, 'unmarked')
    const bad = await call(h.app, 'PATCH', `/v1/photos/${p.id}`, { token: h.editor.token, body: { public: 'yes' } })
    t.equal(bad.statusCode, 400)
    t.match(bad.json().errors, [{ path: '/public' }])
  })

  await t.test('a file shared by several photos is public when one of them is', async (t) => {
    const bytes = await sharp(await canvas(400, 300, seed++)).png().toBuffer()
    const hidden = await add(h.author.token, bytes)
    const twin = await add(h.otherAuthor.token, bytes)
    t.equal(twin.url, hidden.url, 'one set of files')
    await assertPrivate(t, twin, 'both private')
    const published = await makeArticle(h, { headline: 'Out now', leadPhotoId: twin.id })
    expectStatus(await call(h.app, 'POST', `/v1/articles/${published.id}/publish`, { token: h.editor.token }), 200)
    for (const url of files(hidden)) t.equal((await call(h.app, 'GET', url)).statusCode, 200, `${url}: served, as a public photo uses it`)
    t.equal((await call(h.app, 'GET', `/v1/photos/${hidden.id}`)).statusCode, 404, 'the other photo row stays private')
  })

  await t.test('a bad token on /media is a 401, not an anonymous read', async (t) => {
    const res = await call(h.app, 'GET', (await add()).url, { token: 'dl_nope' })
    t.equal(res.statusCode, 401)
  })

  await t.test('the public visibility is one query, not a query a photo', async (t) => {
    const { rows } = await h.database.db.execute(sql`select count(*)::int as n from photos`) as unknown as { rows: Array<{ n: number }> }
    t.ok(Number(rows[0].n) >= 7, 'several photos')
    h.queries.length = 0
    await call(h.app, 'GET', '/v1/photos?limit=100&q=photo')
    t.ok(h.queries.length <= 2, `${h.queries.length} queries for the page`)
  })
})

