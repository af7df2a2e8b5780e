// Responses are compressed for clients that accept it, brotli first, then gzip, as browsers, CDNs
// and mobile HTTP stacks all ask: a 66 KB front page travels as about 10 KB. The ETag stays the
// same across encodings (as Express, Koa and Directus do), so an editor's If-Match keeps working
// whatever their client accepted. Request bodies are not decompressed: a compressed JSON body is
// refused like any other body that is not JSON.
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import compress from '@fastify/compress'
import { Negotiator } from '@fastify/accept-negotiator'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export const ENCODINGS = ['br', 'gzip'] as const
export type Encoding = typeof ENCODINGS[number]

/** Smaller bodies go as they are: the saving would not pay for the work. */
export const THRESHOLD = 1024

// Quality 4 compresses a JSON page nearly as well as gzip -9, several times faster than 11.
const brotliOptions = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }

const negotiator = new Negotiator<Encoding>({ supportedValues: [...ENCODINGS] })
const gzipAlias = /\*|x-gzip/g
/** Answers by header value: a few are common; a flood of odd ones only empties it. */
const chosen = new Map<string, Encoding | null>()

/** The encoding the plugin chooses for this Accept-Encoding header, found the same way. */
export function encodingFor (header: string | undefined): Encoding | null {
  if (header === undefined) return null
  let encoding = chosen.get(header)
  if (encoding === undefined) {
    encoding = negotiator.negotiate(header.toLowerCase().replace(gzipAlias, 'gzip'))
    if (chosen.size >= 100) chosen.clear()
    chosen.set(header, encoding)
  }
  return encoding
}

/** Compresses a stored body, with the settings the plugin uses. */
export function compressBody (encoding: Encoding, body: Buffer): Buffer {
  return encoding === 'br' ? brotliCompressSync(body, brotliOptions) : gzipSync(body)
}

/** Registered after every onSend hook that may turn a response into a 304 or store it. */
export default fp(async function compression (app: FastifyInstance) {
  await app.register(compress, { encodings: [...ENCODINGS], threshold: THRESHOLD, brotliOptions, globalDecompression: false })
}, { name: 'compression' })
