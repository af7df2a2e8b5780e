// Shared by the photo upload and media tests: multipart bodies built by hand, images made
// with sharp, and a look at what is on disk.
import { createHash, randomBytes } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import sharp from 'sharp'
import type { Test } from 'tap'
import { count } from 'drizzle-orm'
import { photos } from '../src/db/schema.js'
import type { Harness } from './helper.js'

export type Res = Awaited<ReturnType<Harness['app']['inject']>>

export type Part =
  | { name: string, value: string }
  | { name: string, data: Buffer, filename?: string, type?: string }

/**
 * A multipart/form-data body. With `cutAt`, the body stops after that many bytes of the last
 * file part: no CRLF, no closing boundary, as when a client's connection drops mid-upload.
 */
export function form (parts: Part[], opts: { cutAt?: number } = {}) {
  const boundary = `----dateline${randomBytes(8).toString('hex')}`
  const chunks: Buffer[] = []
  for (const [i, part] of parts.entries()) {
    if ('value' in part) {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`))
      continue
    }
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename ?? 'photo.jpg'}"\r\nContent-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`))
    if (opts.cutAt !== undefined && i === parts.length - 1) {
      chunks.push(part.data.subarray(0, opts.cutAt))
      return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
    }
    chunks.push(part.data, Buffer.from('\r\n'))
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`))
  return { payload: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` }
}

/** POST /v1/photos as multipart; no token means anonymous. */
export function upload (h: Harness, token: string | undefined, parts: Part[], opts: { cutAt?: number } = {}) {
  const { payload, contentType } = form(parts, opts)
  return h.app.inject({
    method: 'POST',
    url: '/v1/photos',
    headers: { 'content-type': contentType, ...(token && { authorization: `Bearer ${token}` }) },
    payload
  })
}

export const filePart = (data: Buffer, filename = 'photo.jpg', type = 'image/jpeg'): Part => ({ name: 'file', data, filename, type })

/**
 * A PNG with something to look at: a background from the seed and an SVG drawing on top,
 * so two seeds never give the same bytes.
 */
export async function canvas (width: number, height: number, seed = 1): Promise<Buffer> {
  const hue = (seed * 47) % 360
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect x="${width / 10}" y="${height / 10}" width="${width / 3}" height="${height / 4}" fill="hsl(${(hue + 120) % 360},70%,50%)"/>
    <circle cx="${width * 0.7}" cy="${height * 0.6}" r="${Math.min(width, height) / 5}" fill="hsl(${(hue + 240) % 360},60%,40%)"/>
    <line x1="0" y1="${height}" x2="${width}" y2="0" stroke="white" stroke-width="${Math.max(2, width / 100)}"/>
    <text x="${width / 20}" y="${height * 0.9}" font-size="${Math.max(10, height / 12)}" fill="black">seed ${seed}</text>
  </svg>`)
  return sharp({ create: { width, height, channels: 3, background: `hsl(${hue},50%,70%)` } })
    .composite([{ input: svg, top: 0, left: 0 }])
    .png()
    .toBuffer()
}

/** Random pixels: no format compresses them, so the file is about width × height × 3 bytes. */
export function noise (width: number, height: number): Promise<Buffer> {
  return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png({ compressionLevel: 9 }).toBuffer()
}

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

/** Every file under a folder, as paths relative to it, sorted. */
export async function filesIn (dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true })
  const files: string[] = []
  for (const name of names) if ((await stat(path.join(dir, name))).isFile()) files.push(name.split(path.sep).join('/'))
  return files.sort()
}

export const photoCount = async (h: Harness) => (await h.database.db.select({ n: count() }).from(photos))[0].n

/** What the database and the media folder hold now, to show later that a refusal stored nothing. */
export async function snapshot (h: Harness) {
  return { rows: await photoCount(h), files: await filesIn(h.config.MEDIA_DIR!) }
}

export async function nothingStored (t: Test, h: Harness, before: Awaited<ReturnType<typeof snapshot>>) {
  t.equal(await photoCount(h), before.rows, 'no photo row added')
  t.strictSame(await filesIn(h.config.MEDIA_DIR!), before.files, 'no file added to the media folder')
}

export { problem } from './assertions.js'

/** The disk path of a /media/... URL. */
export const diskPath = (h: Harness, url: string) => path.join(h.config.MEDIA_DIR!, ...url.replace(/^\/media\//, '').split('/'))

export const MEDIA_URL = /^\/media\/([0-9a-f]{64})\/(original|\d+)\.(jpg|png|webp|avif|gif)$/
export const IMMUTABLE = 'public, max-age=31536000, immutable'
