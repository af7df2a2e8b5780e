// Date-times that RFC 3339 allows but a timestamp cannot hold (a leap second, an offset without
// minutes, a year past 9999 once in UTC) are a 400 naming the field, on every route that takes one.
import t, { type Test } from 'tap'
import { eq } from 'drizzle-orm'
import { apiTokens, articles } from '../src/db/schema.js'
import { build, call } from './helper.js'
import { problem } from './assertions.js'
import { makeArticle } from './articles-fixtures.js'

const LEAP = '2016-12-31T23:59:60Z'
const ODD = [
  LEAP,
  '2017-01-01T00:59:60+01:00', // the same leap second, east of UTC
  '2030-01-01T00:00:00+01', // an offset without minutes
  '9999-12-31T23:00:00-02:00' // the year 10000 in UTC
]

t.test('odd but valid date-times', async (t) => {
  const h = await build(t)
  const db = h.database.db

  const refused = (t: Test, res: Awaited<ReturnType<typeof call>>, path: string, where: 'query' | 'body') => {
    const body = problem(t, res, 400, 'VALIDATION_FAILED')
    t.strictSame(body.errors.map((e: any) => [e.path, e.in]), [[path, where]], `names ${where} ${path}`)
    t.match(body.errors[0].message, /RFC 3339.*leap second/, 'says what a date-time must be')
  }

  t.test('article list filters, anonymous and staff', async (t) => {
    for (const value of ODD) {
      for (const name of ['publishedAfter', 'publishedBefore']) {
        refused(t, await call(h.app, 'GET', '/v1/articles', { query: { [name]: value } }), `/${name}`, 'query')
        refused(t, await call(h.app, 'GET', '/v1/articles', { token: h.editor.token, query: { [name]: value, status: 'draft' } }), `/${name}`, 'query')
      }
    }
    // The last second before it is a plain time.
    t.equal((await call(h.app, 'GET', '/v1/articles', { query: { publishedAfter: '2016-12-31T23:59:59.999Z' } })).statusCode, 200)
  })

  t.test('photo list filters', async (t) => {
    for (const name of ['createdAfter', 'createdBefore']) {
      refused(t, await call(h.app, 'GET', '/v1/photos', { query: { [name]: LEAP } }), `/${name}`, 'query')
    }
  })

  t.test('publish at a leap second: refused, nothing changed', async (t) => {
    const article = await makeArticle(h, { headline: 'Leap second' })
    const before = (await db.select().from(articles).where(eq(articles.id, article.id)))[0]
    for (const value of ODD) {
      refused(t, await call(h.app, 'POST', `/v1/articles/${article.id}/publish`, { token: h.editor.token, body: { publishedAt: value } }), '/publishedAt', 'body')
    }
    const after = (await db.select().from(articles).where(eq(articles.id, article.id)))[0]
    t.strictSame(after, before, 'the article row is unchanged')
    t.equal(after.status, 'draft')
  })

  t.test('a token expiring at a leap second: refused, no token made', async (t) => {
    const count = async () => (await db.select().from(apiTokens)).length
    const before = await count()
    for (const value of ODD) {
      refused(t, await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { label: 'leap', expiresAt: value } }), '/expiresAt', 'body')
    }
    t.equal(await count(), before, 'no token row added')
    const ok = await call(h.app, 'POST', '/v1/tokens', { token: h.admin.token, body: { label: 'fine', expiresAt: '2099-12-31T23:59:59+14:00' } })
    t.equal(ok.statusCode, 201, ok.body)
    t.equal(ok.json().expiresAt, '2099-12-31T09:59:59.000Z', 'an offset is read, and answered in UTC')
  })
})
