// Small helpers that every module's handlers use to shape replies.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ifMatchTags, setVersion } from './caching.js'

export const ifMatch = (request: FastifyRequest) => ifMatchTags(request.headers['if-match'])

/** A single resource, with its version in the ETag. */
export function one<T extends { id: string, version: number }> (reply: FastifyReply, row: T) {
  setVersion(reply, row)
  return row
}

/** Location of a path of this API: absolute when PUBLIC_URL is set. */
export const location = (reply: FastifyReply, path: string) => reply.header('location', reply.server.publicUrls.api(path))

/** 201 Created with a Location header. */
export function created<T extends { id: string, version: number }> (reply: FastifyReply, request: FastifyRequest, row: T) {
  const base = request.url.split('?')[0].replace(/\/$/, '')
  location(reply.code(201), `${base}/${row.id}`)
  return one(reply, row)
}
