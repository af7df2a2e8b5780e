// Odd but valid images: sizes judged from the header before any decoding, renditions that fit
// what their format holds, and a bounded number of uploads decoded at once.
import t from 'tap'
import { deflateSync } from 'node:zlib'
import sharp from 'sharp'
import { build, call } from './helper.js'
import { canvas, diskPath, filePart, filesIn, nothingStored, problem, snapshot, upload } from './photos-upload-helpers.js'

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
const crc32 = (bytes: Buffer) => {
  let c = 0xffffffff
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
const chunk = (type: string, data: Buffer) => {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const out = Buffer.alloc(12 + data.length)
  out.writeUInt32BE(data.length, 0)
  body.copy(out, 4)
  out.writeUInt32BE(crc32(body), 8 + data.length)
  return out
}
/**
 * A PNG that is a header and a few bytes: a size, but (nearly) no pixels. Refused for its size,
 * not as unreadable, only if the size is judged before decoding is tried.
 */
function headerOnlyPng (width: number, height: number) {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.writeUInt8(8, 8) // bit depth
  ihdr.writeUInt8(2, 9) // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(10))), chunk('IEND', Buffer.alloc(0))])
}

t.test('image sizes and renditions', async (t) => {
  const h = await build(t, { env: { PHOTO_MAX_SIDE: '20000' } })

  t.test('too elongated or too long a side: refused from the header, naming the dimension', async (t) => {
    const before = await snapshot(h)
    const cases: Array<[number, number, number, string, RegExp]> = [
      [1, 59_000_000, 413, 'PAYLOAD_TOO_LARGE', /^height of 59,000,000 px is more than the 20,000 px allowed$/],
      [1, 10_000, 400, 'VALIDATION_FAILED', /^height of 10,000 px is more than 20 times its width of 1 px$/],
      [5000, 200, 400, 'VALIDATION_FAILED', /^width of 5,000 px is more than 20 times its height of 200 px$/],
      [20_001, 2000, 413, 'PAYLOAD_TOO_LARGE', /^width of 20,001 px is more than the 20,000 px allowed$/],
      [8000, 8000, 413, 'PAYLOAD_TOO_LARGE', /more than the 60,000,000 pixels allowed$/]
    ]
    for (const [width, height, status, code, message] of cases) {
      const res = await upload(h, h.author.token, [filePart(headerOnlyPng(width, height), 'odd.png', 'image/png')])
      const body = problem(t, res, status, code)
      t.equal(body.errors.length, 1)
      t.match(body.errors[0], { path: '/file', in: 'body', message }, `${width} x ${height}`)
    }
    // The same header at an ordinary size is judged unreadable: it has no pixels. So the sizes
    // above were refused before any decoding was tried.
    const plain = await upload(h, h.author.token, [filePart(headerOnlyPng(800, 600), 'plain.png', 'image/png')])
    t.match(problem(t, plain, 400, 'BAD_REQUEST').errors, [{ path: '/file', message: 'is not a readable image' }])
    // A real image, elongated: refused the same way.
    const strip = await sharp({ create: { width: 2100, height: 100, channels: 3, background: '#336699' } }).png().toBuffer()
    t.match(problem(t, await upload(h, h.author.token, [filePart(strip, 's.png', 'image/png')]), 400, 'VALIDATION_FAILED').errors,
      [{ path: '/file', message: 'width of 2,100 px is more than 20 times its height of 100 px' }])
    await nothingStored(t, h, before)
  })

  t.test('a panorama wider than WebP holds: its full-size WebP is capped at 16,383 px', async (t) => {
    const res = await upload(h, h.author.token, [filePart(await canvas(17_000, 1000), 'wide.png', 'image/png')])
    t.equal(res.statusCode, 201, res.body)
    const photo = res.json()
    t.strictSame([photo.width, photo.height, photo.mimeType], [17_000, 1000, 'image/png'])
    const widthsOf = (mime: string) => photo.renditions.filter((r: any) => r.mimeType === mime).map((r: any) => r.width)
    t.strictSame(widthsOf('image/png'), [320, 640, 1024, 1600, 2400])
    t.strictSame(widthsOf('image/webp'), [320, 640, 1024, 1600, 2400, 16_383], 'full size, capped to what WebP holds')
    const capped = await sharp(diskPath(h, photo.renditions.find((r: any) => r.width === 16_383).url)).metadata()
    t.strictSame([capped.format, capped.width, capped.height], ['webp', 16_383, 964])

    // Deleting it removes every file it was given, the capped one too.
    const hash = photo.url.split('/')[2]
    t.equal((await filesIn(h.config.MEDIA_DIR!)).filter((f) => f.startsWith(hash)).length, 12)
    t.equal((await call(h.app, 'DELETE', `/v1/photos/${photo.id}`, { token: h.author.token })).statusCode, 204)
    t.strictSame((await filesIn(h.config.MEDIA_DIR!)).filter((f) => f.startsWith(hash)), [], 'no file left behind')
  })

  t.test('a tall image: WebP renditions are narrowed until their height fits', async (t) => {
    const res = await upload(h, h.author.token, [filePart(await canvas(850, 17_000), 'tall.png', 'image/png')])
    t.equal(res.statusCode, 201, res.body)
    const photo = res.json()
    t.strictSame(photo.renditions.map((r: any) => [r.width, r.mimeType]), [
      [320, 'image/png'], [320, 'image/webp'], [640, 'image/png'], [640, 'image/webp'], [819, 'image/webp']
    ])
    const tallest = await sharp(diskPath(h, photo.renditions.at(-1).url)).metadata()
    t.strictSame([tallest.width, tallest.height], [819, 16_380])
  })
})

t.test('uploads wait their turn, and a full queue is a 503 with Retry-After', async (t) => {
  const h = await build(t, { env: { IMAGE_PROCESSING_CONCURRENCY: '1', IMAGE_PROCESSING_QUEUE: '1' } })
  const image = await canvas(400, 300)
  // The one slot is taken by work the test holds, so what follows does not depend on timing.
  let release!: () => void
  const held = h.app.imageQueue.run(() => new Promise<void>((resolve) => { release = resolve }))
  t.equal(h.app.imageQueue.active, 1)

  const waiting = upload(h, h.author.token, [filePart(image, 'a.png', 'image/png')])
  for (let i = 0; i < 1000 && h.app.imageQueue.queued === 0; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(h.app.imageQueue.queued, 1, 'the first upload waits for the slot')

  const before = await snapshot(h)
  const full = await upload(h, h.author.token, [filePart(await canvas(400, 300, 2), 'b.png', 'image/png')])
  const body = problem(t, full, 503, 'UNAVAILABLE')
  t.match(body.detail, /processing as many images/)
  t.equal(full.headers['retry-after'], '10')
  await nothingStored(t, h, before)

  release()
  await held
  const done = await waiting
  t.equal(done.statusCode, 201, `the waiting upload goes through once the slot is free: ${done.body}`)
  t.equal(h.app.imageQueue.active, 0)
  t.equal((await upload(h, h.author.token, [filePart(await canvas(400, 300, 3), 'c.png', 'image/png')])).statusCode, 201)
})
