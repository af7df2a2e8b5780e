// What a webhook may subscribe to, and the body each delivery carries (the Standard Webhooks
// payload shape: `type`, `timestamp`, `data`).
import type { PublicUrls } from '../../lib/public-urls.js'

/** Every event the change log records (src/modules/changes/record.ts and its callers), and the ping. */
export const EVENTS = [
  'article.published', 'article.updated', 'article.unpublished', 'article.archived', 'article.deleted',
  'author.created', 'author.updated', 'author.deleted',
  'section.created', 'section.updated', 'section.deleted',
  'tag.created', 'tag.updated', 'tag.deleted',
  'photo.created', 'photo.updated', 'photo.deleted',
  'comment.approved', 'comment.rejected', 'comment.spam', 'comment.pending', 'comment.deleted',
  'content_key.revoked',
  'redirect.created', 'redirect.deleted'
] as const

export const PING = 'webhook.ping'

const entities = new Set(EVENTS.map((e) => e.split('.')[0]))

/** Why an entry of `events` is not one a webhook may ask for, or null when it is. */
export function badEvent (name: string): string | null {
  if (name === '*' || (EVENTS as readonly string[]).includes(name)) return null
  const m = /^([a-z_]+)\.\*$/.exec(name)
  if (m && entities.has(m[1])) return null
  return `is not a known event: use one of ${EVENTS.join(', ')}, <entity>.* or *`
}

/** Whether a webhook that asked for `wanted` gets `event`. */
export function wants (wanted: string[], event: string): boolean {
  return wanted.some((w) => w === '*' || w === event || (w.endsWith('.*') && event.startsWith(w.slice(0, -1))))
}

// The API path of each entity that has one of its own; a comment has none a receiver could read
// without moderator rights, so its `articleId` is what it gets.
const paths: Record<string, string> = {
  article: '/v1/articles/', author: '/v1/authors/', section: '/v1/sections/', tag: '/v1/tags/', photo: '/v1/photos/'
}

export type ChangeRow = { seq: number, at: Date, entity: string, entityId: string, event: string, data: Record<string, string> }

/** The exact body sent (and signed) for one change. */
export function changeBody (change: ChangeRow, urls: PublicUrls): string {
  const path = paths[change.entity]
  const gone = change.event.endsWith('.deleted')
  return JSON.stringify({
    type: change.event,
    timestamp: change.at.toISOString(),
    data: {
      seq: change.seq,
      entity: change.entity,
      id: change.entityId,
      event: change.event,
      ...change.data,
      ...(path && !gone && { url: urls.api(path + change.entityId) })
    }
  })
}

export function pingBody (webhookId: string, at: Date): string {
  return JSON.stringify({ type: PING, timestamp: at.toISOString(), data: { entity: 'webhook', id: webhookId, event: PING } })
}
