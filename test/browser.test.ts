// In a real browser (Debian's Chromium, driven by playwright-core): a front end on another origin
// reads and edits through the API, so preflights, methods, request headers and the response
// headers a script may read are what Chromium enforces, cached answers included; and /docs lists
// the operations on a plain-HTTP host that is not localhost.
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { eq } from 'drizzle-orm'
import { chromium, type Browser, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { articles } from '../src/db/schema.js'
import { build, type Harness } from './helper.js'

const CHROMIUM = '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? false : `needs Chromium at ${CHROMIUM} (apt-get install chromium)`

/** What the page's script saw of a response: only the headers CORS lets it read. */
type Seen = { status: number, headers: Record<string, string>, body: string } | { error: string }
/** What the page's fetch() is given (the DOM's RequestInit, in short). */
type Init = { method?: string, headers?: Record<string, string>, body?: string, cache?: 'no-store' }
type FrontEndWindow = { call: (url: string, init: Init) => Promise<Seen> }

// The front end: a page whose script calls the API with fetch() and reports what it could read.
const FRONT_END = `<!doctype html><html><head><title>Front end</title><script>
window.call = async (url, init) => {
  try {
    const res = await fetch(url, init)
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() }
  } catch (err) {
    return { error: String(err) }
  }
}
</script></head><body>A front end</body></html>`

/** Every *.example.test name is this machine, so each host name is an origin of its own. */
const DOMAIN = 'example.test'

t.test('in Chromium', { skip }, async (t) => {
  const pages = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(FRONT_END))
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => pages.close(() => resolve())))
  const pagePort = (pages.address() as AddressInfo).port
  const origin = (host: string) => `http://${host}.${DOMAIN}:${pagePort}`

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium tries to reach out and a closed network refuses it.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--host-resolver-rules=MAP *.${DOMAIN} 127.0.0.1`]
  })
  t.teardown(() => browser.close())

  /** A page in a browser context of its own, closed with the test (a loaded machine is slow). */
  const newPage = async (t: Test): Promise<Page> => {
    const context = await browser.newContext()
    t.teardown(() => context.close())
    context.setDefaultTimeout(60_000)
    return context.newPage()
  }
  /** A page of the front end, served from `host`: its own origin. */
  const frontEnd = async (t: Test, host: string): Promise<Page> => {
    const page = await newPage(t)
    await page.goto(`${origin(host)}/`)
    return page
  }
  const fetchIn = (page: Page, url: string, init: Init = {}) =>
    page.evaluate(([u, i]) => (globalThis as unknown as FrontEndWindow).call(u, i), [url, init] as const)
  const ok = (t: Test, seen: Seen, status: number, what: string) => {
    if ('error' in seen) throw new Error(`${what}: the page could not read the response: ${seen.error}`)
    t.equal(seen.status, status, what)
    return seen
  }

  /** The app on a real socket, reached by the page as api.example.test; every request it receives, in order. */
  const serve = async (t: Test, env: Record<string, string>) => {
    const h = await build(t, { env: { PUBLIC_CACHE: 'true', ...env } })
    const address = new URL(await h.app.listen({ port: 0, host: '127.0.0.1' }))
    const received: string[] = []
    h.app.server.on('request', (req) => received.push(`${req.method} ${req.url}`))
    return { h, api: `http://api.${DOMAIN}:${address.port}`, received }
  }
  const earlyHits = (h: Harness) => h.app.publicCache.stats.early

  // The app as it starts by default (CORS_ORIGIN=*), for the front end and the docs page.
  const star = await serve(t, {})

  t.test('a front end on another origin reads, creates, edits and deletes (CORS_ORIGIN=*)', async (t) => {
    const { h, api, received } = star
    const page = await frontEnd(t, 'news')

    // An anonymous read, then the same again: a public cache hit answered before Fastify.
    const first = ok(t, await fetchIn(page, `${api}/v1/sections`, { cache: 'no-store' }), 200, 'an anonymous read')
    const early = earlyHits(h)
    const again = ok(t, await fetchIn(page, `${api}/v1/sections`, { cache: 'no-store' }), 200, 'read again')
    t.equal(earlyHits(h), early + 1, 'the second read was a cache hit, answered by the server')
    for (const seen of [first, again]) {
      t.match(seen.headers.etag, /^"/, 'ETag is readable')
      t.match(seen.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'X-Request-Id is readable')
      t.equal(seen.headers['x-content-type-options'], undefined, 'a header not exposed stays hidden: this is cross-origin')
    }
    t.equal(again.headers.etag, first.headers.etag)

    // An editor's tool: a token in Authorization, a JSON body, its own request id.
    const auth = { authorization: `Bearer ${h.editor.token}` }
    const created = ok(t, await fetchIn(page, `${api}/v1/articles`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'x-request-id': 'front-end-trace-1' },
      body: JSON.stringify({ headline: 'Written in a browser' })
    }), 201, 'POST creates')
    const id = JSON.parse(created.body).id as string
    t.equal(created.headers.location, `/v1/articles/${id}`, 'Location is readable')
    t.equal(created.headers['x-request-id'], 'front-end-trace-1', 'the request id sent is the one read back')
    t.ok(received.includes('OPTIONS /v1/articles'), 'Chromium asked first (a preflight)')

    const read = ok(t, await fetchIn(page, `${api}/v1/articles/${id}`, { headers: auth, cache: 'no-store' }), 200, 'the draft, with the token')
    const etag = read.headers.etag
    t.match(etag, /^"/)

    const patched = ok(t, await fetchIn(page, `${api}/v1/articles/${id}`, {
      method: 'PATCH', headers: { ...auth, 'content-type': 'application/json', 'if-match': etag }, body: JSON.stringify({ headline: 'Edited in a browser' })
    }), 200, 'PATCH with If-Match, the ETag the page read')
    t.equal(JSON.parse(patched.body).headline, 'Edited in a browser')
    t.not(patched.headers.etag, etag, 'a new ETag, readable')
    t.strictSame((await h.database.db.select({ headline: articles.headline }).from(articles).where(eq(articles.id, id))), [{ headline: 'Edited in a browser' }])

    const stale = ok(t, await fetchIn(page, `${api}/v1/articles/${id}`, {
      method: 'DELETE', headers: { ...auth, 'if-match': etag }
    }), 412, 'DELETE with the old ETag: If-Match reached the API')
    t.equal(JSON.parse(stale.body).code, 'PRECONDITION_FAILED')
    t.equal((await h.database.db.select().from(articles).where(eq(articles.id, id))).length, 1, 'nothing deleted')

    const deleted = ok(t, await fetchIn(page, `${api}/v1/articles/${id}`, {
      method: 'DELETE', headers: { ...auth, 'if-match': patched.headers.etag }
    }), 204, 'DELETE with the current ETag')
    t.equal(deleted.body, '')
    t.strictSame(await h.database.db.select().from(articles).where(eq(articles.id, id)), [], 'the row is gone')
    const preflight = received.indexOf(`OPTIONS /v1/articles/${id}`)
    t.ok(preflight >= 0 && preflight < received.indexOf(`PATCH /v1/articles/${id}`), 'the PATCH had its preflight')
  })

  t.test('with a list of origins, only those read, cached answers too', async (t) => {
    const { h, api } = await serve(t, { CORS_ORIGIN: `https://elsewhere.test, ${origin('news')}` })
    const allowed = await frontEnd(t, 'news')
    const other = await frontEnd(t, 'other')
    for (const round of ['a miss', 'a cache hit']) {
      const early = earlyHits(h)
      const seen = ok(t, await fetchIn(allowed, `${api}/v1/tags`, { cache: 'no-store' }), 200, `an allowed origin, ${round}`)
      t.match(seen.headers.etag, /^"/, `ETag is readable on ${round}`)
      t.equal(earlyHits(h), round === 'a miss' ? early : early + 1)
    }
    for (const round of ['a miss', 'a cache hit']) {
      const early = earlyHits(h)
      const seen = await fetchIn(other, `${api}/v1/tags`, { cache: 'no-store' })
      t.match(seen, { error: /TypeError/ }, `another origin cannot read it: ${round}`)
      t.equal(earlyHits(h), round === 'a miss' ? early : early + 1, 'the request was answered, without CORS headers')
    }
  })

  t.test('/docs lists the operations on a plain-HTTP host that is not localhost', async (t) => {
    const { api, received } = star
    const page = await newPage(t)
    const failed: string[] = []
    page.on('requestfailed', (request) => failed.push(request.url()))
    await page.goto(`${api}/docs`)
    // With `upgrade-insecure-requests` in the CSP, every asset went to https and this never came.
    await page.locator('.opblock').first().waitFor()
    t.equal(await page.title(), 'Dateline API')
    const listArticles = page.locator('#operations-Articles-listArticles')
    t.equal(await listArticles.count(), 1, 'the listArticles operation is there')
    t.match(await listArticles.innerText(), /List articles/)
    t.ok(await page.locator('.opblock').count() > 20, 'and the rest of the API')
    t.ok(received.includes('GET /openapi.json'), 'the page read /openapi.json')
    t.notOk(received.includes('GET /docs/json'), "not the plugin's copy")
    t.strictSame(failed, [], 'no request failed')
  })
})
