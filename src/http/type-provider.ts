// Request parts are typed from their TypeBox schemas. Replies are left untyped on purpose:
// handlers return Dates and sparse fieldsets, and the response schema still governs the output.
import type { FastifyPluginAsync, FastifyTypeProvider, RawServerDefault } from 'fastify'
import type { Static, TSchema } from 'typebox'

export interface TypeProvider extends FastifyTypeProvider {
  validator: this['schema'] extends TSchema ? Static<this['schema']> : unknown
  serializer: unknown
}

export type Routes = FastifyPluginAsync<Record<never, never>, RawServerDefault, TypeProvider>
