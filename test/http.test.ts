// Cross-cutting HTTP behaviour: problem+json errors, health, request ids, headers, body limits,
// and a database that goes away.
import net from 'node:net'
import t from 'tap'
import { openDatabase } from '../src/db/client.js'
import { build, call, openTestDatabase, testDatabaseUrl } from './helper.js'

/** The response headers a script on another origin may read, in the order they are sent. */
const EXPOSED = 'ETag, Location, Retry-After, X-Request-Id, Idempotent-Replayed, RateLimit, RateLimit-Policy, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset'

t.test('errors, limits and headers', async (t) => {
  const h = await build(t, { env: { BODY_LIMIT_BYTES: '2048' } })
  const { app } = h

  t.test('unknown route is a problem+json 404', async (t) => {
    const res = await call(app, 'GET', '/v1/nope')
    t.equal(res.statusCode, 404)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { type: '/problems/not-found', title: 'Not Found', status: 404, code: 'NOT_FOUND' })
  })

  t.test('malformed JSON is a 400 and writes nothing', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/sections', headers: { authorization: `Bearer ${h.editor.token}`, 'content-type': 'application/json' }, payload: '{"name": "Wor' })
    t.equal(res.statusCode, 400)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.equal(res.json().status, 400)
    const list = await call(app, 'GET', '/v1/sections')
    t.same(list.json().data, [])
  })

  t.test('a body that is not JSON is a 415', async (t) => {
    const res = await app.inject({ method: 'POST', url: '/v1/sections', headers: { authorization: `Bearer ${h.editor.token}`, 'content-type': 'text/plain' }, payload: 'name=World' })
    t.equal(res.statusCode, 415)
    t.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE')
  })

  t.test('a body over the limit is a 413', async (t) => {
    const res = await call(app, 'POST', '/v1/sections', { token: h.editor.token, body: { name: 'x'.repeat(4000) } })
    t.equal(res.statusCode, 413)
    t.equal(res.json().code, 'PAYLOAD_TOO_LARGE')
  })

  t.test('validation errors name every field and the rule', async (t) => {
    const res = await call(app, 'GET', '/v1/sections?limit=500&colour=red')
    t.equal(res.statusCode, 400)
    const errors = res.json().errors
    t.same(errors.map((e: { path: string }) => e.path).sort(), ['/colour', '/limit'])
    t.ok(errors.every((e: { in: string }) => e.in === 'query'))
    t.match(errors.find((e: { path: string }) => e.path === '/limit').message, /<= 100/)
  })

  t.test('request ids are echoed or generated', async (t) => {
    const given = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'abc-123' } })
    t.equal(given.headers['x-request-id'], 'abc-123')
    const made = await app.inject({ method: 'GET', url: '/health/live' })
    t.match(made.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  })

  t.test('security headers and CORS', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/v1/sections', headers: { origin: 'https://news.example' } })
    t.equal(res.headers['x-content-type-options'], 'nosniff')
    t.equal(res.headers['access-control-allow-origin'], '*')
    t.equal(res.headers['access-control-expose-headers'], EXPOSED, 'what a script may read')
    // helmet's defaults, with our CSP and cross-origin resource policy, on every response. The CSP
    // has no `upgrade-insecure-requests`: /docs must load over plain HTTP at any address.
    const expected: Record<string, string> = {
      'content-security-policy': "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data: https:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline'",
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'cross-origin',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0'
    }
    // A read, an unknown route, a refused query, a write without a token, the docs page.
    for (const [method, url, status] of [['GET', '/v1/sections', 200], ['GET', '/v1/nothing-here', 404], ['GET', '/v1/articles?limit=0', 400], ['POST', '/v1/sections', 401], ['GET', '/docs/', 200]] as const) {
      const got = await app.inject({ method, url })
      t.equal(got.statusCode, status, `${method} ${url}`)
      for (const [name, value] of Object.entries(expected)) t.equal(got.headers[name], value, `${method} ${url}: ${name}`)
    }
  })

  t.test('health and docs', async (t) => {
    t.same((await call(app, 'GET', '/health/live')).json(), { status: 'ok' })
    t.match((await call(app, 'GET', '/health/ready')).json(), { status: 'ok', database: 'ok', changes: { applied: Number, lagSeconds: Number } })
    const spec = await call(app, 'GET', '/openapi.json')
    t.equal(spec.statusCode, 200)
    t.equal(spec.json().info.title, 'Dateline API')
    const docs = await call(app, 'GET', '/docs/')
    t.equal(docs.statusCode, 200)
    t.match(docs.headers['content-type'], /text\/html/)
    t.match(docs.body, '<title>Dateline API</title>')
    const init = await call(app, 'GET', '/docs/static/swagger-initializer.js')
    t.match(init.body, '"urls":[{"url":"/openapi.json","name":"Dateline API"}]', 'the page reads /openapi.json')
  })

  t.test('a preflight allows every method and the request headers the API reads, for two hours', async (t) => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/v1/articles/00000000-0000-4000-8000-000000000000',
      headers: { origin: 'https://editor.example', 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization,content-type,if-match' }
    })
    t.equal(res.statusCode, 204)
    t.equal(res.body, '')
    t.equal(res.headers['access-control-allow-origin'], '*')
    t.equal(res.headers['access-control-allow-methods'], 'GET, HEAD, POST, PATCH, DELETE')
    t.equal(res.headers['access-control-allow-headers'], 'Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-Id')
    t.equal(res.headers['access-control-max-age'], '7200', "Chromium's cap")
    t.equal(res.headers['access-control-expose-headers'], EXPOSED)
    // Every method of every documented route (GET routes answer HEAD too).
    const allowed = String(res.headers['access-control-allow-methods']).split(', ')
    const used = new Set(Object.values(app.swagger().paths ?? {}).flatMap((ops) => Object.keys(ops ?? {}).map((m) => m.toUpperCase())))
    t.ok(used.size >= 4)
    for (const method of used) t.ok(allowed.includes(method), `${method} is allowed`)
  })

  t.test('a conditional GET gets 304 with no body', async (t) => {
    const first = await call(app, 'GET', '/v1/sections')
    const etag = String(first.headers.etag)
    const again = await call(app, 'GET', '/v1/sections', { headers: { 'if-none-match': etag } })
    t.equal(again.statusCode, 304)
    t.equal(again.body, '')
    t.equal(again.headers.etag, etag)
  })
})

t.test('with a list of origins, each allowed origin is named and no other', async (t) => {
  const { app } = await build(t, { env: { CORS_ORIGIN: 'https://a.test, https://b.test' } })
  const preflight = (origin: string) => app.inject({
    method: 'OPTIONS', url: '/v1/sections', headers: { origin, 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization' }
  })
  for (const origin of ['https://a.test', 'https://b.test']) {
    const res = await preflight(origin)
    t.equal(res.statusCode, 204)
    t.equal(res.headers['access-control-allow-origin'], origin, `${origin}: named (spaces around the comma are fine)`)
    t.match(res.headers.vary, /\bOrigin\b/, 'the answer differs by Origin')
    t.match(res.headers['access-control-allow-methods'], /\bDELETE\b/)
    t.equal(res.headers['access-control-max-age'], '7200')
  }
  t.notOk((await preflight('https://evil.test')).headers['access-control-allow-origin'], 'another origin is not allowed')
  const read = await app.inject({ method: 'GET', url: '/v1/sections', headers: { origin: 'https://b.test' } })
  t.equal(read.headers['access-control-allow-origin'], 'https://b.test')
  t.equal(read.headers['access-control-expose-headers'], EXPOSED)
})


t.test('when the database goes away, requests get 503 with Retry-After', async (t) => {
  const h = await build(t)
  await h.database.close()
  const ready = await call(h.app, 'GET', '/health/ready')
  t.equal(ready.statusCode, 503)
  t.equal(ready.headers['retry-after'], '5')
  const list = await call(h.app, 'GET', '/v1/sections')
  t.equal(list.statusCode, 503)
  t.equal(list.json().code, 'UNAVAILABLE')
  t.equal(list.headers['retry-after'], '5')
  t.equal((await call(h.app, 'GET', '/health/live')).statusCode, 200, 'the process itself stays up')
})

t.test('PostgreSQL going down and coming back: 503 meanwhile, then recovery without a restart', { skip: !testDatabaseUrl && 'needs TEST_DATABASE_URL' }, async (t) => {
  const { url } = await openTestDatabase(t)
  const target = new URL(url!)
  // A TCP relay we can cut, standing in for a database server that goes away.
  let up = true
  const sockets = new Set<net.Socket>()
  const relay = net.createServer((client) => {
    if (!up) return client.destroy()
    const server = net.connect(Number(target.port || 5432), target.hostname)
    for (const s of [client, server]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}) }
    client.pipe(server).pipe(client)
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => relay.close(() => resolve())))
  const viaRelay = new URL(url!)
  viaRelay.host = `127.0.0.1:${(relay.address() as net.AddressInfo).port}`
  const database = await openDatabase({ url: viaRelay.toString(), poolSize: 2 })
  await database.migrate()
  const h = await build(t, { database })
  t.teardown(() => database.close())

  t.equal((await call(h.app, 'GET', '/v1/sections')).statusCode, 200)
  up = false
  for (const s of sockets) s.destroy()
  const down = await call(h.app, 'GET', '/v1/sections')
  t.equal(down.statusCode, 503)
  t.equal(down.headers['retry-after'], '5')
  t.equal((await call(h.app, 'GET', '/health/ready')).statusCode, 503)
  up = true
  t.equal((await call(h.app, 'GET', '/v1/sections')).statusCode, 200, 'recovers by itself')
  t.equal((await call(h.app, 'GET', '/health/ready')).statusCode, 200)
})
