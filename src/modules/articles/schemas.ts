// Articles: the story, its byline, its pictures and its place in sections and tags.
import { Type, type Static, type TSchema } from 'typebox'
import { anyOfQuery } from '../../http/filters.js'
import { sortQuery } from '../../http/pagination.js'
import { DateTimeSchema, FieldsQuery, IdSchema, PaginationQuery, SlugSchema, ref } from '../../http/schemas.js'
import { AuthorSchema } from '../authors/schemas.js'
import { CorrectionNoteSchema } from '../corrections/schemas.js'
import { PhotoSchema } from '../photos/schemas.js'
import { NullableText } from '../taxonomy/schemas.js'
import { SectionSchemas, TagSchemas } from '../taxonomy/schemas.js'

// Examples in the document come from one story, so "Try it out" sends something a newsroom would.
const HEADLINE = 'Flood waters recede in Sindh as relief camps close'
const STANDFIRST = 'Families begin the journey home to Dadu and Jamshoro, where fields remain under water.'

const Inline = (maxLength: number) => Type.String({
  minLength: 1,
  maxLength,
  description: 'Inline text: <a href>, <em> and <strong> are kept; any other markup is removed on write.'
})

// Each block type is a named component (ParagraphBlock, ...), so the discriminator can map to it.
const blockName = (type: string) => `${type[0].toUpperCase()}${type.slice(1)}Block`
const block = <T extends string, P extends Record<string, TSchema>>(type: T, props: P, example: Record<string, unknown>) =>
  Type.Object({ type: Type.Literal(type), ...props }, {
    $id: blockName(type),
    additionalProperties: false,
    examples: [{ type, ...example }]
  })

export const blockSchemas = [
  block('paragraph', { text: Inline(20_000) }, { text: 'Relief camps in Dadu and Jamshoro began closing on Sunday as flood waters receded across <strong>Sindh</strong>.' }),
  block('heading', { level: Type.Union([Type.Literal(2), Type.Literal(3), Type.Literal(4)]), text: Inline(500) }, { level: 2, text: 'Going home' }),
  block('quote', { text: Inline(5_000), attribution: Type.Optional(Type.String({ maxLength: 300 })) }, { text: 'The water has gone, but our fields are still under mud.', attribution: 'A farmer in Dadu' }),
  block('photo', { photoId: ref(IdSchema), caption: Type.Optional(Inline(2_000)) }, { photoId: '6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c', caption: 'Families leave a relief camp near Sehwan.' }),
  block('related', { articleId: ref(IdSchema) }, { articleId: '3c9a8b7d-2e1f-4a0b-9c8d-7e6f5a4b3c2d' }),
  block('list', { ordered: Type.Boolean(), items: Type.Array(Inline(5_000), { minItems: 1, maxItems: 200 }) }, { ordered: false, items: ['Dadu', 'Jamshoro', 'Sehwan'] }),
  block('embed', { url: Type.String({ format: 'uri', pattern: '^https://', maxLength: 2000 }) }, { url: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ' })
] as const

type BlockUnion = Static<(typeof blockSchemas)[number]>

// oneOf with a discriminator: a bad block gets the errors of its own type, not of all seven.
// Ajv's discriminator keyword applies to objects only, so `type: 'object'` is what refuses a
// block that is a string, a number or null (without it those passed validation). Ajv does not
// take `mapping` (compilers.ts leaves it out); it is for the document and generated clients.
export const BlockSchema = Type.Unsafe<BlockUnion>({
  $id: 'Block',
  type: 'object',
  oneOf: blockSchemas.map((b) => ref(b)),
  discriminator: {
    propertyName: 'type',
    mapping: Object.fromEntries(blockSchemas.map((b) => [b.properties.type.const, `#/components/schemas/${blockName(b.properties.type.const)}`]))
  },
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

const articleProperties = {
  id: ref(IdSchema),
  slug: ref(SlugSchema),
  headline: Type.String({ examples: [HEADLINE] }),
  standfirst: Nullable(Type.String({ examples: [STANDFIRST] })),
  dateline: Nullable(Type.String({ description: 'Where the story was filed, e.g. "ISLAMABAD".', examples: ['KARACHI'] })),
  body: Type.Array(ref(BlockSchema), { description: 'Not in lists unless `fields` asks for it. A reader who may not see the article a `related` block names gets the body without that block, as `relatedArticleIds` leaves it out.' }),
  bodyHtml: Type.String({ description: 'Read-only HTML of the body, safe to insert into a page. A photo is a `<figure class="photo">`: a `<picture>` with a WebP `<source>`, `srcset` of every rendition, `sizes`, `width`, `height`, `alt` and `loading="lazy"`, then a `<figcaption>` with the credit in `<span class="credit">`. An article with corrections ends with `<aside class="corrections"><h2>Corrections</h2>` and one `<p><time datetime="…">…</time> text</p>` a correction, oldest first, the text escaped. Not in lists unless `fields` asks for it.' }),
  corrections: Type.Array(ref(CorrectionNoteSchema), { description: 'Corrections appended by editors, oldest first (`POST /v1/articles/{id}/corrections`). Not in lists unless `fields` asks for it.' }),
  excerpt: Type.String({ examples: [STANDFIRST] }),
  status: Status,
  publishedAt: Nullable(ref(DateTimeSchema)),
  firstPublishedAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'When the article first went public (while scheduled for the first time: when it will). Set once: publishing again after an unpublish or archive restores it as `publishedAt` unless the editor gives another time.' }),
  createdAt: ref(DateTimeSchema),
  updatedAt: Type.Unsafe<string>({ ...ref(DateTimeSchema), description: 'The last substantive update readers are told about: when an editor last saved with `substantiveUpdate: true` or added a correction, and otherwise `publishedAt` (whichever is later). An article that has been neither published nor updated in substance shows its `modifiedAt`. Typo fixes, comment counts and other technical changes do not move it.' }),
  modifiedAt: Type.Optional(Type.Unsafe<string>({ ...ref(DateTimeSchema), description: 'Staff only: when anything about the article last changed (any edit, status change or correction).' })),
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
}

export const ArticleSchema = Type.Object(articleProperties, { $id: 'Article', additionalProperties: false })
export type Article = Static<typeof ArticleSchema>

// What a list returns for each article: the body only when `fields=` names it.
export const ArticleSummarySchema = Type.Object({
  ...articleProperties,
  body: Type.Optional({ ...articleProperties.body, description: 'Only with `fields=body`.' }),
  bodyHtml: Type.Optional({ ...articleProperties.bodyHtml, description: 'Read-only HTML of the body. Only with `fields=bodyHtml`.' }),
  corrections: Type.Optional({ ...articleProperties.corrections, description: 'Corrections, oldest first. Only with `fields=corrections`.' })
}, { $id: 'ArticleSummary', additionalProperties: false, description: 'An article in a list: everything but the body, unless `fields` asks for it.' })

const Ids = (maxItems: number, description: string) =>
  Type.Array(ref(IdSchema), { maxItems, uniqueItems: true, description })

export const CreateArticleBody = Type.Object({
  headline: Type.String({ minLength: 1, maxLength: 300, pattern: '\\S', examples: [HEADLINE] }),
  slug: Type.Optional(ref(SlugSchema)),
  standfirst: Type.Optional(NullableText(1000, STANDFIRST)),
  dateline: Type.Optional(NullableText(100, 'KARACHI')),
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

export const UpdateArticleBody = Type.Object({
  ...Type.Partial(CreateArticleBody).properties,
  substantiveUpdate: Type.Optional(Type.Boolean({ description: '`true` tells readers the story changed in substance: the article\'s `updatedAt` becomes now. Without it an edit moves only `modifiedAt` (staff), so fixing a typo does not present the story as updated.' }))
}, { additionalProperties: false, minProperties: 1 })
export type UpdateArticle = Static<typeof UpdateArticleBody>

export const PublishBody = Type.Object({
  publishedAt: Type.Optional(ref(DateTimeSchema))
}, {
  additionalProperties: false,
  description: 'A future publishedAt schedules the article; a past one backdates it. Without one, a published or scheduled article keeps its time, an article taken down (unpublished or archived) after it went public returns at its `firstPublishedAt`, and any other publishes now.'
})

// `authors.avatar` embeds the byline with each author's avatar photo (and implies `authors`).
export const articleIncludes = ['authors', 'authors.avatar', 'leadPhoto', 'section', 'tags', 'relatedArticles'] as const
export type ArticleInclude = (typeof articleIncludes)[number]
export const articleSorts = ['publishedAt', 'createdAt', 'updatedAt', 'modifiedAt', 'headline'] as const

const IncludeQuery = Type.Optional(Type.String({ maxLength: 200, description: `Embed related objects: ${articleIncludes.join(', ')}.`, examples: ['authors,leadPhoto,section'] }))

export const ListArticlesQuery = Type.Object({
  ...PaginationQuery.properties,
  ...FieldsQuery.properties,
  include: IncludeQuery,
  sort: sortQuery([...articleSorts], '-publishedAt (or relevance with `q`)'),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['relief camps'], description: 'Full-text search over headline, standfirst and body. Sorted by relevance unless `sort` says otherwise; relevance ranks the 1,000 most recent matches (most recently created for staff), while a sort by date or headline reaches every match.' })),
  section: anyOfQuery('section', 'national'),
  tag: anyOfQuery('tag', 'floods'),
  author: anyOfQuery('author', 'ayesha-siddiqui'),
  status: Type.Optional(Type.String({
    pattern: '^(any|(draft|scheduled|published|archived)(,(draft|scheduled|published|archived))*)$',
    examples: ['draft', 'scheduled,draft', 'any'],
    description: 'Which statuses to list, comma-separated, or `any`. Every caller gets `published` when it is left out, staff included: a staff token sees drafts only when it asks. Statuses other than `published` are for staff only. `scheduled` lists scheduled articles not yet due (one that is due is `published`).'
  })),
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
  status: Type.Union([Status, Type.Null()], { description: 'The article\'s status when the change was made; null on revisions made before it was recorded.' }),
  publishedAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'The article\'s `publishedAt` when the change was made; null when it had none, and on revisions made before it was recorded.' }),
  changedFields: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'The API fields the change modified (e.g. `headline`, `body`, `seo`); empty when it changed none, null on revisions made before they were recorded.' }),
  restoredFromId: Type.Union([ref(IdSchema), Type.Null()], { description: 'Set when the change restored another revision: that revision\'s id.' }),
  createdById: Nullable(ref(IdSchema)),
  createdBy: Type.Union([Type.Object({ id: ref(IdSchema), name: Type.String() }, { additionalProperties: false }), Type.Null()], { description: 'Who made the change; null when unknown (a deleted user, or a change made without a user).' }),
  createdAt: ref(DateTimeSchema)
}, { $id: 'Revision', additionalProperties: false, description: 'A version of the article as it was before a change, and who made that change, when, and what it touched.' })

export const RevisionParams = Type.Object({ id: ref(IdSchema), revisionId: ref(IdSchema) }, { additionalProperties: false })
export const ListRevisionsQuery = Type.Object({ ...PaginationQuery.properties }, { additionalProperties: false })

export const articleSchemas = [...blockSchemas, BlockSchema, ArticleRefSchema, SeoSchema, ArticleSchema, ArticleSummarySchema, RevisionSchema]
