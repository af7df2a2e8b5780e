// What the sitemaps list: published articles by month of publication, the newest ones for Google
// News, and every section, tag and author. Article reads walk the partial index of public
// articles (`articles_public_published_idx`, published_at desc) over a range of publication
// times, so a month costs its own rows whatever the size of the archive.
import { and, asc, desc, gte, lt, sql } from 'drizzle-orm'
import { rowsOf } from '../../db/batch.js'
import type { Db } from '../../db/client.js'
import { articles, authors, sections, tags } from '../../db/schema.js'
import { publicArticles } from '../articles/present.js'
import { photosByIds } from '../photos/service.js'

/** A month of publication (UTC): `2026-11`. */
export type Month = { year: number, month: number }
export const monthName = (m: Month) => `${m.year}-${String(m.month).padStart(2, '0')}`
const monthStart = (m: Month) => new Date(Date.UTC(m.year, m.month - 1, 1))
const monthEnd = (m: Month) => new Date(Date.UTC(m.year, m.month, 1))

export type MonthSummary = Month & { articles: number, lastmod: Date }

/**
 * Every month holding public articles, newest first, with how many and its newest change (its
 * newest publication or edit). The months come from the partial index of public articles, one
 * probe each (a loose index scan: the newest article before the month found last), and each
 * month's figures from that index's range of the month, so no step reads the whole table in one
 * scan or sorts it; the newest edit still needs each row's `updated_at` from the table.
 */
export async function articleMonths (db: Db, now: Date): Promise<MonthSummary[]> {
  const at = now.toISOString()
  const rows = await rowsOf<{ start: string, articles: number, lastmod: string }>(db, sql`
    with recursive months (start) as (
      select date_trunc('month', max(published_at) at time zone 'UTC') from articles
      where status in ('published', 'scheduled') and published_at <= ${at}::timestamptz
      union all
      select (select date_trunc('month', max(a.published_at) at time zone 'UTC') from articles a
              where a.status in ('published', 'scheduled') and a.published_at < (m.start at time zone 'UTC'))
      from months m where m.start is not null
    )
    select to_char(m.start, 'YYYY-MM') as start, s.articles, s.lastmod
    from months m cross join lateral (
      select count(*)::int as articles, max(greatest(a.published_at, a.updated_at)) as lastmod from articles a
      where a.status in ('published', 'scheduled') and a.published_at <= ${at}::timestamptz
        and a.published_at >= (m.start at time zone 'UTC') and a.published_at < ((m.start + interval '1 month') at time zone 'UTC')
    ) s
    where m.start is not null
    order by m.start desc`)
  return rows.map((r) => {
    const [year, m] = r.start.split('-').map(Number)
    return { year, month: m, articles: r.articles, lastmod: new Date(r.lastmod) }
  })
}

export type SitemapArticle = {
  id: string, slug: string, headline: string, publishedAt: Date, lastmod: Date,
  photo: { id: string, url: string, caption: string | null, altText: string | null } | null
}

const articleColumns = {
  id: articles.id,
  slug: articles.slug,
  headline: articles.headline,
  publishedAt: articles.publishedAt,
  updatedAt: articles.updatedAt,
  leadPhotoId: articles.leadPhotoId,
  leadPhotoCaption: articles.leadPhotoCaption
}
type ArticleRow = { id: string, slug: string, headline: string, publishedAt: Date | null, updatedAt: Date, leadPhotoId: string | null, leadPhotoCaption: string | null }

/** The rows with their lead photos (one query for all of them). */
async function withPhotos (db: Db, rows: ArticleRow[]): Promise<SitemapArticle[]> {
  const photos = await photosByIds(db, [...new Set(rows.flatMap((r) => (r.leadPhotoId ? [r.leadPhotoId] : [])))])
  return rows.map((r) => {
    const photo = r.leadPhotoId ? photos.get(r.leadPhotoId) : undefined
    const publishedAt = r.publishedAt!
    return {
      id: r.id,
      slug: r.slug,
      headline: r.headline,
      publishedAt,
      lastmod: r.updatedAt > publishedAt ? r.updatedAt : publishedAt,
      photo: photo ? { id: photo.id, url: photo.url, caption: r.leadPhotoCaption ?? photo.caption ?? null, altText: photo.altText ?? null } : null
    }
  })
}

/**
 * One page of a month's public articles, oldest first: the articles published later in the month
 * land on its last page, so the earlier pages keep their contents.
 */
export async function monthArticles (db: Db, m: Month, page: { offset: number, limit: number }, now: Date): Promise<SitemapArticle[]> {
  const rows = await db.select(articleColumns).from(articles)
    .where(and(publicArticles(now), gte(articles.publishedAt, monthStart(m)), lt(articles.publishedAt, monthEnd(m))))
    .orderBy(asc(articles.publishedAt), asc(articles.id))
    .limit(page.limit).offset(page.offset)
  return withPhotos(db, rows)
}

/** Public articles published since `since`, newest first, at most `limit`. */
export async function newsArticles (db: Db, since: Date, limit: number, now: Date): Promise<SitemapArticle[]> {
  const rows = await db.select(articleColumns).from(articles)
    .where(and(publicArticles(now), gte(articles.publishedAt, since)))
    .orderBy(desc(articles.publishedAt), desc(articles.id))
    .limit(limit)
  return withPhotos(db, rows)
}

export const directories = { sections, tags, authors } as const
export type Directory = keyof typeof directories

/** How many sections, tags or authors there are, and the newest change among them. */
export async function directorySummary (db: Db, kind: Directory): Promise<{ count: number, lastmod: Date | null }> {
  const table = directories[kind]
  const [row] = await db.select({ count: sql<number>`count(*)::int`, lastmod: sql<string | null>`max(${table.updatedAt})` }).from(table)
  return { count: row.count, lastmod: row.lastmod === null ? null : new Date(row.lastmod) }
}

/** One page of the sections, tags or authors, by slug. */
export async function directoryPage (db: Db, kind: Directory, page: { offset: number, limit: number }) {
  const table = directories[kind]
  return db.select({ id: table.id, slug: table.slug, updatedAt: table.updatedAt }).from(table)
    .orderBy(asc(table.slug)).limit(page.limit).offset(page.offset)
}
