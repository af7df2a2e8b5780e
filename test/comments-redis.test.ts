// Flood control shared through Redis: two instances over one database count one client's and
// one article's comments together, Redis keeps no client address, and a Redis outage does not
// take comments down.
import t from 'tap'
import { randomInt } from 'node:crypto'
import { Redis } from 'ioredis'
import { build, openTestDatabase, testDatabaseUrl } from './helper.js'
import { openDatabase } from '../src/db/client.js'
import { commentsOf, draftComment, expectStatus, freshAddress, postComment, posted, publishedArticle, totalComments } from './comments-helpers.js'
import { redisMissing, testRedisUrl as REDIS_URL } from './redis-helpers.js'

const prefix = `test-comments-${randomInt(1e9)}:`
const env = { REDIS_URL, REDIS_PREFIX: prefix, COMMENT_RATE_PER_CLIENT: '3', COMMENT_RATE_PER_ARTICLE: '5' }
// Without Redis the shared-limit tests skip, saying why; the outage test needs none and runs.
const skip = await redisMissing()

const h1 = await build(t, { env })
const h2 = await build(t, { env, database: h1.database })
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true })
redis.on('error', () => {})
t.teardown(() => redis.disconnect())

// Counters outlive the test run in Redis: a client address of this run's own.
const address = `198.51.100.${randomInt(1, 255)}`

t.test('one client: the limit counts posts to every instance', { skip }, async (t) => {
  t.equal(await redis.ping(), 'PONG', `Redis answers at ${REDIS_URL}`)
  const article = await publishedArticle(h1)
  const apps = [h1.app, h2.app, h1.app]
  for (const [i, app] of apps.entries()) await posted(app, article.id, { body: `Shared limit, post ${i}` }, { address })
  const before = await totalComments(h1)

  const res = await postComment(h2.app, article.id, draftComment(), { address })
  t.match(expectStatus(res, 429), { status: 429, code: 'RATE_LIMITED' }, 'the 4th post overall is refused, on the other instance')
  const retry = Number(res.headers['retry-after'])
  t.ok(Number.isInteger(retry) && retry >= 1 && retry <= 60, `Retry-After ${res.headers['retry-after']}`)
  expectStatus(await postComment(h1.app, article.id, draftComment(), { address }), 429)
  t.equal(await totalComments(h1), before, 'nothing stored')
  t.equal((await commentsOf(h1, article.id)).length, 3)

  await posted(h2.app, article.id, {}, { address: freshAddress() })
  t.pass('another client still posts')
})

t.test('one article: the limit counts posts to every instance', { skip }, async (t) => {
  const article = await publishedArticle(h2)
  for (let i = 0; i < 5; i++) await posted(i % 2 === 0 ? h1.app : h2.app, article.id, {}, { address: freshAddress() })
  for (const app of [h2.app, h1.app]) {
    const res = await postComment(app, article.id, draftComment(), { address: freshAddress() })
    t.match(expectStatus(res, 429), { code: 'RATE_LIMITED' })
    t.ok(Number(res.headers['retry-after']) >= 1)
  }
  t.equal((await commentsOf(h1, article.id)).length, 5, 'five stored, no more')

  // Redis holds counters, never a client address.
  const keys: string[] = []
  for (let cursor = '0'; ;) {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}rl:*`, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
    if (cursor === '0') break
  }
  t.ok(keys.some((k) => k.includes(article.id)), 'the article counter is in Redis')
  t.notOk(keys.some((k) => k.includes(address)), `no key names ${address}`)
  t.notOk(keys.some((k) => /\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/.test(k)), 'no key names any IPv4 address')
})

// Two instances in one test share a Database object, and with it each instance's own mark of
// posts on their way; on PostgreSQL the second instance here gets a connection of its own, as a
// second process would.
t.test('the same post sent to two instances at once is stored once as pending, the rest as repeats', { skip: skip || (!testDatabaseUrl && 'two instances need two connections to one database: PostgreSQL only') }, async (t) => {
  const { database, url } = await openTestDatabase(t)
  await database.migrate()
  const other = await openDatabase({ url, poolSize: 2 })
  t.teardown(() => other.close())
  const roomy = { ...env, COMMENT_RATE_PER_CLIENT: '10' }
  const one = await build(t, { env: roomy, database })
  const two = await build(t, { env: roomy, database: other })
  const article = await publishedArticle(one)
  const client = freshAddress()
  const body = `Posted everywhere at once ${randomInt(1e9)}`
  const all = await Promise.all([one.app, two.app, one.app, two.app].map((app) =>
    postComment(app, article.id, draftComment({ body }), { address: client })))
  t.same(all.map((r) => r.statusCode), [201, 201, 201, 201], 'all accepted (a repeat is not told it is one)')
  const stored = (await commentsOf(one, article.id)).filter((c) => c.body === body)
  t.equal(stored.length, 4)
  t.equal(stored.filter((c) => c.status === 'pending').length, 1, 'one pending')
  t.equal(stored.filter((c) => c.status === 'spam' && c.moderationReasons.includes('repeat')).length, 3, 'three spam, for repeat')
})

t.test('without Redis, comments still work (limits resume when it is back)', async (t) => {
  const h3 = await build(t, { env: { REDIS_URL: 'redis://127.0.0.1:1', COMMENT_RATE_PER_CLIENT: '1' }, database: h1.database })
  const article = await publishedArticle(h3)
  const lonely = freshAddress()
  for (let i = 0; i < 2; i++) {
    const res = await postComment(h3.app, article.id, draftComment(), { address: lonely })
    t.equal(res.statusCode, 201, `post ${i + 1}: ${res.body}`)
  }
})
