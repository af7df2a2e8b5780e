// The change log: every public write is a row written in its own transaction, and caches evict
// exactly by its tags, on every instance, even when the writer dies or a listener goes silent.
import { execFileSync } from 'node:child_process'
import { eq, sql } from 'drizzle-orm'
import t from 'tap'
import { articles, changes } from '../src/db/schema.js'
import { articleState, recordArticleChange } from '../src/modules/articles/changes.js'
import { pruneChanges } from '../src/modules/changes/jobs.js'
import { ARTICLE_LISTS, articleListTag, entityTag } from '../src/lib/cache-tags.js'
import type { Db } from '../src/db/client.js'
import { makeSection, published, type Json } from './articles-fixtures.js'
import { build, call, testDatabaseUrl } from './helper.js'

const on = { PUBLIC_CACHE: 'true', CHANGES_POLL_MS: '200' }

/** Polls `check` until it holds; returns the milliseconds it took, or fails after `ms`. */
async function eventually (ms: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now()
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`not within ${ms} ms`)
}

t.test('change log and exact invalidation', async (t) => {
  const one = await build(t, { env: on })
  const two = await build(t, { env: on, database: one.database })
  const editor = one.editor.token
  const h = one
  const world = await makeSection(h, 'World')
  const sport = await makeSection(h, 'Sport')
  const a = await published(h, { headline: 'Harbour reopens', sectionId: world.id })
  const b = await published(h, { headline: 'Cup final tonight', sectionId: sport.id })
  const linking = await published(h, { headline: 'Ferries return', sectionId: sport.id, relatedArticleIds: [a.id] })
  const feed = async (after = 0, token = editor) => (await call(one.app, 'GET', `/v1/changes?after=${after}&limit=1000`, { token })).json().data as Json[]
  const urls = {
    a: `/v1/articles/${a.id}`,
    b: `/v1/articles/${b.id}`,
    linking: `/v1/articles/${linking.id}?include=relatedArticles`,
    front: '/v1/articles?limit=20',
    world: `/v1/articles?section=${world.id}`,
    sport: `/v1/articles?section=${sport.slug}`,
    sections: '/v1/sections'
  }
  type Name = keyof typeof urls
  const warm = async (app = two.app) => {
    for (const url of Object.values(urls)) await call(app, 'GET', url)
    for (const [name, url] of Object.entries(urls)) {
      if ((await call(app, 'GET', url)).headers['x-cache'] !== 'hit') throw new Error(`${name} is not cached`)
    }
  }
  // Once the other instance has read the log (at once, as a notification wakes it; or within its poll).
  const hits = async (app = two.app) => {
    await app.changeFollower.follow()
    const out: Partial<Record<Name, boolean>> = {}
    for (const [name, url] of Object.entries(urls) as Array<[Name, string]>) out[name] = (await call(app, 'GET', url)).headers['x-cache'] === 'hit'
    return out
  }

  t.test('anonymous reads carry their tags for outside caches; staff reads none', async (t) => {
    const page = await call(one.app, 'GET', urls.linking)
    const keys = String(page.headers['surrogate-key']).split(' ')
    t.ok(keys.includes(entityTag('article', linking.id)), 'its own tag')
    t.ok(keys.includes(entityTag('article', a.id)), 'the story it links to')
    t.notOk(keys.includes(entityTag('section', sport.id)), 'not its section, which it names by id only')
    const embedding = String((await call(one.app, 'GET', `${urls.linking},section`)).headers['surrogate-key']).split(' ')
    t.ok(embedding.includes(entityTag('section', sport.id)), 'its section, when it embeds it')
    t.same(String(page.headers['cache-tag']).split(','), keys, 'Cache-Tag names the same tags')
    t.ok(keys.every((k) => /^[a-z]+(-[a-z]+)?-[A-Za-z0-9_-]{11}$/.test(k)), 'short tags, hashed ids')
    const list = String((await call(one.app, 'GET', urls.world)).headers['surrogate-key']).split(' ')
    t.ok(list.includes(articleListTag('section', world.id)), 'a section\'s list: its family')
    t.notOk(list.includes(ARTICLE_LISTS), 'not every list\'s')
    t.ok(String((await call(one.app, 'GET', urls.front)).headers['surrogate-key']).split(' ').includes(ARTICLE_LISTS))
    const staff = await call(one.app, 'GET', urls.a, { token: editor })
    t.notOk(staff.headers['surrogate-key'])
    t.notOk(staff.headers['cache-tag'])
  })

  t.test('a draft\'s edits record nothing and evict nothing', async (t) => {
    const draft = (await call(one.app, 'POST', '/v1/articles', { token: editor, body: { headline: 'Night desk notes', sectionId: world.id } })).json()
    await warm()
    const before = (await feed()).length
    for (let i = 0; i < 3; i++) {
      t.equal((await call(one.app, 'PATCH', `/v1/articles/${draft.id}`, { token: editor, body: { standfirst: `Autosave ${i}` } })).statusCode, 200)
    }
    t.equal((await feed()).length, before, 'no change recorded')
    t.ok(Object.values(await hits()).every(Boolean), 'every cached page is still a hit on the other instance')
  })

  t.test('editing a published story evicts it, its lists and the stories linking to it; nothing else', async (t) => {
    await warm()
    t.equal((await call(one.app, 'PATCH', urls.a, { token: editor, body: { headline: 'Harbour reopens at last' } })).statusCode, 200)
    const after = await hits()
    t.same(after, { a: false, b: true, linking: false, front: false, world: false, sport: true, sections: true })
    t.equal((await call(two.app, 'GET', urls.a)).json().headline, 'Harbour reopens at last')
    const [last] = (await feed()).slice(-1)
    t.match(last, { entity: 'article', id: a.id, event: 'article.updated', data: { slug: a.slug } })
  })

  t.test('publishing evicts the lists the story can appear in', async (t) => {
    const fresh = (await call(one.app, 'POST', '/v1/articles', { token: editor, body: { headline: 'Storm warning', sectionId: world.id } })).json()
    await warm()
    t.equal((await call(one.app, 'POST', `/v1/articles/${fresh.id}/publish`, { token: editor })).statusCode, 200)
    t.same(await hits(), { a: true, b: true, linking: true, front: false, world: false, sport: true, sections: true })
    t.equal((await call(two.app, 'GET', urls.world)).json().data[0].headline, 'Storm warning')
  })

  t.test('unpublishing a linked story evicts the stories that link to it', async (t) => {
    await warm()
    t.equal((await call(one.app, 'POST', `/v1/articles/${a.id}/unpublish`, { token: editor })).statusCode, 200)
    const after = await hits()
    t.equal(after.linking, false)
    t.equal(after.b, true)
    t.same((await call(two.app, 'GET', urls.linking)).json().relatedArticleIds, [], 'the link is gone for readers')
    t.equal((await call(two.app, 'GET', urls.a)).statusCode, 404)
    t.equal((await call(one.app, 'POST', `/v1/articles/${a.id}/publish`, { token: editor })).statusCode, 200)
  })

  t.test('GET /v1/changes pages through a publish, an update and a delete', async (t) => {
    const start = (await feed()).at(-1)!.seq as number
    const story = (await call(one.app, 'POST', '/v1/articles', { token: editor, body: { headline: 'Bridge vote' } })).json()
    await call(one.app, 'POST', `/v1/articles/${story.id}/publish`, { token: editor })
    await call(one.app, 'PATCH', `/v1/articles/${story.id}`, { token: editor, body: { headline: 'Bridge vote passes' } })
    await call(one.app, 'POST', `/v1/articles/${story.id}/archive`, { token: editor })
    await call(one.app, 'DELETE', `/v1/articles/${story.id}`, { token: editor })
    const seen: Json[] = []
    let after = start
    for (;;) {
      const res = await call(one.app, 'GET', `/v1/changes?after=${after}&limit=1`, { token: h.author.token })
      t.equal(res.statusCode, 200)
      const body = res.json()
      seen.push(...body.data)
      after = body.meta.last
      if (!body.meta.hasMore) break
    }
    t.same(seen.map((c) => c.event), ['article.published', 'article.updated', 'article.archived'],
      'the archived story was no longer public: deleting it changes nothing for readers')
    t.ok(seen.every((c, i) => i === 0 || c.seq > seen[i - 1].seq), 'in order')
    t.ok(seen[0].tags.includes(entityTag('article', story.id)))
    t.equal((await call(one.app, 'GET', '/v1/changes')).statusCode, 401, 'staff only')
    const bad = await call(one.app, 'GET', '/v1/changes?after=-1', { token: editor })
    t.equal(bad.statusCode, 400)
    t.match(bad.json(), { errors: [{ path: '/after' }] })
  })

  t.test('a published story deleted: article.deleted', async (t) => {
    const gone = await published(h, { headline: 'Short-lived' })
    const last = (await feed()).at(-1)!.seq as number
    t.equal((await call(one.app, 'DELETE', `/v1/articles/${gone.id}`, { token: editor })).statusCode, 204)
    t.same((await feed(last)).map((c) => c.event), ['article.deleted'])
  })

  t.test('a writer that dies after its commit: the other instances apply the change anyway', async (t) => {
    await warm()
    const now = new Date()
    // The write and its change commit, and nothing after: no answer, no local eviction.
    await one.database.db.transaction(async (txn) => {
      const tx = txn as unknown as Db
      const before = await articleState(tx, b.id, now)
      await tx.update(articles).set({ headline: 'Cup final postponed' }).where(eq(articles.id, b.id))
      await recordArticleChange(tx, b.id, before, now)
    })
    const took = await eventually(2000, async () => (await call(two.app, 'GET', urls.b)).json().headline === 'Cup final postponed')
    t.ok(took < 2000, `seen on the other instance after ${took} ms`)
    t.equal((await call(two.app, 'GET', urls.world)).headers['x-cache'], 'hit', 'and nothing else was evicted')
  })

  t.test('a change rolled back leaves no row and evicts nothing', async (t) => {
    await warm()
    const last = (await feed()).at(-1)!.seq as number
    await one.database.db.transaction(async (txn) => {
      const tx = txn as unknown as Db
      const before = await articleState(tx, b.id, new Date())
      await tx.update(articles).set({ headline: 'Never happened' }).where(eq(articles.id, b.id))
      await recordArticleChange(tx, b.id, before, new Date())
      throw new Error('rolled back')
    }).catch(() => {})
    t.same(await feed(last), [])
    await two.app.changeFollower.follow()
    t.equal((await call(two.app, 'GET', urls.b)).headers['x-cache'], 'hit')
  })

  t.test('the log is pruned past its retention: a position before it is a 410, followers start over', async (t) => {
    await warm()
    const applied = two.app.changeFollower.applied
    const future = new Date(Date.now() + 40 * 86_400_000)
    let pruned = 0
    for (let n; (n = await pruneChanges(one.database.db, future, 30)) > 0;) pruned += n
    t.ok(pruned > 0, `${pruned} changes pruned`)
    t.equal((await one.database.db.select({ n: sql<number>`count(*)::int` }).from(changes))[0].n, 0)
    const gone = await call(one.app, 'GET', '/v1/changes?after=1', { token: editor })
    t.equal(gone.statusCode, 410, 'a position the log no longer holds')
    const fresh = await call(one.app, 'GET', '/v1/changes?after=0', { token: editor })
    t.equal(fresh.statusCode, 200, '0: from the oldest change kept, as a new client starts')
    t.ok(fresh.json().meta.last >= applied, 'and it goes on from the retention mark')
    t.match(gone.headers['content-type'], /^application\/problem\+json/)
    t.equal((await call(one.app, 'GET', `/v1/changes?after=${applied}`, { token: editor })).statusCode, 200, 'from where the log now starts: fine')
    // An instance that was behind the pruned point empties its cache.
    two.app.changeFollower.applied = 0
    await two.app.changeFollower.follow()
    t.notOk(Object.values(await hits()).some(Boolean), 'its cache started over')
  })

  t.test('readiness reports the follower\'s lag', async (t) => {
    const ready = await call(two.app, 'GET', '/health/ready')
    t.equal(ready.statusCode, 200)
    t.match(ready.json().changes, { applied: Number, lagSeconds: Number })
    two.app.changeFollower.lastRead = Date.now() - 60_000
    const behind = await call(two.app, 'GET', '/health/ready')
    t.equal(behind.statusCode, 503)
    t.match(behind.json().detail, /change log/)
    await two.app.changeFollower.follow()
    t.equal((await call(two.app, 'GET', '/health/ready')).statusCode, 200)
  })
})

t.test('an entry is served for PUBLIC_CACHE_MAX_AGE_SECONDS at most', async (t) => {
  const h = await build(t, { env: { PUBLIC_CACHE: 'true', PUBLIC_CACHE_MAX_AGE_SECONDS: '1' } })
  const story = await published(h, { headline: 'Tide tables' })
  await call(h.app, 'GET', `/v1/articles/${story.id}`)
  t.equal((await call(h.app, 'GET', `/v1/articles/${story.id}`)).headers['x-cache'], 'hit')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.notOk((await call(h.app, 'GET', `/v1/articles/${story.id}`)).headers['x-cache'], 'too old: computed again')
})

// A listening connection gone silent without closing (a paused server process here): the
// follower's timer still reads the log, so the change arrives within the poll interval.
t.test('a silent listener is caught within the bound', { skip: testDatabaseUrl && process.getuid?.() === 0 ? false : 'PostgreSQL, as root (stops a server process)' }, async (t) => {
  const one = await build(t, { env: on })
  const two = await build(t, { env: on, database: one.database })
  const story = await published(one, { headline: 'Lock gates fixed' })
  const url = `/v1/articles/${story.id}`
  await two.app.changeFollower.follow() // the publication's change, applied before warming
  await call(two.app, 'GET', url)
  t.equal((await call(two.app, 'GET', url)).headers['x-cache'], 'hit')
  const listeners = (await one.database.db.execute(sql`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`)) as unknown as { rows: Array<{ pid: number }> }
  const pids = listeners.rows.map((r) => r.pid)
  t.ok(pids.length >= 2, `${pids.length} listening connections`)
  const signal = (name: string) => { for (const pid of pids) execFileSync('kill', [`-${name}`, String(pid)]) }
  signal('STOP')
  t.teardown(() => signal('CONT'))
  const start = Date.now()
  t.equal((await call(one.app, 'PATCH', url, { token: one.editor.token, body: { headline: 'Lock gates fixed at last' } })).statusCode, 200)
  await eventually(2000, async () => (await call(two.app, 'GET', url)).json().headline === 'Lock gates fixed at last')
  const took = Date.now() - start
  t.ok(took < 2000, `seen ${took} ms after the write began, with no notification delivered`)
  signal('CONT')
})
