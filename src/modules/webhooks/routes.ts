// /v1/webhooks: admins register endpoints, rotate their secrets, and read and replay their
// deliveries. The sending is the dispatcher's (dispatcher.ts).
import type { Routes } from '../../http/type-provider.js'
import { Type } from 'typebox'
import { OPTIONAL_BODY } from '../../http/openapi.js'
import { committed } from '../../http/idempotency.js'
import { ifMatch, location, one } from '../../http/replies.js'
import { IdParams, errorResponses, page, ref } from '../../http/schemas.js'
import {
  CreateWebhookBody, CreatedWebhookSchema, DeliveryParams, DeliverySchema, ListDeliveriesQuery, ListWebhooksQuery,
  RotateSecretBody, UpdateWebhookBody, WebhookSchema, WebhookSecretSchema
} from './schemas.js'
import {
  createWebhook, deleteWebhook, getWebhook, listDeliveries, listWebhooks, ping, publicDelivery, publicWebhook, redeliver, rotateSecret, updateWebhook
} from './service.js'

const tags = ['Webhooks']
const signing = 'Deliveries are signed per Standard Webhooks: `webhook-id` (the delivery, the same on every attempt), `webhook-timestamp` (unix seconds of the attempt) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` under the secret\'s bytes; during a rotation, two signatures, space-separated).'

const webhookRoutes: Routes = async (app) => {
  app.get('/', {
    config: { access: 'admin' },
    schema: { operationId: 'listWebhooks', summary: 'List webhook endpoints, newest first (never their secrets)', tags, querystring: ListWebhooksQuery, response: { 200: page(ref(WebhookSchema)) } }
  }, async (request) => listWebhooks(app.db, request.query))

  app.post('/', {
    // The answer holds the secret, shown once: a repeat could not be answered alike.
    config: { access: 'admin', idempotent: false },
    schema: {
      operationId: 'createWebhook', summary: 'Register a webhook endpoint; its signing secret is in the response, once', tags,
      description: `${signing} The endpoint gets the changes made after it was registered. \`Idempotency-Key\` is refused here (a 400), as the secret is shown once.`,
      body: CreateWebhookBody, response: { 201: ref(CreatedWebhookSchema), ...errorResponses(400) }
    }
  }, async (request, reply) => {
    const { row, secret } = await createWebhook(app.db, request.body, app.now())
    location(reply.code(201), `/v1/webhooks/${row.id}`).header('cache-control', 'no-store')
    return one(reply, { ...publicWebhook(row), secret })
  })

  app.get('/:id', {
    config: { access: 'admin' },
    schema: { operationId: 'getWebhook', summary: 'Get a webhook endpoint (never its secret)', tags, params: IdParams, response: { 200: ref(WebhookSchema), ...errorResponses(404) } }
  }, async (request, reply) => one(reply, publicWebhook(await getWebhook(app.db, request.params.id))))

  app.patch('/:id', {
    config: { access: 'admin' },
    schema: {
      operationId: 'updateWebhook', summary: 'Change a webhook endpoint; `enabled: true` re-enables one that was disabled for failing', tags,
      params: IdParams, body: UpdateWebhookBody, response: { 200: ref(WebhookSchema), ...errorResponses(404, 412) }
    }
  }, async (request, reply) => committed(request, reply, async (db) =>
    one(reply, publicWebhook(await updateWebhook(db, request.params.id, request.body, ifMatch(request), app.now())))))

  app.delete('/:id', {
    config: { access: 'admin' },
    schema: { operationId: 'deleteWebhook', summary: 'Delete a webhook endpoint and its delivery log', tags, params: IdParams, response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 412) } }
  }, async (request, reply) => {
    await deleteWebhook(app.db, request.params.id, ifMatch(request))
    return reply.code(204).send()
  })

  app.post('/:id/rotate-secret', {
    config: { access: 'admin', idempotent: false },
    // The body is optional: a bare POST keeps the old secret signing for a day.
    preValidation: async (request) => { request.body ??= {} },
    schema: {
      operationId: 'rotateWebhookSecret', summary: 'Make a new signing secret, shown once; the old one also signs during a grace period', tags,
      description: 'During the grace period every delivery carries two signatures in `webhook-signature`, one per secret, so a receiver can switch to the new secret at any time within it. `Idempotency-Key` is refused here (a 400), as the secret is shown once.',
      params: IdParams, body: RotateSecretBody, [OPTIONAL_BODY]: true,
      response: { 200: ref(WebhookSecretSchema), ...errorResponses(404, 412) }
    }
  }, async (request, reply) => {
    const { row, secret } = await rotateSecret(app.db, request.params.id, request.body?.graceSeconds ?? 86400, ifMatch(request), app.now())
    reply.header('cache-control', 'no-store')
    return { secret, previousSecretExpiresAt: publicWebhook(row).previousSecretExpiresAt }
  })

  app.get('/:id/deliveries', {
    config: { access: 'admin' },
    schema: {
      operationId: 'listWebhookDeliveries', summary: 'List an endpoint\'s deliveries, newest first', tags,
      params: IdParams, querystring: ListDeliveriesQuery, response: { 200: page(ref(DeliverySchema)), ...errorResponses(404) }
    }
  }, async (request) => listDeliveries(app.db, request.params.id, request.query))

  app.post('/:id/deliveries/:deliveryId/redeliver', {
    config: { access: 'admin' },
    schema: {
      operationId: 'redeliverWebhookDelivery', summary: 'Send a delivery again now (the same body and webhook-id), with a fresh retry schedule', tags,
      params: DeliveryParams, response: { 202: ref(DeliverySchema), ...errorResponses(404) }
    }
  }, async (request, reply) => {
    const row = await committed(request, reply, async (db) => {
      reply.code(202)
      return publicDelivery(await redeliver(db, request.params.id, request.params.deliveryId, app.now()))
    })
    app.webhooks.wake()
    return row
  })

  app.post('/:id/ping', {
    config: { access: 'admin' },
    schema: {
      operationId: 'pingWebhook', summary: 'Queue a `webhook.ping` delivery to the endpoint, sent at once', tags,
      description: 'A disabled endpoint gets it once it is enabled again.',
      params: IdParams, response: { 202: ref(DeliverySchema), ...errorResponses(404) }
    }
  }, async (request, reply) => {
    const row = await committed(request, reply, async (db) => {
      reply.code(202)
      return publicDelivery(await ping(db, request.params.id, app.now()))
    })
    app.webhooks.wake()
    return row
  })
}

export default webhookRoutes
