// Liveness (the process answers) and readiness (the database answers) for load balancers.
// An instance that is shutting down is not ready (src/http/drain.ts).
import type { Routes } from '../../http/type-provider.js'
import { Type } from 'typebox'
import { AppError } from '../../http/errors.js'
import { problems } from '../../http/schemas.js'
import { RETRY_AFTER_DRAIN } from '../../http/drain.js'

const Status = Type.Object({ status: Type.Literal('ok'), database: Type.Optional(Type.Literal('ok')) })

const healthRoutes: Routes = async (app) => {
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
    return { status: 'ok' as const, database: 'ok' as const }
  })
}

export default healthRoutes
