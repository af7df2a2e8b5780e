// Shared set-up for the articles tests: make sections, tags, photos, authors and articles
// through the real API, and count rows straight from the database.
import { count } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import {
  articleAuthors, articleBodyPhotos, articleRelated, articleRevisions, articleTags, articles
} from '../src/db/schema.js'
import { call, type Harness } from './helper.js'

export type Json = Record<string, any>

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
export const MISSING = '00000000-0000-4000-8000-000000000000'

/** Throws (so the calling test fails loudly) unless the response has the expected status. */
export function expectStatus (res: LightMyRequestResponse, status: number): Json {
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body}`)
  return res.body === '' ? {} : res.json()
}

export async function post (h: Harness, url: string, body?: unknown, token = h.editor.token): Promise<Json> {
  const res = await call(h.app, 'POST', url, { token, body })
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

export const makeSection = (h: Harness, name: string) => post(h, '/v1/sections', { name })
export const makeTag = (h: Harness, name: string) => post(h, '/v1/tags', { name })
export const makeAuthor = (h: Harness, name: string) => post(h, '/v1/authors', { name })
export const makePhoto = (h: Harness, extra: Json = {}) =>
  post(h, '/v1/photos', { url: 'https://img.example/photo.jpg', caption: 'Own caption', credit: 'PHOTO: AP', altText: 'A river', width: 1200, height: 800, ...extra })
export const makeArticle = (h: Harness, body: Json, token = h.editor.token) => post(h, '/v1/articles', body, token)
export const publish = (h: Harness, id: string, publishedAt?: string) =>
  post(h, `/v1/articles/${id}/publish`, publishedAt === undefined ? undefined : { publishedAt })

/** A published article, made by an editor. */
export async function published (h: Harness, body: Json, publishedAt?: string) {
  const a = await makeArticle(h, body)
  return publish(h, a.id, publishedAt)
}

export async function rowCounts (h: Harness) {
  const db = h.database.db
  const n = async (table: typeof articles | typeof articleAuthors | typeof articleTags | typeof articleRelated | typeof articleBodyPhotos | typeof articleRevisions) =>
    (await db.select({ n: count() }).from(table))[0].n
  return {
    articles: await n(articles),
    bylines: await n(articleAuthors),
    tags: await n(articleTags),
    related: await n(articleRelated),
    bodyPhotos: await n(articleBodyPhotos),
    revisions: await n(articleRevisions)
  }
}

/** Every page of a list, following nextCursor; `between` runs after each page. */
export async function walk (h: Harness, query: Record<string, string>, opts: { token?: string, between?: (page: number) => Promise<void> } = {}) {
  const items: Json[] = []
  let cursor: string | undefined
  for (let page = 0; page < 100; page++) {
    const res = await call(h.app, 'GET', '/v1/articles', { token: opts.token, query: { ...query, ...(cursor && { cursor }) } })
    const body = expectStatus(res, 200)
    items.push(...body.data)
    cursor = body.meta.nextCursor ?? undefined
    if (!cursor) return { items, pages: page + 1 }
    await opts.between?.(page)
  }
  throw new Error('more than 100 pages')
}
