// Relevance search ranks only the newest matches (SEARCH_RANK_WINDOW), so a common word costs
// the same as a rare one; sorting by date still reaches every match.
import t from 'tap'
import { eq } from 'drizzle-orm'
import { articles } from '../src/db/schema.js'
import { SEARCH_RANK_WINDOW } from '../src/modules/articles/service.js'
import { walk } from './assertions.js'
import { build, call } from './helper.js'

t.test('relevance search ranks the newest matches only', async (t) => {
  const now = new Date('2026-06-01T12:00:00.000Z')
  const h = await build(t, { now: () => now })
  const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000)
  // The oldest match mentions the word most often: it would rank first if every match were ranked.
  const rows = Array.from({ length: SEARCH_RANK_WINDOW }, (_, i) => ({
    slug: `zebra-crossing-${i}`, headline: `Zebra crossing ${i}`, status: 'published' as const, publishedAt: at(i + 1), createdAt: at(i + 1)
  }))
  rows.push({ slug: 'zebra-zebra-zebra', headline: 'Zebra zebra zebra', status: 'published', publishedAt: at(SEARCH_RANK_WINDOW + 10), createdAt: at(SEARCH_RANK_WINDOW + 10) })
  await h.app.db.insert(articles).values(rows)

  const slugs = async (query: Record<string, string>, token?: string) =>
    (await walk(t, h, '/v1/articles', { ...query, limit: '100', fields: 'slug' }, token)).map((a) => a.slug as string)
  const ranked = await slugs({ q: 'zebra' })
  t.equal(ranked.length, SEARCH_RANK_WINDOW, 'as many results as the window holds')
  t.notOk(ranked.includes('zebra-zebra-zebra'), 'an older match beyond the window is not ranked')
  t.equal(new Set(ranked).size, ranked.length, 'no result twice across pages')
  const byDate = await slugs({ q: 'zebra', sort: '-publishedAt' })
  t.equal(byDate.length, SEARCH_RANK_WINDOW + 1, 'sorted by date, every match')
  t.equal(byDate.at(-1), 'zebra-zebra-zebra')

  // Staff rank the most recently created matches: a draft made last comes in, the oldest goes.
  await h.app.db.insert(articles).values({ slug: 'zebra-draft', headline: 'Zebra draft', status: 'draft', createdAt: new Date(now.getTime() + 1000) })
  const staff = await slugs({ q: 'zebra', status: 'any' }, h.editor.token)
  t.equal(staff.length, SEARCH_RANK_WINDOW)
  t.ok(staff.includes('zebra-draft'), 'the newest draft is ranked for staff')
  t.notOk((await slugs({ q: 'zebra' })).includes('zebra-draft'), 'never for the public')

  // Within the window, relevance still decides: move the strong match into its middle, where
  // date order would not put it first.
  await h.app.db.update(articles).set({ publishedAt: at(SEARCH_RANK_WINDOW / 2) }).where(eq(articles.slug, 'zebra-zebra-zebra'))
  const top = await call(h.app, 'GET', '/v1/articles', { query: { q: 'zebra', limit: '1', fields: 'slug' } })
  t.equal(top.json().data[0].slug, 'zebra-zebra-zebra', 'the strongest match first once it is among the newest')
})
