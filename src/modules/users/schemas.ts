// Staff users and their API tokens.
import { Type, type Static } from 'typebox'
import { DateTimeSchema, IdSchema, PaginationQuery, ref } from '../../http/schemas.js'
import { NameText } from '../taxonomy/schemas.js'

const Role = Type.Unsafe<'admin' | 'editor' | 'author'>({ type: 'string', enum: ['admin', 'editor', 'author'], description: 'admin: everything; editor: all content and moderation; author: own drafts and photos.' })

export const UserSchema = Type.Object({
  id: ref(IdSchema),
  name: Type.String(),
  email: Type.String(),
  role: Role,
  authorId: Type.Union([ref(IdSchema), Type.Null()], { description: 'The author profile that is this user\'s byline.' }),
  createdAt: ref(DateTimeSchema),
  updatedAt: ref(DateTimeSchema)
}, { $id: 'User', additionalProperties: false })

export const CreateUserBody = Type.Object({
  name: NameText,
  email: Type.String({ format: 'email', maxLength: 320 }),
  role: Role,
  authorId: Type.Optional(Type.Union([ref(IdSchema), Type.Null()]))
}, { additionalProperties: false })
export const UpdateUserBody = Type.Partial(CreateUserBody, { additionalProperties: false, minProperties: 1 })

export const ListUsersQuery = Type.Object({ ...PaginationQuery.properties }, { additionalProperties: false })

export const TokenSchema = Type.Object({
  id: ref(IdSchema),
  userId: ref(IdSchema),
  label: Type.String(),
  prefix: Type.String({ description: 'The first characters of the secret, to recognise it.' }),
  expiresAt: Type.Union([ref(DateTimeSchema), Type.Null()]),
  lastUsedAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'Kept to the minute.' }),
  revokedAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'Set when this token, or the token that made it, was revoked.' }),
  createdByTokenId: Type.Union([ref(IdSchema), Type.Null()], { description: 'The token that made this one over the API; null when it came from the command line. This token never outlives it, and revoking it revokes this one.' }),
  createdAt: ref(DateTimeSchema)
}, { $id: 'Token', additionalProperties: false })

export const CreatedTokenSchema = Type.Object({
  ...TokenSchema.properties,
  token: Type.String({ description: 'The secret. It is shown this once and cannot be recovered.' })
}, { $id: 'CreatedToken', additionalProperties: false })

export const CreateTokenBody = Type.Object({
  userId: Type.Optional(ref(IdSchema)),
  label: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
  expiresAt: Type.Optional(Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'When the token stops working; `null`: never. At most the expiry of the token making it, which is also the default when that one expires.' }))
}, { additionalProperties: false, description: '`userId` defaults to the caller; only admins may name another user.' })

export const ListTokensQuery = Type.Object({
  ...PaginationQuery.properties,
  userId: Type.Optional(ref(IdSchema))
}, { additionalProperties: false })

export const userSchemas = [UserSchema, TokenSchema, CreatedTokenSchema]
export type CreateUser = Static<typeof CreateUserBody>
export type UpdateUser = Static<typeof UpdateUserBody>
