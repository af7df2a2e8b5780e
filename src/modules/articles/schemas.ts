// Articles: the story, its byline, its pictures and its place in sections and tags.
import { Type, type Static, type TSchema } from 'typebox'
import { sortQuery } from '../../http/pagination.js'
import { DateTimeSchema, FieldsQuery, IdSchema, PaginationQuery, SlugSchema, ref } from '../../http/schemas.js'
import { AuthorSchema } from '../authors/schemas.js'
import { PhotoSchema } from '../photos/schemas.js'
import { NullableText } from '../taxonomy/schemas.js'
import { SectionSchemas, TagSchemas } from '../taxonomy/schemas.js'

const Inline = (maxLength: number) => Type.String({
  minLength: 1,
  maxLength,
  description: 'Inline text: <a href>, <em> and <strong> are kept; any other markup is removed on write.'
})

const block = <T extends string, P extends Record<string, TSchema>>(type: T, props: P) =>
  Type.Object({ type: Type.Literal(type), ...props }, { additionalProperties: false })

const blocks = [
  block('paragraph', { text: Inline(20_000) }),
  block('heading', { level: Type.Union([Type.Literal(2), Type.Literal(3), Type.Literal(4)]), text: Inline(500) }),
  block('quote', { text: Inline(5_000), attribution: Type.Optional(Type.String({ maxLength: 300 })) }),
  block('photo', { photoId: ref(IdSchema), caption: Type.Optional(Inline(2_000)) }),
  block('related', { articleId: ref(IdSchema) }),
  block('list', { ordered: Type.Boolean(), items: Type.Array(Inline(5_000), { minItems: 1, maxItems: 200 }) }),
  block('embed', { url: Type.String({ format: 'uri', pattern: '^https://', maxLength: 2000 }) })
] as const

type BlockUnion = Static<(typeof blocks)[number]>

// oneOf with a discriminator: a bad block gets the errors of its own type, not of all seven.
// Ajv's discriminator keyword applies to objects only, so `type: 'object'` is what refuses a
// block that is a string, a number or null (without it those passed validation).
export const BlockSchema = Type.Unsafe<BlockUnion>({
  $id: 'Block',
  type: 'object',
  oneOf: blocks,
  discriminator: { propertyName: 'type' },
  description: 'One body block. A `related` block renders as "Also read: <headline>".'
})
export type Block = BlockUnion

export const articleStatuses = ['draft', 'scheduled', 'published', 'archived'] as const
const Status = Type.Unsafe<(typeof articleStatuses)[number]>({ type: 'string', enum: [...articleStatuses] })

export const ArticleRefSchema = Type.Object({
  id: ref(IdSchema),
  slug: ref(SlugSchema),
  headline: Type.String()
}, { $id: 'ArticleRef', additionalProperties: false })

export const SeoSchema = Type.Object({
  title: Type.Union([Type.String(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()])
}, { $id: 'Seo', additionalProperties: false })

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()])
const Included = <T extends TSchema>(t: T, name: string) => Type.Optional({ ...t, description: `With \`include=${name}\`.` })

export const ArticleSchema = Type.Object({
  id: ref(IdSchema),
  slug: ref(SlugSchema),
  headline: Type.String(),
  standfirst: Nullable(Type.String()),
  dateline: Nullable(Type.String({ description: 'Where the story was filed, e.g. "ISLAMABAD".' })),
  body: Type.Array(ref(BlockSchema), { description: 'Not in lists unless `fields` asks for it.' }),
  bodyHtml: Type.String({ description: 'Read-only HTML of the body, safe to insert into a page. Not in lists unless `fields` asks for it.' }),
  excerpt: Type.String(),
  status: Status,
  publishedAt: Nullable(ref(DateTimeSchema)),
  createdAt: ref(DateTimeSchema),
  updatedAt: ref(DateTimeSchema),
  authorIds: Type.Array(ref(IdSchema), { description: 'The byline, in order.' }),
  authors: Type.Optional(Type.Array(ref(AuthorSchema), { description: 'With `include=authors`; `include=authors.avatar` also embeds each author\'s `avatar` (a photo, or null).' })),
  leadPhotoId: Nullable(ref(IdSchema)),
  leadPhotoCaption: Nullable(Type.String({ description: 'Overrides the photo\'s own caption for this article.' })),
  leadPhoto: Included(Nullable(ref(PhotoSchema)), 'leadPhoto'),
  sectionId: Nullable(ref(IdSchema)),
  section: Included(Nullable(ref(SectionSchemas.Schema)), 'section'),
  tagIds: Type.Array(ref(IdSchema)),
  tags: Included(Type.Array(ref(TagSchemas.Schema)), 'tags'),
  relatedArticleIds: Type.Array(ref(IdSchema)),
  relatedArticles: Included(Type.Array(ref(ArticleRefSchema)), 'relatedArticles'),
  commentsOpen: Type.Boolean(),
  commentCount: Type.Integer({ description: 'Approved reader comments.' }),
  wordCount: Type.Integer(),
  readingTimeMinutes: Type.Integer(),
  seo: ref(SeoSchema)
}, { $id: 'Article', additionalProperties: false })
export type Article = Static<typeof ArticleSchema>

const Ids = (maxItems: number, description: string) =>
  Type.Array(ref(IdSchema), { maxItems, uniqueItems: true, description })

export const CreateArticleBody = Type.Object({
  headline: Type.String({ minLength: 1, maxLength: 300, pattern: '\\S' }),
  slug: Type.Optional(ref(SlugSchema)),
  standfirst: Type.Optional(NullableText(1000)),
  dateline: Type.Optional(NullableText(100)),
  body: Type.Optional(Type.Array(ref(BlockSchema), { maxItems: 1000 })),
  excerpt: Type.Optional(Type.Union([Type.String({ maxLength: 1000 }), Type.Null()], { description: 'A custom excerpt; null or absent derives one from the standfirst or body.' })),
  authorIds: Type.Optional(Ids(20, 'The byline, in order. Defaults to the caller\'s own author profile.')),
  leadPhotoId: Type.Optional(Nullable(ref(IdSchema))),
  leadPhotoCaption: Type.Optional(NullableText(2000)),
  sectionId: Type.Optional(Nullable(ref(IdSchema))),
  tagIds: Type.Optional(Ids(50, 'Tags, in order.')),
  relatedArticleIds: Type.Optional(Ids(20, 'Related articles, in order.')),
  commentsOpen: Type.Optional(Type.Boolean()),
  seo: Type.Optional(Type.Object({
    title: Type.Optional(NullableText(300)),
    description: Type.Optional(NullableText(500))
  }, { additionalProperties: false }))
}, { additionalProperties: false })
export type CreateArticle = Static<typeof CreateArticleBody>

export const UpdateArticleBody = Type.Partial(CreateArticleBody, { additionalProperties: false, minProperties: 1 })
export type UpdateArticle = Static<typeof UpdateArticleBody>

export const PublishBody = Type.Object({
  publishedAt: Type.Optional(ref(DateTimeSchema))
}, { additionalProperties: false, description: 'A future publishedAt schedules the article; a past one backdates it; none publishes now.' })

// `authors.avatar` embeds the byline with each author's avatar photo (and implies `authors`).
export const articleIncludes = ['authors', 'authors.avatar', 'leadPhoto', 'section', 'tags', 'relatedArticles'] as const
export type ArticleInclude = (typeof articleIncludes)[number]
export const articleSorts = ['publishedAt', 'createdAt', 'updatedAt', 'headline'] as const

const IncludeQuery = Type.Optional(Type.String({ maxLength: 200, description: `Embed related objects: ${articleIncludes.join(', ')}.` }))
const Ref = Type.String({ minLength: 1, maxLength: 120, description: 'An id or a slug.' })

export const ListArticlesQuery = Type.Object({
  ...PaginationQuery.properties,
  ...FieldsQuery.properties,
  include: IncludeQuery,
  sort: sortQuery([...articleSorts], '-publishedAt (or relevance with `q`)'),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Full-text search over headline, standfirst and body. Sorted by relevance unless `sort` says otherwise; relevance ranks the 1,000 most recent matches (most recently created for staff), while a sort by date or headline reaches every match.' })),
  section: Type.Optional(Ref),
  tag: Type.Optional(Ref),
  author: Type.Optional(Ref),
  status: Type.Optional({ ...Status, description: 'Staff only, except `published`.' }),
  publishedAfter: Type.Optional(ref(DateTimeSchema)),
  publishedBefore: Type.Optional(ref(DateTimeSchema))
}, { additionalProperties: false })
export type ListArticles = Static<typeof ListArticlesQuery>

export const GetArticleQuery = Type.Object({ ...FieldsQuery.properties, include: IncludeQuery }, { additionalProperties: false })
export type GetArticle = Static<typeof GetArticleQuery>

export const RevisionSchema = Type.Object({
  id: ref(IdSchema),
  articleId: ref(IdSchema),
  articleVersion: Type.Integer({ description: 'The article version this revision captured.' }),
  snapshot: Type.Object({}, { additionalProperties: true, description: 'The writable fields as they were.' }),
  createdById: Nullable(ref(IdSchema)),
  createdAt: ref(DateTimeSchema)
}, { $id: 'Revision', additionalProperties: false })

export const RevisionParams = Type.Object({ id: ref(IdSchema), revisionId: ref(IdSchema) }, { additionalProperties: false })
export const ListRevisionsQuery = Type.Object({ ...PaginationQuery.properties }, { additionalProperties: false })

export const articleSchemas = [BlockSchema, ArticleRefSchema, SeoSchema, ArticleSchema, RevisionSchema]
