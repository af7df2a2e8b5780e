// With REDIS_URL, the failed-authentication limit is shared by every instance, counted in one
// step a failure, under the deployment's own key prefix.
import { randomInt } from 'node:crypto'
import t from 'tap'
import { build, openTestDatabase } from './helper.js'
import { redisMissing, testRedisUrl } from './redis-helpers.js'
import { Redis } from 'ioredis'
import { buildApp } from '../src/app.js'
import { loadConfig, redisPrefixOf } from '../src/config.js'
import { draftComment, postComment, publishedArticle } from './comments-helpers.js'

t.test('failed authentications are counted across instances through Redis', { skip: await redisMissing() }, async (t) => {
  const env = { REDIS_URL: testRedisUrl, AUTH_FAILURE_LIMIT: '3' }
  const one = await build(t, { env })
  const two = await build(t, { env, database: one.database })
  const remoteAddress = `192.0.2.${randomInt(1, 255)}`
  const attempt = (app: typeof one.app, token: string) =>
    app.inject({ method: 'GET', url: '/v1/users/me', remoteAddress, headers: { authorization: `Bearer ${token}` } })

  const statuses = []
  for (const app of [one.app, two.app, one.app]) statuses.push((await attempt(app, 'dl_wrong')).statusCode)
  t.same(statuses, [401, 401, 401], 'three failures allowed, split over two instances')
  const blocked = await attempt(two.app, 'dl_wrong')
  t.equal(blocked.statusCode, 429, 'the fourth, on the other instance, is refused')
  t.match(blocked.headers['retry-after'], /^\d+$/)
  const validButBlocked = await attempt(one.app, one.admin.token)
  t.equal(validButBlocked.statusCode, 429, 'while blocked, even a valid token waits')
  const other = await two.app.inject({ method: 'GET', url: '/v1/users/me', remoteAddress: '192.0.2.0', headers: { authorization: `Bearer ${one.admin.token}` } })
  t.equal(other.statusCode, 200, 'other clients are unaffected')
})

t.test('a burst of bad tokens sent to two instances at once gets no more 401s than the limit', { skip: await redisMissing() }, async (t) => {
  const env = { REDIS_URL: testRedisUrl, REDIS_PREFIX: `test-burst-${randomInt(1e9)}:`, AUTH_FAILURE_LIMIT: '4' }
  const one = await build(t, { env })
  const two = await build(t, { env, database: one.database })
  const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).app.inject({
    method: 'GET', url: '/v1/users/me', remoteAddress: '192.0.2.77', headers: { authorization: 'Bearer dl_wrong' }
  })))
  const statuses = burst.map((r) => r.statusCode)
  t.equal(statuses.filter((s) => s === 401).length, 4, 'four answered 401, counted in one step each')
  t.equal(statuses.filter((s) => s === 429).length, 36, 'the rest 429')
})

t.test('keys start with the deployment\'s prefix: two deployments on one Redis do not count each other', { skip: await redisMissing() }, async (t) => {
  const redis = new Redis(testRedisUrl)
  t.teardown(() => redis.disconnect())
  const prefixes = [`test-a-${randomInt(1e9)}:`, `test-b-${randomInt(1e9)}:`]
  const [a, b] = await Promise.all(prefixes.map((REDIS_PREFIX) => build(t, { env: { REDIS_URL: testRedisUrl, REDIS_PREFIX, AUTH_FAILURE_LIMIT: '2', COMMENT_RATE_PER_CLIENT: '1' } })))
  const attempt = (h: typeof a) => h.app.inject({ method: 'GET', url: '/v1/users/me', remoteAddress: '192.0.2.88', headers: { authorization: 'Bearer dl_wrong' } })
  for (let i = 0; i < 3; i++) await attempt(a)
  t.equal((await attempt(a)).statusCode, 429, 'deployment a has blocked the client')
  t.equal((await attempt(b)).statusCode, 401, 'deployment b has not')
  const article = await publishedArticle(a)
  t.equal((await postComment(a.app, article.id, draftComment(), { address: '192.0.2.88' })).statusCode, 201)
  t.equal((await postComment(a.app, article.id, draftComment(), { address: '192.0.2.88' })).statusCode, 429, 'the comment limit counts in Redis')

  const keys = await redis.keys(`${prefixes[0]}*`)
  t.ok(keys.some((k) => k.startsWith(`${prefixes[0]}authfail:`)), 'the failure counter carries the prefix')
  t.ok(keys.some((k) => k.startsWith(`${prefixes[0]}rl:`)), 'so do the rate limits')
  t.notOk(keys.some((k) => k.includes('undefined')), `no key names undefined: ${keys.join(' ')}`)
  t.same(await redis.keys('dateline:rl:*'), [], 'nothing outside the prefix')
})

t.test('the default prefix is derived from the database, never from its credentials', async (t) => {
  const of = (env: Record<string, string>) => redisPrefixOf(loadConfig(env))
  t.match(of({}), /^dateline:[0-9a-f]{8}:$/)
  t.not(of({ DATA_DIR: 'one' }), of({ DATA_DIR: 'two' }), 'two data folders, two prefixes')
  t.equal(of({ DATABASE_URL: 'postgres://a:secret@db:5432/news' }), of({ DATABASE_URL: 'postgres://b:other@db:5432/news' }), 'one database whoever connects')
  t.not(of({ DATABASE_URL: 'postgres://db:5432/news' }), of({ DATABASE_URL: 'postgres://db:5432/sport' }), 'two databases, two prefixes')
  t.equal(of({ REDIS_PREFIX: 'newsroom-a:' }), 'newsroom-a:', 'or the one configured')
})

t.test('readiness reports Redis, and stays ready without it', { skip: await redisMissing() }, async (t) => {
  const up = await build(t, { env: { REDIS_URL: testRedisUrl } })
  const { changes: _up, ...upReady } = (await up.app.inject('/health/ready')).json()
  t.same(upReady, { status: 'ok', database: 'ok', redis: 'ok' })
  const down = await build(t, { env: { REDIS_URL: 'redis://127.0.0.1:1' }, database: up.database })
  const res = await down.app.inject('/health/ready')
  t.equal(res.statusCode, 200, 'the limits are skipped, not the instance')
  const { changes: _down, ...downReady } = res.json()
  t.same(downReady, { status: 'ok', database: 'ok', redis: 'unavailable' })
  const none = await build(t, { database: up.database })
  const { changes: _none, ...noneReady } = (await none.app.inject('/health/ready')).json()
  t.same(noneReady, { status: 'ok', database: 'ok' }, 'no Redis configured, none reported')
})

t.test('the start says whether limits are shared: per instance without REDIS_URL', { skip: await redisMissing() }, async (t) => {
  const { database } = await openTestDatabase(t)
  await database.migrate()
  const startLines = async (env: Record<string, string>) => {
    const lines: string[] = []
    const stream = { write: (line: string) => { lines.push(JSON.parse(line).msg) } }
    const app = await buildApp({ config: loadConfig({ MEDIA_DIR: t.testdir(), WEBHOOK_DISPATCH: 'false', ...env }), database, logger: { level: 'info', stream } })
    await app.ready()
    await app.close()
    return lines
  }
  const alone = /^No REDIS_URL: rate limits, failed-authentication limits and the repeat-comment screen count on this instance alone/
  t.ok((await startLines({})).some((line) => alone.test(line)), 'without REDIS_URL: said once at start')
  t.notOk((await startLines({ REDIS_URL: testRedisUrl })).some((line) => alone.test(line)), 'with it: not said')
})
