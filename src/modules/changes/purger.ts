// Purges outside caches (Varnish, a CDN) by cache tag as changes commit. It follows the change
// log with a cursor of its own (`change_cursors` row 'purge'), which one instance at a time
// holds (FOR UPDATE SKIP LOCKED), and moves it only after every target took the batch: a purge
// that fails is tried again, with a growing wait, and no change is ever skipped. A notification
// on the log's channel wakes it at commit; a timer reads the log as well, in case one is lost.
//
// Every batch evicts `untagged` too: a response that no route tagged carries it, and any change
// may have touched it (src/http/public-cache.ts).
import { sql } from 'drizzle-orm'
import type { Database, Db, Subscription } from '../../db/client.js'
import { rowsOf } from '../../db/batch.js'
import { UNTAGGED } from '../../http/public-cache.js'
import { coalesced } from '../../lib/coalesce.js'
import { CHANNEL } from './follower.js'

const CURSOR = 'purge'
/** Changes read, and purged together, at a time. */
const BATCH = 500
/** The longest wait between two tries of a failing purge. */
const MAX_BACKOFF_MS = 60_000
/** A Varnish request's header line stays well below http_req_hdr_len (8 KB by default). */
const VARNISH_HEADER_CHARS = 4000

export type PurgeTarget = {
  /** For logs: where purges go (no credentials). */
  name: string
  purge: (tags: string[]) => Promise<void>
}

type Log = { warn: (obj: object, msg: string) => void, info: (obj: object, msg: string) => void, debug: (obj: object, msg: string) => void }

export type PurgerOptions = {
  database: Database
  targets: PurgeTarget[]
  pollMs: number
  /** Purges each batch once more after this long (0: never): see `repeat`. */
  repeatMs: number
  log: Log
  /** Run before each purge: this instance applies the changes to its own cache first. */
  before?: () => Promise<void>
}

/** Splits tags into groups whose space-separated length stays within `max` characters. */
export function chunkByLength (tags: string[], max: number): string[][] {
  const chunks: string[][] = []
  let current: string[] = []
  let length = 0
  for (const tag of tags) {
    if (current.length > 0 && length + 1 + tag.length > max) {
      chunks.push(current)
      current = []
      length = 0
    }
    length += (current.length > 0 ? 1 : 0) + tag.length
    current.push(tag)
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

export function chunkByCount<T> (items: T[], size: number): T[][] {
  const chunks: T[][] = []
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size))
  return chunks
}

/** `Name: value; Other-Name: value` as a header object (a `;` starts a new header only before `Name:`). */
export function parseHeaders (text: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {}
  if (!text) return headers
  for (const part of text.split(/;\s*(?=[A-Za-z0-9-]+\s*:)/)) {
    const colon = part.indexOf(':')
    if (colon <= 0) continue
    const name = part.slice(0, colon).trim()
    if (name !== '') headers[name.toLowerCase()] = part.slice(colon + 1).trim()
  }
  return headers
}

/** The template with its placeholders filled in: `{{tags_json}}`, `{{tags_space}}`, `{{tags_comma}}`. */
export function renderTemplate (template: string, tags: string[]): string {
  return template
    .replaceAll('{{tags_json}}', JSON.stringify(tags))
    .replaceAll('{{tags_space}}', tags.join(' '))
    .replaceAll('{{tags_comma}}', tags.join(','))
}

/** A URL without its credentials, for logs. */
const shownUrl = (url: string) => url.replace(/^([a-z]+:\/\/)[^@/]*@/i, '$1')

/** The start of an answer's body: what an error message needs, and no more is read. */
async function head (res: Response, limit = 4096): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.body ?? []) {
      chunks.push(Buffer.from(chunk as Uint8Array))
      size += (chunk as Uint8Array).length
      if (size >= limit) break
    }
  } catch {
    // A body cut short still says what it said so far.
  }
  await res.body?.cancel().catch(() => {})
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8')
}

// A purge target is the operator's own (their Varnish, their CDN account): unlike a webhook's
// URL, it may be a private address. It still gets a timeout, no redirects and a capped read.
async function send (url: string, init: RequestInit, timeoutMs: number) {
  const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
  const text = await head(res)
  if (!res.ok) throw new Error(`${init.method} ${shownUrl(url)} answered ${res.status}: ${text.slice(0, 200)}`)
}

/**
 * Varnish with deploy/varnish/default.vcl: `PURGE` with `xkey-purge: tag tag ...` (or
 * `xkey-softpurge`), as many requests as the header's length needs.
 */
export function varnishTarget (baseUrl: string, opts: { soft: boolean, timeoutMs: number }): PurgeTarget {
  const header = opts.soft ? 'xkey-softpurge' : 'xkey-purge'
  return {
    name: `varnish ${shownUrl(baseUrl)}`,
    async purge (tags) {
      for (const chunk of chunkByLength(tags, VARNISH_HEADER_CHARS)) {
        await send(baseUrl, { method: 'PURGE', headers: { [header]: chunk.join(' ') } }, opts.timeoutMs)
      }
    }
  }
}

/** A purge API (Fastly, Cloudflare, ...): one request a chunk of tags, its body from a template. */
export function httpTarget (opts: { url: string, method: string, bodyTemplate: string, headers: Record<string, string>, chunkSize: number, timeoutMs: number }): PurgeTarget {
  const headers = { 'content-type': 'application/json', ...opts.headers }
  const hasBody = opts.method !== 'GET' && opts.method !== 'HEAD'
  return {
    name: `${opts.method} ${shownUrl(opts.url)}`,
    async purge (tags) {
      for (const chunk of chunkByCount(tags, opts.chunkSize)) {
        await send(opts.url, { method: opts.method, headers, ...(hasBody && { body: renderTemplate(opts.bodyTemplate, chunk) }) }, opts.timeoutMs)
      }
    }
  }
}

export class Purger {
  /** The last change purged everywhere; -1 before the cursor was read. */
  purged = -1
  /** Purges that failed in a row. */
  failures = 0
  /** Requests' batches purged since start, and when the last one was (Date.now(), 0 before). */
  batches = 0
  lastPurgeAt = 0
  private notBefore = 0
  private timer: NodeJS.Timeout | undefined
  private retry: NodeJS.Timeout | undefined
  private readonly repeats = new Set<NodeJS.Timeout>()
  private subscription: Subscription | undefined
  private stopped = false

  constructor (private readonly opts: PurgerOptions) {}

  /** Purges what the log holds past the cursor. Calls while one runs share the next run. */
  readonly follow = coalesced(() => this.drain())

  private async drain () {
    if (this.stopped || Date.now() < this.notBefore) return
    try {
      while (!this.stopped && await this.step()) { /* the next batch */ }
      if (this.failures > 0) this.opts.log.info({ purged: this.purged }, 'purging outside caches works again')
      this.failures = 0
    } catch (err) {
      this.failures++
      const wait = Math.min(1000 * 2 ** (this.failures - 1), MAX_BACKOFF_MS)
      this.notBefore = Date.now() + wait
      this.opts.log.warn({ err, failures: this.failures, retryInMs: wait, purged: this.purged }, 'purging outside caches failed; the same changes are tried again')
      clearTimeout(this.retry)
      this.retry = setTimeout(() => { this.follow().catch(() => {}) }, wait)
      this.retry.unref()
    }
  }

  /** One batch: claims the cursor, purges, moves the cursor. True when there may be more. */
  private async step (): Promise<boolean> {
    const { database } = this.opts
    // This instance's own cache first, so a read that refills Varnish after the purge finds it
    // fresh (outside the claim: it needs a connection of its own).
    await this.opts.before?.()
    // PGlite is one process's own database (its folder is locked), so nothing else can hold the
    // cursor; and a transaction there would hold up every other query while purges are sent.
    const claim = (run: (db: Db) => Promise<boolean>) => database.driver === 'pg' ? database.db.transaction(run) : run(database.db)
    return claim(async (db) => {
      const [cursor] = await rowsOf<{ seq: string | number }>(db, sql`select seq from change_cursors where name = ${CURSOR} for update skip locked`)
      // Another instance is purging: it takes these changes.
      if (!cursor) return false
      const from = Number(cursor.seq)
      this.purged = from
      const rows = await rowsOf<{ seq: string | number, tags: string[] | null }>(db, sql`select seq, tags from changes where seq > ${from} order by seq limit ${BATCH}`)
      if (rows.length === 0) return false
      const tags = new Set<string>([UNTAGGED])
      for (const row of rows) for (const tag of row.tags ?? []) tags.add(tag)
      const last = Number(rows[rows.length - 1].seq)
      await this.purgeAll([...tags])
      await db.execute(sql`update change_cursors set seq = ${last}, at = now() where name = ${CURSOR}`)
      this.purged = last
      this.batches++
      this.lastPurgeAt = Date.now()
      this.opts.log.debug({ from, to: last, tags: tags.size }, 'purged outside caches')
      this.repeat([...tags])
      return rows.length === BATCH
    })
  }

  private async purgeAll (tags: string[]) {
    await Promise.all(this.opts.targets.map(async (target) => {
      try {
        await target.purge(tags)
      } catch (err) {
        throw new Error(`${target.name}: ${(err as Error).message}`, { cause: err })
      }
    }))
  }

  /**
   * A read that started before a change committed (or one answered by an instance or a replica
   * that had not seen it yet) can put the old answer back into a cache just after its purge:
   * the same tags go out once more a moment later.
   */
  private repeat (tags: string[]) {
    if (this.opts.repeatMs <= 0 || this.stopped) return
    const timer = setTimeout(() => {
      this.repeats.delete(timer)
      this.purgeAll(tags).catch((err: unknown) => this.opts.log.warn({ err }, 'repeating a purge failed'))
    }, this.opts.repeatMs)
    timer.unref()
    this.repeats.add(timer)
  }

  async start () {
    // A new cursor starts where the log ends: nothing cached before now needs evicting for
    // changes older than this instance's first start.
    await this.opts.database.db.execute(sql`
      insert into change_cursors (name, seq, at) select ${CURSOR}, coalesce(max(seq), 0), now() from changes
      on conflict (name) do nothing`)
    const wake = () => { this.follow().catch(() => {}) }
    this.subscription = await this.opts.database.listen(CHANNEL, wake, wake)
    this.timer = setInterval(wake, this.opts.pollMs)
    this.timer.unref()
    await this.follow()
  }

  async stop () {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.retry)
    for (const timer of this.repeats) clearTimeout(timer)
    this.repeats.clear()
    await this.subscription?.close()
    await this.follow.settled()
  }

  get stats () {
    return { purged: this.purged, batches: this.batches, failures: this.failures, lastPurgeAt: this.lastPurgeAt, targets: this.opts.targets.map((t) => t.name) }
  }
}
