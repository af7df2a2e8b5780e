// Sections and tags share one shape: a name, a slug and a description.
import { Type, type Static } from 'typebox'
import { DateTimeSchema, FieldsQuery, IdSchema, PaginationQuery, SlugSchema, ref } from '../../http/schemas.js'
import { sortQuery } from '../../http/pagination.js'

export const NameText = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Not blank; at most 200 characters.' })
export const NullableText = (maxLength: number, example?: string) =>
  Type.Union([Type.String({ maxLength, ...(example !== undefined && { examples: [example] }) }), Type.Null()])

const examples = {
  Section: { name: 'National', description: 'News from across Pakistan.' },
  Tag: { name: 'Floods', description: 'Monsoon floods and the relief effort.' }
}

function taxonomySchemas<K extends 'Section' | 'Tag'> (kind: K) {
  const example = examples[kind]
  const Schema = Type.Object({
    id: ref(IdSchema),
    slug: ref(SlugSchema),
    name: Type.String({ examples: [example.name] }),
    description: Type.Union([Type.String({ examples: [example.description] }), Type.Null()]),
    createdAt: ref(DateTimeSchema),
    updatedAt: ref(DateTimeSchema)
  }, { $id: kind, additionalProperties: false })

  const CreateBody = Type.Object({
    name: { ...NameText, examples: [example.name] },
    slug: Type.Optional(ref(SlugSchema)),
    description: Type.Optional(NullableText(2000, example.description))
  }, { additionalProperties: false })

  const UpdateBody = Type.Partial(CreateBody, { additionalProperties: false, minProperties: 1 })

  const ListQuery = Type.Object({
    ...PaginationQuery.properties,
    ...FieldsQuery.properties,
    sort: sortQuery(['name', 'createdAt'], 'name')
  }, { additionalProperties: false })

  return { Schema, CreateBody, UpdateBody, ListQuery }
}

export const SectionSchemas = taxonomySchemas('Section')
export const TagSchemas = taxonomySchemas('Tag')
export type TaxonomyCreate = Static<typeof SectionSchemas.CreateBody>
export type TaxonomyUpdate = Static<typeof SectionSchemas.UpdateBody>
export type TaxonomyListQuery = Static<typeof SectionSchemas.ListQuery>
