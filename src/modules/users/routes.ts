// /v1/users: admins manage staff; anyone with a token may ask who they are.
import type { Routes } from '../../http/type-provider.js'
import { Type } from 'typebox'
import { committed } from '../../http/idempotency.js'
import { created, ifMatch, one } from '../../http/replies.js'
import { IdParams, errorResponses, page, ref } from '../../http/schemas.js'
import { CreateUserBody, ListUsersQuery, UpdateUserBody, UserSchema } from './schemas.js'
import { createUser, deleteUser, getUser, listUsers, updateUser } from './service.js'

const tags = ['Users']

const userRoutes: Routes = async (app) => {
  app.get('/', {
    config: { access: 'admin' },
    schema: { operationId: 'listUsers', summary: 'List staff users', tags, querystring: ListUsersQuery, response: { 200: page(ref(UserSchema)) } }
  }, async (request) => listUsers(app.db, request.query))

  app.get('/me', {
    config: { access: 'author' },
    schema: { operationId: 'getMe', summary: 'The user the token belongs to', tags, response: { 200: ref(UserSchema) } }
  }, async (request, reply) => one(reply, await getUser(app.db, request.principal!.userId)))

  app.get('/:id', {
    config: { access: 'admin' },
    schema: { operationId: 'getUser', summary: 'Get a user', tags, params: IdParams, response: { 200: ref(UserSchema), ...errorResponses(404) } }
  }, async (request, reply) => one(reply, await getUser(app.db, request.params.id)))

  app.post('/', {
    config: { access: 'admin' },
    schema: { operationId: 'createUser', summary: 'Create a staff user', tags, body: CreateUserBody, response: { 201: ref(UserSchema), ...errorResponses(409) } }
  }, async (request, reply) => committed(request, reply, async (db) => created(reply, request, await createUser(db, request.body)), { transaction: false }))

  app.patch('/:id', {
    config: { access: 'admin' },
    schema: { operationId: 'updateUser', summary: 'Update a user (name, email, role, byline)', tags, params: IdParams, body: UpdateUserBody, response: { 200: ref(UserSchema), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => committed(request, reply, async (db) =>
    one(reply, await updateUser(db, request.params.id, request.body, ifMatch(request), app.now())), { transaction: false }))

  app.delete('/:id', {
    config: { access: 'admin' },
    schema: { operationId: 'deleteUser', summary: 'Delete a user and revoke their tokens', tags, params: IdParams, response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(404, 409, 412) } }
  }, async (request, reply) => {
    await deleteUser(app.db, request.params.id, ifMatch(request))
    return reply.code(204).send()
  })
}

export default userRoutes
