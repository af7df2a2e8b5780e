// Bulk editing: one action on up to 100 articles, named by `action` (a discriminated union, so
// the document shows each action's own fields and a client generator can type it).
import { Type, type Static, type TSchema } from 'typebox'
import { DateTimeSchema, IdSchema, ref } from '../../http/schemas.js'
import { ArticleSummarySchema } from './schemas.js'

/** The most articles one bulk request may name; more is a 400, never a silent cut. */
export const BULK_MAX_IDS = 100

const Ids = Type.Array(ref(IdSchema), {
  minItems: 1,
  maxItems: BULK_MAX_IDS,
  uniqueItems: true,
  description: `The articles to act on: 1 to ${BULK_MAX_IDS} ids, each once. All or nothing: if any of them blocks the action, nothing is changed.`,
  examples: [['0b7e4f3a-5c1d-4e8a-9f62-3d2c1b0a9e87', '3c9a8b7d-2e1f-4a0b-9c8d-7e6f5a4b3c2d']]
})
const TagIds = Type.Array(ref(IdSchema), { minItems: 1, maxItems: 50, uniqueItems: true, description: 'Tags, each once.' })

const actionName = (action: string) => `Bulk${action[0].toUpperCase()}${action.slice(1)}Articles`
const variant = <A extends string, P extends Record<string, TSchema>>(action: A, description: string, props: P) =>
  Type.Object({ action: Type.Literal(action), ids: Ids, ...props }, { $id: actionName(action), additionalProperties: false, description })

export const bulkVariants = [
  variant('publish', 'Publish every article, as `POST /v1/articles/{id}/publish` does: now, at a past `publishedAt`, or scheduled for a future one.', {
    publishedAt: Type.Optional(ref(DateTimeSchema))
  }),
  variant('unpublish', 'Take every article back to draft, as `POST /v1/articles/{id}/unpublish` does; each must be published or scheduled.', {}),
  variant('archive', 'Archive every article, as `POST /v1/articles/{id}/archive` does; none may be archived already.', {}),
  variant('delete', 'Delete every article, as `DELETE /v1/articles/{id}` does. Links between the articles deleted together do not block it; a link from any other article does.', {}),
  variant('addTags', 'Append the tags each article lacks (an article that has them all is left as it is). An article may hold at most 50 tags.', { tagIds: TagIds }),
  variant('removeTags', 'Remove the tags from each article that has them (others are left as they are).', { tagIds: TagIds }),
  variant('setSection', 'Put every article in the section, or in none with `null` (an article already there is left as it is).', {
    sectionId: Type.Union([ref(IdSchema), Type.Null()])
  })
] as const

type BulkUnion = Static<(typeof bulkVariants)[number]>
export type BulkAction = BulkUnion['action']

// oneOf with a discriminator, as the body blocks are (src/modules/articles/schemas.ts): a bad
// request gets the errors of its own action, not of all seven.
export const BulkArticlesBody = Type.Unsafe<BulkUnion>({
  $id: 'BulkArticlesRequest',
  type: 'object',
  oneOf: bulkVariants.map((v) => ref(v)),
  discriminator: {
    propertyName: 'action',
    mapping: Object.fromEntries(bulkVariants.map((v) => [v.properties.action.const, `#/components/schemas/${actionName(v.properties.action.const)}`]))
  },
  description: `One action on 1 to ${BULK_MAX_IDS} articles, in one transaction: every article changes, or (when any id blocks the action) none does.`
})
export type BulkArticles = BulkUnion

export const BulkArticlesResultSchema = Type.Object({
  data: Type.Array(ref(ArticleSummarySchema), { description: 'The articles as they are now, in the order of `ids`.' })
}, { $id: 'BulkArticlesResult', additionalProperties: false, description: 'The answer to every action but `delete`.' })

export const BulkDeleteResultSchema = Type.Object({
  deleted: Type.Array(ref(IdSchema), { description: 'The ids deleted, in the order of `ids`.' })
}, { $id: 'BulkDeleteResult', additionalProperties: false, description: 'The answer to `delete`.' })

export const BulkResponse = Type.Union([ref(BulkArticlesResultSchema), ref(BulkDeleteResultSchema)], {
  description: 'Every article changed: their summaries as they are now, or for `delete` the ids deleted.'
})

export const bulkSchemas = [...bulkVariants, BulkArticlesBody, BulkArticlesResultSchema, BulkDeleteResultSchema]
