// Shared set-up for the comments tests: published articles, comments posted through the real
// API from chosen client addresses, and rows read straight from the database.
import { randomInt } from 'node:crypto'
import { and, asc, count, eq } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../src/app.js'
import { articles, commentModerations, comments } from '../src/db/schema.js'
import { call, type Harness } from './helper.js'

export type Json = Record<string, any>

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
export const MISSING = '00000000-0000-4000-8000-000000000000'

/** Throws (so the calling test fails loudly) unless the response has the expected status. */
export function expectStatus (res: LightMyRequestResponse, status: number): Json {
  if (res.statusCode !== status) throw new Error(`expected ${status}, got ${res.statusCode}: ${res.body}`)
  return res.body === '' ? {} : res.json()
}

/** A clock the tests move by hand; `build(t, { now: clock.now })`. */
export function manualClock (start = Date.now()) {
  const clock = {
    t: Math.floor(start / 1000) * 1000,
    now: () => new Date(clock.t),
    advance: (ms: number) => { clock.t += ms },
    iso: () => new Date(clock.t).toISOString()
  }
  return clock
}

// Each post comes from its own address unless the test names one, so the per-client flood
// limit and the repeat screen only bite where a test means them to.
// A random start keeps reruns apart where counters outlive the process (Redis).
let addressSeq = randomInt(0, 1 << 23)
export const freshAddress = () => {
  addressSeq++
  return `10.${(addressSeq >> 16) & 255}.${(addressSeq >> 8) & 255}.${addressSeq & 255}`
}

let bodySeq = 0
/** A valid comment with a body never used before, so the repeat screen stays quiet. */
export const draftComment = (overrides: Json = {}): Json => ({
  authorName: 'Rita Reader',
  authorEmail: 'rita@reader.test',
  body: `A considered remark, number ${++bodySeq}.`,
  ...overrides
})

export type PostOptions = { address?: string, token?: string, headers?: Record<string, string> }

export function postComment (app: App, articleId: string, payload: unknown, opts: PostOptions = {}) {
  return app.inject({
    method: 'POST',
    url: `/v1/articles/${articleId}/comments`,
    remoteAddress: opts.address ?? freshAddress(),
    headers: { ...opts.headers, ...(opts.token && { authorization: `Bearer ${opts.token}` }) },
    payload: payload as object
  })
}

/** Posts and insists on a 201. */
export async function posted (app: App, articleId: string, overrides: Json = {}, opts: PostOptions = {}): Promise<Json> {
  return expectStatus(await postComment(app, articleId, draftComment(overrides), opts), 201)
}

let articleSeq = 0
/** A published article made by the harness's editor. */
export async function publishedArticle (h: Harness, extra: Json = {}, app: App = h.app): Promise<Json> {
  const n = ++articleSeq
  const a = expectStatus(await call(app, 'POST', '/v1/articles', {
    token: h.editor.token,
    body: { headline: `Comment desk story ${n}`, body: [{ type: 'paragraph', text: 'Something happened.' }], ...extra }
  }), 201)
  return expectStatus(await call(app, 'POST', `/v1/articles/${a.id}/publish`, { token: h.editor.token }), 200)
}

export async function draftArticle (h: Harness): Promise<Json> {
  return expectStatus(await call(h.app, 'POST', '/v1/articles', {
    token: h.editor.token,
    body: { headline: `Unpublished story ${++articleSeq}`, body: [{ type: 'paragraph', text: 'Not yet.' }] }
  }), 201)
}

export async function setStatus (h: Harness, id: string, status: string, token = h.editor.token): Promise<Json> {
  return expectStatus(await call(h.app, 'PATCH', `/v1/comments/${id}`, { token, body: { status } }), 200)
}

/** A published article with an approved comment on it. */
export async function approvedComment (h: Harness, articleId: string, overrides: Json = {}): Promise<Json> {
  const c = await posted(h.app, articleId, overrides)
  return setStatus(h, c.id, 'approved')
}

// ---- the database, read directly

export async function commentRow (h: Harness, id: string) {
  return (await h.database.db.select().from(comments).where(eq(comments.id, id)))[0]
}

export async function commentCountOf (h: Harness, articleId: string): Promise<number> {
  const [row] = await h.database.db.select({ n: articles.commentCount }).from(articles).where(eq(articles.id, articleId))
  if (!row) throw new Error(`no article ${articleId}`)
  return row.n
}

/** The approved comments of an article, counted in the comments table itself. */
export async function approvedInDb (h: Harness, articleId: string): Promise<number> {
  return (await h.database.db.select({ n: count() }).from(comments)
    .where(and(eq(comments.articleId, articleId), eq(comments.status, 'approved'))))[0].n
}

export async function totalComments (h: Harness): Promise<number> {
  return (await h.database.db.select({ n: count() }).from(comments))[0].n
}

export async function totalModerations (h: Harness): Promise<number> {
  return (await h.database.db.select({ n: count() }).from(commentModerations))[0].n
}

export async function commentsOf (h: Harness, articleId: string) {
  return h.database.db.select().from(comments).where(eq(comments.articleId, articleId)).orderBy(asc(comments.createdAt))
}

/** Every key anywhere in a JSON value. */
export function allKeys (value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) allKeys(v, into)
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) { into.add(k); allKeys(v, into) }
  }
  return into
}
