// Uploaded photos after the upload: serving files under /media (caching, ETags, ranges, path
// safety), content-addressed storage shared between photos, metadata edits, and deletes that
// are refused while the photo is used and remove files only when nothing else needs them.
import t from 'tap'
import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { eq } from 'drizzle-orm'
import sharp from 'sharp'
import { build } from './helper.js'
import { photos } from '../src/db/schema.js'
import {
  canvas, diskPath, filePart, filesIn, IMMUTABLE, noise, photoCount, problem, sha256, upload
} from './photos-upload-helpers.js'

t.test('uploaded photos', async (t) => {
  const h = await build(t)
  const media = h.config.MEDIA_DIR!
  let seed = 500
  const jpeg = async (w: number, ht: number) => sharp(await canvas(w, ht, seed++)).jpeg().toBuffer()
  const add = async (token: string, file: Buffer, fields: Record<string, string> = {}) => {
    const res = await upload(h, token, [...Object.entries(fields).map(([name, value]) => ({ name, value })), filePart(file)])
    t.equal(res.statusCode, 201, res.body)
    // Served to anyone only once public (test/photos-visibility.test.ts): marked so here, as
    // serving is what this file checks.
    await h.database.db.update(photos).set({ public: true }).where(eq(photos.id, res.json().id))
    return { ...res.json(), public: true }
  }
  const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers })
  const del = (id: string, token: string) => h.app.inject({ method: 'DELETE', url: `/v1/photos/${id}`, headers: { authorization: `Bearer ${token}` } })
  const send = (method: 'POST' | 'PATCH', url: string, token: string, payload: object) =>
    h.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, payload })
  const urlsOf = (p: { url: string, renditions: Array<{ url: string }> }) => [p.url, ...p.renditions.map((r) => r.url)]
  const filesOf = async (hash: string) => (await filesIn(media)).filter((f) => f.startsWith(`${hash}/`))

  await t.test('files are served immutable, with strong ETags, 304s and ranges', async (t) => {
    const photo = await add(h.author.token, await jpeg(1200, 800))
    t.equal(photo.renditions.length, 7)
    const etags = new Set<string>()
    for (const file of [{ url: photo.url, mimeType: 'image/jpeg' }, ...photo.renditions]) {
      const onDisk = await readFile(diskPath(h, file.url))
      const res = await get(file.url)
      t.equal(res.statusCode, 200, file.url)
      t.equal(res.headers['cache-control'], IMMUTABLE)
      t.equal(res.headers['content-type'], file.mimeType)
      t.equal(res.headers['content-length'], String(onDisk.length))
      t.equal(res.headers['accept-ranges'], 'bytes')
      t.ok(res.rawPayload.equals(onDisk), 'the bytes on disk')
      const etag = res.headers.etag as string
      t.match(etag, /^"[^"]+"$/, 'a strong ETag, quoted, no W/')
      etags.add(etag)

      const again = await get(file.url)
      t.equal(again.headers.etag, etag, 'the same ETag every time')
      for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
        const cached = await get(file.url, { 'if-none-match': inm })
        t.equal(cached.statusCode, 304, `If-None-Match: ${inm}`)
        t.equal(cached.rawPayload.length, 0, 'no body')
        t.equal(cached.headers.etag, etag)
        t.equal(cached.headers['cache-control'], IMMUTABLE)
      }
      const stale = await get(file.url, { 'if-none-match': '"something-else"' })
      t.equal(stale.statusCode, 200, 'another ETag gets the file')
      t.ok(stale.rawPayload.equals(onDisk))
    }
    t.equal(etags.size, 8, 'every file has its own ETag')

    const size = (await stat(diskPath(h, photo.url))).size
    const whole = await readFile(diskPath(h, photo.url))
    const first = await get(photo.url, { range: 'bytes=0-99' })
    t.equal(first.statusCode, 206)
    t.equal(first.headers['content-range'], `bytes 0-99/${size}`)
    t.equal(first.headers['content-length'], '100')
    t.equal(first.rawPayload.length, 100)
    t.ok(first.rawPayload.equals(whole.subarray(0, 100)), 'the first 100 bytes')
    t.equal(first.headers['content-type'], 'image/jpeg')
    t.equal(first.headers['cache-control'], IMMUTABLE)

    const tail = await get(photo.url, { range: 'bytes=-50' })
    t.equal(tail.statusCode, 206)
    t.equal(tail.headers['content-range'], `bytes ${size - 50}-${size - 1}/${size}`)
    t.ok(tail.rawPayload.equals(whole.subarray(size - 50)), 'the last 50 bytes')

    const middle = await get(photo.url, { range: `bytes=100-${size + 1000}` })
    t.equal(middle.statusCode, 206, 'a range past the end is clipped')
    t.equal(middle.headers['content-range'], `bytes 100-${size - 1}/${size}`)
    t.ok(middle.rawPayload.equals(whole.subarray(100)))

    for (const range of [`bytes=${size}-`, `bytes=${size + 10}-${size + 20}`]) {
      const out = await get(photo.url, { range })
      problem(t, out, 416, 'RANGE_NOT_SATISFIABLE')
      t.equal(out.headers['content-range'], `bytes */${size}`, range)
    }

    const missing = await get(`/media/${'0'.repeat(64)}/original.jpg`)
    problem(t, missing, 404, 'NOT_FOUND')
  })

  await t.test('no path leads out of the media folder', async (t) => {
    const photo = await add(h.author.token, await jpeg(200, 150))
    const hash = photo.url.split('/')[2]
    const upToProject = path.relative(media, path.resolve('package.json')).split(path.sep).join('/')
    t.match(upToProject, /^(\.\.\/)+package\.json$/)
    const attempts = [
      '/media/../package.json',
      '/media/..%2fpackage.json',
      '/media/%2e%2e/package.json',
      '/media/%2e%2e/%2e%2e/etc/passwd',
      '/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/media/abc/..%2f..%2fpackage.json',
      `/media/${hash}/..%2f..%2f..%2fpackage.json`,
      `/media/${hash}/%2e%2e/%2e%2e/package.json`,
      '/media//etc/passwd',
      '/media/%2fetc%2fpasswd',
      '/media/%2Fwork%2Fmain%2Fpackage.json',
      '/media/C:%5CWindows%5Cwin.ini',
      `/media/${hash}%2f..%2f..%2fpackage.json`,
      `/media/${hash}/original.jpg%00.png`,
      `/media/${hash}/original.jpg.tmp`,
      '/media/',
      '/media',
      // Deep enough to reach the project's package.json and /etc/passwd from the media folder.
      `/media/${encodeURIComponent(upToProject)}`,
      `/media/${upToProject.replaceAll('.', '%2e')}`,
      `/media/${'..%2f'.repeat(30)}etc%2fpasswd`,
      `/media/${'%2e%2e/'.repeat(30)}etc/passwd`
    ]
    for (const url of attempts) {
      const res = await get(url)
      t.ok([400, 404].includes(res.statusCode), `${url}: ${res.statusCode}`)
      t.notMatch(res.body, /"name":\s*"dateline"|root:x:0:0|\[fonts\]/, `${url}: no file contents`)
      t.notMatch(res.headers['content-type'], /^image\//, `${url}: no image`)
    }
    t.equal((await get(photo.url)).statusCode, 200, 'the real file is still served')
  })

  await t.test('the same file twice: two photos, one set of files', async (t) => {
    const file = await jpeg(1100, 700)
    const hash = sha256(file)
    const before = await filesIn(media)
    const first = await add(h.author.token, file, { caption: 'First' })
    const stored = await filesOf(hash)
    t.equal(stored.length, 1 + first.renditions.length, 'the original and each rendition, once')
    t.strictSame(stored, urlsOf(first).map((u) => u.replace('/media/', '')).sort())
    const mtimes = await Promise.all(stored.map(async (f) => (await stat(`${media}/${f}`)).mtimeMs))

    const second = await add(h.editor.token, file, { caption: 'Second' })
    t.not(second.id, first.id, 'a photo row of its own')
    t.equal(second.caption, 'Second')
    t.equal(second.url, first.url, 'the same URL')
    t.strictSame(second.renditions, first.renditions, 'the same renditions')
    t.strictSame(await filesIn(media), [...before, ...stored].sort(), 'no file added by the second upload')
    t.strictSame(await Promise.all(stored.map(async (f) => (await stat(`${media}/${f}`)).mtimeMs)), mtimes, 'nor rewritten')
    const rows = await h.database.db.select().from(photos).where(eq(photos.sha256, hash))
    t.strictSame(rows.map((r) => r.id).sort(), [first.id, second.id].sort())

    t.equal((await del(first.id, h.author.token)).statusCode, 204)
    t.equal((await get(`/v1/photos/${first.id}`)).statusCode, 404)
    t.strictSame(await filesOf(hash), stored, 'files stay while the other photo uses them')
    for (const url of urlsOf(second)) t.equal((await get(url)).statusCode, 200, `${url} still served`)

    t.equal((await del(second.id, h.editor.token)).statusCode, 204)
    t.strictSame(await filesOf(hash), [], 'the last photo gone: its files go too')
    t.strictSame(await filesIn(media), before, 'and nothing else was touched')
    for (const url of urlsOf(second)) t.equal((await get(url)).statusCode, 404, `${url} no longer served`)

    // Uploaded again after that: stored afresh.
    const third = await add(h.author.token, file)
    t.equal(third.url, first.url)
    t.strictSame(await filesOf(hash), stored)
    t.equal((await get(third.url)).statusCode, 200)
  })

  await t.test('PATCH edits metadata, not the file', async (t) => {
    const file = await jpeg(400, 300)
    const photo = await add(h.author.token, file, { caption: 'Old', credit: 'PHOTO: A' })
    const files = await filesIn(media)
    const res = await send('PATCH', `/v1/photos/${photo.id}`, h.author.token, { caption: 'New caption', altText: 'A street' })
    t.equal(res.statusCode, 200, res.body)
    t.strictSame(res.json(), { ...photo, caption: 'New caption', altText: 'A street', updatedAt: res.json().updatedAt })
    const [row] = await h.database.db.select().from(photos).where(eq(photos.id, photo.id))
    t.equal(row.caption, 'New caption')
    t.equal(row.credit, 'PHOTO: A')
    t.equal(row.sha256, sha256(file), 'hash kept')
    t.equal(row.url, photo.url)
    t.strictSame(await filesIn(media), files, 'files untouched')

    const other = await send('PATCH', `/v1/photos/${photo.id}`, h.otherAuthor.token, { caption: 'Hijacked' })
    problem(t, other, 403, 'FORBIDDEN')
    const anonymous = await h.app.inject({ method: 'DELETE', url: `/v1/photos/${photo.id}` })
    problem(t, anonymous, 401, 'UNAUTHORIZED')
    problem(t, await del(photo.id, h.otherAuthor.token), 403, 'FORBIDDEN')
    t.equal((await get(`/v1/photos/${photo.id}`)).json().caption, 'New caption')
    t.strictSame(await filesIn(media), files, 'a refused delete removes no file')
  })

  await t.test('a file larger than the JSON body limit uploads', async (t) => {
    const big = await noise(700, 700)
    t.ok(big.length > h.config.BODY_LIMIT_BYTES && big.length < h.config.PHOTO_MAX_BYTES, `${big.length} bytes: over BODY_LIMIT_BYTES, under PHOTO_MAX_BYTES`)
    const photo = await add(h.editor.token, big)
    t.match(photo, { width: 700, height: 700, mimeType: 'image/png' })
    t.ok((await get(photo.url)).rawPayload.length > h.config.BODY_LIMIT_BYTES)
  })

  await t.test('an upload\'s file facts cannot be edited, and deleting it leaves other photos\' files alone', async (t) => {
    const mine = await add(h.author.token, await jpeg(700, 500))
    const theirs = await add(h.otherAuthor.token, await jpeg(700, 500))
    const theirFiles = await filesOf(theirs.url.split('/')[2])
    t.equal(theirFiles.length, 1 + theirs.renditions.length)
    const edit = await send('PATCH', `/v1/photos/${mine.id}`, h.author.token, {
      url: theirs.url,
      renditions: [...theirs.renditions.map((r: { width: number, url: string }) => ({ width: r.width, url: r.url })), { width: 10, url: '/media/x/../../package.json' }]
    })
    const refused = problem(t, edit, 400, 'VALIDATION_FAILED')
    t.strictSame(refused.errors.map((e: { path: string }) => e.path), ['/url', '/renditions'])
    const [row] = await h.database.db.select().from(photos).where(eq(photos.id, mine.id))
    t.equal(row.url, mine.url, 'the url is unchanged')
    t.equal(row.version, 1, 'nothing written')
    t.equal((await del(mine.id, h.author.token)).statusCode, 204)
    t.strictSame(await filesOf(theirs.url.split('/')[2]), theirFiles, 'the other photo keeps its files')
    for (const url of urlsOf(theirs)) t.equal((await get(url)).statusCode, 200, `${url} still served`)
    t.strictSame(await filesOf(mine.url.split('/')[2]), [], 'and the deleted photo\'s own files are gone, not orphaned')
    t.ok((await stat('package.json')).isFile())
  })

  await t.test('a photo in use cannot be deleted; its files stay', async (t) => {
    const lead = await add(h.author.token, await jpeg(500, 300))
    const inBody = await add(h.author.token, await jpeg(500, 300))
    const avatar = await add(h.author.token, await jpeg(300, 300))

    const a1 = await send('POST', '/v1/articles', h.editor.token, { headline: 'Floods reach the delta', leadPhotoId: lead.id })
    t.equal(a1.statusCode, 201, a1.body)
    const a2 = await send('POST', '/v1/articles', h.editor.token, {
      headline: 'Harvest in pictures',
      body: [{ type: 'paragraph', text: 'Before.' }, { type: 'photo', photoId: inBody.id }]
    })
    t.equal(a2.statusCode, 201, a2.body)
    const person = await send('POST', '/v1/authors', h.editor.token, { name: 'Zara Photographer', avatarId: avatar.id })
    t.equal(person.statusCode, 201, person.body)

    const cases = [
      { photo: lead, ref: { resource: 'article', id: a1.json().id, label: 'Floods reach the delta' } },
      { photo: inBody, ref: { resource: 'article', id: a2.json().id, label: 'Harvest in pictures' } },
      { photo: avatar, ref: { resource: 'author', id: person.json().id, label: 'Zara Photographer' } }
    ]
    for (const c of cases) {
      const files = await filesOf(c.photo.url.split('/')[2])
      t.equal(files.length, 1 + c.photo.renditions.length)
      const p = problem(t, await del(c.photo.id, h.editor.token), 409, 'STILL_REFERENCED')
      t.strictSame(p.references, [c.ref], `names what uses it (${c.ref.resource})`)
      t.match(p.detail, `${c.ref.resource} "${c.ref.label}"`)
      t.equal((await get(`/v1/photos/${c.photo.id}`)).statusCode, 200, 'the photo stays')
      t.strictSame(await filesOf(c.photo.url.split('/')[2]), files, 'its files stay')
      t.equal((await get(c.photo.url)).statusCode, 200)
    }

    // One photo used three ways: all three are named.
    const shared = await add(h.author.token, await jpeg(640, 400))
    const b1 = await send('POST', '/v1/articles', h.editor.token, { headline: 'Lead and body', leadPhotoId: shared.id, body: [{ type: 'photo', photoId: shared.id }] })
    t.equal(b1.statusCode, 201, b1.body)
    const b2 = await send('POST', '/v1/authors', h.editor.token, { name: 'Yusuf Lens', avatarId: shared.id })
    t.equal(b2.statusCode, 201, b2.body)
    const p = problem(t, await del(shared.id, h.editor.token), 409, 'STILL_REFERENCED')
    t.strictSame(p.references, [
      { resource: 'article', id: b1.json().id, label: 'Lead and body' },
      { resource: 'author', id: b2.json().id, label: 'Yusuf Lens' }
    ], 'each user once')

    // Once nothing uses it, the delete goes through and takes the files.
    const hash = avatar.url.split('/')[2]
    const rows = await photoCount(h)
    t.equal((await h.app.inject({ method: 'DELETE', url: `/v1/authors/${person.json().id}`, headers: { authorization: `Bearer ${h.editor.token}` } })).statusCode, 204)
    t.equal((await del(avatar.id, h.author.token)).statusCode, 204)
    t.equal(await photoCount(h), rows - 1)
    t.strictSame(await filesOf(hash), [], 'files removed')
    t.equal((await get(avatar.url)).statusCode, 404)
  })
})
