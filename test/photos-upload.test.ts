// POST /v1/photos as multipart/form-data: who may upload, type sniffing, size and pixel limits,
// corrupt and cut-off uploads, form validation, orientation, metadata stripping and renditions.
// Serving, sharing of stored files and deletion are in photos-media.test.ts.
import t from 'tap'
import { stat } from 'node:fs/promises'
import { eq } from 'drizzle-orm'
import sharp from 'sharp'
import { build } from './helper.js'
import { loadConfig } from '../src/config.js'
import { photos } from '../src/db/schema.js'
import { localStore } from '../src/modules/photos/storage.js'
import {
  canvas, diskPath, filePart, filesIn, MEDIA_URL, noise, nothingStored, problem, sha256, snapshot, upload
} from './photos-upload-helpers.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const MAX_BYTES = 200_000
const MAX_PIXELS = 1_000_000

/** Whether raw EXIF (a TIFF structure) has a GPS IFD pointer (tag 0x8825) in IFD0. */
function hasGps (exif: Buffer | undefined) {
  if (!exif) return false
  const tiff = exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? exif.subarray(6) : exif
  const le = tiff.subarray(0, 2).toString('latin1') === 'II'
  const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o))
  const u32 = (o: number) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o))
  const ifd0 = u32(4)
  for (let i = 0; i < u16(ifd0); i++) if (u16(ifd0 + 2 + i * 12) === 0x8825) return true
  return false
}

t.test('config defaults', async (t) => {
  const config = loadConfig({})
  t.equal(config.PHOTO_MAX_BYTES, 20 * 1024 * 1024, '20 MB by default')
  t.equal(config.PHOTO_MAX_PIXELS, 60_000_000)
})

t.test('photo uploads', async (t) => {
  const h = await build(t, { env: { PHOTO_MAX_BYTES: String(MAX_BYTES), PHOTO_MAX_PIXELS: String(MAX_PIXELS) } })
  t.equal(h.config.PHOTO_MAX_BYTES, MAX_BYTES)
  t.equal(h.config.PHOTO_MAX_PIXELS, MAX_PIXELS)
  const row = async (id: string) => (await h.database.db.select().from(photos).where(eq(photos.id, id)))[0]
  let seed = 100
  const jpeg = async (w: number, h: number) => sharp(await canvas(w, h, seed++)).jpeg().toBuffer()

  await t.test('authors and editors upload; anonymous is refused', async (t) => {
    const file = await jpeg(640, 480)
    const before = await snapshot(h)
    const anonymous = await upload(h, undefined, [filePart(file)])
    problem(t, anonymous, 401, 'UNAUTHORIZED')
    await nothingStored(t, h, before)

    const res = await upload(h, h.author.token, [
      { name: 'caption', value: '  Harbour at dusk  ' },
      { name: 'credit', value: 'PHOTO: Amal' },
      { name: 'altText', value: 'Boats moored at a stone quay' },
      filePart(file)
    ])
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    const hash = sha256(file)
    t.match(body.id, UUID)
    t.equal(res.headers.location, `/v1/photos/${body.id}`)
    t.equal(body.url, `/media/${hash}/original.jpg`, 'stored under the SHA-256 of the uploaded bytes')
    const original = (await filesIn(h.config.MEDIA_DIR!)).filter((f) => f.startsWith(hash))
    t.ok(original.includes(`${hash}/original.jpg`), 'the original is on disk')
    const onDisk = { ...await sharp(diskPath(h, body.url)).metadata(), size: (await stat(diskPath(h, body.url))).size }
    t.strictSame(body, {
      id: body.id,
      caption: 'Harbour at dusk',
      credit: 'PHOTO: Amal',
      altText: 'Boats moored at a stone quay',
      width: 640,
      height: 480,
      mimeType: 'image/jpeg',
      bytes: onDisk.size,
      url: body.url,
      renditions: [
        { width: 320, url: `/media/${hash}/320.jpg`, mimeType: 'image/jpeg' },
        { width: 320, url: `/media/${hash}/320.webp`, mimeType: 'image/webp' },
        { width: 640, url: `/media/${hash}/640.webp`, mimeType: 'image/webp' }
      ],
      public: false,
      createdAt: body.createdAt,
      updatedAt: body.createdAt
    }, 'no 640 JPEG: the original is that size; the full-width WebP is 640')
    t.equal(onDisk.format, 'jpeg')
    const stored = await row(body.id)
    t.equal(stored.createdById, h.author.userId, 'remembers who uploaded it')
    t.equal(stored.sha256, hash)
    t.equal(stored.bytes, onDisk.size)
    t.strictSame((await h.app.inject({ method: 'GET', url: `/v1/photos/${body.id}`, headers: { authorization: `Bearer ${h.otherAuthor.token}` } })).json(), body, 'readable like any photo (by staff, until something public uses it)')

    const byEditor = await upload(h, h.editor.token, [{ name: 'caption', value: '   ' }, filePart(await canvas(300, 200, seed++), 'x.png', 'image/png')])
    t.equal(byEditor.statusCode, 201, byEditor.body)
    const e = byEditor.json()
    t.strictSame([e.caption, e.credit, e.altText], [null, null, null], 'blank and missing fields are null')
    t.equal((await row(e.id)).createdById, h.editor.userId)
  })

  await t.test('JSON still adds a photo hosted elsewhere, and still validates', async (t) => {
    const before = await snapshot(h)
    const res = await h.app.inject({
      method: 'POST', url: '/v1/photos', headers: { authorization: `Bearer ${h.author.token}` },
      payload: { url: 'https://cdn.example.com/2024/flood.jpg', caption: 'Flood', width: 1600, height: 900 }
    })
    t.equal(res.statusCode, 201, res.body)
    t.match(res.json(), { url: 'https://cdn.example.com/2024/flood.jpg', caption: 'Flood', width: 1600, height: 900, renditions: [] })
    t.equal((await row(res.json().id)).sha256, null, 'no stored file behind it')
    t.strictSame(await filesIn(h.config.MEDIA_DIR!), before.files, 'nothing fetched or written to disk')

    const bad = await h.app.inject({
      method: 'POST', url: '/v1/photos', headers: { authorization: `Bearer ${h.author.token}` },
      payload: { url: 'javascript:alert(1)' }
    })
    t.ok(problem(t, bad, 400, 'VALIDATION_FAILED').errors.some((x: { path: string }) => x.path === '/url'))
    await nothingStored(t, h, { ...before, rows: before.rows + 1 })
  })

  await t.test('the type is judged by the bytes, not the name or declared type', async (t) => {
    const png = await canvas(300, 200, seed++)
    const res = await upload(h, h.author.token, [filePart(png, 'holiday.jpg', 'image/jpeg')])
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.equal(body.mimeType, 'image/png')
    t.equal(body.url, `/media/${sha256(png)}/original.png`)
    t.equal((await sharp(diskPath(h, body.url)).metadata()).format, 'png')
    t.strictSame(body.renditions, [{ width: 300, url: `/media/${sha256(png)}/300.webp`, mimeType: 'image/webp' }],
      'smaller than every rendition width: only the full-width WebP, nothing upscaled')

    const base = await canvas(96, 64, seed++)
    const formats = [
      { make: () => sharp(base).jpeg().toBuffer(), mime: 'image/jpeg', ext: 'jpg', sharpFormat: 'jpeg' },
      { make: () => sharp(base).png().toBuffer(), mime: 'image/png', ext: 'png', sharpFormat: 'png' },
      { make: () => sharp(base).webp().toBuffer(), mime: 'image/webp', ext: 'webp', sharpFormat: 'webp' },
      { make: () => sharp(base).avif().toBuffer(), mime: 'image/avif', ext: 'avif', sharpFormat: 'heif' },
      { make: () => sharp(base).gif().toBuffer(), mime: 'image/gif', ext: 'gif', sharpFormat: 'gif' }
    ]
    for (const f of formats) {
      const data = await f.make()
      const r = await upload(h, h.author.token, [filePart(data, 'upload.bin', 'application/octet-stream')])
      t.equal(r.statusCode, 201, `${f.mime}: ${r.body}`)
      const b = r.json()
      t.equal(b.mimeType, f.mime)
      t.equal(b.url, `/media/${sha256(data)}/original.${f.ext}`)
      t.match(await sharp(diskPath(h, b.url)).metadata(), { format: f.sharpFormat, width: 96, height: 64 })
      t.strictSame(b.renditions, f.mime === 'image/webp' ? [] : [{ width: 96, url: `/media/${sha256(data)}/96.webp`, mimeType: 'image/webp' }],
        `${f.mime}: a WebP original needs no WebP copy`)
    }

    const before = await snapshot(h)
    const refused = [
      { data: Buffer.from('Just some text that is certainly not an image at all.\n'.repeat(20)), name: 'notes.png', type: 'image/png' },
      { data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" fill="red"/></svg>'), name: 'logo.png', type: 'image/png' },
      { data: await sharp(base).tiff().toBuffer(), name: 'scan.jpg', type: 'image/jpeg' },
      { data: Buffer.from('GIF8'), name: 'tiny.gif', type: 'image/gif' }
    ]
    for (const f of refused) {
      const r = await upload(h, h.author.token, [filePart(f.data, f.name, f.type)])
      problem(t, r, 415, 'UNSUPPORTED_MEDIA_TYPE')
    }
    await nothingStored(t, h, before)
  })

  await t.test('size limit: 413, and nothing stored', async (t) => {
    const big = await noise(300, 300)
    t.ok(big.length > MAX_BYTES, `the test image (${big.length} bytes) is over the limit`)
    t.ok(300 * 300 < MAX_PIXELS, 'but under the pixel limit')
    const before = await snapshot(h)
    const res = await upload(h, h.author.token, [{ name: 'caption', value: 'Too big' }, filePart(big, 'big.png', 'image/png')])
    const p = problem(t, res, 413, 'PAYLOAD_TOO_LARGE')
    t.match(p.detail, String(MAX_BYTES))
    await nothingStored(t, h, before)

    // Over the limit and cut off too: either complaint is fair, as long as nothing is kept.
    const cutBig = await upload(h, h.author.token, [filePart(big, 'big.png', 'image/png')], { cutAt: MAX_BYTES + 10_000 })
    t.ok([400, 413].includes(cutBig.statusCode), `over the limit and cut off: ${cutBig.statusCode}`)
    t.match(cutBig.headers['content-type'], /^application\/problem\+json/)
    await nothingStored(t, h, before)

    const small = await noise(200, 200)
    t.ok(small.length < MAX_BYTES && small.length > MAX_BYTES / 2, `a file just under the limit (${small.length} bytes)`)
    const ok = await upload(h, h.author.token, [filePart(small, 'small.png', 'image/png')])
    t.equal(ok.statusCode, 201, ok.body)
  })

  await t.test('a body cut off mid-file: 400, and nothing stored', async (t) => {
    const file = await jpeg(640, 480)
    const before = await snapshot(h)
    for (const cutAt of [file.length - 10, Math.floor(file.length / 2), 0]) {
      const res = await upload(h, h.author.token, [{ name: 'caption', value: 'Cut off' }, filePart(file)], { cutAt })
      problem(t, res, 400, 'BAD_REQUEST')
    }
    await nothingStored(t, h, before)
    // The same file, sent whole, is fine: it was the cut that was refused.
    t.equal((await upload(h, h.author.token, [filePart(file)])).statusCode, 201)
  })

  await t.test('pixel limit refuses decompression bombs', async (t) => {
    const bomb = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#204060' } }).png({ compressionLevel: 9 }).toBuffer()
    t.ok(bomb.length < 20_000, `the bomb is small on the wire (${bomb.length} bytes)`)
    const before = await snapshot(h)
    const res = await upload(h, h.author.token, [filePart(bomb, 'bomb.png', 'image/png')])
    const p = problem(t, res, 413, 'PAYLOAD_TOO_LARGE')
    t.match(p.detail, /pixels/)
    const jpegBomb = await sharp(bomb).jpeg({ quality: 30 }).toBuffer()
    problem(t, await upload(h, h.author.token, [filePart(jpegBomb)]), 413, 'PAYLOAD_TOO_LARGE')
    const tall = await canvas(10, 100_001, seed++)
    problem(t, await upload(h, h.author.token, [filePart(tall, 't.png', 'image/png')]), 413, 'PAYLOAD_TOO_LARGE')
    await nothingStored(t, h, before)

    const atLimit = await upload(h, h.author.token, [filePart(await canvas(1000, 1000, seed++), 'a.png', 'image/png')])
    t.equal(atLimit.statusCode, 201, `exactly ${MAX_PIXELS} pixels is allowed: ${atLimit.body}`)
    t.strictSame([atLimit.json().width, atLimit.json().height], [1000, 1000])
  })

  await t.test('corrupt or truncated images: 400, and nothing stored', async (t) => {
    const good = await jpeg(640, 480)
    const png = await canvas(640, 480, seed++)
    const corrupt = [
      { label: 'JPEG header then garbage', data: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4000, 0x5a)]) },
      { label: 'JPEG header then random bytes', data: Buffer.concat([good.subarray(0, 20), Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 131 + 7) % 256))]) },
      { label: 'truncated JPEG', data: good.subarray(0, Math.floor(good.length * 0.6)) },
      { label: 'truncated PNG', data: png.subarray(0, Math.floor(png.length * 0.6)) },
      { label: 'PNG signature only', data: png.subarray(0, 16) }
    ]
    const before = await snapshot(h)
    for (const c of corrupt) {
      const res = await upload(h, h.author.token, [filePart(c.data, 'x.jpg')])
      const p = problem(t, res, 400, 'BAD_REQUEST')
      t.strictSame(p.errors?.map((e: { path: string }) => e.path), ['/file'], `${c.label}: names the file`)
    }
    await nothingStored(t, h, before)
  })

  await t.test('the form itself is validated', async (t) => {
    const file = await jpeg(320, 240)
    const before = await snapshot(h)
    const paths = (res: Awaited<ReturnType<typeof upload>>) => problem(t, res, 400, 'VALIDATION_FAILED').errors.map((e: { path: string }) => e.path)

    t.strictSame(paths(await upload(h, h.author.token, [{ name: 'location', value: 'Lahore' }, filePart(file)])), ['/location'], 'unknown text field')
    t.strictSame(paths(await upload(h, h.author.token, [{ name: 'caption', value: 'No file' }])), ['/file'], 'no file part')
    t.strictSame(paths(await upload(h, h.author.token, [filePart(Buffer.alloc(0))])), ['/file'], 'an empty file')
    t.strictSame(paths(await upload(h, h.author.token, [filePart(file), filePart(file, 'again.jpg')])), ['/file'], 'two files')
    t.strictSame(paths(await upload(h, h.author.token, [{ name: 'image', data: file, filename: 'a.jpg', type: 'image/jpeg' }])), ['/image'], 'a file under another name')
    t.strictSame(paths(await upload(h, h.author.token, [{ name: 'caption', value: 'x'.repeat(2001) }, filePart(file)])), ['/caption'], 'caption too long')
    t.strictSame(paths(await upload(h, h.author.token, [{ name: 'file', value: 'not a file' }])), ['/file'], 'file sent as a text field')
    await nothingStored(t, h, before)
  })

  await t.test('a body that is not a readable form: 400, and nothing stored', async (t) => {
    const before = await snapshot(h)
    const post = (contentType: string, payload: Buffer) => h.app.inject({
      method: 'POST', url: '/v1/photos', headers: { authorization: `Bearer ${h.author.token}`, 'content-type': contentType }, payload
    })
    const file = await jpeg(320, 240)
    problem(t, await post('multipart/form-data', file), 400, 'BAD_REQUEST')
    problem(t, await post('multipart/form-data; boundary=nope', Buffer.concat([Buffer.from('--other\r\n\r\n'), file])), 400, 'BAD_REQUEST')
    await nothingStored(t, h, before)
  })

  await t.test('an animated GIF keeps its frames', async (t) => {
    const frames = await Promise.all([1, 2, 3].map(() => canvas(400, 300, seed++)))
    const gif = await sharp(frames, { join: { animated: true } }).gif().toBuffer()
    const res = await upload(h, h.author.token, [filePart(gif, 'loop.gif', 'image/gif')])
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.match(body, { width: 400, height: 300, mimeType: 'image/gif' }, 'the size of a frame')
    t.strictSame(body.renditions.map((r: { width: number, mimeType: string }) => `${r.width} ${r.mimeType}`), ['320 image/gif', '320 image/webp', '400 image/webp'])
    for (const file of [{ url: body.url, width: 400 }, ...body.renditions]) {
      const m = await sharp(diskPath(h, file.url), { animated: true }).metadata()
      t.strictSame([m.width, m.pageHeight, m.pages], [file.width, file.width * 3 / 4, 3], `${file.url}: three frames`)
    }
  })

  await t.test('EXIF orientation is applied', async (t) => {
    const file = await sharp(await canvas(1200, 800, seed++)).jpeg().withMetadata({ orientation: 6 }).toBuffer()
    t.match(await sharp(file).metadata(), { width: 1200, height: 800, orientation: 6 }, 'the input is stored sideways')
    const res = await upload(h, h.author.token, [filePart(file)])
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.strictSame([body.width, body.height], [800, 1200], 'upright')
    const stored = await row(body.id)
    t.strictSame([stored.width, stored.height], [800, 1200])
    const original = await sharp(diskPath(h, body.url)).metadata()
    t.strictSame([original.width, original.height, original.orientation], [800, 1200, undefined], 'pixels rotated, tag gone')
    t.strictSame(body.renditions.map((r: { width: number, mimeType: string }) => `${r.width} ${r.mimeType}`),
      ['320 image/jpeg', '320 image/webp', '640 image/jpeg', '640 image/webp', '800 image/webp'])
    for (const r of body.renditions) {
      const m = await sharp(diskPath(h, r.url)).metadata()
      t.strictSame([m.width, m.height, m.orientation], [r.width, r.width * 1.5, undefined], `${r.url} is portrait`)
    }
  })

  await t.test('renditions, and EXIF/GPS stripped from every file', async (t) => {
    const exif = {
      IFD0: { Copyright: 'Secret Shooter 1987', Artist: 'Secret Shooter 1987' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '31/1 33/1 0/1', GPSLongitudeRef: 'E', GPSLongitude: '74/1 20/1 0/1' }
    }
    const inputs = [
      { label: 'jpeg', data: await sharp(await canvas(1200, 800, seed++)).jpeg().withExif(exif).toBuffer(), own: 'image/jpeg', ext: 'jpg' },
      { label: 'png', data: await sharp(await canvas(1200, 800, seed++)).png().withMetadata({ exif }).toBuffer(), own: 'image/png', ext: 'png' },
      { label: 'webp', data: await sharp(await canvas(1200, 800, seed++)).webp().withExif(exif).toBuffer(), own: 'image/webp', ext: 'webp' }
    ]
    for (const input of inputs) {
      const meta = await sharp(input.data).metadata()
      t.ok(hasGps(meta.exif), `${input.label}: the input carries GPS`)
      t.ok(input.data.includes('Secret Shooter 1987'), `${input.label}: and a name`)

      const res = await upload(h, h.author.token, [filePart(input.data, 'gps.jpg')])
      t.equal(res.statusCode, 201, res.body)
      const body = res.json()
      const hash = sha256(input.data)
      t.match(body.url, MEDIA_URL)
      const own = input.own === 'image/webp' ? [] : [320, 640, 1024].map((w) => ({ width: w, url: `/media/${hash}/${w}.${input.ext}`, mimeType: input.own }))
      const webp = [320, 640, 1024, ...(input.own === 'image/webp' ? [] : [1200])].map((w) => ({ width: w, url: `/media/${hash}/${w}.webp`, mimeType: 'image/webp' }))
      t.strictSame(body.renditions, [...own, ...webp].sort((a, b) => a.width - b.width || a.mimeType.localeCompare(b.mimeType)),
        `${input.label}: 320, 640 and 1024 in its own format and WebP, plus full width; no 1600 or 2400`)

      for (const file of [{ url: body.url, width: 1200, mimeType: input.own }, ...body.renditions]) {
        const served = await h.app.inject({ method: 'GET', url: file.url, headers: { authorization: `Bearer ${h.author.token}` } })
        t.equal(served.statusCode, 200, file.url)
        t.equal(served.headers['content-type'], file.mimeType)
        const m = await sharp(served.rawPayload).metadata()
        t.equal(m.width, file.width, `${file.url} is ${file.width} px wide`)
        t.equal(m.height, Math.round(file.width * 2 / 3), `${file.url} keeps the aspect ratio`)
        t.equal(`image/${m.format}`, file.mimeType)
        t.equal(m.exif, undefined, `${file.url}: no EXIF`)
        t.equal(m.xmp, undefined, `${file.url}: no XMP`)
        t.equal(m.iptc, undefined, `${file.url}: no IPTC`)
        t.notOk(served.rawPayload.includes('Secret Shooter 1987'), `${file.url}: the name is gone`)
        t.notOk(served.rawPayload.includes('Exif\0\0'), `${file.url}: no EXIF block at all`)
      }
    }
  })
})

t.test('a storage failure part way through an upload leaves no file and no row behind', async (t) => {
  let puts = 0
  const h = await build(t, {
    mediaStore: (dir) => {
      const local = localStore(dir)
      return { ...local, put: async (key, data) => { if (++puts === 3) throw new Error('disk full'); return local.put(key, data) } }
    }
  })
  const before = await snapshot(h)
  const res = await upload(h, h.editor.token, [filePart(await canvas(700, 500, 42), 'photo.png', 'image/png')])
  t.equal(res.statusCode, 500)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.notOk(res.body.includes('disk full'), 'the storage error stays in the log')
  t.ok(puts >= 3, 'two files were written before the failure')
  await nothingStored(t, h, before)
})

t.test('a form with too many parts is a 400 that stores nothing', async (t) => {
  const h = await build(t)
  const before = await snapshot(h)
  const fields = Array.from({ length: 12 }, (_, i) => ({ name: `note${i}`, value: 'x' }))
  const res = await upload(h, h.editor.token, [...fields, filePart(await canvas(64, 64, 3), 'photo.png', 'image/png')])
  t.equal(problem(t, res, 400, 'BAD_REQUEST').detail, 'The form has too many parts.')
  await nothingStored(t, h, before)
})
