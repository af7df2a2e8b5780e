// Reader comments: plain text, moderated, in threads.
import { Type, type Static } from 'typebox'
import { sortQuery } from '../../http/pagination.js'
import { DateTimeSchema, IdSchema, PaginationQuery, ref } from '../../http/schemas.js'

export const commentStatuses = ['pending', 'approved', 'rejected', 'spam'] as const
const Status = Type.Unsafe<(typeof commentStatuses)[number]>({ type: 'string', enum: [...commentStatuses] })
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof ref>>(t: T) => Type.Union([t, Type.Null()])

const commentFields = {
  id: ref(IdSchema),
  articleId: ref(IdSchema),
  parentId: Nullable(ref(IdSchema)),
  replyingTo: Nullable(Type.String({ description: 'The name of the author of the parent comment ("Replying to X").' })),
  depth: Type.Integer({ description: '0 for a top-level comment.' }),
  authorName: Type.String(),
  body: Type.String({ description: 'Plain text, exactly as written; render it as text, never as HTML.' }),
  status: Status,
  createdAt: ref(DateTimeSchema),
  // Staff only:
  authorEmail: Type.Optional(Type.String({ description: 'Private: editors and admins only.' })),
  moderationReasons: Type.Optional(Type.Array(Type.String(), { description: 'Editors and admins only: why the screen held or rejected it.' })),
  clientId: Type.Optional(Type.String({ description: 'Editors and admins only: a keyed hash of the poster\'s address, to spot abuse. Never the address.' })),
  moderatedById: Type.Optional(Nullable(ref(IdSchema))),
  moderatedAt: Type.Optional(Nullable(ref(DateTimeSchema))),
  article: Type.Optional(Type.Object({ id: ref(IdSchema), slug: Type.String(), headline: Type.String() }, { additionalProperties: false, description: 'In the moderation queue.' }))
}

export const CommentSchema = Type.Object(commentFields, { $id: 'Comment', additionalProperties: false })

export const CommentThreadSchema = Type.Object({
  ...commentFields,
  replies: Type.Array(Type.Object(commentFields, { additionalProperties: false }), { description: 'Every visible reply in the thread, oldest first; `parentId` tells which comment each answers.' })
}, { $id: 'CommentThread', additionalProperties: false })

export const PostCommentBody = Type.Object({
  authorName: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S' }),
  authorEmail: Type.String({ format: 'email', maxLength: 320 }),
  body: Type.String({ minLength: 1, maxLength: 20_000, description: '1 to 5,000 characters after trimming.' }),
  parentId: Type.Optional(ref(IdSchema)),
  website: Type.Optional(Type.String({ maxLength: 500, description: 'Honeypot: leave empty. A hidden form field that only bots fill in.' }))
}, { additionalProperties: false })
export type PostComment = Static<typeof PostCommentBody>

export const ArticleCommentsQuery = Type.Object({
  ...PaginationQuery.properties,
  sort: sortQuery(['createdAt'], 'createdAt'),
  status: Type.Optional({ ...Status, description: 'Editors and admins only; other callers get approved comments, and asking for another status is a 401 (no token) or 403 (an author).' })
}, { additionalProperties: false })
export type ArticleComments = Static<typeof ArticleCommentsQuery>

export const QueueQuery = Type.Object({
  ...PaginationQuery.properties,
  status: Type.Optional({ ...Status, description: 'Default pending.' }),
  article: Type.Optional(ref(IdSchema)),
  sort: sortQuery(['createdAt'], 'createdAt (oldest first)')
}, { additionalProperties: false })
export type Queue = Static<typeof QueueQuery>

const Decision = Type.Unsafe<'approved' | 'rejected' | 'spam' | 'pending'>({ type: 'string', enum: ['approved', 'rejected', 'spam', 'pending'] })

export const ModerateBody = Type.Object({ status: Decision }, { additionalProperties: false })
export const BulkModerateBody = Type.Object({
  ids: Type.Array(ref(IdSchema), { minItems: 1, maxItems: 200, uniqueItems: true }),
  status: Decision
}, { additionalProperties: false, description: 'All or nothing: one unknown id changes nothing.' })

export const BulkResultSchema = Type.Object({ updated: Type.Integer() })

export const commentSchemas = [CommentSchema, CommentThreadSchema]
