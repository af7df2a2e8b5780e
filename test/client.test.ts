// A typed client generated from the committed openapi/openapi.json compiles a small frontend
// (test/client/frontend.ts) under `tsc --strict`, and that frontend works against the real server.
import { spawnSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import t from 'tap'
import ts from 'typescript'
import openapiTS, { astToString } from 'openapi-typescript'
import { build } from './helper.js'

const root = new URL('../', import.meta.url)
const clientDir = new URL('client/', import.meta.url)

// Multipart parts with `format: binary` are Blobs to a browser; that is how openapi-typescript
// is told so (its documented `transform` hook).
const BLOB = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier('Blob'))

t.test('the generated client compiles the frontend under tsc --strict', async (t) => {
  const ast = await openapiTS(new URL('openapi/openapi.json', root), { transform: (schema) => (schema.format === 'binary' ? BLOB : undefined) })
  await mkdir(new URL('generated/', clientDir), { recursive: true })
  await writeFile(new URL('generated/api.d.ts', clientDir), astToString(ast))

  const tsc = fileURLToPath(new URL('node_modules/.bin/tsc', root))
  const run = spawnSync(tsc, ['-p', fileURLToPath(new URL('tsconfig.json', clientDir))], { encoding: 'utf8' })
  const diagnostics = `${run.stdout}${run.stderr}`.trim()
  t.equal(run.status, 0, diagnostics ? `tsc --strict:\n${diagnostics}` : 'tsc --strict passes')
})

t.test('the frontend against the real server', async (t) => {
  const h = await build(t)
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`
  const frontend = await import(fileURLToPath(new URL('frontend.ts', clientDir)))
  const editor = frontend.connect(base, h.editor.token)
  const reader = frontend.connect(base)

  const image = await sharp({ create: { width: 640, height: 400, channels: 3, background: '#6b8e9f' } }).jpeg().toBuffer()
  const photo = await frontend.uploadPhoto(editor, new Blob([image], { type: 'image/jpeg' }), { credit: 'PHOTO: ISPR', caption: 'Families leave a relief camp near Sehwan.' })
  t.equal(photo.credit, 'PHOTO: ISPR')
  t.equal(photo.width, 640, 'the multipart upload reached the server whole')
  t.match(photo.url, /^\/media\/[0-9a-f]{64}\/original\.jpg$/)

  const section = await frontend.createSection(editor, 'National', 'national')
  const published = await frontend.fileAndPublish(editor, {
    headline: 'Flood waters recede in Sindh as relief camps close',
    slug: 'flood-waters-recede-in-sindh',
    dateline: 'KARACHI',
    body: [
      { type: 'paragraph', text: 'Relief camps in Dadu and Jamshoro began closing on Sunday.' },
      { type: 'heading', level: 2, text: 'Going home' },
      { type: 'paragraph', text: 'Families loaded what they had onto carts and tractors.' }
    ],
    authorIds: [h.author.authorId],
    leadPhotoId: photo.id,
    sectionId: section.id
  })
  t.equal(published.status, 'published', 'published with a bare POST')

  const front = await frontend.frontPage(reader)
  t.strictSame(front, [{
    headline: 'Flood waters recede in Sindh as relief camps close',
    slug: 'flood-waters-recede-in-sindh',
    dateline: 'KARACHI',
    byline: 'Amal Author',
    photo: { url: photo.url, credit: 'PHOTO: ISPR' },
    section: 'National',
    blocks: 0
  }], 'the front page, with its includes and no bodies')

  const page = await frontend.story(reader, 'flood-waters-recede-in-sindh')
  t.equal(page.article.headline, 'Flood waters recede in Sindh as relief camps close')
  t.strictSame(page.paragraphs, ['Relief camps in Dadu and Jamshoro began closing on Sunday.', 'Families loaded what they had onto carts and tractors.'])

  const missing = await frontend.story(reader, 'no-such-story')
  t.equal(missing.problem.status, 404, 'the problem document is read from the error')
  t.equal(missing.problem.code, 'NOT_FOUND')
})
