// Liveness (the process answers) and readiness (the database answers) for load balancers.
// An instance that is shutting down is not ready (src/http/drain.ts). Redis is reported but
// does not make an instance unready: every instance shares the one Redis, and without it
// the limits are skipped, not the site; taking every instance out of rotation would be.
import type { Routes } from '../../http/type-provider.js'
import { Type } from 'typebox'
import { AppError } from '../../http/errors.js'
import { problems } from '../../http/schemas.js'
import { RETRY_AFTER_DRAIN } from '../../http/drain.js'
import type { ReplicaSet } from '../../db/replicas.js'
import type { ChangeFollower } from '../changes/follower.js'

const ReplicaStatus = Type.Object({
  where: Type.String({ description: 'Host, port and database, without credentials.' }),
  serving: Type.Boolean({ description: 'Whether it takes reads now: up, and within REPLICA_MAX_LAG_SECONDS of the primary.' }),
  behindBytes: Type.Union([Type.Integer(), Type.Null()], { description: 'WAL bytes it has yet to replay; null before its first answer.' }),
  error: Type.Optional(Type.String({ description: 'Why it last failed to answer.' }))
})

const Status = Type.Object({
  status: Type.Literal('ok'),
  database: Type.Optional(Type.Literal('ok')),
  replicas: Type.Optional(Type.Array(ReplicaStatus, { description: 'With DATABASE_READ_URL: each replica. One that is down or behind sends its reads to the primary, so it does not make the instance unready.' })),
  redis: Type.Optional(Type.Union([Type.Literal('ok'), Type.Literal('unavailable')], { description: 'With REDIS_URL: whether Redis answers (while it does not, limits count on each instance alone)' })),
  changes: Type.Optional(Type.Object({
    applied: Type.Integer({ description: 'The last change of the change log this instance applied to its cache.' }),
    lagSeconds: Type.Number({ description: 'Seconds since this instance last read the change log through; above CHANGES_MAX_LAG_SECONDS the instance is not ready.' })
  }))
})

/** With REDIS_URL: whether this instance's Redis connection is up; with replicas, their state. */
export type HealthOptions = { redisUp?: () => boolean, replicas?: ReplicaSet, follower: ChangeFollower, maxLagSeconds: number }

const healthRoutes = (opts: HealthOptions): Routes => async (app) => {
  app.get('/live', {
    schema: { operationId: 'live', summary: 'The process is up', tags: ['Health'], security: [], response: { 200: Status } }
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return { status: 'ok' as const }
  })

  app.get('/ready', {
    schema: { operationId: 'ready', summary: 'The database answers and the instance is not shutting down', tags: ['Health'], security: [], response: { 200: Status, 503: problems[503] } }
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    if (app.drain.leaving) throw new AppError('UNAVAILABLE', 'This instance is shutting down.', { headers: { 'retry-after': RETRY_AFTER_DRAIN } })
    try {
      await app.database.ping()
    } catch {
      throw new AppError('UNAVAILABLE', 'The database does not answer.', { headers: { 'retry-after': '5' } })
    }
    // The database answers again: the follower need not wait for its timer to catch up.
    if (opts.follower.failing) await opts.follower.follow().catch(() => {})
    const lagSeconds = Math.round(opts.follower.lagMs / 100) / 10
    if (!(lagSeconds <= opts.maxLagSeconds)) {
      const why = opts.follower.failing ? 'cannot read the change log' : `has not read the change log for ${lagSeconds} s`
      throw new AppError('UNAVAILABLE', `This instance ${why}: its cache may be stale.`, { headers: { 'retry-after': '5' } })
    }
    return { status: 'ok' as const, database: 'ok' as const, changes: { applied: opts.follower.applied, lagSeconds }, ...(opts.replicas && { replicas: opts.replicas.status() }), ...(opts.redisUp && { redis: opts.redisUp() ? 'ok' as const : 'unavailable' as const }) }
  })
}

export default healthRoutes
