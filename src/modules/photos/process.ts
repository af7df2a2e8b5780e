// Turns an uploaded image into what the API serves: the type sniffed from its bytes, EXIF
// orientation applied, all metadata (GPS included) stripped, and renditions for srcset.
import { createHash } from 'node:crypto'
import type { Sharp } from 'sharp'
import { AppError } from '../../http/errors.js'

export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif'

export const mimeTypes: Record<ImageFormat, string> = {
  jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif'
}
export const extensions: Record<ImageFormat, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', avif: 'avif', gif: 'gif' }

/** Widths made for srcset; never wider than the original. */
export const RENDITION_WIDTHS = [320, 640, 1024, 1600, 2400]

/** The format by magic bytes; the file name and declared type are not trusted. */
export function sniff (bytes: Buffer): ImageFormat | undefined {
  if (bytes.length < 12) return undefined
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg'
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png'
  if (bytes.subarray(0, 6).toString('latin1') === 'GIF87a' || bytes.subarray(0, 6).toString('latin1') === 'GIF89a') return 'gif'
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp'
  if (bytes.subarray(4, 8).toString('latin1') === 'ftyp' && /^avi[fs]$/.test(bytes.subarray(8, 12).toString('latin1'))) return 'avif'
  return undefined
}

export type Encoded = { width: number, height: number, format: ImageFormat, data: Buffer }
export type Processed = {
  sha256: string
  format: ImageFormat
  original: Encoded
  renditions: Encoded[]
}

/** The largest width and height each format can hold (libvips refuses more, after all the work). */
export const FORMAT_MAX_SIDE: Record<ImageFormat, number> = { jpeg: 65_535, png: 2_147_483_647, webp: 16_383, avif: 16_384, gif: 65_535 }

/** What an upload may be: pixels (decompression bombs), longest side, and how elongated. */
export type ImageLimits = { maxPixels: number, maxSide: number, maxAspectRatio: number }

// Loaded on the first upload: an instance that only serves reads never loads libvips.
let loaded: typeof import('sharp') | undefined
const loadSharp = async () => {
  if (!loaded) {
    loaded = (await import('sharp')).default
    // libvips keeps recent operations and their pixels in a cache of its own, outside the V8 heap;
    // uploads never repeat an operation, so it would only hold memory.
    loaded.cache(false)
  }
  return loaded
}

function encode (image: Sharp, format: ImageFormat): Sharp {
  switch (format) {
    case 'jpeg': return image.jpeg({ quality: 82, mozjpeg: true })
    case 'png': return image.png({ compressionLevel: 8 })
    case 'webp': return image.webp({ quality: 80 })
    case 'avif': return image.avif({ quality: 55, effort: 2 })
    case 'gif': return image.gif()
  }
}

async function render (input: Buffer, format: ImageFormat, maxPixels: number, width?: number): Promise<Encoded> {
  const sharp = await loadSharp()
  // sharp writes no metadata unless asked; rotate() applies the EXIF orientation first.
  let image = sharp(input, { limitInputPixels: maxPixels, animated: format === 'gif' || format === 'webp' }).rotate()
  if (width) image = image.resize({ width, withoutEnlargement: true })
  const { data, info } = await encode(image, format).toBuffer({ resolveWithObject: true })
  return { width: info.width, height: info.pageHeight ?? info.height, format, data }
}

/**
 * The renditions of an image of this size: each width under its own in its format and in WebP,
 * plus WebP at full size. Each fits what its format holds: a WebP of a 17,000 px panorama is made
 * 16,383 px wide, and the width of a tall image's WebP is cut until its height fits.
 */
export function renditionTargets (width: number, height: number, format: ImageFormat): Array<[number, ImageFormat]> {
  const targets = new Map<string, [number, ImageFormat]>()
  const add = (w: number, f: ImageFormat) => {
    const max = FORMAT_MAX_SIDE[f]
    const fit = Math.min(w, max, Math.floor(max * width / height))
    if (fit >= 1) targets.set(`${fit}.${f}`, [fit, f])
  }
  for (const w of RENDITION_WIDTHS.filter((w) => w < width)) {
    add(w, format)
    if (format !== 'webp') add(w, 'webp')
  }
  if (format !== 'webp') add(width, 'webp')
  return [...targets.values()]
}

const sized = (n: number) => n.toLocaleString('en')
const refused = (code: 'PAYLOAD_TOO_LARGE' | 'VALIDATION_FAILED', message: string) =>
  new AppError(code, `The image's ${message}.`, { errors: [{ path: '/file', in: 'body', message }] })

/** Refuses, from the header alone (nothing decoded yet), an image too large or too elongated. */
function checkSize (width: number, height: number, limits: ImageLimits) {
  if (width * height > limits.maxPixels) {
    throw refused('PAYLOAD_TOO_LARGE', `${sized(width)} × ${sized(height)} px are more than the ${sized(limits.maxPixels)} pixels allowed`)
  }
  for (const [side, size] of [['width', width], ['height', height]] as const) {
    if (size > limits.maxSide) throw refused('PAYLOAD_TOO_LARGE', `${side} of ${sized(size)} px is more than the ${sized(limits.maxSide)} px allowed`)
  }
  const [long, short, side, other] = height > width ? [height, width, 'height', 'width'] : [width, height, 'width', 'height']
  if (long > short * limits.maxAspectRatio) {
    throw refused('VALIDATION_FAILED', `${side} of ${sized(long)} px is more than ${limits.maxAspectRatio} times its ${other} of ${sized(short)} px`)
  }
}

export async function processImage (input: Buffer, limits: ImageLimits): Promise<Processed> {
  const format = sniff(input)
  if (!format) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The file is not a JPEG, PNG, WebP, AVIF or GIF image (judged by its content, not its name).')
  }
  const { maxPixels } = limits
  let original: Encoded
  try {
    // Only the header is read here (so no pixel limit is needed yet): the size is checked,
    // naming what is wrong with it, before any pixel is decoded.
    const meta = await (await loadSharp())(input, { limitInputPixels: false }).metadata()
    if (!meta.width || !meta.height) throw new Error('no dimensions')
    // EXIF orientations 5 to 8 turn the image a quarter: its width is then the stored height.
    const turned = (meta.orientation ?? 1) >= 5
    checkSize(turned ? meta.height : meta.width, turned ? meta.width : meta.height, limits)
    original = await render(input, format, maxPixels)
  } catch (error) {
    if (error instanceof AppError) throw error
    const message = String((error as Error).message)
    if (/pixel limit/i.test(message)) {
      throw refused('PAYLOAD_TOO_LARGE', `pixels are more than the ${sized(maxPixels)} allowed`)
    }
    throw new AppError('BAD_REQUEST', 'The image is corrupt or truncated and cannot be read.', {
      errors: [{ path: '/file', in: 'body', message: 'is not a readable image' }]
    })
  }
  // One at a time: each rendition decodes the image again, and at once they multiply the memory.
  const renditions: Encoded[] = []
  for (const [w, f] of renditionTargets(original.width, original.height, format)) renditions.push(await render(original.data, f, maxPixels, w))
  return {
    sha256: createHash('sha256').update(input).digest('hex'),
    format,
    original,
    renditions
  }
}
