// Requests generated from the committed OpenAPI document by json-schema-faker (path and query
// parameters, bodies), from anonymous callers and from each staff role, half of them made
// hostile (wrong types, huge strings, deep nesting, odd Unicode, missing and extra fields, bad
// ids, methods a path does not take, odd headers and content types, broken JSON). Every answer:
// no 5xx; every 4xx is application/problem+json; every status is one the operation documents
// and every JSON body matches the documented schema; and a refused write changes no row.
// FUZZ_REQUESTS (default 3000) sets how many, FUZZ_SEED (printed) replays a run.
import { readFileSync } from 'node:fs'
import { randomInt } from 'node:crypto'
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import t from 'tap'
import { sql } from 'drizzle-orm'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { createGeneratorSync } from 'json-schema-faker'
import { build, call, type Harness } from './helper.js'

type Schema = Record<string, unknown>
type Parameter = { name: string, in: 'path' | 'query' | 'header', required?: boolean, schema: Schema }
type Operation = {
  method: string
  path: string
  id: string
  parameters: Parameter[]
  body?: Schema
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>
}

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3000)
const SEED = Number(process.env.FUZZ_SEED ?? randomInt(1, 2 ** 31 - 1))
t.comment(`FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS}`)
t.setTimeout(Math.max(300_000, REQUESTS * 100))

const doc = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8'))
const components = doc.components as Schema
const METHODS = ['get', 'post', 'put', 'patch', 'delete']
const operations: Operation[] = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, ops]) =>
  Object.entries(ops).filter(([method]) => METHODS.includes(method)).map(([method, op]) => ({
    method: method.toUpperCase(),
    path,
    id: op.operationId as string,
    parameters: (op.parameters ?? []) as Parameter[],
    body: op.requestBody?.content?.['application/json']?.schema,
    responses: op.responses
  })))

/** mulberry32: the mutations' dice, from the same seed as the generator. */
function prng (seed: number) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(SEED)
const chance = (p: number) => random() < p
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]

// At most a few items an array: an article body of hundreds of generated blocks takes seconds to make.
const faker = createGeneratorSync({ seed: SEED, optionalsProbability: 0.5, maxDefaultItems: 3, maxItems: 4, failOnInvalidTypes: false } as never)
let unfakeable = 0
/** A value for the schema; a schema the generator cannot satisfy gives an empty object. */
function fake (schema: Schema): unknown {
  try {
    return faker.generate({ ...schema, components })
  } catch {
    unfakeable++
    return {}
  }
}

// Each response is checked against the document: schemas by their place in it.
const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: true })
addFormats.default(ajv)
ajv.addSchema({ $id: 'doc', components })
const rebased = (schema: Schema): Schema => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'))
const validators = new Map<Schema, ReturnType<typeof ajv.compile>>()
function validate (schema: Schema, value: unknown) {
  let v = validators.get(schema)
  if (!v) validators.set(schema, v = ajv.compile(rebased(schema)))
  return v(value) ? undefined : ajv.errorsText(v.errors)
}

const ODD_STRINGS = [
  '', ' ', '\u0000', 'nul\u0000in the middle', '\ud800', 'lone \udfff surrogate', '\u202eevil', 'e\u0301', '\ufeffbom', '\uffff',
  '💥🧨', 'Z̵̢̛͉a̷l̶g̸o', '<script>alert(1)</script>', "'; drop table articles; --", '%00', '../../etc/passwd', '${jndi:ldap://x}',
  '\r\nX-Injected: 1', 'null', 'undefined', '__proto__', '0', '-1', '1e309', 'NaN', 'true', '[]', '{}'
]
const BAD_IDS = ['not-a-uuid', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '0', '-1', '%20', '%00', '..', '%2e%2e%2f',
  'a'.repeat(301), '🦄', 'NULL', '00000000-0000-4000-8000-00000000000G', '{id}', 'urn:uuid:0b7e4f3a-5c1d-4e8a-9f62-3d2c1b0a9e87']

function wrongValue (): unknown {
  return pick<() => unknown>([
    () => 42, () => -1, () => 1.5, () => 1e308, () => true, () => null, () => [], () => [1, 'a', null], () => ({}),
    () => ({ nested: { deeper: [1] } }), () => pick(ODD_STRINGS), () => 'x'.repeat(pick([1000, 70_000, 1_200_000]))
  ])()
}

/** JSON nested this deep, written out (JSON.stringify would overflow the stack first). */
function deep (depth: number): string {
  const array = chance(0.5)
  return array ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
}

/** Every string in a value, replaced now and then by an odd one. */
function oddStrings (value: unknown): unknown {
  if (typeof value === 'string') return chance(0.5) ? pick(ODD_STRINGS) : value
  if (Array.isArray(value)) return value.map(oddStrings)
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, oddStrings(v)]))
  return value
}

type Pool = Record<string, string[]>

/** The body as sent, decompressed when a mutated Accept-Encoding asked for it. */
function bodyOf (res: { rawPayload: Buffer, headers: Record<string, unknown> }): string {
  const encoding = res.headers['content-encoding']
  const raw = res.rawPayload
  if (encoding === 'br') return brotliDecompressSync(raw).toString()
  if (encoding === 'gzip') return gunzipSync(raw).toString()
  if (encoding === 'deflate') return inflateSync(raw).toString()
  return raw.toString()
}

function parsed (body: string): { value?: any, error?: string } {
  try {
    return { value: JSON.parse(body) }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

const templates = new Map<string, RegExp>()
const templateOf = (path: string) => {
  let re = templates.get(path)
  if (!re) templates.set(path, re = new RegExp(`^${path.replace(/\{\w+\}/g, '[^/]+')}$`))
  return re
}
type Built = { method: string, url: string, headers: Record<string, string>, payload?: string | Buffer, hostile: string[], op: Operation, ownMethod: boolean, ownPath: boolean }

function buildRequest (op: Operation, pool: Pool, tokens: Array<string | undefined>): Built {
  const hostile: string[] = []
  const mutate = chance(0.5)
  const mutation = (name: string, p: number) => {
    const yes = mutate && chance(p)
    if (yes) hostile.push(name)
    return yes
  }
  let ownPath = true
  const url = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    if (mutation('bad path parameter', 0.25)) {
      ownPath = false
      const bad = pick(BAD_IDS)
      return chance(0.5) ? encodeURIComponent(bad) : bad
    }
    const known = pool[name]
    if (known?.length && chance(0.8)) return encodeURIComponent(pick(known))
    const schema = op.parameters.find((p) => p.in === 'path' && p.name === name)?.schema ?? { type: 'string' }
    return encodeURIComponent(String(fake(schema)))
  })
  const query = new URLSearchParams()
  for (const p of op.parameters.filter((p) => p.in === 'query')) {
    if (!chance(0.3)) continue
    const value = fake(p.schema)
    query.append(p.name, typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : JSON.stringify(value))
  }
  if (mutation('bad query', 0.3)) {
    const name = pick([...op.parameters.filter((p) => p.in === 'query').map((p) => p.name), 'colour', '__proto__', 'constructor', 'limit', 'cursor', 'fields', 'include'])
    query.append(name, String(wrongValue()))
    if (chance(0.3)) query.append(name, pick(ODD_STRINGS))
  }
  const headers: Record<string, string> = {}
  const token = pick(tokens)
  if (token) headers.authorization = `Bearer ${token}`
  if (mutation('odd authorization', 0.1)) {
    headers.authorization = pick(['Bearer', 'Bearer ', 'Basic YTpi', 'bearer dl_nope', `Bearer dl_${'a'.repeat(5000)}`, 'Bearer \u00ff', 'Digest x', `Bearer ${token ?? 'x'} extra`])
  }
  if (mutation('odd conditional headers', 0.15)) {
    headers[pick(['if-match', 'if-none-match'])] = pick(['*', 'W/"x"', '"x", "y"', 'garbage', '""', 'W/', ',,,', '"' + 'a'.repeat(3000) + '"'])
  }
  if (mutation('odd headers', 0.1)) {
    headers[pick(['accept-encoding', 'accept', 'x-request-id', 'origin', 'range', 'idempotency-key'])] = pick(['br;q=abc', '*/*;q=2', 'x'.repeat(4000), 'bytes=5-1', 'null', 'gzip, gzip, br', 'text/html', 'bytes=0-0,1-1,2-2'])
  }

  let method = op.method
  let ownMethod = true
  if (mutation('a method the path does not take', 0.1)) {
    // Not one another template takes for this path (`/v1/users/me` is also `/v1/users/{id}`).
    const other = METHODS.map((m) => m.toUpperCase()).filter((m) => !operations.some((o) => o.method === m && templateOf(o.path).test(url)))
    if (other.length) { method = pick(other); ownMethod = false }
  }

  let payload: string | Buffer | undefined
  if (op.body && method !== 'GET' && method !== 'DELETE') {
    let body = fake(op.body) as unknown
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const record = body as Record<string, unknown>
      const keys = Object.keys(record)
      const required = (op.body.required as string[] | undefined) ?? []
      if (mutation('wrong type', 0.3) && keys.length) record[pick(keys)] = wrongValue()
      if (mutation('missing required field', 0.2) && required.length) delete record[pick(required)]
      if (mutation('extra field', 0.2)) record[pick(['extra', 'id', 'createdAt', 'version', 'status', 'role', 'tokenHash', 'constructor'])] = wrongValue()
      if (mutation('odd strings', 0.3)) body = oddStrings(record)
    }
    if (mutation('not an object', 0.05)) body = pick([null, [], 'text', 42, true, [{}]])
    payload = mutation('deep nesting', 0.05) ? deep(pick([50, 2000, 20_000])) : JSON.stringify(body)
    if (mutation('proto key', 0.05)) payload = payload.replace(/^\{/, '{"__proto__":{"admin":true},')
    if (mutation('broken JSON', 0.08)) payload = pick([payload.slice(0, Math.floor(payload.length / 2)), `${payload},`, `{${payload}`, "{'single': 'quotes'}", '\u0000', ''])
    headers['content-type'] = 'application/json'
  } else if (mutation('an unexpected body', 0.05)) {
    payload = JSON.stringify(fake({ type: 'object' }))
    headers['content-type'] = 'application/json'
  }
  if (payload !== undefined && mutation('odd content type', 0.1)) {
    headers['content-type'] = pick(['text/plain', 'application/xml', 'application/json; charset=utf-16', 'multipart/form-data', 'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded', 'application/json, text/plain', 'application/problem+json', '', 'application/octet-stream'])
    if (headers['content-type'] === '') delete headers['content-type']
  }
  if (payload !== undefined && mutation('binary body', 0.03)) payload = Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256)))
  const qs = query.toString()
  return { method, url: qs ? `${url}?${qs}` : url, headers, payload, hostile, op, ownMethod, ownPath }
}

/** The table contents, to tell whether a refused write changed a row. A token's last use is no content. */
async function snapshot (h: Harness, tables: string[]): Promise<string> {
  // A sum of row hashes: the same whatever order the rows come in, with no sort to pay for.
  const parts = tables.map((name) =>
    `select '${name}' as t, count(*)::int as n, coalesce(sum(hashtext(${name === 'api_tokens' ? "(to_jsonb(r) - 'last_used_at')::text" : 'r::text'})::bigint), 0)::text as h from "${name}" r`)
  const result = await h.database.db.execute(sql.raw(parts.join(' union all ')))
  return JSON.stringify((result as unknown as { rows: unknown[] }).rows)
}

async function seed (h: Harness): Promise<Pool> {
  const editor = h.editor.token
  const must = async (method: 'POST' | 'PATCH', url: string, body?: unknown, token = editor) => {
    const res = await call(h.app, method, url, { token, body })
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  const section = await must('POST', '/v1/sections', { name: 'Fuzzed news' })
  const tag = await must('POST', '/v1/tags', { name: 'Fuzzed' })
  const author = await must('POST', '/v1/authors', { name: 'Fay Fuzz' })
  const photo = await must('POST', '/v1/photos', { url: 'https://images.example/fuzz.jpg', caption: 'A photo' })
  const article = await must('POST', '/v1/articles', { headline: 'A published story', authorIds: [author.id], sectionId: section.id, tagIds: [tag.id], leadPhotoId: photo.id, commentsOpen: true, body: [{ type: 'paragraph', text: 'Hello.' }] })
  await must('POST', `/v1/articles/${article.id}/publish`)
  const draft = await must('POST', '/v1/articles', { headline: 'A draft by an author' }, h.author.token)
  await must('PATCH', `/v1/articles/${draft.id}`, { headline: 'A draft, revised' }, h.author.token)
  const revisions = (await call(h.app, 'GET', `/v1/articles/${draft.id}/revisions`, { token: editor })).json().data as Array<{ id: string }>
  const comment = await must('POST', `/v1/articles/${article.id}/comments`, { authorName: 'A reader', authorEmail: 'reader@example.org', body: 'First.' })
  const ids = [section.id, tag.id, author.id, photo.id, article.id, draft.id, comment.id]
  return { id: ids, revisionId: revisions.map((r) => r.id), slug: [section.slug, tag.slug, author.slug, article.slug, draft.slug] }
}

t.test(`${REQUESTS} fuzzed requests`, async (t) => {
  // Limits high enough that the fuzzer reaches the handlers; the limits have suites of their own.
  const h = await build(t, { env: { AUTH_FAILURE_LIMIT: '100000000', COMMENT_RATE_PER_CLIENT: '100000000', COMMENT_RATE_PER_ARTICLE: '100000000', BODY_LIMIT_BYTES: '1048576' } })
  const pool = await seed(h)
  const tables = ((await h.database.db.execute(sql.raw("select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1"))) as unknown as { rows: Array<{ table_name: string }> }).rows.map((r) => r.table_name)
    // A refused write sent with an Idempotency-Key keeps its answer for the key's repeats: that
    // is the key's bookkeeping (test/idempotency.test.ts), not content the request changed; the
    // change log's shared positions move on timers.
    .filter((name) => name !== 'idempotency_keys' && name !== 'change_cursors')
  t.ok(tables.includes('articles') && tables.length > 8, `${tables.length} tables watched`)
  const tokens = [undefined, h.author.token, h.editor.token, h.admin.token]
  // The snapshot sees a changed row, and not a token's last use.
  const before = await snapshot(h, tables)
  await h.database.db.execute(sql.raw("update api_tokens set last_used_at = now()"))
  t.equal(await snapshot(h, tables), before, 'a token used is no change')
  await h.database.db.execute(sql.raw("update sections set description = 'changed' where description is null"))
  t.not(await snapshot(h, tables), before, 'a changed row is')

  const statuses = new Map<number, number>()
  const failures: string[] = []
  const fail = (b: Built, status: number, why: string, body: string) => {
    if (failures.length < 30) failures.push(`${b.method} ${b.url.slice(0, 200)} [${b.hostile.join(', ') || 'generated'}] -> ${status}: ${why} ${body.slice(0, 300)}`)
    else failures.push('')
  }
  let known: string | undefined
  let refusedWrites = 0
  const started = Date.now()
  for (let i = 0; i < REQUESTS; i++) {
    const b = buildRequest(pick(operations), pool, tokens)
    const write = !['GET', 'HEAD'].includes(b.method)
    if (write) known ??= await snapshot(h, tables)
    let res
    try {
      res = await h.app.inject({ method: b.method as 'GET', url: b.url, headers: b.headers, payload: b.payload })
    } catch (error) {
      // A header no HTTP client could send (inject checks them as Node's client does).
      if ((error as NodeJS.ErrnoException).code === 'ERR_INVALID_CHAR') { i--; continue }
      throw error
    }
    const status = res.statusCode
    statuses.set(status, (statuses.get(status) ?? 0) + 1)
    const body = bodyOf(res)
    if (status >= 500) fail(b, status, 'a 5xx', body)
    const type = String(res.headers['content-type'] ?? '')
    const json = type.includes('json') && body !== '' ? parsed(body) : undefined
    if (json?.error) fail(b, status, `a body that is not JSON: ${json.error}`, body)
    if (status >= 400 && !type.startsWith('application/problem+json')) fail(b, status, `4xx as ${type || 'no content type'}`, body)
    if (status >= 400 && json?.value && (json.value.status !== status || typeof json.value.code !== 'string')) fail(b, status, 'a problem without its status or code', body)
    if (b.ownMethod && b.ownPath) {
      const documented = b.op.responses[String(status)]
      if (!documented) fail(b, status, `status not documented for ${b.op.id}`, body)
      const schema = documented?.content?.[type.split(';')[0]]?.schema
      // `fields=` (sparse fieldsets) returns a documented subset of the object: not checked whole.
      if (schema && json && !json.error && !(status < 300 && /[?&]fields=/.test(b.url))) {
        const error = validate(schema, json.value)
        if (error) fail(b, status, `body does not match the documented schema: ${error}`, body)
      }
    } else if (!b.ownMethod && b.ownPath && status !== 405) fail(b, status, 'a method the path does not take, not a 405', body)
    if (REQUESTS >= 10_000 && (i + 1) % (REQUESTS / 10) === 0) t.comment(`${i + 1} requests, ${Math.round((Date.now() - started) / 1000)} s, ${failures.length} failures`)
    if (!write) continue
    if (status >= 400) {
      refusedWrites++
      const after = await snapshot(h, tables)
      if (after !== known) {
        fail(b, status, 'a refused write changed rows', body)
        known = after
      }
    } else {
      known = undefined
    }
  }
  const seconds = (Date.now() - started) / 1000
  const histogram = [...statuses.entries()].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ')
  t.comment(`${REQUESTS} requests in ${seconds.toFixed(1)} s (${Math.round(REQUESTS / seconds)}/s), ${refusedWrites} refused writes checked, ${unfakeable} values the generator could not make; statuses ${histogram}`)
  t.same(failures.slice(0, 30), [], `${failures.length} failures (FUZZ_SEED=${SEED})`)
  t.notOk(statuses.has(500), 'no 500')
  t.ok([...statuses.keys()].some((s) => s < 300), 'some requests succeeded')
  t.ok([...statuses.keys()].some((s) => s >= 400), 'some were refused')
})
