// What one client may hold of the server: its connections (MAX_CONNECTIONS_PER_ADDRESS), the
// time a request may take to arrive (REQUEST_TIMEOUT_SECONDS), and no connection at all once it
// has been answered before its body arrived. Without these, a client that trickles bodies, or
// opens connections and sends nothing, holds file descriptors for as long as it likes.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { earlyAnswer, sendEarly } from './early-answers.js'

export type ConnectionLimits = {
  /** The whole request, headers and body, must arrive within this; 408 after it. */
  requestTimeoutMs: number
  /** Open connections from one remote address; 0 is no limit. */
  maxPerAddress: number
}

/** How long a connection over the limit is kept for its request to arrive and be refused. */
const REFUSED_GRACE_MS = 2000
export const RETRY_AFTER_CONNECTIONS = '5'

/** How often Node looks for requests past their time: a fraction of the limit, 30 s at most. */
export const checkingInterval = (limits: ConnectionLimits) => Math.min(30_000, Math.max(100, Math.floor(limits.requestTimeoutMs / 4)))

/**
 * Sets the server's timeouts and counts connections by address. Returns the check the request
 * listener makes first: true when it has answered (a connection over its address's limit).
 */
export function guardServer (server: Server, limits: ConnectionLimits, security: Readonly<Record<string, string>>) {
  server.requestTimeout = limits.requestTimeoutMs
  // Node's default of 60 s, unless the whole request must arrive sooner.
  server.headersTimeout = Math.min(60_000, limits.requestTimeoutMs)

  const open = new Map<string, number>()
  const refused = new WeakSet<Socket>()
  if (limits.maxPerAddress > 0) {
    server.on('connection', (socket: Socket) => {
      const address = socket.remoteAddress
      if (address === undefined) return
      const count = (open.get(address) ?? 0) + 1
      open.set(address, count)
      socket.once('close', () => {
        const left = (open.get(address) ?? 1) - 1
        if (left > 0) open.set(address, left)
        else open.delete(address)
      })
      if (count <= limits.maxPerAddress) return
      // Over the limit: its first request gets a 429 that closes the connection; one that sends
      // nothing is closed soon, so that it frees its file descriptor either way.
      refused.add(socket)
      socket.setTimeout(REFUSED_GRACE_MS, () => socket.destroy())
    })
  }

  const tooMany = earlyAnswer(security, 'RATE_LIMITED',
    `Too many open connections from this address (at most ${limits.maxPerAddress}); close some, or retry in ${RETRY_AFTER_CONNECTIONS} s.`,
    { 'retry-after': RETRY_AFTER_CONNECTIONS })
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (!refused.has(req.socket)) return false
    sendEarly(res, tooMany)
    return true
  }
}

/**
 * An answer given before the request's body has arrived (a 401, 413 or 429 decided on the
 * headers) closes its connection: otherwise Node keeps reading the rest of the body for the
 * next request on it, for as long as the client takes to send it.
 */
export default fp(async function closeEarlyAnswers (app: FastifyInstance) {
  app.addHook('onSend', async (request, reply) => {
    if (request.raw.complete) return
    // A body that came in the same packet as the headers is parsed only after the request has
    // begun: one turn of the event loop tells it from a body still on its way.
    await new Promise((resolve) => setImmediate(resolve))
    if (!request.raw.complete) reply.header('connection', 'close')
  })
}, { name: 'close-early-answers' })
