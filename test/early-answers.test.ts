// Errors made outside the routes, over real sockets: what Node's HTTP server and Fastify's router
// would answer themselves (malformed HTTP, 408, 414, 417, 431, a URL that does not decode, the
// shutdown 503) is problem+json with the security headers; a method a path does not take is a
// 405 with Allow; a request answered before its body arrived closes its connection; a request
// too slow to arrive is a 408; and one address holds only so many connections.
import net from 'node:net'
import t, { type Test } from 'tap'
import { API_SECURITY_HEADERS } from '../src/http/security-headers.js'
import { MISSING } from './assertions.js'
import { build, call, openTestDatabase, type BuildOptions, type Harness } from './helper.js'

type Answer = { status: number, headers: Record<string, string>, body: string, closed: boolean }

/** The first answer on a connection, parsed; `closed` once the server closed it (awaited when asked). */
function parse (text: string, closed: boolean): Answer {
  const split = text.indexOf('\r\n\r\n')
  const [statusLine, ...lines] = text.slice(0, split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const i = line.indexOf(':')
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
  }
  const length = Number(headers['content-length'] ?? 0)
  return { status: Number(statusLine.split(' ')[1]), headers, body: text.slice(split + 4, split + 4 + length), closed }
}

class Client {
  readonly socket: net.Socket
  private received = ''
  private waiters: Array<() => void> = []
  closed = false
  readonly connected: Promise<void>

  constructor (port: number) {
    this.socket = net.connect(port, '127.0.0.1')
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()))
    this.socket.on('data', (d) => { this.received += d; this.wake() })
    this.socket.on('error', () => {})
    this.socket.on('close', () => { this.closed = true; this.wake() })
  }

  private wake () { for (const w of this.waiters.splice(0)) w() }

  private until (done: () => boolean): Promise<void> {
    return done() ? Promise.resolve() : new Promise((resolve) => this.waiters.push(() => { void this.until(done).then(resolve) }))
  }

  private complete () {
    const split = this.received.indexOf('\r\n\r\n')
    if (split === -1) return false
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(this.received.slice(0, split))?.[1] ?? 0)
    return this.received.length >= split + 4 + length
  }

  write (text: string) { this.socket.write(text) }

  /** The whole first answer. */
  async answer (): Promise<Answer> {
    await this.until(() => this.complete() || this.closed)
    return parse(this.received, this.closed)
  }

  /** The first answer, once the server has closed the connection. */
  async answerAndClose (): Promise<Answer> {
    await this.until(() => this.closed)
    return parse(this.received, true)
  }

  get text () { return this.received }
}

// One database for the file; each test builds an app over it with its own settings.
const { database } = await openTestDatabase(t)
await database.migrate()
const app = (t: Test, env: Record<string, string> = {}) => build(t, { database, env } satisfies BuildOptions)

async function listen (h: Harness) {
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  return (h.app.server.address() as net.AddressInfo).port
}

/** A problem+json answer with every security header the API's other answers carry. */
function isProblem (t: Test, answer: Answer, status: number, code: string) {
  t.equal(answer.status, status, `status ${status}: ${answer.body}`)
  t.match(answer.headers['content-type'], /^application\/problem\+json/)
  t.equal(answer.headers['cache-control'], 'no-store')
  for (const [name, value] of Object.entries(API_SECURITY_HEADERS)) t.equal(answer.headers[name], value, name)
  const body = JSON.parse(answer.body)
  t.match(body, { status, code, type: `/problems/${code.toLowerCase().replaceAll('_', '-')}` })
  t.type(body.detail, 'string')
  return body
}

t.test('what Node and the router answer themselves is problem+json', async (t) => {
  const h = await app(t)
  const port = await listen(h)
  const cases: Array<[string, string, number, string]> = [
    ['a request line that is no HTTP', 'HELLO THERE\r\n\r\n', 400, 'BAD_REQUEST'],
    ['an unknown method', 'BREW /v1/articles HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'BAD_REQUEST'],
    ['two Content-Lengths', 'POST /v1/articles HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 400, 'BAD_REQUEST'],
    ['a bad chunk', 'POST /v1/articles HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'BAD_REQUEST'],
    ['headers over 16 KB', `GET /v1/articles HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['an Expect other than 100-continue', 'POST /v1/sections HTTP/1.1\r\nHost: x\r\nExpect: tea\r\nContent-Length: 2\r\n\r\n{}', 417, 'EXPECTATION_FAILED'],
    ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 400, 'BAD_REQUEST']
  ]
  for (const [what, request, status, code] of cases) {
    const client = new Client(port)
    client.write(request)
    const answer = await client.answerAndClose()
    t.test(what, async (t) => {
      isProblem(t, answer, status, code)
      t.equal(answer.headers.connection, 'close')
      t.ok(answer.closed, 'and the server closed the connection')
    })
  }

  // The router's: answered through Fastify, on a connection that stays open.
  for (const [what, path, status, code] of [
    ['a path that is not valid percent-encoding', '/v1/articles/%E0%A4%A', 400, 'BAD_REQUEST'],
    ['a path segment longer than any id or slug', `/v1/articles/by-slug/${'a'.repeat(400)}`, 414, 'URI_TOO_LONG']
  ] as const) {
    const client = new Client(port)
    client.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)
    const answer = await client.answer()
    t.test(what, async (t) => {
      isProblem(t, answer, status, code)
      t.match(answer.headers['x-request-id'], /^[0-9a-f-]{36}$/)
    })
    client.socket.destroy()
  }
  const bad = await call(h.app, 'GET', '/v1/sections/%C0%80')
  t.equal(bad.statusCode, 400, 'an overlong UTF-8 sequence, through inject too')
  t.equal(bad.headers['x-content-type-options'], 'nosniff')
})

t.test('a method a path does not take is a 405 naming the ones it does', async (t) => {
  const h = await app(t)
  // Every documented path, with its parameters filled in: each method it lacks is a 405 whose
  // Allow lists the documented ones, HEAD with GET, and OPTIONS (CORS preflights).
  const paths = h.app.swagger().paths ?? {}
  // A concrete path may match other templates too (`/v1/users/me` is also `/v1/users/{id}`).
  const matching = (url: string) => Object.entries(paths)
    .filter(([template]) => new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`).test(url))
    .flatMap(([, operations]) => Object.keys(operations ?? {}).map((m) => m.toUpperCase()))
  let checked = 0
  for (const template of Object.keys(paths)) {
    const url = template.replace(/\{(\w+)\}/g, (_m, name: string) => (name === 'slug' ? 'some-slug' : MISSING))
    const documented = matching(url)
    const expected = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
      .filter((m) => documented.includes(m) || (m === 'HEAD' && documented.includes('GET')) || m === 'OPTIONS')
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      if (documented.includes(method)) continue
      const res = await h.app.inject({ method, url, headers: { authorization: `Bearer ${h.admin.token}` } })
      t.equal(res.statusCode, 405, `${method} ${url}`)
      t.equal(res.headers.allow, expected.join(', '), `${method} ${url}: Allow`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.equal(res.json().code, 'METHOD_NOT_ALLOWED')
      t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', 'with the security headers')
      checked++
    }
  }
  t.ok(checked > 40, `${checked} method and path pairs`)

  const res = await call(h.app, 'PUT', `/v1/articles/${MISSING}`)
  t.same(res.json(), {
    type: '/problems/method-not-allowed',
    title: 'Method Not Allowed',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    detail: `/v1/articles/${MISSING} does not take PUT; it takes GET, HEAD, PATCH, DELETE, OPTIONS.`
  })
  const webdav = await h.app.inject({ method: 'PROPFIND', url: '/v1/articles' })
  t.equal(webdav.statusCode, 405)
  t.equal(webdav.headers.allow, 'GET, HEAD, POST, OPTIONS')
  // A body no route would parse does not turn the 405 into a 400.
  const broken = await h.app.inject({ method: 'PUT', url: `/v1/sections/${MISSING}`, headers: { 'content-type': 'application/json' }, payload: '{"name": ' })
  t.equal(broken.statusCode, 405, 'broken JSON to a method the path does not take')
  t.equal(broken.headers.allow, 'GET, HEAD, PATCH, DELETE, OPTIONS')
  const nowhere = await call(h.app, 'PUT', '/v1/nothing-here')
  t.equal(nowhere.statusCode, 404, 'a path no method takes is still a 404')
  t.equal(nowhere.json().code, 'NOT_FOUND')
  // An OPTIONS that is no preflight is answered like one, not with a plain-text 400.
  const options = await h.app.inject({ method: 'OPTIONS', url: '/v1/articles' })
  t.equal(options.statusCode, 204)
  t.equal(options.headers['access-control-allow-methods'], 'GET, HEAD, POST, PATCH, DELETE')
})

t.test('a draining instance refuses with a problem and the security headers', async (t) => {
  const h = await app(t)
  h.app.drain.draining = true
  t.teardown(() => { h.app.drain.draining = false })
  const res = await call(h.app, 'GET', '/v1/articles')
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '2')
  t.equal(res.headers.connection, 'close')
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  for (const [name, value] of Object.entries(API_SECURITY_HEADERS)) t.equal(res.headers[name], value, name)
})

t.test('an answer given before the body arrived closes the connection', async (t) => {
  // The default request timeout (120 s): only the early close can end these connections.
  const h = await app(t)
  const port = await listen(h)
  const start = (headers: string, length: number) => {
    const client = new Client(port)
    client.write(`POST /v1/sections HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}Content-Length: ${length}\r\n\r\n{"name":"Tr`)
    return client
  }
  const cases: Array<[string, Client, number, string]> = [
    ['no token: 401', start('', 1000), 401, 'UNAUTHORIZED'],
    ['an unknown token: 401', start('Authorization: Bearer dl_unknown\r\n', 1000), 401, 'UNAUTHORIZED'],
    ['an author token on an editors\' route: 403', start(`Authorization: Bearer ${h.author.token}\r\n`, 1000), 403, 'FORBIDDEN'],
    ['a Content-Length over the limit: 413', start(`Authorization: Bearer ${h.editor.token}\r\n`, 5_000_000), 413, 'PAYLOAD_TOO_LARGE']
  ]
  for (const [what, client, status, code] of cases) {
    // The body keeps trickling in after the answer, as an attacker's would.
    const trickle = setInterval(() => { if (!client.closed) client.write('x') }, 20)
    const answer = await client.answerAndClose()
    clearInterval(trickle)
    t.test(what, async (t) => {
      isProblem(t, answer, status, code)
      t.equal(answer.headers.connection, 'close')
      t.ok(answer.closed, 'closed by the server')
    })
  }
  t.same((await call(h.app, 'GET', '/v1/sections')).json().data, [], 'nothing written')

  // A request whose body had arrived in full keeps its connection, refused or not.
  const client = new Client(port)
  client.write('POST /v1/sections HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}')
  const answer = await client.answer()
  t.equal(answer.status, 401)
  t.equal(answer.headers.connection, 'keep-alive')
  t.notOk(client.closed)
  client.socket.destroy()
})

t.test('a request that does not arrive within REQUEST_TIMEOUT_SECONDS is a 408', async (t) => {
  const h = await app(t, { REQUEST_TIMEOUT_SECONDS: '1' })
  const port = await listen(h)
  // A body that trickles in under a valid token: nothing answers it early.
  const body = new Client(port)
  body.write(`POST /v1/sections HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${h.editor.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":"Slow`)
  const trickle = setInterval(() => { if (!body.closed) body.write(' ') }, 100)
  const answer = await body.answerAndClose()
  clearInterval(trickle)
  isProblem(t, answer, 408, 'REQUEST_TIMEOUT')
  t.equal(answer.headers.connection, 'close')
  t.ok(answer.closed)
  // Headers that never end, and a connection that sends nothing at all.
  const headers = new Client(port)
  headers.write('GET /v1/articles HTTP/1.1\r\nHost: x\r\n')
  isProblem(t, await headers.answerAndClose(), 408, 'REQUEST_TIMEOUT')
  const silent = new Client(port)
  isProblem(t, await silent.answerAndClose(), 408, 'REQUEST_TIMEOUT')
  t.same((await call(h.app, 'GET', '/v1/sections')).json().data, [], 'nothing written')
})

t.test('one address holds at most MAX_CONNECTIONS_PER_ADDRESS connections', async (t) => {
  const h = await app(t, { MAX_CONNECTIONS_PER_ADDRESS: '3' })
  const port = await listen(h)
  const held = [new Client(port), new Client(port), new Client(port)]
  await Promise.all(held.map((c) => c.connected))
  // The fourth: its request is refused with a 429 that closes it.
  const extra = new Client(port)
  extra.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n')
  const refused = await extra.answerAndClose()
  isProblem(t, refused, 429, 'RATE_LIMITED')
  t.equal(refused.headers['retry-after'], '5')
  t.equal(refused.headers.connection, 'close')
  // One that sends nothing is closed too, freeing its descriptor.
  const idle = new Client(port)
  await idle.answerAndClose()
  t.equal(idle.text, '', 'closed without a word: it asked nothing')
  // The ones within the limit are served.
  held[0].write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n')
  t.equal((await held[0].answer()).status, 200)
  // A connection closed makes room for another.
  held[1].socket.destroy()
  let status = 0
  for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
    const next = new Client(port)
    next.write('GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    status = (await next.answerAndClose()).status
  }
  t.equal(status, 200, 'room again once one closed')
  for (const c of held) c.socket.destroy()
})

t.test('MAX_CONNECTIONS_PER_ADDRESS=0 turns the limit off', async (t) => {
  const h = await app(t, { MAX_CONNECTIONS_PER_ADDRESS: '0' })
  const port = await listen(h)
  const clients = Array.from({ length: 20 }, () => new Client(port))
  for (const c of clients) c.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n')
  const answers = await Promise.all(clients.map((c) => c.answer()))
  t.ok(answers.every((a) => a.status === 200), '20 connections from one address, all served')
  for (const c of clients) c.socket.destroy()
})
