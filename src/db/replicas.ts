// Read replicas (DATABASE_READ_URL): anonymous reads go to a streaming replica that is up and
// close behind; writes, staff reads and everything else stay on the primary.
//
// How stale a replica may be:
// - every 200 ms the primary's WAL position and each replica's replay position are sampled; a
//   replica that has not replayed what the primary had written REPLICA_MAX_LAG_SECONDS ago, or
//   has not answered for a second, is out of rotation (its reads go to the primary);
// - the public cache must never store a response older than the change that emptied it: each
//   change notification carries the primary's WAL position after the change, and a replica is
//   used only once it has replayed that far; while this instance's own write is on its way
//   (its notification not yet back) no replica is used at all.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { FastifyInstance, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { sql } from 'drizzle-orm'
import type { Db } from './client.js'
import { ROUTED } from './prepared.js'
import { isConnectionFailure } from '../http/errors.js'

const POLL_MS = 200
const SILENT_MS = 1000

/** A WAL position `X/Y` as a number that compares. */
export const lsn = (text: string): bigint => {
  const [high, low] = text.split('/')
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`)
}

export type Replica = { db: Db, where: string, close: () => Promise<void> }

type State = { replica: Replica, replayed: bigint, seenAt: number, error?: string }

export class ReplicaSet {
  private states: State[]
  private samples: Array<{ at: number, position: bigint }> = []
  /** The position every replica must have replayed before it serves: the last change seen. */
  private mustReach = 0n
  /** This instance's writes whose notification has not come back yet. */
  private holds = 0
  private next = 0
  private timer: NodeJS.Timeout | undefined
  private readonly routing = new AsyncLocalStorage<{ db: Db, replica?: State }>()

  constructor (private readonly primary: Db, replicas: Replica[], private readonly maxLagMs: number, private readonly now: () => number = Date.now) {
    this.states = replicas.map((replica) => ({ replica, replayed: -1n, seenAt: 0 }))
  }

  start () {
    const tick = () => { this.poll().finally(() => { if (this.timer) this.timer = setTimeout(tick, POLL_MS).unref() }) }
    this.timer = setTimeout(tick, 0).unref()
    return this.poll()
  }

  async close () {
    clearTimeout(this.timer)
    this.timer = undefined
    await Promise.all(this.states.map((s) => s.replica.close()))
  }

  /** One round of samples: the primary first, so a replica's position compares with it. */
  async poll () {
    const at = this.now()
    try {
      const [row] = (await this.primary.execute(sql`select pg_current_wal_lsn()::text as position`) as unknown as { rows: Array<{ position: string }> }).rows
      this.samples.push({ at, position: lsn(row.position) })
      while (this.samples.length > 2 && this.samples[1].at <= at - this.maxLagMs) this.samples.shift()
    } catch { /* the primary's own troubles are the primary's readiness */ }
    await Promise.all(this.states.map(async (state) => {
      try {
        const [row] = (await state.replica.db.execute(sql`select pg_last_wal_replay_lsn()::text as position`) as unknown as { rows: Array<{ position: string | null }> }).rows
        if (row.position === null) throw new Error('not a standby')
        state.replayed = lsn(row.position)
        state.seenAt = this.now()
        state.error = undefined
      } catch (error) {
        state.error = (error as Error).message
      }
    }))
  }

  /** What a replica must have replayed to be within the allowed lag. */
  private lagFloor (): bigint {
    const old = this.samples.filter((s) => s.at <= this.now() - this.maxLagMs).at(-1) ?? this.samples[0]
    return old?.position ?? 0n
  }

  private usable (state: State, floor: bigint) {
    return state.error === undefined && this.now() - state.seenAt < SILENT_MS && state.replayed >= floor && state.replayed >= this.mustReach
  }

  /** A replica fit to serve a read now, taken in turn, or undefined: use the primary. */
  pick (): State | undefined {
    if (this.holds > 0) return undefined
    const floor = this.lagFloor()
    for (let i = 0; i < this.states.length; i++) {
      const state = this.states[(this.next + i) % this.states.length]
      if (this.usable(state, floor)) {
        this.next = (this.next + i + 1) % this.states.length
        return state
      }
    }
    return undefined
  }

  /** A change notification arrived, written up to `position`. */
  reached (position: string) {
    const p = lsn(position)
    if (p > this.mustReach) this.mustReach = p
  }

  /** This instance wrote: no replica serves until its notification (with a position) is back. */
  hold () {
    this.holds++
    let released = false
    return () => { if (!released) { released = true; this.holds-- } }
  }

  /** WAL bytes a replica has yet to replay of what the primary last reported; null before its first answer. */
  private behind (state: State): number | null {
    if (state.replayed < 0n) return null
    const primary = this.samples.at(-1)?.position ?? 0n
    return primary > state.replayed ? Number(primary - state.replayed) : 0
  }

  /** For readiness and people: each replica, whether it serves and why not. */
  status () {
    const floor = this.lagFloor()
    return this.states.map((s) => ({
      where: s.replica.where,
      serving: this.usable(s, floor),
      ...(s.error ? { error: s.error } : {}),
      behindBytes: this.behind(s)
    }))
  }

  /** The database a query of the current request runs on. */
  current (): Db {
    return this.routing.getStore()?.db ?? this.primary
  }

  /**
   * A drizzle database that runs each query on the current request's database: a replica inside
   * an anonymous read, the primary anywhere else.
   */
  routed (): Db {
    return new Proxy(this.primary, {
      get: (target, property) => {
        if (property === ROUTED) return this.current()
        const db = this.current()
        const value = Reflect.get(db, property, db)
        return typeof value === 'function' ? value.bind(db) : value
      }
    })
  }

  /**
   * Runs an anonymous read's handler on a replica, if one is fit; a replica that fails with a
   * lost connection is taken out of rotation and the handler runs again on the primary.
   */
  wrap (route: RouteOptions) {
    const handler = route.handler
    const pick = () => this.pick()
    const onReplica = <T>(replica: State, run: () => T) => this.routing.run({ db: replica.replica.db, replica }, run)
    route.handler = async function (this: FastifyInstance, request, reply) {
      // Public reads: anonymous, or with a content key (auth ran before the handler).
      const replica = request.principal === null ? pick() : undefined
      if (!replica) return handler.call(this, request, reply)
      try {
        return await onReplica(replica, () => handler.call(this, request, reply))
      } catch (error) {
        if (!isConnectionFailure(error) || reply.sent) throw error
        replica.error = (error as Error).message
        request.log.warn({ err: error, replica: replica.replica.where }, 'replica failed; read again on the primary')
        return handler.call(this, request, reply)
      }
    }
  }
}

/** Wraps the handlers of the API's GET routes, so anonymous reads may go to a replica. */
export const readRouting = fp(async function readRouting (app: FastifyInstance, opts: { replicas: ReplicaSet }) {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    if (route.url.startsWith('/v1/') && methods.every((m) => m === 'GET' || m === 'HEAD')) opts.replicas.wrap(route)
  })
}, { name: 'read-routing' })
