// Each instance follows the change log by sequence number and hands every change's tags to its
// subscribers (the public cache evicts by them). A notification only wakes the follower; it also
// reads the log on a timer, so a lost notification or a listening connection gone silent delays
// an eviction by one poll at most. The log's order is the commit order (the trigger in
// migrations/0005), so reading past N leaves nothing below N to come.
import { sql } from 'drizzle-orm'
import type { Database, Subscription } from '../../db/client.js'
import { rowsOf } from '../../db/batch.js'
import type { ReplicaSet } from '../../db/replicas.js'
import { coalesced } from '../../lib/coalesce.js'

export const CHANNEL = 'dateline_changes'
const BATCH = 1000

export type Applied = { seq: number, tags: string[] }

export type FollowerOptions = {
  database: Database
  pollMs: number
  replicas?: ReplicaSet
  log: { warn: (obj: object, msg: string) => void }
}

type Listener = { apply: (changes: Applied[]) => void, reset: () => void }

export class ChangeFollower {
  /** The last change applied; -1 until the first read. */
  applied = -1
  /** When the log was last read in full (Date.now()); 0 before. */
  lastRead = 0
  private readonly listeners: Listener[] = []
  private timer: NodeJS.Timeout | undefined
  private subscription: Subscription | undefined
  /** The highest change a notification announced, and who waits for one. */
  private notified = 0
  private waiting: Array<{ seq: number, resolve: () => void }> = []

  constructor (private readonly opts: FollowerOptions) {}

  subscribe (listener: Listener) { this.listeners.push(listener) }

  /** Whether the last read of the log failed. */
  failing = false

  /** Milliseconds since the log was last read through; infinite while reading it fails. */
  get lagMs () { return this.lastRead === 0 || this.failing ? Number.POSITIVE_INFINITY : Date.now() - this.lastRead }

  /**
   * Reads the log up to its end and applies it. Calls while a read runs share the next read, so
   * a caller always gets a read that started after its call (a writer sees its own change).
   */
  readonly follow = coalesced(async () => {
    try {
      await this.read()
      this.failing = false
    } catch (error) {
      // The database is unreachable: until a read works again, nothing cached may be trusted
      // (and none is served: requests get the database's 503s, as without a cache).
      this.failing = true
      throw error
    }
  })

  private async read () {
    const { database } = this.opts
    if (this.applied < 0) {
      // Starting: the cache is empty, so only where the log ends matters.
      const [row] = await rowsOf<{ seq: string | number }>(database.db, sql`select coalesce(max(seq), 0) as seq from changes`)
      this.applied = Number(row.seq)
      this.lastRead = Date.now()
      return
    }
    // The primary's WAL position, read with the changes: a replica must have replayed this far
    // before its answers may fill the cache again.
    const position = database.driver === 'pg' ? sql`, pg_current_wal_lsn()::text as lsn` : sql``
    for (;;) {
      const rows = await rowsOf<{ seq: string | number | null, tags: string[] | null, pruned: string | number, lsn?: string }>(database.db, sql`
        select c.seq, c.tags, p.seq as pruned${position}
        from change_cursors p left join lateral (select seq, tags from changes where seq > ${this.applied} order by seq limit ${BATCH}) c on true
        where p.name = 'pruned'`)
      if (rows[0]?.lsn) this.opts.replicas?.reached(rows[0].lsn)
      const pruned = Number(rows[0]?.pruned ?? 0)
      if (pruned > this.applied) {
        this.opts.log.warn({ applied: this.applied, pruned }, 'the change log was pruned past this instance; its cache starts over')
        for (const l of this.listeners) l.reset()
        this.applied = pruned
      }
      const changes = rows.filter((r) => r.seq !== null).map((r) => ({ seq: Number(r.seq), tags: r.tags ?? [] }))
      if (changes.length > 0) {
        for (const l of this.listeners) l.apply(changes)
        this.applied = changes[changes.length - 1].seq
      }
      if (changes.length < BATCH) break
    }
    this.lastRead = Date.now()
  }

  async start () {
    await this.follow()
    // A lost listening connection is read at once: if the database went away, the cache stops.
    this.subscription = await this.opts.database.listen(CHANNEL, (payload) => this.woken(payload), () => { this.follow().catch(() => {}) })
    this.timer = setInterval(() => {
      this.follow().catch((err: unknown) => this.opts.log.warn({ err }, 'reading the change log failed'))
    }, this.opts.pollMs)
    this.timer.unref()
  }

  private woken (payload: string) {
    const seq = Number(payload)
    if (seq > this.notified) this.notified = seq
    this.waiting = this.waiting.filter((w) => (w.seq <= this.notified ? (w.resolve(), false) : true))
    this.follow().catch(() => {})
  }

  /**
   * Resolves once the notification of everything applied so far came back (or after `ms`): the
   * other instances were sent theirs at the same moment, so they are waking up too.
   */
  echoed (ms: number): Promise<void> {
    const seq = this.applied
    if (!this.subscription || seq <= this.notified) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.waiting = this.waiting.filter((w) => w !== waiter)
        resolve()
      }
      const timer = setTimeout(done, ms)
      const waiter = { seq, resolve: done }
      this.waiting.push(waiter)
    })
  }

  async stop () {
    clearInterval(this.timer)
    await this.subscription?.close()
    await this.follow.settled()
  }
}
