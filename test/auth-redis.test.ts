// With REDIS_URL, the failed-authentication limit is shared by every instance.
import { randomInt } from 'node:crypto'
import t from 'tap'
import { build } from './helper.js'
import { redisMissing, testRedisUrl } from './redis-helpers.js'

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
