// Graceful shutdown in two steps. Leaving: /health/ready says 503, so balancers stop sending,
// while everything else is still served. Draining: requests already running finish, a new
// request is refused with a 503 problem that says to retry, and every answer closes its
// connection, so no idle keep-alive connection holds the process open after the last one.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { problemBody, sendProblem } from './errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Shutdown state: `draining` once shutdown has begun, `inFlight` requests not yet answered. */
    drain: Drain
  }
}

export class Drain {
  /** Readiness says 503 (balancers stop sending) while requests are still served. */
  leaving = false
  /** New requests are refused. */
  draining = false
  /** Requests taken on and not yet answered (cache hits answered outside Fastify aside). */
  inFlight = 0
}

export const RETRY_AFTER_DRAIN = '2'

export default fp(async function drain (app: FastifyInstance) {
  const state = new Drain()
  app.decorate('drain', state)
  app.addHook('onRequest', async (request, reply) => {
    // Counted until the response is written or the client goes away, whichever comes first.
    state.inFlight++
    reply.raw.once('close', () => { state.inFlight-- })
    if (!state.draining) return
    reply.header('connection', 'close')
    return sendProblem(reply, problemBody('UNAVAILABLE', 'This instance is shutting down; retry, and another will answer.'), { 'retry-after': RETRY_AFTER_DRAIN })
  })
  app.addHook('onSend', async (_request, reply) => {
    if (state.draining) reply.header('connection', 'close')
  })
}, { name: 'drain' })
