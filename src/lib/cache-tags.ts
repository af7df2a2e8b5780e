// Cache tags: what a cached public response was built from, and what a change evicts. The same
// short strings name entries in this API's own cache and, through `Surrogate-Key` and
// `Cache-Tag`, in Varnish, Fastly and Cloudflare.
//
// An entity's tag is a prefix and a hash of its id (11 characters of base64url SHA-256, 66 bits),
// so a list page of 20 articles with their bylines, sections and photos stays far below the CDNs'
// header limits; a collision could only evict an entry more than needed.
import { createHash } from 'node:crypto'

export type Entity = 'article' | 'author' | 'photo' | 'section' | 'tag' | 'comment' | 'content_key'

const prefixes = { article: 'a', author: 'au', photo: 'p', section: 's', tag: 't', comment: 'cm', content_key: 'ck' } as const

const short = (id: string) => createHash('sha256').update(id.toLowerCase()).digest('base64url').slice(0, 11)

/** One entity: its page, and every response that embeds or links to it. */
export const entityTag = (entity: Entity, id: string) => `${prefixes[entity]}-${short(id)}`

/** The comments of one article (its comment pages). */
export const commentsTag = (articleId: string) => `c-${short(articleId)}`

/**
 * Article lists: `al` is every list that is not narrowed to a section, tag or author (the front
 * page, search, feeds); `al-s-…`, `al-t-…`, `al-au-…` are the lists narrowed to one of them.
 */
export const ARTICLE_LISTS = 'al'
export const articleListTag = (by: 'section' | 'tag' | 'author', id: string) => `al-${entityTag(by, id)}`

/** The list of every author, section, tag or photo. */
export const listTag = (entity: 'author' | 'section' | 'tag' | 'photo') => `${prefixes[entity]}l`

/** The list of old slugs (GET /v1/redirects): a redirect written or released evicts it. */
export const REDIRECTS = 'rl'

/**
 * The tags of a public article: its own, the lists it is in, and the list families of its
 * byline, section and tags. A change that makes it appear, go or move evicts these.
 */
export function articleTags (a: { id: string, sectionId: string | null, authorIds: string[], tagIds: string[] }): string[] {
  return [
    entityTag('article', a.id),
    ARTICLE_LISTS,
    ...(a.sectionId ? [articleListTag('section', a.sectionId)] : []),
    ...a.authorIds.map((id) => articleListTag('author', id)),
    ...a.tagIds.map((id) => articleListTag('tag', id))
  ]
}
