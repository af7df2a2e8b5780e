// The demo seed: what it loads, as the public and staff see it through the API, and that it
// is all-or-nothing and runs only on an empty database.
import t from 'tap'
import { count } from 'drizzle-orm'
import type { Db } from '../src/db/client.js'
import { articleAuthors, articleBodyPhotos, articleRelated, articleTags, articles, authors, photos, sections, tags } from '../src/db/schema.js'
import { seedDemo, seedIfEmpty, type SeedSummary } from '../src/cli/seed-data.js'
import { build, call } from './helper.js'

const tables = { articles, authors, photos, sections, tags, articleAuthors, articleTags, articleRelated, articleBodyPhotos }

async function counts (db: Db) {
  const out: Record<string, number> = {}
  for (const [name, table] of Object.entries(tables)) out[name] = Number((await db.select({ n: count() }).from(table))[0].n)
  return out
}

/** A view of db whose inserts fail once `limit` have run, in nested transactions too. */
function failingAfter (db: Db, limit: number) {
  let inserts = 0
  const wrap = (target: any): any => new Proxy(target, {
    get (obj, prop) {
      if (prop === 'insert') {
        return (...args: unknown[]) => {
          if (++inserts > limit) throw new Error('injected failure')
          return obj.insert(...args)
        }
      }
      if (prop === 'transaction') return (fn: (tx: unknown) => Promise<unknown>, config?: unknown) => obj.transaction((tx: unknown) => fn(wrap(tx)), config)
      return Reflect.get(obj, prop, obj)
    }
  })
  return { db: wrap(db) as Db, inserts: () => inserts }
}

t.test('demo seed', async (t) => {
  const h = await build(t)
  const db = h.database.db
  const now = new Date()
  const before = await counts(db)
  t.equal(before.articles, 0)

  await t.test('a failure midway leaves nothing written', async (t) => {
    const failing = failingAfter(db, 60)
    await t.rejects(seedDemo(failing.db, now), /injected failure/)
    t.ok(failing.inserts() > 40, 'it got as far as the articles')
    t.same(await counts(db), before)

    await t.rejects(db.transaction(async (tx) => {
      t.equal(await seedIfEmpty(tx as unknown as Db, now), true, 'an empty database is seeded')
      t.ok((await counts(tx as unknown as Db)).articles > 0)
      throw new Error('roll back')
    }), /roll back/)
    t.same(await counts(db), before, 'a seed inside a transaction that fails is undone with it')
  })

  let summary!: SeedSummary
  await t.test('seedDemo loads everything; seedIfEmpty then does nothing', async (t) => {
    summary = await seedDemo(db, now)
    t.match(summary, { authors: 5, sections: 5, tags: 10, photos: 6, articles: { total: 30, published: 24, scheduled: 2, draft: 3, archived: 1 } })
    const after = await counts(db)
    t.equal(after.articles, summary.articles.total)
    t.equal(after.authors - before.authors, 5)
    t.same([after.photos, after.sections, after.tags], [6, 5, 10])
    t.equal(await seedIfEmpty(db, now), false)
    t.same(await counts(db), after, 'the second call adds nothing')
  })

  await t.test('the public sees the published articles only', async (t) => {
    const res = await call(h.app, 'GET', '/v1/articles', { query: { limit: '100' } })
    t.equal(res.statusCode, 200)
    const { data, meta } = res.json()
    t.equal(data.length, summary.articles.published)
    t.equal(meta.nextCursor, null)
    t.ok(data.every((a: { status: string }) => a.status === 'published'))
    const times = data.map((a: { publishedAt: string }) => Date.parse(a.publishedAt))
    t.ok(times.every((x: number) => x <= now.getTime() && x > now.getTime() - 31 * 86_400_000), 'published within the last month')
  })

  await t.test('staff see drafts, scheduled and archived; scheduled ones are not public', async (t) => {
    for (const [status, n] of [['draft', 3], ['scheduled', 2], ['archived', 1]] as const) {
      const res = await call(h.app, 'GET', '/v1/articles', { token: h.editor.token, query: { status, limit: '100' } })
      t.equal(res.statusCode, 200)
      t.equal(res.json().data.length, n, status)
    }
    const scheduled = (await call(h.app, 'GET', '/v1/articles', { token: h.editor.token, query: { status: 'scheduled' } })).json().data
    for (const a of scheduled) {
      t.ok(Date.parse(a.publishedAt) > now.getTime(), 'scheduled in the future')
      t.equal((await call(h.app, 'GET', `/v1/articles/${a.id}`)).statusCode, 404)
      t.equal((await call(h.app, 'GET', `/v1/articles/by-slug/${a.slug}`)).statusCode, 404)
    }
  })

  await t.test('the featured article: byline in order, caption override, Also read', async (t) => {
    const res = await call(h.app, 'GET', `/v1/articles/by-slug/${summary.featured.slug}`, { query: { include: 'authors,leadPhoto,relatedArticles' } })
    t.equal(res.statusCode, 200)
    const a = res.json()
    t.equal(a.headline, 'Council passes budget with 38 million crowns for flood barrier upgrade')
    t.same(a.authors.map((x: { name: string }) => x.name), ['Mira Castellane', 'Tobias Wrenfield', 'Hana Okafor'])
    t.ok(a.authors.every((x: Record<string, unknown>) => !('email' in x)), 'no private email for the public')
    t.match(a.leadPhoto, { caption: /^The Velle flood barrier, which will be refitted/, credit: 'PHOTO: Harbour Authority', mimeType: 'image/jpeg' })
    const own = (await call(h.app, 'GET', `/v1/photos/${a.leadPhotoId}`)).json()
    t.not(own.caption, a.leadPhoto.caption, 'the override is the article’s, not the photo’s')
    t.match(a.bodyHtml, /Also read: <a href="\/articles\/budget-debate-[^"]+">Budget debate: opposition demands more money for flood defences<\/a>/)
    t.equal(a.relatedArticles.length, 2)
    t.ok(a.body.length >= 3 && a.body.length <= 8)
  })

  await t.test('every block type is used, 3 to 8 blocks an article', async (t) => {
    const res = await call(h.app, 'GET', '/v1/articles', { token: h.editor.token, query: { fields: 'body,dateline,tagIds,sectionId', limit: '100', status: 'any' } })
    const data: Array<{ body: Array<{ type: string }>, dateline: string, tagIds: string[], sectionId: string }> = res.json().data
    t.equal(data.length, 30)
    t.ok(data.every((a) => a.body.length >= 3 && a.body.length <= 8 && a.tagIds.length >= 1 && a.tagIds.length <= 3 && a.sectionId && /^[A-Z ]+$/.test(a.dateline)))
    t.same([...new Set(data.flatMap((a) => a.body.map((b) => b.type)))].sort(), ['embed', 'heading', 'list', 'paragraph', 'photo', 'quote', 'related'])
  })

  await t.test('every article was created, then published or scheduled, then updated, in that order', async (t) => {
    const res = await call(h.app, 'GET', '/v1/articles', { token: h.editor.token, query: { fields: 'headline,status,createdAt,publishedAt,modifiedAt', limit: '100', status: 'any' } })
    const data: Array<{ headline: string, status: string, createdAt: string, publishedAt: string | null, modifiedAt: string }> = res.json().data
    t.equal(data.length, 30)
    // The technical times the seed wrote (staff see them as modifiedAt).
    const at = (s: string) => Date.parse(s)
    // What the seed made before its stories (the test's own staff authors aside).
    const setUp: number[] = []
    for (const url of ['/v1/photos', '/v1/authors', '/v1/sections', '/v1/tags']) {
      const items: Array<{ createdAt: string, links?: { website?: string } }> = (await call(h.app, 'GET', url, { query: { limit: '100' } })).json().data
      setUp.push(...items.filter((x) => url !== '/v1/authors' || x.links?.website?.startsWith('https://dateline.example/')).map((x) => at(x.createdAt)))
    }
    t.equal(setUp.length, 6 + 5 + 5 + 10)
    const firstStory = Math.min(...data.map((a) => at(a.createdAt)))
    for (const a of data) {
      const [created, updated] = [at(a.createdAt), at(a.modifiedAt)]
      t.ok(created <= updated && updated <= now.getTime(), `${a.headline}: created ${a.createdAt} <= updated ${a.modifiedAt} <= now`)
      if (a.status === 'draft') {
        t.equal(a.publishedAt, null)
      } else if (a.status === 'scheduled') {
        t.ok(updated < at(a.publishedAt!), `${a.headline}: scheduled (${a.modifiedAt}) before it goes out (${a.publishedAt})`)
      } else {
        const published = at(a.publishedAt!)
        t.ok(created < published && published <= updated, `${a.headline}: created ${a.createdAt} < published ${a.publishedAt} <= updated ${a.modifiedAt}`)
        if (a.status === 'archived') t.ok(published < updated, 'archived after it was published')
      }
    }
    t.ok(setUp.every((x) => x <= firstStory), 'photos, authors, sections and tags existed before the first story')
  })

  await t.test('full-text search finds several stories on a shared word', async (t) => {
    for (const [q, atLeast] of [['flood', 8], ['budget', 4], ['election', 3]] as const) {
      const res = await call(h.app, 'GET', '/v1/articles', { query: { q, limit: '100' } })
      t.equal(res.statusCode, 200)
      t.ok(res.json().data.length >= atLeast, `${q}: ${res.json().data.length} results`)
    }
  })
})
