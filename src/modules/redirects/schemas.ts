// Old slugs and where they lead.
import { Type, type Static } from 'typebox'
import { DateTimeSchema, IdSchema, PaginationQuery, ref } from '../../http/schemas.js'
import { sortQuery } from '../../http/pagination.js'

export const REDIRECT_ENTITIES = ['article', 'author', 'section', 'tag'] as const
export type RedirectEntity = (typeof REDIRECT_ENTITIES)[number]

const EntitySchema = Type.Unsafe<RedirectEntity>({ type: 'string', enum: [...REDIRECT_ENTITIES], description: 'What the slug names: an article, author, section or tag.' })

/** The body of a `301` from an old slug: where the resource is now. */
export const MovedSchema = Type.Object({
  id: ref(IdSchema),
  slug: Type.Unsafe<string>({ $ref: 'Slug', description: 'The current slug; `Location` is its by-slug URL.' })
}, { $id: 'Moved', additionalProperties: false, description: 'An old slug: the resource it named, and its current slug.' })
export type Moved = Static<typeof MovedSchema>

export const RedirectSchema = Type.Object({
  id: ref(IdSchema),
  entity: EntitySchema,
  from: Type.String({ description: 'The old slug.', examples: ['floods-recede-in-sindh'] }),
  to: Type.String({ description: 'The current slug it leads to.', examples: ['flood-waters-recede-in-sindh'] }),
  targetId: ref(IdSchema),
  location: Type.String({ description: 'The current by-slug URL of the API (absolute when `PUBLIC_URL` is set).', examples: ['/v1/articles/by-slug/flood-waters-recede-in-sindh'] }),
  createdAt: ref(DateTimeSchema)
}, { $id: 'Redirect', additionalProperties: false })
export type RedirectOut = Static<typeof RedirectSchema>

export const ListRedirectsQuery = Type.Object({
  ...PaginationQuery.properties,
  entity: Type.Optional(EntitySchema),
  sort: sortQuery(['createdAt'], '-createdAt')
}, { additionalProperties: false })
export type ListRedirects = Static<typeof ListRedirectsQuery>

export const redirectSchemas = [MovedSchema, RedirectSchema]
