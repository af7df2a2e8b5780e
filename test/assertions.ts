// Assertions shared by the resource suites.
import type { Test } from 'tap'
import { call, type Harness } from './helper.js'

export type Res = Awaited<ReturnType<typeof call>>

export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
export const MISSING = '00000000-0000-4000-8000-000000000000'
export const PUBLIC_CACHE = 'public, max-age=60, stale-while-revalidate=600'

/** The whole problem document of a write refused for a stale If-Match. */
export const STALE_ETAG_PROBLEM = {
  type: '/problems/precondition-failed',
  title: 'Precondition Failed',
  status: 412,
  code: 'PRECONDITION_FAILED',
  detail: 'The resource changed since you read it (If-Match does not match its ETag); fetch it again and retry.'
}

/** Asserts an RFC 9457 problem with this status and code, and returns its body. */
export function problem (t: Test, res: Res, status: number, code: string) {
  t.equal(res.statusCode, status, `status ${status}: ${res.body}`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, 'problem+json content type')
  const body = res.json()
  t.equal(body.status, status, 'status in body')
  t.equal(body.code, code, 'code in body')
  t.type(body.type, 'string')
  t.type(body.title, 'string')
  return body
}

/** Follows nextCursor until the end; fails rather than loop for ever. */
export async function walk (t: Test, h: Harness, url: string, query: Record<string, string>, token?: string) {
  const seen: Array<Record<string, any>> = []
  let cursor: string | null = null
  for (let pages = 0; pages < 100; pages++) {
    const res = await call(h.app, 'GET', url, { token, query: { ...query, ...(cursor !== null && { cursor }) } })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.equal(body.meta.limit, Number(query.limit ?? 20))
    t.ok(body.data.length <= Number(query.limit ?? 20), 'a page holds at most limit items')
    seen.push(...body.data)
    cursor = body.meta.nextCursor
    if (cursor === null) return seen
    t.type(cursor, 'string', 'a next cursor is an opaque string')
  }
  t.fail('pagination did not end')
  return seen
}
