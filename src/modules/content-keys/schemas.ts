import { Type } from 'typebox'
import { DateTimeSchema, IdSchema, PaginationQuery, ref } from '../../http/schemas.js'

const Origin = Type.String({
  maxLength: 200,
  pattern: '^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$',
  description: 'An origin as browsers send it: scheme, host and port if not the default, with no path.',
  examples: ['https://news.example.com']
})

export const ContentKeySchema = Type.Object({
  id: ref(IdSchema),
  label: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it.' }),
  allowedOrigins: Type.Array(Origin, { description: 'Origins a browser may use the key from; empty: any. A request without `Origin` (an app, a server) is not held to it.' }),
  lastUsedAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'Kept to the minute or so.' }),
  revokedAt: Type.Union([ref(DateTimeSchema), Type.Null()]),
  createdAt: ref(DateTimeSchema)
}, { $id: 'ContentKey', additionalProperties: false })

export const CreatedContentKeySchema = Type.Object({
  ...ContentKeySchema.properties,
  key: Type.String({ description: 'The key. It is shown this once and cannot be recovered; send it as `Authorization: Bearer <key>`.' })
}, { $id: 'CreatedContentKey', additionalProperties: false })

export const CreateContentKeyBody = Type.Object({
  label: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', examples: ['iOS app'] }),
  allowedOrigins: Type.Optional(Type.Array(Origin, { maxItems: 50, uniqueItems: true }))
}, { additionalProperties: false })

export const ListContentKeysQuery = Type.Object({ ...PaginationQuery.properties }, { additionalProperties: false })

export const contentKeySchemas = [ContentKeySchema, CreatedContentKeySchema]
