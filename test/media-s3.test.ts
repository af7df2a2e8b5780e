// Photos on an S3-compatible bucket (MEDIA_STORE=s3), against a real S3-protocol server on
// loopback (s3rver): uploads and renditions land in the bucket, /media streams them with
// ETags, 304s and ranges, deletes remove objects only when no photo uses them, a store that
// fails mid-upload leaves no row and no object, and a store that is down is a 503.
import net from 'node:net'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import S3rver from 's3rver'
import sharp from 'sharp'
import t, { type Test } from 'tap'
import { build, call } from './helper.js'
import { canvas, filePart, photoCount, problem, upload, IMMUTABLE } from './photos-upload-helpers.js'

const BUCKET = 'newsroom-media'
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: t.testdir(), configureBuckets: [{ name: BUCKET }] })
const { port } = await server.run() as { port: number }
t.teardown(() => server.close())
const endpoint = `http://127.0.0.1:${port}`
const s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials })
t.teardown(() => s3.destroy())

const envFor = (url: string) => ({
  MEDIA_STORE: 's3', S3_BUCKET: BUCKET, S3_ENDPOINT: url, S3_FORCE_PATH_STYLE: 'true', S3_PREFIX: 'media/',
  S3_ACCESS_KEY_ID: credentials.accessKeyId, S3_SECRET_ACCESS_KEY: credentials.secretAccessKey
})

async function objects (): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))
  return (listed.Contents ?? []).map((o) => o.Key!).sort()
}

let seed = 900
const jpeg = async (w = 900, h = 600) => sharp(await canvas(w, h, seed++)).jpeg().toBuffer()

t.test('uploads land in the bucket and /media streams them back', async (t) => {
  const h = await build(t, { env: envFor(endpoint) })
  const res = await upload(h, h.author.token, [filePart(await jpeg())])
  t.equal(res.statusCode, 201, res.body)
  const photo = res.json()
  // Nothing public uses it yet: an editor marks it public, so anonymous readers may fetch it.
  t.equal((await call(h.app, 'PATCH', `/v1/photos/${photo.id}`, { token: h.editor.token, body: { public: true } })).statusCode, 200)
  const keys = await objects()
  const expected = [photo.url, ...photo.renditions.map((r: { url: string }) => r.url)].map((u: string) => u.replace(/^\/media\//, 'media/'))
  for (const key of expected) t.ok(keys.includes(key), `${key} is in the bucket`)

  const file = await h.app.inject(photo.url)
  t.equal(file.statusCode, 200)
  t.equal(file.headers['content-type'], 'image/jpeg')
  t.equal(file.headers['cache-control'], IMMUTABLE)
  t.equal(Number(file.headers['content-length']), photo.bytes)
  t.equal((await sharp(file.rawPayload).metadata()).width, 900, 'the original image')
  const etag = file.headers.etag as string
  t.equal((await h.app.inject({ url: photo.url, headers: { 'if-none-match': etag } })).statusCode, 304)
  const part = await h.app.inject({ url: photo.url, headers: { range: 'bytes=10-19' } })
  t.equal(part.statusCode, 206)
  t.equal(part.headers['content-range'], `bytes 10-19/${photo.bytes}`)
  t.ok(part.rawPayload.equals(file.rawPayload.subarray(10, 20)), 'the asked-for bytes')
  t.equal((await h.app.inject(photo.url.replace('original', '123'))).statusCode, 404, 'a key not in the bucket is a 404')
})

t.test('deleting a photo removes its objects only when no other photo uses them', async (t) => {
  const h = await build(t, { env: envFor(endpoint) })
  const image = await jpeg()
  const first = (await upload(h, h.author.token, [filePart(image)])).json()
  const second = (await upload(h, h.author.token, [filePart(image)])).json()
  t.equal(first.url, second.url, 'the same file, stored once')
  const mine = async () => (await objects()).filter((k) => k.startsWith(`media/${first.url.split('/')[2]}/`))
  const stored = await mine()
  t.ok(stored.length > 1)
  const del = (id: string) => h.app.inject({ method: 'DELETE', url: `/v1/photos/${id}`, headers: { authorization: `Bearer ${h.editor.token}` } })
  t.equal((await del(first.id)).statusCode, 204)
  t.same(await mine(), stored, 'still used by the other photo: kept')
  t.equal((await call(h.app, 'GET', second.url, { token: h.editor.token })).statusCode, 200, 'the other photo\'s files are still served')
  t.equal((await del(second.id)).statusCode, 204)
  t.same(await mine(), [], 'the last one gone: the objects too')
})

/**
 * A TCP relay to the S3 server that lets `puts` PUT requests through, then cuts every
 * connection that sends another: a store failing in the middle of an upload.
 */
async function cuttingRelay (t: Test, puts: number) {
  let seen = 0
  const relay = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    client.on('data', (chunk: Buffer) => {
      if (chunk.subarray(0, 4).toString() === 'PUT ' && ++seen > puts) { client.destroy(); upstream.destroy(); return }
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => relay.close(() => resolve())))
  return `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`
}

t.test('a store that fails mid-upload leaves no photo and no object', async (t) => {
  const url = await cuttingRelay(t, 3)
  const h = await build(t, { env: envFor(url) })
  const before = await objects()
  const res = await upload(h, h.author.token, [filePart(await jpeg(1000, 700))])
  problem(t, res, 503, 'UNAVAILABLE')
  t.match(res.headers['retry-after'], /^\d+$/)
  t.equal(await photoCount(h), 0, 'no row')
  t.same(await objects(), before, 'the three objects it had stored are gone again')
})

t.test('a store that is down is a 503 with Retry-After, never a 500', async (t) => {
  const closed = net.createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const deadPort = (closed.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const h = await build(t, { env: envFor(`http://127.0.0.1:${deadPort}`) })
  const res = await upload(h, h.author.token, [filePart(await jpeg())])
  problem(t, res, 503, 'UNAVAILABLE')
  t.equal(await photoCount(h), 0, 'no row')
  // Staff may read any photo's files, so the store itself is asked.
  const media = await call(h.app, 'GET', `/media/${'a'.repeat(64)}/original.jpg`, { token: h.editor.token })
  problem(t, media, 503, 'UNAVAILABLE')
  t.match(media.headers['retry-after'], /^\d+$/)
})

t.test('MEDIA_STORE=s3 without a bucket, or half the credentials, stops the start', async (t) => {
  const { loadConfig } = await import('../src/config.js')
  t.throws(() => loadConfig({ MEDIA_STORE: 's3' }), { message: /MEDIA_STORE=s3 needs S3_BUCKET/ })
  t.throws(() => loadConfig({ MEDIA_STORE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'x' }), { message: /S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY go together/ })
})
