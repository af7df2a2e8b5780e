// Compressed responses: negotiated from Accept-Encoding, the same bytes once decoded, the same
// ETag whatever the encoding (so If-Match keeps working), and cached per encoding.
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib'
import { request } from 'node:http'
import t from 'tap'
import { build, call, type Harness } from './helper.js'
import { makeArticle, published } from './articles-fixtures.js'

const decode = (encoding: string | undefined, bytes: Buffer) =>
  encoding === 'br' ? brotliDecompressSync(bytes) : encoding === 'gzip' ? gunzipSync(bytes) : bytes

async function newsroom (h: Harness) {
  for (let i = 1; i <= 8; i++) {
    await published(h, { headline: `Harbour story number ${i}`, standfirst: 'Fishing boats return to the quay after the storm, and the market opens again.' })
  }
}

const LIST = '/v1/articles?limit=8'

t.test('responses are compressed as the client asks', async (t) => {
  const h = await build(t)
  await newsroom(h)
  const plain = await call(h.app, 'GET', LIST)
  t.equal(plain.statusCode, 200)
  t.ok(plain.rawPayload.length > 1024, 'a page big enough to compress')
  t.notOk(plain.headers['content-encoding'], 'no Accept-Encoding, no compression')
  t.match(plain.headers.vary, /accept-encoding/i, 'the answer varies by Accept-Encoding even when plain')

  for (const [accept, expected] of [['gzip, deflate, br', 'br'], ['gzip', 'gzip'], ['br;q=0.5, gzip', 'gzip'], ['*', 'gzip'], ['x-gzip', 'gzip'], ['identity', undefined], ['gzip;q=0, br;q=0', undefined], ['deflate', undefined]] as const) {
    const res = await call(h.app, 'GET', LIST, { headers: { 'accept-encoding': accept } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-encoding'], expected, `Accept-Encoding: ${accept}`)
    t.equal(decode(expected, res.rawPayload).toString(), plain.body, 'the same JSON once decoded')
    t.equal(res.headers.etag, plain.headers.etag, 'one ETag whatever the encoding')
    if (expected) t.ok(res.rawPayload.length < plain.rawPayload.length / 2, `${expected}: ${res.rawPayload.length} of ${plain.rawPayload.length} bytes`)
  }

  const small = await call(h.app, 'GET', '/v1/sections', { headers: { 'accept-encoding': 'br' } })
  t.ok(small.rawPayload.length < 1024)
  t.notOk(small.headers['content-encoding'], 'a small body goes as it is')

  const revalidated = await call(h.app, 'GET', LIST, { headers: { 'accept-encoding': 'br', 'if-none-match': String(plain.headers.etag) } })
  t.equal(revalidated.statusCode, 304)
  t.equal(revalidated.rawPayload.length, 0)
  t.notOk(revalidated.headers['content-encoding'], 'a 304 has no body to encode')
})

t.test("an ETag read compressed is an editor's If-Match", async (t) => {
  const h = await build(t)
  const { id } = await makeArticle(h, { headline: 'Quay repairs', body: [{ type: 'paragraph', text: 'The harbour wall will be rebuilt stone by stone. '.repeat(40) }] })
  const read = await call(h.app, 'GET', `/v1/articles/${id}`, { token: h.editor.token, headers: { 'accept-encoding': 'gzip' } })
  t.equal(read.headers['content-encoding'], 'gzip', 'staff reads are compressed too')
  const patched = await call(h.app, 'PATCH', `/v1/articles/${id}`, { token: h.editor.token, headers: { 'if-match': String(read.headers.etag) }, body: { headline: 'Quay repairs begin' } })
  t.equal(patched.statusCode, 200)
  t.equal(patched.json().headline, 'Quay repairs begin')
})

t.test('a compressed request body is refused, not decompressed', async (t) => {
  const h = await build(t)
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/sections',
    headers: { authorization: `Bearer ${h.editor.token}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    payload: gzipSync(JSON.stringify({ name: 'Weather' }))
  })
  // A valid gzip stream of valid JSON: had it been decompressed, the section would exist now.
  t.equal(res.statusCode, 400, `a 400: ${res.body}`)
  t.match(res.headers['content-type'], /application\/problem\+json/)
  t.equal((await call(h.app, 'GET', '/v1/sections')).json().data.length, 0, 'nothing written')
})

t.test('the public cache keeps one compressed copy per encoding', async (t) => {
  const h = await build(t, { env: { PUBLIC_CACHE: 'true' } })
  await newsroom(h)
  const plain = await call(h.app, 'GET', LIST)
  const br = await call(h.app, 'GET', LIST, { headers: { 'accept-encoding': 'br' } })
  t.equal(br.headers['x-cache'], 'hit')
  t.equal(br.headers['content-encoding'], 'br')
  t.equal(br.headers['content-length'], String(br.rawPayload.length))
  t.equal(decode('br', br.rawPayload).toString(), plain.body)
  t.equal(br.headers.etag, plain.headers.etag)
  t.equal(br.headers.vary, plain.headers.vary)
  const sizeWithBr = h.app.publicCache.stats.bytes
  t.equal(sizeWithBr, plain.rawPayload.length + br.rawPayload.length, 'the copy counts toward the size limit')

  const brAgain = await call(h.app, 'GET', LIST, { headers: { 'accept-encoding': 'gzip, br' } })
  t.same(brAgain.rawPayload, br.rawPayload, 'the same stored copy')
  t.equal(h.app.publicCache.stats.bytes, sizeWithBr, 'made once')
  const gzip = await call(h.app, 'GET', LIST, { headers: { 'accept-encoding': 'gzip' } })
  t.equal(gzip.headers['content-encoding'], 'gzip')
  t.equal(decode('gzip', gzip.rawPayload).toString(), plain.body)
  const optedOut = await call(h.app, 'GET', LIST, { headers: { 'accept-encoding': 'br', 'x-no-compression': '1' } })
  t.equal(optedOut.headers['x-cache'], 'hit')
  t.notOk(optedOut.headers['content-encoding'], 'x-no-compression is honoured as by the plugin')
  const plainHit = await call(h.app, 'GET', LIST, { headers: { 'accept-encoding': 'identity' } })
  t.equal(plainHit.headers['x-cache'], 'hit')
  t.notOk(plainHit.headers['content-encoding'])
  t.equal(plainHit.body, plain.body)
  t.equal(plainHit.headers['content-length'], String(plain.rawPayload.length))
})

t.test('over a socket, a cached page goes compressed from the server path', async (t) => {
  const h = await build(t, { env: { PUBLIC_CACHE: 'true' } })
  await newsroom(h)
  const address = await h.app.listen({ port: 0, host: '127.0.0.1' })
  const raw = (accept: string) => new Promise<{ status: number, headers: Record<string, unknown>, body: Buffer }>((resolve, reject) => {
    // node:http, not fetch: fetch would decode the body and hide the bytes sent.
    const req = request(address + LIST, { headers: { 'accept-encoding': accept } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
    })
    req.on('error', reject).end()
  })
  const plain = await raw('identity')
  const early = h.app.publicCache.stats.early
  const br = await raw('gzip, deflate, br')
  t.equal(h.app.publicCache.stats.early, early + 1, 'answered by the server path')
  t.equal(br.status, 200)
  t.equal(br.headers['content-encoding'], 'br')
  t.equal(br.headers['content-length'], String(br.body.length))
  t.match(br.headers.vary, /accept-encoding/i)
  t.equal(br.headers.etag, plain.headers.etag)
  t.equal(brotliDecompressSync(br.body).toString(), plain.body.toString())
})
