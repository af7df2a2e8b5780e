// /v1/tokens: admins manage every token; other staff list, create and revoke their own.
import type { Routes } from '../../http/type-provider.js'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { hasRole } from '../../http/auth.js'
import { AppError } from '../../http/errors.js'
import { location } from '../../http/replies.js'
import { IdParams, errorResponses, page, ref } from '../../http/schemas.js'
import { CreateTokenBody, CreatedTokenSchema, ListTokensQuery, TokenSchema } from '../users/schemas.js'
import { getUser } from '../users/service.js'
import { createTokenWith, getToken, listTokens, publicToken, revokeToken } from './service.js'

const tags = ['Tokens']

/** Non-admins act on their own tokens only; someone else's token is a 404 to them. */
function assertOwn (request: FastifyRequest, userId: string, notYours: () => Error) {
  if (!hasRole(request.principal, 'admin') && userId !== request.principal!.userId) throw notYours()
}

const tokenRoutes: Routes = async (app) => {
  app.get('/', {
    config: { access: 'author' },
    schema: { operationId: 'listTokens', summary: 'List tokens (admins: all, or one user\'s; others: their own)', tags, querystring: ListTokensQuery, response: { 200: page(ref(TokenSchema)) } }
  }, async (request) => {
    const isAdmin = hasRole(request.principal, 'admin')
    const userId = isAdmin ? request.query.userId : request.principal!.userId
    if (!isAdmin && request.query.userId && request.query.userId !== userId) throw new AppError('FORBIDDEN', 'Only admins may list other users\' tokens.')
    return listTokens(app.db, { ...request.query, userId })
  })

  app.post('/', {
    // The answer holds the secret, which is never stored: a repeat could not be answered alike.
    config: { access: 'author', idempotent: false },
    schema: {
      operationId: 'createToken', summary: 'Create a token; the secret is in the response, once', tags,
      description: 'A token never outlives the token that made it: when the caller\'s token expires, `expiresAt` defaults to that time, and a later one, or `null` (never), is a 400 naming `expiresAt`. Revoking a token revokes every token made with it (and those made with them). The secret is never stored, so this answer cannot be repeated: an `Idempotency-Key` here is a 400.',
      body: CreateTokenBody, response: { 201: ref(CreatedTokenSchema), ...errorResponses(400, 404) }
    }
  }, async (request, reply) => {
    const userId = request.body.userId ?? request.principal!.userId
    assertOwn(request, userId, () => new AppError('FORBIDDEN', 'Only admins may create tokens for other users.'))
    await getUser(app.db, userId)
    const given = request.body.expiresAt
    const expiresAt = given === undefined || given === null ? given : new Date(given)
    const { row, secret } = await createTokenWith(app.db, request.principal!.tokenId, { userId, label: request.body.label, expiresAt }, app.now())
    location(reply.code(201), `/v1/tokens/${row.id}`).header('cache-control', 'no-store')
    return { ...publicToken(row), token: secret }
  })

  app.get('/:id', {
    config: { access: 'author' },
    schema: { operationId: 'getToken', summary: 'Get a token (never its secret)', tags, params: IdParams, response: { 200: ref(TokenSchema), ...errorResponses(404) } }
  }, async (request) => {
    const token = await getToken(app.db, request.params.id)
    assertOwn(request, token.userId, () => new AppError('NOT_FOUND', 'Token not found.'))
    return token
  })

  app.delete('/:id', {
    config: { access: 'author' },
    schema: { operationId: 'revokeToken', summary: 'Revoke a token, and every token made with it', tags, params: IdParams, response: { 204: Type.Null({ description: 'Revoked.' }), ...errorResponses(404) } }
  }, async (request, reply) => {
    const token = await getToken(app.db, request.params.id)
    assertOwn(request, token.userId, () => new AppError('NOT_FOUND', 'Token not found.'))
    await revokeToken(app.db, token.id, app.now())
    return reply.code(204).send()
  })
}

export default tokenRoutes
