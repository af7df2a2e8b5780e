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

// Loaded on the first upload: an instance that only serves reads never loads libvips.
const loadSharp = async () => (await import('sharp')).default

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

export async function processImage (input: Buffer, maxPixels: number): Promise<Processed> {
  const format = sniff(input)
  if (!format) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'The file is not a JPEG, PNG, WebP, AVIF or GIF image (judged by its content, not its name).')
  }
  let original: Encoded
  try {
    const meta = await (await loadSharp())(input, { limitInputPixels: maxPixels }).metadata()
    if (!meta.width || !meta.height) throw new Error('no dimensions')
    original = await render(input, format, maxPixels)
  } catch (error) {
    if (error instanceof AppError) throw error
    const message = String((error as Error).message)
    if (/pixel limit/i.test(message)) {
      throw new AppError('PAYLOAD_TOO_LARGE', `The image has more than ${maxPixels.toLocaleString('en')} pixels.`)
    }
    throw new AppError('BAD_REQUEST', 'The image is corrupt or truncated and cannot be read.', {
      errors: [{ path: '/file', in: 'body', message: 'is not a readable image' }]
    })
  }
  const widths = RENDITION_WIDTHS.filter((w) => w < original.width)
  const targets: Array<[number, ImageFormat]> = widths.flatMap((w) => [[w, format], ...(format === 'webp' ? [] : [[w, 'webp']])] as Array<[number, ImageFormat]>)
  if (format !== 'webp') targets.push([original.width, 'webp'])
  const renditions = await Promise.all(targets.map(([w, f]) => render(original.data, f, maxPixels, w)))
  return {
    sha256: createHash('sha256').update(input).digest('hex'),
    format,
    original,
    renditions
  }
}
