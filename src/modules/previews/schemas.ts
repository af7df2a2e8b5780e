// Preview links: what staff send and get back when they share a draft with a reviewer.
import { Type, type Static } from 'typebox'
import { DateTimeSchema, IdSchema, PaginationQuery, ref } from '../../http/schemas.js'
import { NullableText } from '../taxonomy/schemas.js'

export const previewLinkStates = ['active', 'expired', 'revoked'] as const

export const PreviewLinkSchema = Type.Object({
  id: ref(IdSchema),
  articleId: ref(IdSchema),
  label: Type.Union([Type.String(), Type.Null()], { description: 'Who or what the link is for.', examples: ['For the legal desk'] }),
  state: Type.Unsafe<(typeof previewLinkStates)[number]>({
    type: 'string', enum: [...previewLinkStates], description: 'active: the link opens the preview; expired: past `expiresAt`; revoked: revoked by staff.'
  }),
  expiresAt: ref(DateTimeSchema),
  revokedAt: Type.Union([ref(DateTimeSchema), Type.Null()]),
  createdAt: ref(DateTimeSchema),
  createdBy: Type.Union([Type.Object({ id: ref(IdSchema), name: Type.String() }, { additionalProperties: false }), Type.Null()], {
    description: 'The staff user who made the link; null if that user no longer exists.'
  })
}, { $id: 'PreviewLink', additionalProperties: false, description: 'A preview link, without its secret: only its SHA-256 is stored.' })

export const CreatedPreviewLinkSchema = Type.Object({
  ...PreviewLinkSchema.properties,
  url: Type.String({ description: 'The preview\'s address (`GET /v1/previews/{token}`), which anyone holding it may open without a token. Shown this once and never again.', examples: ['https://api.example.com/v1/previews/dlp_q3Jc0m1yN8bXkz2uT5dA7fPqLr4sWv9eHg6iY0oKxZc'] }),
  token: Type.String({ description: 'The secret part of `url` (`dlp_` and 43 base64url characters), for a frontend that builds its own preview page. Shown this once.', examples: ['dlp_q3Jc0m1yN8bXkz2uT5dA7fPqLr4sWv9eHg6iY0oKxZc'] })
}, { $id: 'CreatedPreviewLink', additionalProperties: false })

export const CreatePreviewLinkBody = Type.Object({
  label: Type.Optional(NullableText(200, 'For the legal desk')),
  expiresInSeconds: Type.Optional(Type.Integer({ minimum: 60, description: 'How long the link lives, in seconds: `PREVIEW_LINK_DEFAULT_SECONDS` (7 days) unless given, at most `PREVIEW_LINK_MAX_SECONDS` (30 days).', examples: [86400] }))
}, { additionalProperties: false })
export type CreatePreviewLink = Static<typeof CreatePreviewLinkBody>

export const PreviewLinkParams = Type.Object({ id: ref(IdSchema), linkId: ref(IdSchema) }, { additionalProperties: false })
export const ListPreviewLinksQuery = Type.Object({ ...PaginationQuery.properties }, { additionalProperties: false })

// Any string (a path segment has one character at least): a malformed token is a 404 like an
// unknown one, never a 400 that tells them apart.
export const PreviewParams = Type.Object({ token: Type.String({ minLength: 1, description: 'The `token` of a preview link (`dlp_…`).', examples: ['dlp_q3Jc0m1yN8bXkz2uT5dA7fPqLr4sWv9eHg6iY0oKxZc'] }) }, { additionalProperties: false })

export const previewSchemas = [PreviewLinkSchema, CreatedPreviewLinkSchema]
