// Demo pictures drawn here (no outside files): a sky, a sea, a sun and a skyline, with colours
// that differ per picture. Rendered from SVG with sharp.
import { createHash } from 'node:crypto'

export async function demoImage (name: string, width: number, height: number): Promise<Buffer> {
  const h = createHash('sha256').update(name).digest()
  const hue = (i: number) => Math.round((h[i] / 255) * 360)
  const horizon = Math.round(height * (0.55 + (h[3] / 255) * 0.15))
  const buildings = Array.from({ length: 14 }, (_, i) => {
    const w = width / 14
    const top = horizon - Math.round(height * (0.05 + (h[4 + i] / 255) * 0.25))
    return `<rect x="${Math.round(i * w)}" y="${top}" width="${Math.ceil(w * 0.8)}" height="${horizon - top}" fill="hsl(${hue(2)},20%,${18 + (h[4 + i] % 14)}%)"/>`
  }).join('')
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs>
      <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue(0)},60%,35%)"/><stop offset="1" stop-color="hsl(${hue(1)},70%,75%)"/></linearGradient>
      <linearGradient id="sea" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue(1)},45%,40%)"/><stop offset="1" stop-color="hsl(${hue(0)},50%,15%)"/></linearGradient>
    </defs>
    <rect width="100%" height="100%" fill="url(#sky)"/>
    <circle cx="${Math.round(width * (0.2 + (h[20] / 255) * 0.6))}" cy="${Math.round(horizon * 0.45)}" r="${Math.round(height * 0.08)}" fill="hsl(${hue(21)},90%,85%)"/>
    ${buildings}
    <rect y="${horizon}" width="100%" height="${height - horizon}" fill="url(#sea)"/>
  </svg>`
  // Loaded here, not at start: only a first start on an empty database draws pictures.
  const { default: sharp } = await import('sharp')
  return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer()
}
