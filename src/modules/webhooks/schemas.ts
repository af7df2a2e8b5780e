// Webhook endpoints, their deliveries, and the bodies that manage them.
import { Type, type Static } from 'typebox'
import { DateTimeSchema, IdSchema, PaginationQuery, ref } from '../../http/schemas.js'
import { NullableText } from '../taxonomy/schemas.js'

const Url = Type.String({
  minLength: 1,
  maxLength: 2000,
  description: 'Where deliveries are POSTed: an http(s) URL without credentials. It must resolve to a public address unless WEBHOOK_ALLOW_PRIVATE is set.',
  examples: ['https://hooks.example.com/dateline']
})
const Events = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  minItems: 1,
  maxItems: 100,
  description: 'Event names (`article.published`), `<entity>.*` for all of one entity\'s events, or `*` for every event.',
  examples: [['article.published', 'article.updated']]
})

export const WebhookSchema = Type.Object({
  id: ref(IdSchema),
  url: Type.String({ examples: ['https://hooks.example.com/dateline'] }),
  description: Type.Union([Type.String(), Type.Null()]),
  events: Type.Array(Type.String(), { examples: [['article.published', 'article.updated']] }),
  enabled: Type.Boolean({ description: 'Disabled endpoints receive nothing; their pending deliveries wait until they are enabled again.' }),
  disabledReason: Type.Union([Type.String(), Type.Null()], { description: 'Set when Dateline disabled the endpoint because its deliveries kept failing; cleared when it is enabled again.' }),
  failingSince: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'When its attempts started failing; null after a success.' }),
  previousSecretExpiresAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'After a rotation: until when the previous secret also signs.' }),
  createdAt: ref(DateTimeSchema),
  updatedAt: ref(DateTimeSchema)
}, { $id: 'Webhook', additionalProperties: false })

export const CreatedWebhookSchema = Type.Object({
  ...WebhookSchema.properties,
  secret: Type.String({ description: 'The signing secret (`whsec_` and base64). It is shown this once and never again.', examples: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'] })
}, { $id: 'CreatedWebhook', additionalProperties: false })

export const WebhookSecretSchema = Type.Object({
  secret: Type.String({ description: 'The new signing secret, shown this once.' }),
  previousSecretExpiresAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'Until when the previous secret also signs; null when it stopped at once.' })
}, { $id: 'WebhookSecret', additionalProperties: false })

export const DeliverySchema = Type.Object({
  id: ref(IdSchema),
  event: Type.String({ examples: ['article.published'] }),
  seq: Type.Integer({ description: 'The change\'s position in the change log; 0 for a ping.' }),
  state: Type.Unsafe<'pending' | 'delivered' | 'failed'>({ type: 'string', enum: ['pending', 'delivered', 'failed'], description: 'pending: waiting for its next attempt (or being sent); delivered: answered 2xx; failed: every attempt failed.' }),
  attempts: Type.Integer({ description: 'Attempts since it was queued (or redelivered).' }),
  lastStatus: Type.Union([Type.Integer(), Type.Null()], { description: 'The last answer\'s HTTP status; null when none came.' }),
  lastDurationMs: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()], { description: 'Why the last attempt failed.' }),
  nextAttemptAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'When it is sent next; null once delivered or failed.' }),
  createdAt: ref(DateTimeSchema),
  deliveredAt: Type.Union([ref(DateTimeSchema), Type.Null()])
}, { $id: 'WebhookDelivery', additionalProperties: false })

export const CreateWebhookBody = Type.Object({
  url: Url,
  events: Events,
  description: Type.Optional(NullableText(500, 'The newsroom site\'s cache purger')),
  enabled: Type.Optional(Type.Boolean({ default: true }))
}, { additionalProperties: false })

export const UpdateWebhookBody = Type.Partial(CreateWebhookBody, { additionalProperties: false, minProperties: 1 })

export const RotateSecretBody = Type.Object({
  graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 86400, default: 86400, description: 'How long the previous secret also signs (both signatures are sent): 0 to 604800 seconds (7 days); one day by default.' }))
}, { additionalProperties: false })

export const ListWebhooksQuery = Type.Object({ ...PaginationQuery.properties }, { additionalProperties: false })
export const ListDeliveriesQuery = Type.Object({
  ...PaginationQuery.properties,
  state: Type.Optional(Type.Unsafe<'pending' | 'delivered' | 'failed'>({ type: 'string', enum: ['pending', 'delivered', 'failed'], description: 'Only deliveries in this state.' }))
}, { additionalProperties: false })

export const DeliveryParams = Type.Object({ id: ref(IdSchema), deliveryId: ref(IdSchema) }, { additionalProperties: false })

export const webhookSchemas = [WebhookSchema, CreatedWebhookSchema, WebhookSecretSchema, DeliverySchema]
export type CreateWebhook = Static<typeof CreateWebhookBody>
export type UpdateWebhook = Static<typeof UpdateWebhookBody>
export type ListDeliveries = Static<typeof ListDeliveriesQuery>
