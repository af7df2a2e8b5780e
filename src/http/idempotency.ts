// The Idempotency-Key request header (IETF draft-ietf-httpapi-idempotency-key-header) on every
// POST and PATCH: the first answer to a caller's key is kept in the database, and a repeat of the
// same request gets that answer again instead of writing twice. Kept in PostgreSQL, not in
// memory, so it holds across instances.
//
// A write that commits and its stored answer are one: `committed()` runs the write, builds the
// answer and stores it in one transaction. So a client whose answer was lost (a 503, a cut
// connection) can retry with its key and is never written twice: either the write committed and
// the retry gets its answer, or nothing committed and the retry runs it.
import { createHash, randomUUID } from 'node:crypto'
import { and, eq, inArray, lte, sql } from 'drizzle-orm'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Db } from '../db/client.js'
import { idempotencyKeys } from '../db/schema.js'
import { etagFor } from './caching.js'
import { AppError, invalidField } from './errors.js'

export const HEADER = 'idempotency-key'
export const REPLAYED = 'idempotent-replayed'

/** A request's hold on its key. */
export type Claim = { scope: string, key: string, claim: string, settled: boolean }

declare module 'fastify' {
  interface FastifyRequest {
    idempotency: Claim | null
    /** A digest of request content the parsed body leaves out (an uploaded file's bytes). */
    contentDigest?: string
  }
  interface FastifyContextConfig {
    /** false: the route refuses Idempotency-Key (its answer holds a secret that is never stored). */
    idempotent?: boolean
  }
}

export type IdempotencyOptions = {
  db: Db
  now: () => Date
  ttlSeconds: number
  /** The keyed hash of a client address, which scopes an anonymous caller's keys. */
  hashClient: (address: string) => Promise<string>
}

// A claim held this long is taken to be dead (its process gone mid-request). Taking one over is
// safe even if that request still runs: its answer can no longer be stored, so its transaction
// rolls back.
const LEASE_MS = 60_000
// Headers of the answer that a replay repeats; the rest are set afresh on each answer.
const REPLAYED_HEADERS = ['content-type', 'location', 'etag', 'cache-control']
const PRUNE_EVERY_MS = 60_000
const PRUNE_BATCH = 1000

/**
 * The key, from the header: an RFC 8941 string (`"..."`, as the draft defines it) or, as many
 * clients send it, the bare value; 1 to 255 printable ASCII characters either way.
 */
export function parseKey (header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  const bad = (message: string) => invalidField('/Idempotency-Key', message, 'header')
  if (Array.isArray(header)) throw bad('must be sent once')
  const value = header.trim()
  let key = value
  if (value.startsWith('"')) {
    const m = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(value)
    if (!m) throw bad('must be a quoted string of printable ASCII characters, or a bare value without quotes or spaces')
    key = m[1].replace(/\\(["\\])/g, '$1')
  } else if (!/^[\x21-\x7e]*$/.test(value)) {
    throw bad('must be printable ASCII characters without spaces (or a quoted string)')
  }
  if (key.length < 1 || key.length > 255) throw bad('must be 1 to 255 characters long')
  return key
}

/** Sorted keys, so a body's digest does not depend on the order its fields came in. */
function canonical (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

const requestHash = (request: FastifyRequest) => createHash('sha256')
  .update(`${request.method}\n${request.url}\n${canonical(request.body ?? null)}\n${request.contentDigest ?? ''}`)
  .digest('hex')

const ofKey = (c: Pick<Claim, 'scope' | 'key'>) => and(eq(idempotencyKeys.scope, c.scope), eq(idempotencyKeys.key, c.key))
const held = (c: Claim) => and(ofKey(c), eq(idempotencyKeys.claim, c.claim), eq(idempotencyKeys.state, 'running'))

function replayableHeaders (reply: FastifyReply): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of REPLAYED_HEADERS) {
    const value = reply.getHeader(name)
    if (value !== undefined) out[name] = String(value)
  }
  return out
}

/** Stores the answer under the request's claim; false when the claim was taken over. */
async function store (db: Db, claim: Claim, status: number, headers: Record<string, string>, body: string) {
  const rows = await db.update(idempotencyKeys).set({ state: 'done', status, headers, body })
    .where(held(claim)).returning({ claim: idempotencyKeys.claim })
  return rows.length > 0
}

const inUse = () => new AppError('IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still running; retry once it has been answered.', { headers: { 'retry-after': '1' } })

/**
 * Runs a write and builds its answer in one transaction, and stores that answer for the
 * request's Idempotency-Key in the same transaction. The answer is made of what the transaction
 * wrote and read, so a write that commits is answered as committed: no read after the commit can
 * fail it. `transaction: false` lets a write that is one statement and answers from its own row
 * (a batched insert) go without a transaction when no key asks for one.
 */
export async function committed<T> (
  request: FastifyRequest, reply: FastifyReply, write: (db: Db) => Promise<T>, opts: { transaction?: boolean } = {}
): Promise<T | string> {
  const db = reply.server.db
  const claim = request.idempotency
  if (!claim && opts.transaction === false) return write(db)
  const answer = await db.transaction(async (txn): Promise<T | string> => {
    const tx = txn as unknown as Db
    const payload = await write(tx)
    if (!claim) return payload
    // The body as it will be sent (the route's response schema), so a replay is the same bytes.
    const body = String(reply.serialize(payload))
    reply.type('application/json; charset=utf-8')
    // The ETag the answer will carry (src/http/caching.ts), kept with it for a replay.
    if (reply.statusCode === 200 || reply.statusCode === 201) reply.header('etag', etagFor(reply.resourceVersion, body))
    if (!await store(tx, claim, reply.statusCode, replayableHeaders(reply), body)) throw inUse()
    return body
  })
  if (claim) claim.settled = true
  return answer
}

export default fp(async function idempotency (app: FastifyInstance, opts: IdempotencyOptions) {
  const { db } = opts
  // This instance, and the claims its requests hold right now: a claim of ours that no request
  // holds is left over from a failure, and a retry may take it at once.
  const instance = randomUUID()
  const running = new Set<string>()
  let prunedAt = 0

  app.decorateRequest('idempotency', null)

  // Expired keys go a batch at a time, skipping rows another instance is deleting: no long locks.
  const prune = () => {
    const now = opts.now()
    if (now.getTime() - prunedAt < PRUNE_EVERY_MS) return
    prunedAt = now.getTime()
    const expired = db.select({ scope: idempotencyKeys.scope, key: idempotencyKeys.key }).from(idempotencyKeys)
      .where(lte(idempotencyKeys.expiresAt, now)).limit(PRUNE_BATCH).for('update', { skipLocked: true })
    db.delete(idempotencyKeys).where(inArray(sql`(${idempotencyKeys.scope}, ${idempotencyKeys.key})`, expired))
      .catch((err: unknown) => app.log.warn({ err }, 'pruning expired idempotency keys failed'))
  }

  app.addHook('preHandler', async (request, reply) => {
    if (request.method !== 'POST' && request.method !== 'PATCH') return
    const key = parseKey(request.headers[HEADER])
    if (key === undefined) return
    if (request.routeOptions.config.idempotent === false) {
      throw invalidField('/Idempotency-Key', 'is not accepted here: the answer holds a secret that is never stored, so it could not be repeated', 'header')
    }
    const scope = request.principal ? `token:${request.principal.tokenId}` : `client:${await opts.hashClient(request.ip)}`
    const hash = requestHash(request)
    const now = opts.now()
    const take = (claim: string) => {
      request.idempotency = { scope, key, claim, settled: false }
      // Held while the client waits: once its connection is gone (answered, or given up on),
      // a retry may take the key at once; the fence in store() keeps this request from
      // committing after that.
      if (reply.raw.destroyed || request.raw.destroyed) return
      running.add(claim)
      reply.raw.once('close', () => running.delete(claim))
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const claim = randomUUID()
      const inserted = await db.insert(idempotencyKeys).values({
        scope, key, method: request.method, path: request.url, requestHash: hash, state: 'running', claim, owner: instance,
        createdAt: now, claimedAt: now, expiresAt: new Date(now.getTime() + opts.ttlSeconds * 1000)
      }).onConflictDoNothing().returning({ claim: idempotencyKeys.claim })
      if (inserted.length > 0) { take(claim); prune(); return }
      const [row] = await db.select().from(idempotencyKeys).where(ofKey({ scope, key }))
      if (!row) continue
      if (row.expiresAt <= now) {
        // Expired: the key starts anew.
        await db.delete(idempotencyKeys).where(and(ofKey(row), eq(idempotencyKeys.claim, row.claim)))
        continue
      }
      if (row.requestHash !== hash) {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', `This Idempotency-Key was first used for another request (${row.method} ${row.path}, or another body); use a new key for a new request.`)
      }
      if (row.state === 'done') {
        return reply.code(row.status!).headers({ ...row.headers, [REPLAYED]: 'true' }).send(row.body)
      }
      const abandoned = (row.owner === instance && !running.has(row.claim)) || now.getTime() - row.claimedAt.getTime() > LEASE_MS
      if (!abandoned) throw inUse()
      const taken = await db.update(idempotencyKeys).set({ claim, owner: instance, claimedAt: now })
        .where(and(ofKey(row), eq(idempotencyKeys.claim, row.claim), eq(idempotencyKeys.state, 'running'))).returning({ claim: idempotencyKeys.claim })
      if (taken.length > 0) { take(claim); return }
    }
    throw inUse()
  })

  // A request that answered without committed() (a refusal, a failure) settles its key here:
  // a deterministic answer (2xx, 4xx) is stored; a failure (5xx) or a rate limit (429) lets the
  // key go, so a retry runs again. Neither touches a key whose write stored its answer already.
  app.addHook('onSend', async (request, reply, payload) => {
    const claim = request.idempotency
    if (!claim || claim.settled) return payload
    claim.settled = true
    const status = reply.statusCode
    try {
      if (status < 500 && status !== 429 && typeof payload === 'string') {
        await store(db, claim, status, replayableHeaders(reply), payload)
      } else {
        await db.delete(idempotencyKeys).where(held(claim))
      }
    } catch (err) {
      // The database is gone: the key stays claimed, and a retry takes the abandoned claim.
      request.log.warn({ err }, 'could not settle the idempotency key')
    }
    return payload
  })

  app.addHook('onResponse', async (request) => {
    if (request.idempotency) running.delete(request.idempotency.claim)
  })
}, { name: 'idempotency', dependencies: ['auth'] })
