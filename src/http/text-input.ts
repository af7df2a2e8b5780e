// Text in a request is stored as sent, or refused naming where it is: JSON bodies are UTF-8 (RFC
// 8259), so another charset is a 415 and bytes that are not UTF-8 a 400; a string or key with NUL
// or an unpaired surrogate is a 400 naming its JSON Pointer; query parameters likewise.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { findBadText, firstInvalidUtf8, pointer, textProblem, utf8Text } from '../lib/text.js'
import { AppError } from './errors.js'

const badText = (path: string, message: string, where: 'body' | 'query') =>
  new AppError('VALIDATION_FAILED', `${where} ${path}: ${message}`, { errors: [{ path, in: where, message }] })

/** The charset parameter of a Content-Type, lowercased, if it has one. */
export function charsetOf (contentType: string | undefined): string | undefined {
  return contentType?.match(/;\s*charset\s*=\s*"?([^";\s]*)"?/i)?.[1].toLowerCase()
}

// A noncharacter marks where the first bad byte was, to find the field it sits in.
const MARK = '\uFDD0'

/** The JSON Pointer of the string holding the first bad byte, or "/" when it cannot be told. */
function whereInJson (body: Buffer, offset: number): string {
  const rest = body.subarray(offset + 1).toString('utf8')
  const before = body.subarray(0, offset).toString('utf8')
  if (before.includes(MARK) || rest.includes(MARK)) return '/'
  try {
    return findBadText(JSON.parse(before + MARK + rest), (s) => (s.includes(MARK) ? 'marked' : undefined))?.path ?? '/'
  } catch {
    return '/' // the bad byte stands outside any string: the body is no JSON at all
  }
}

const BAD_QUERY = Symbol('bad query text')
type Parsed = Record<string, string | string[]> & { [BAD_QUERY]?: { path: string, message: string } }

/** A query component: `+` is a space, percent escapes are bytes, and the bytes must be UTF-8. */
function decodeComponent (raw: string): { text: string, problem?: string } {
  const spaced = raw.replaceAll('+', ' ')
  if (!spaced.includes('%')) return { text: spaced }
  // A `%` that starts no escape stays as it is (as before: `100%` searches for "100%").
  const bytes = Buffer.concat(spaced.split(/(%[0-9A-Fa-f]{2})/).map((piece, i) =>
    i % 2 === 1 ? Buffer.from([parseInt(piece.slice(1), 16)]) : Buffer.from(piece, 'utf8')))
  const decoded = utf8Text(bytes)
  return decoded.problem ? { text: bytes.toString('utf8'), problem: decoded.problem } : { text: decoded.text! }
}

/**
 * Fastify's query string parser, made strict: the same result (repeated names give arrays), but a
 * value or name whose escapes are not UTF-8, or hold NUL, is marked for a 400 (see below) rather
 * than kept as a literal `%FF` or turned into U+FFFD.
 */
export function parseQueryString (query: string): Parsed {
  const out = Object.create(null) as Parsed
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const key = decodeComponent(eq === -1 ? pair : pair.slice(0, eq))
    const value = decodeComponent(eq === -1 ? '' : pair.slice(eq + 1))
    const problem = key.problem ?? value.problem ?? textProblem(key.text) ?? textProblem(value.text)
    if (problem && !out[BAD_QUERY]) {
      Object.defineProperty(out, BAD_QUERY, { value: { path: pointer('', key.text), message: problem }, enumerable: false })
    }
    const prior = out[key.text]
    out[key.text] = prior === undefined ? value.text : Array.isArray(prior) ? [...prior, value.text] : [prior, value.text]
  }
  return out
}

export default fp(async function textInput (app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'ignore')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request: FastifyRequest, body: Buffer, done) => {
    const charset = charsetOf(request.headers['content-type'])
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new AppError('UNSUPPORTED_MEDIA_TYPE', `JSON is UTF-8 (RFC 8259): charset=${charset} is not accepted. Send UTF-8, with charset=utf-8 or no charset.`), undefined)
      return
    }
    const bad = firstInvalidUtf8(body)
    if (bad !== -1) {
      done(badText(whereInJson(body, bad), `is not valid UTF-8 (byte 0x${body[bad].toString(16).padStart(2, '0')} at offset ${bad} of the body)`, 'body'), undefined)
      return
    }
    parseJson(request, body.toString('utf8'), (error, value) => {
      if (error) { done(error, undefined); return }
      const found = findBadText(value)
      done(found ? badText(found.path, found.message, 'body') : null, found ? undefined : value)
    })
  })

  app.addHook('preValidation', async (request) => {
    const found = (request.query as Parsed | undefined)?.[BAD_QUERY]
    if (found) throw badText(found.path, found.message, 'query')
  })
}, { name: 'text-input' })
