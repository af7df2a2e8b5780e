// Every table, index and relation of Dateline. Migrations are generated from this file.
import { sql } from 'drizzle-orm'
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  type AnyPgColumn
} from 'drizzle-orm/pg-core'

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' })

// Milliseconds, as JavaScript dates and RFC 3339 strings carry: a cursor holding a time then
// matches the stored value exactly.
const time = (name: string) => timestamp(name, { withTimezone: true, mode: 'date', precision: 3 })

const id = () => uuid('id').primaryKey().default(sql`gen_random_uuid()`)
const createdAt = () => time('created_at').notNull().defaultNow()
const updatedAt = () => time('updated_at').notNull().defaultNow()
// Bumped on every update; the ETag carries it so If-Match can be checked in the UPDATE itself.
const version = () => integer('version').notNull().default(1)

export const articleStatus = pgEnum('article_status', ['draft', 'scheduled', 'published', 'archived'])
export const userRole = pgEnum('user_role', ['admin', 'editor', 'author'])
export const commentStatus = pgEnum('comment_status', ['pending', 'approved', 'rejected', 'spam'])

export type PhotoRendition = { width: number; url: string; mimeType?: string }
export type AuthorLinks = Record<string, string>

export const photos = pgTable('photos', {
  id: id(),
  caption: text('caption'),
  credit: text('credit'),
  altText: text('alt_text'),
  width: integer('width'),
  height: integer('height'),
  mimeType: text('mime_type'),
  bytes: integer('bytes'),
  url: text('url').notNull(),
  renditions: jsonb('renditions').$type<PhotoRendition[]>().notNull().default([]),
  // SHA-256 of the uploaded file; null for a photo that only points at an outside URL.
  // Uploads of the same file share their stored files.
  sha256: text('sha256'),
  createdById: uuid('created_by_id'),
  // Set by an editor: public whatever uses it. Otherwise a photo is public only while something
  // public uses it (src/modules/photos/service.ts, publicPhotos).
  public: boolean('public').notNull().default(false),
  version: version(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
  // What `q=` searches: the 'simple' configuration lowercases words and keeps them whole (no
  // stemming, no stop words), since credits and captions are names and places more than prose.
  search: tsvector('search').notNull().generatedAlwaysAs(sql`
    to_tsvector('simple', coalesce(caption, '') || ' ' || coalesce(credit, '') || ' ' || coalesce(alt_text, ''))`)
}, (t) => [
  index('photos_created_at_idx').on(t.createdAt.desc(), t.id.desc()),
  index('photos_sha256_idx').on(t.sha256),
  index('photos_search_idx').using('gin', t.search),
  // `credit=` is case-insensitive and keeps the newest-first keyset order of the list.
  index('photos_credit_idx').on(sql`lower(${t.credit})`, t.createdAt.desc(), t.id.desc())
])

export const authors = pgTable('authors', {
  id: id(),
  slug: text('slug').notNull(),
  name: text('name').notNull(),
  bio: text('bio'),
  avatarId: uuid('avatar_id').references(() => photos.id, { onDelete: 'restrict' }),
  email: text('email'),
  links: jsonb('links').$type<AuthorLinks>().notNull().default({}),
  version: version(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [
  uniqueIndex('authors_slug_key').on(t.slug.op('text_pattern_ops')),
  index('authors_name_idx').on(t.name, t.id),
  index('authors_avatar_idx').on(t.avatarId)
])

const taxonomy = (name: 'sections' | 'tags') => pgTable(name, {
  id: id(),
  slug: text('slug').notNull(),
  name: text('name').notNull(),
  description: text('description'),
  version: version(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [uniqueIndex(`${name}_slug_key`).on(t.slug.op('text_pattern_ops')), index(`${name}_name_idx`).on(t.name, t.id)])

export const sections = taxonomy('sections')
export const tags = taxonomy('tags')

export const articles = pgTable('articles', {
  id: id(),
  slug: text('slug').notNull(),
  headline: text('headline').notNull(),
  standfirst: text('standfirst'),
  dateline: text('dateline'),
  body: jsonb('body').$type<unknown[]>().notNull().default([]),
  // Plain text of the body, kept for search and excerpts.
  bodyText: text('body_text').notNull().default(''),
  customExcerpt: text('custom_excerpt'),
  autoExcerpt: text('auto_excerpt').notNull().default(''),
  status: articleStatus('status').notNull().default('draft'),
  publishedAt: time('published_at'),
  // When the article first went public (or, scheduled for the first time, will): set once, so a
  // story taken down and put back keeps its place. See changeStatus.
  firstPublishedAt: time('first_published_at'),
  leadPhotoId: uuid('lead_photo_id').references(() => photos.id, { onDelete: 'restrict' }),
  leadPhotoCaption: text('lead_photo_caption'),
  sectionId: uuid('section_id').references(() => sections.id, { onDelete: 'restrict' }),
  commentsOpen: boolean('comments_open').notNull().default(true),
  wordCount: integer('word_count').notNull().default(0),
  readingTimeMinutes: integer('reading_time_minutes').notNull().default(0),
  seoTitle: text('seo_title'),
  seoDescription: text('seo_description'),
  // Approved comments, kept in step by every comment write in the same transaction.
  commentCount: integer('comment_count').notNull().default(0),
  // When readers were last told the story changed in substance (an editor said so, or a
  // correction was added); `updated_at` moves on every technical change.
  contentUpdatedAt: time('content_updated_at'),
  createdById: uuid('created_by_id'),
  search: tsvector('search').notNull().generatedAlwaysAs(sql`
    setweight(to_tsvector('english', coalesce(headline, '')), 'A') ||
    setweight(to_tsvector('english', coalesce(standfirst, '')), 'B') ||
    setweight(to_tsvector('english', coalesce(body_text, '')), 'C')`),
  version: version(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [
  // text_pattern_ops: the same index serves `slug = ?` and the `slug LIKE 'base-%'` of slug generation.
  uniqueIndex('articles_slug_key').on(t.slug.op('text_pattern_ops')),
  // Public lists: published (or scheduled and due) newest first.
  index('articles_public_published_idx').on(t.publishedAt.desc(), t.id.desc())
    .where(sql`status in ('published', 'scheduled')`),
  index('articles_status_published_idx').on(t.status, t.publishedAt.desc(), t.id.desc()),
  index('articles_created_idx').on(t.createdAt.desc(), t.id.desc()),
  index('articles_updated_idx').on(t.updatedAt.desc(), t.id.desc()),
  index('articles_section_published_idx').on(t.sectionId, t.publishedAt.desc(), t.id.desc()),
  index('articles_lead_photo_idx').on(t.leadPhotoId),
  index('articles_search_idx').using('gin', t.search)
])

export const articleAuthors = pgTable('article_authors', {
  articleId: uuid('article_id').notNull().references(() => articles.id, { onDelete: 'cascade' }),
  authorId: uuid('author_id').notNull().references(() => authors.id, { onDelete: 'restrict' }),
  position: integer('position').notNull()
}, (t) => [primaryKey({ columns: [t.articleId, t.authorId] }), index('article_authors_author_idx').on(t.authorId, t.articleId)])

export const articleTags = pgTable('article_tags', {
  articleId: uuid('article_id').notNull().references(() => articles.id, { onDelete: 'cascade' }),
  tagId: uuid('tag_id').notNull().references(() => tags.id, { onDelete: 'restrict' }),
  position: integer('position').notNull()
}, (t) => [primaryKey({ columns: [t.articleId, t.tagId] }), index('article_tags_tag_idx').on(t.tagId, t.articleId)])

// "Also read" links, both the explicit list and the ones inside body blocks.
export const articleRelated = pgTable('article_related', {
  articleId: uuid('article_id').notNull().references(() => articles.id, { onDelete: 'cascade' }),
  relatedId: uuid('related_id').notNull().references(() => articles.id, { onDelete: 'restrict' }),
  position: integer('position').notNull(),
  // true when the link is in relatedArticleIds, false when it only comes from a body block
  listed: boolean('listed').notNull()
}, (t) => [primaryKey({ columns: [t.articleId, t.relatedId] }), index('article_related_related_idx').on(t.relatedId)])

// Photos used inside body blocks, so a photo in use cannot be deleted.
export const articleBodyPhotos = pgTable('article_body_photos', {
  articleId: uuid('article_id').notNull().references(() => articles.id, { onDelete: 'cascade' }),
  photoId: uuid('photo_id').notNull().references(() => photos.id, { onDelete: 'restrict' })
}, (t) => [primaryKey({ columns: [t.articleId, t.photoId] }), index('article_body_photos_photo_idx').on(t.photoId)])

export const articleRevisions = pgTable('article_revisions', {
  id: id(),
  articleId: uuid('article_id').notNull().references(() => articles.id, { onDelete: 'cascade' }),
  articleVersion: integer('article_version').notNull(),
  // The article's writable fields as they were before the change.
  snapshot: jsonb('snapshot').$type<Record<string, unknown>>().notNull(),
  // The article's status and publication time when the revision was made, and the fields the
  // change made to it (null on revisions from before they were recorded).
  status: articleStatus('status'),
  publishedAt: time('published_at'),
  changedFields: text('changed_fields').array(),
  // Set on a revision made by restoring another.
  restoredFromId: uuid('restored_from_id'),
  createdById: uuid('created_by_id'),
  createdAt: createdAt()
}, (t) => [uniqueIndex('article_revisions_article_version_key').on(t.articleId, t.articleVersion.desc())])

export const users = pgTable('users', {
  id: id(),
  name: text('name').notNull(),
  email: text('email').notNull(),
  role: userRole('role').notNull(),
  authorId: uuid('author_id').references(() => authors.id, { onDelete: 'set null' }),
  version: version(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [uniqueIndex('users_email_key').on(sql`lower(${t.email})`), index('users_created_idx').on(t.createdAt.desc(), t.id.desc())])

export const apiTokens = pgTable('api_tokens', {
  id: id(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  label: text('label').notNull(),
  // SHA-256 of the secret; the secret itself is never stored.
  tokenHash: text('token_hash').notNull(),
  // The first characters of the secret, to tell tokens apart in a list.
  prefix: text('prefix').notNull(),
  expiresAt: time('expires_at'),
  lastUsedAt: time('last_used_at'),
  revokedAt: time('revoked_at'),
  // The token that created this one over the API (null: made by the command line). Revoking a
  // token revokes every token it made, and theirs; deleting it deletes them.
  createdByTokenId: uuid('created_by_token_id').references((): AnyPgColumn => apiTokens.id, { onDelete: 'cascade' }),
  createdAt: createdAt()
}, (t) => [
  uniqueIndex('api_tokens_hash_key').on(t.tokenHash),
  index('api_tokens_user_idx').on(t.userId, t.createdAt.desc()),
  index('api_tokens_created_by_idx').on(t.createdByTokenId)
])

export const comments = pgTable('comments', {
  id: id(),
  articleId: uuid('article_id').notNull().references(() => articles.id, { onDelete: 'cascade' }),
  parentId: uuid('parent_id').references((): AnyPgColumn => comments.id, { onDelete: 'cascade' }),
  // The top-level comment of the thread (itself for a top-level comment): a page of threads
  // loads all its replies with one query.
  threadId: uuid('thread_id').notNull(),
  depth: integer('depth').notNull().default(0),
  authorName: text('author_name').notNull(),
  authorEmail: text('author_email').notNull(),
  body: text('body').notNull(),
  status: commentStatus('status').notNull().default('pending'),
  moderationReasons: jsonb('moderation_reasons').$type<string[]>().notNull().default([]),
  // Keyed hash of the client address: enough to spot abuse, never the address itself.
  clientHash: text('client_hash').notNull(),
  bodyHash: text('body_hash').notNull(),
  moderatedById: uuid('moderated_by_id'),
  moderatedAt: time('moderated_at'),
  version: version(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [
  // For cascading deletes from an article or a comment.
  index('comments_article_idx').on(t.articleId),
  index('comments_parent_idx').on(t.parentId),
  index('comments_article_threads_idx').on(t.articleId, t.status, t.createdAt, t.id).where(sql`parent_id is null`),
  index('comments_thread_idx').on(t.threadId, t.createdAt),
  index('comments_queue_idx').on(t.status, t.createdAt, t.id),
  index('comments_repeat_idx').on(t.clientHash, t.bodyHash, t.createdAt)
])

// Who moderated what and when, one row per status change.
export const commentModerations = pgTable('comment_moderations', {
  id: id(),
  commentId: uuid('comment_id').notNull().references(() => comments.id, { onDelete: 'cascade' }),
  fromStatus: commentStatus('from_status').notNull(),
  toStatus: commentStatus('to_status').notNull(),
  moderatorId: uuid('moderator_id').notNull(),
  createdAt: createdAt()
}, (t) => [index('comment_moderations_comment_idx').on(t.commentId, t.createdAt)])

// Settings the instances share, e.g. the key for hashing client addresses.
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull()
})

// Idempotency-Key requests: the first answer to a caller's key, replayed to its repeats. The
// answer is written in the same transaction as the write it reports, so a write that committed
// always has its answer here, and a retry after a lost answer never writes twice.
export const idempotencyKeys = pgTable('idempotency_keys', {
  // Whose key: `token:<id>` for a staff token, `client:<keyed hash of the address>` for anyone else.
  scope: text('scope').notNull(),
  key: text('key').notNull(),
  method: text('method').notNull(),
  path: text('path').notNull(),
  // SHA-256 of method, path and body: the same key with another request is refused.
  requestHash: text('request_hash').notNull(),
  // running: a request holds it (its `claim`); done: `status`, `headers` and `body` are the answer.
  state: text('state').notNull(),
  // Which run holds the key: a run whose claim was taken over cannot store its answer.
  claim: uuid('claim').notNull(),
  // The instance running it, so that instance can tell a claim it no longer runs.
  owner: text('owner').notNull(),
  status: integer('status'),
  headers: jsonb('headers').$type<Record<string, string>>(),
  body: text('body'),
  createdAt: time('created_at').notNull(),
  claimedAt: time('claimed_at').notNull(),
  expiresAt: time('expires_at').notNull()
}, (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_keys_expires_idx').on(t.expiresAt)])

// The change log: one row for every write that changes what a reader can see, written in that
// write's own transaction. Caches evict by its tags, webhooks and purges are sent from it, and
// GET /v1/changes serves it. `seq` is set by a trigger (migrations/0005) that takes a lock held
// to commit, so rows become visible in `seq` order: a follower that has read N missed nothing
// below N.
export const changes = pgTable('changes', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  at: time('at').notNull(),
  // article, author, photo, section, tag, comment
  entity: text('entity').notNull(),
  entityId: uuid('entity_id').notNull(),
  // article.published, article.updated, comment.approved, ...
  event: text('event').notNull(),
  // The cache tags it evicts (src/lib/cache-tags.ts).
  tags: text('tags').array().notNull(),
  // What a receiver needs to find the entity: its slug, a comment's article.
  data: jsonb('data').$type<Record<string, string>>().notNull().default({})
}, (t) => [index('changes_at_idx').on(t.at)])

// Where each reader of the change log has got to, for readers shared by all instances (the
// webhook fan-out, purgers, pruning): one row each, claimed with
// FOR UPDATE SKIP LOCKED, so one instance at a time moves it.
export const changeCursors = pgTable('change_cursors', {
  name: text('name').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull().default(0),
  at: time('at')
})

export const webhooks = pgTable('webhooks', {
  id: id(),
  url: text('url').notNull(),
  description: text('description'),
  // Event names it wants (`article.published`), or `*` for all.
  events: text('events').array().notNull(),
  enabled: boolean('enabled').notNull().default(true),
  // Standard Webhooks signing secret (`whsec_...`), shown once. During a rotation the previous
  // one also signs until `previous_secret_expires_at`.
  secret: text('secret').notNull(),
  previousSecret: text('previous_secret'),
  previousSecretExpiresAt: time('previous_secret_expires_at'),
  // The change log's end when it was made: it gets the changes after that, not the log before.
  createdSeq: bigint('created_seq', { mode: 'number' }).notNull().default(0),
  // Why it was disabled by the system (kept failing), null when enabled or disabled by hand.
  disabledReason: text('disabled_reason'),
  failingSince: time('failing_since'),
  version: version(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
})

export const webhookDeliveries = pgTable('webhook_deliveries', {
  // Also the `webhook-id` header: the same on every attempt, so receivers can de-duplicate.
  id: id(),
  webhookId: uuid('webhook_id').notNull().references(() => webhooks.id, { onDelete: 'cascade' }),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  event: text('event').notNull(),
  entity: text('entity').notNull(),
  entityId: uuid('entity_id').notNull(),
  // The exact bytes sent (and signed) on every attempt.
  body: text('body').notNull(),
  // pending, delivered, failed (gave up); a pending one with `lease_until` ahead is being sent.
  state: text('state').notNull().default('pending'),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: time('next_attempt_at').notNull(),
  leaseUntil: time('lease_until'),
  lastStatus: integer('last_status'),
  lastDurationMs: integer('last_duration_ms'),
  lastError: text('last_error'),
  createdAt: createdAt(),
  deliveredAt: time('delivered_at')
}, (t) => [
  index('webhook_deliveries_due_idx').on(t.state, t.nextAttemptAt),
  index('webhook_deliveries_webhook_idx').on(t.webhookId, t.createdAt),
  index('webhook_deliveries_entity_idx').on(t.webhookId, t.entityId, t.seq)
])

export const webhookAttempts = pgTable('webhook_attempts', {
  id: id(),
  deliveryId: uuid('delivery_id').notNull().references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
  attempt: integer('attempt').notNull(),
  at: time('at').notNull(),
  status: integer('status'),
  durationMs: integer('duration_ms').notNull(),
  error: text('error')
}, (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.attempt)])

// Read-only keys for frontends and apps: they read published content only, and may ship inside
// a browser bundle or a mobile app. Only the SHA-256 of the secret is stored.
export const contentKeys = pgTable('content_keys', {
  id: id(),
  label: text('label').notNull(),
  keyHash: text('key_hash').notNull(),
  prefix: text('prefix').notNull(),
  // Origins a browser may use it from (empty: any).
  allowedOrigins: text('allowed_origins').array().notNull().default(sql`'{}'::text[]`),
  createdById: uuid('created_by_id'),
  lastUsedAt: time('last_used_at'),
  revokedAt: time('revoked_at'),
  createdAt: createdAt()
}, (t) => [uniqueIndex('content_keys_hash_key').on(t.keyHash), index('content_keys_created_idx').on(t.createdAt.desc(), t.id.desc())])

// Links that show a draft or scheduled article to someone without a token. Only the SHA-256 of
// the link's secret is stored.
export const previewLinks = pgTable('preview_links', {
  id: id(),
  articleId: uuid('article_id').notNull().references(() => articles.id, { onDelete: 'cascade' }),
  tokenHash: text('token_hash').notNull(),
  label: text('label'),
  createdById: uuid('created_by_id'),
  expiresAt: time('expires_at').notNull(),
  revokedAt: time('revoked_at'),
  createdAt: createdAt()
}, (t) => [uniqueIndex('preview_links_hash_key').on(t.tokenHash), index('preview_links_article_idx').on(t.articleId, t.createdAt.desc())])

// Slugs an article, author, section or tag had while public: the old URL redirects to the
// current one, and the slug stays reserved for it until an editor releases it.
export const slugRedirects = pgTable('slug_redirects', {
  id: id(),
  // article, author, section, tag
  entity: text('entity').notNull(),
  slug: text('slug').notNull(),
  targetId: uuid('target_id').notNull(),
  createdAt: createdAt()
}, (t) => [
  uniqueIndex('slug_redirects_entity_slug_key').on(t.entity, t.slug),
  index('slug_redirects_target_idx').on(t.targetId),
  index('slug_redirects_created_idx').on(t.createdAt.desc(), t.id.desc())
])

// Public corrections appended to an article. Never edited away silently: an edit keeps the
// earlier wording in `history`.
export const articleCorrections = pgTable('article_corrections', {
  id: id(),
  articleId: uuid('article_id').notNull().references(() => articles.id, { onDelete: 'cascade' }),
  text: text('text').notNull(),
  publishedAt: time('published_at').notNull(),
  history: jsonb('history').$type<{ text: string; editedAt: string; editedById: string | null }[]>().notNull().default([]),
  createdById: uuid('created_by_id'),
  version: version(),
  createdAt: createdAt(),
  updatedAt: updatedAt()
}, (t) => [index('article_corrections_article_idx').on(t.articleId, t.publishedAt)])
