// Writing the change log (src/db/schema.ts, `changes`): called by every write that can change
// what a reader sees, with the write's own transaction, so the change and its row commit or roll
// back together. The row's trigger numbers it and wakes every instance at commit.
import { changes } from '../../db/schema.js'
import type { Db } from '../../db/client.js'
import { articleListTag, entityTag, listTag, type Entity } from '../../lib/cache-tags.js'

export type Change = {
  /** A content entity, or `redirect`: an old slug kept or released (src/modules/redirects). */
  entity: Entity | 'redirect'
  entityId: string
  /** `<entity>.<what>`: article.published, author.updated, comment.approved, ... */
  event: string
  /** The cache tags it evicts (src/lib/cache-tags.ts). */
  tags: string[]
  data?: Record<string, string>
}

export async function recordChange (db: Db, at: Date, change: Change): Promise<void> {
  // `seq` is the trigger's; the 0 only satisfies the column's type here.
  await db.insert(changes).values({ seq: 0, at, ...change, tags: [...new Set(change.tags)], data: change.data ?? {} })
}

/**
 * An author, section, tag or photo made, changed or deleted: a new one joins its list; a change
 * reaches its own page, its list, every response that embeds it, and (for a byline, section or
 * tag) the article lists narrowed to it.
 */
export function entityChange (entity: 'author' | 'section' | 'tag' | 'photo', row: { id: string, slug?: string }, what: 'created' | 'updated' | 'deleted', also: string[] = []): Change {
  const tags = what === 'created'
    ? [listTag(entity)]
    : [entityTag(entity, row.id), listTag(entity), ...(entity === 'photo' ? [] : [articleListTag(entity, row.id)])]
  return { entity, entityId: row.id, event: `${entity}.${what}`, tags: [...tags, ...also], data: row.slug ? { slug: row.slug } : {} }
}

/** An author's avatar is public while the author is: one that comes or goes changes the photos'. */
export const avatarTags = (...ids: Array<string | null | undefined>) => {
  const photos = [...new Set(ids.filter((id): id is string => !!id))]
  return photos.length === 0 ? [] : [listTag('photo'), ...photos.map((id) => entityTag('photo', id))]
}
