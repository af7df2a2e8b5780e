// Authors: the people in bylines. Email is private and reaches staff only.
import { Type, type Static } from 'typebox'
import { sortQuery } from '../../http/pagination.js'
import { DateTimeSchema, FieldsQuery, IdSchema, PaginationQuery, SlugSchema, ref } from '../../http/schemas.js'
import { PhotoSchema } from '../photos/schemas.js'
import { NameText, NullableText } from '../taxonomy/schemas.js'

const Url = Type.String({ format: 'uri', pattern: '^https?://', maxLength: 500 })
const linkNames = ['website', 'x', 'bluesky', 'mastodon', 'facebook', 'instagram', 'linkedin', 'threads', 'youtube'] as const

export const AuthorLinksSchema = Type.Object(
  Object.fromEntries(linkNames.map((n) => [n, Type.Optional(Url)])) as Record<(typeof linkNames)[number], ReturnType<typeof Type.Optional<typeof Url>>>,
  { $id: 'AuthorLinks', additionalProperties: false, description: 'Profile links, each an http(s) URL.' }
)

const BIO = 'Reports on climate and disasters from Karachi.'

export const AuthorSchema = Type.Object({
  id: ref(IdSchema),
  slug: ref(SlugSchema),
  name: Type.String({ examples: ['Ayesha Siddiqui'] }),
  bio: Type.Union([Type.String({ examples: [BIO] }), Type.Null()]),
  avatarId: Type.Union([ref(IdSchema), Type.Null()]),
  avatar: Type.Optional(Type.Union([ref(PhotoSchema), Type.Null()], { description: 'With `include=avatar`, or in an article with `include=authors.avatar`.' })),
  email: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Private: only in responses to staff.' })),
  links: ref(AuthorLinksSchema),
  createdAt: ref(DateTimeSchema),
  updatedAt: ref(DateTimeSchema)
}, { $id: 'Author', additionalProperties: false })

export const CreateAuthorBody = Type.Object({
  name: { ...NameText, examples: ['Ayesha Siddiqui'] },
  slug: Type.Optional(ref(SlugSchema)),
  bio: Type.Optional(NullableText(5000, BIO)),
  avatarId: Type.Optional(Type.Union([ref(IdSchema), Type.Null()])),
  email: Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 320 }), Type.Null()])),
  links: Type.Optional(ref(AuthorLinksSchema))
}, { additionalProperties: false })

export const UpdateAuthorBody = Type.Partial(CreateAuthorBody, { additionalProperties: false, minProperties: 1 })

export const authorIncludes = ['avatar'] as const
const IncludeQuery = Type.Optional(Type.String({ maxLength: 200, description: `Embed related objects: ${authorIncludes.join(', ')}.` }))

export const ListAuthorsQuery = Type.Object({
  ...PaginationQuery.properties,
  ...FieldsQuery.properties,
  include: IncludeQuery,
  sort: sortQuery(['name', 'createdAt'], 'name')
}, { additionalProperties: false })

export const GetAuthorQuery = Type.Object({ ...FieldsQuery.properties, include: IncludeQuery }, { additionalProperties: false })

export type Author = Static<typeof AuthorSchema>
export type CreateAuthor = Static<typeof CreateAuthorBody>
export type UpdateAuthor = Static<typeof UpdateAuthorBody>
export type ListAuthors = Static<typeof ListAuthorsQuery>
