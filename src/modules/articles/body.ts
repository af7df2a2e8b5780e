// Body blocks: cleaned on write (inline text keeps links, emphasis and strong only), turned into
// plain text for search and counts, and rendered to HTML that is safe to insert into a page as is.
import sanitizeHtml from 'sanitize-html'
import type { Block } from './schemas.js'

const inlineOptions: sanitizeHtml.IOptions = {
  allowedTags: ['a', 'em', 'strong'],
  allowedAttributes: { a: ['href'] },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowProtocolRelative: false,
  transformTags: { b: 'strong', i: 'em' },
  // Everything else is dropped, keeping its text; scripts and styles lose their text too.
  disallowedTagsMode: 'discard',
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'iframe', 'object']
}

/** Inline text as stored: only <a href>, <em> and <strong> survive, everything else is escaped text. */
export const cleanInline = (text: string) => sanitizeHtml(text, inlineOptions).trim()

const escapeMap: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => escapeMap[c])

const entityMap: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&amp;': '&' }
/**
 * Plain text of cleaned inline markup (what cleanInline returns). That markup is only <a href>,
 * <em> and <strong> tags around text in which sanitize-html escaped every &, < and > (and " in
 * attributes), so dropping the tags and decoding those entities is exact, and some 20 times
 * cheaper than a second sanitize-html pass.
 */
export const inlineToText = (html: string) => html.replace(/<[^>]*>/g, '').replace(/&(?:lt|gt|quot|#39|amp);/g, (e) => entityMap[e])

/** Cleans every inline field of every block; the result is what gets stored. */
export function cleanBlocks (blocks: Block[]): Block[] {
  return blocks.map((b): Block => {
    switch (b.type) {
      case 'paragraph': return { type: 'paragraph', text: cleanInline(b.text) }
      case 'heading': return { type: 'heading', level: b.level, text: cleanInline(b.text) }
      case 'quote': return { type: 'quote', text: cleanInline(b.text), ...(b.attribution !== undefined && { attribution: b.attribution.trim() }) }
      case 'list': return { type: 'list', ordered: b.ordered, items: b.items.map(cleanInline) }
      case 'photo': return { type: 'photo', photoId: b.photoId, ...(b.caption !== undefined && { caption: cleanInline(b.caption) }) }
      case 'related': return { type: 'related', articleId: b.articleId }
      case 'embed': return { type: 'embed', url: b.url }
    }
  })
}

export function blocksToText (blocks: Block[]): string {
  const parts: string[] = []
  for (const b of blocks) {
    if (b.type === 'paragraph' || b.type === 'heading') parts.push(inlineToText(b.text))
    else if (b.type === 'quote') parts.push(inlineToText(b.text), b.attribution ?? '')
    else if (b.type === 'list') parts.push(...b.items.map(inlineToText))
  }
  return parts.filter(Boolean).join('\n')
}

export const countWords = (text: string) => (text.match(/[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu) ?? []).length
// About 200 words a minute; any text takes at least a minute.
export const readingMinutes = (words: number) => (words === 0 ? 0 : Math.max(1, Math.round(words / 200)))

export function excerptOf (text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  if (flat.length <= max) return flat
  const cut = flat.slice(0, max)
  const space = cut.lastIndexOf(' ')
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`
}

/** The columns computed from a body on every write: plain text, word count, reading time, excerpt. */
export function derived (body: Block[], standfirst: string | null) {
  const text = blocksToText(body)
  const words = countWords(text)
  return { bodyText: text, wordCount: words, readingTimeMinutes: readingMinutes(words), autoExcerpt: excerptOf(standfirst ? inlineToText(standfirst) : text) }
}

export const photoIdsOf = (blocks: Block[]) => [...new Set(blocks.flatMap((b) => (b.type === 'photo' ? [b.photoId] : [])))]
export const relatedIdsOf = (blocks: Block[]) => [...new Set(blocks.flatMap((b) => (b.type === 'related' ? [b.articleId] : [])))]

export type RenderPhoto = {
  url: string, altText: string | null, caption: string | null, credit: string | null,
  width: number | null, height: number | null, mimeType: string | null,
  renditions: Array<{ width: number, url: string, mimeType?: string }>
}
export type RenderArticle = { headline: string, slug: string }
export type RenderContext = {
  photos: Map<string, RenderPhoto>
  /** Only the related articles the reader may see; others are left out of the page. */
  related: Map<string, RenderArticle>
  articleUrl: (slug: string) => string
  /** A stored photo URL as readers should fetch it (PUBLIC_URL, MEDIA_URL). */
  mediaUrl: (url: string) => string
  /** The `sizes` attribute that goes with every srcset. */
  photoSizes: string
}

const attr = (name: string, value: string | number | null) => (value === null ? '' : ` ${name}="${escapeHtml(String(value))}"`)

/** Formats worth offering before the original's own, best first. */
const MODERN = ['image/avif', 'image/webp']

// A srcset candidate's URL ends at whitespace, and trailing commas are cut from it.
const srcsetUrl = (url: string) => url.replace(/\s|,+$/g, (c) => encodeURIComponent(c))
const srcset = (list: Array<{ width: number, url: string }>, ctx: RenderContext) =>
  list.map((c) => `${srcsetUrl(ctx.mediaUrl(c.url))} ${c.width}w`).join(', ')

/**
 * A photo as <picture>: a <source> for each modern format among the renditions, then an <img>
 * with the original's own format (every width, the original at its own), so each browser takes
 * the best format it can show at the width the layout needs. Without renditions, a plain <img>.
 */
function pictureOf (p: RenderPhoto, ctx: RenderContext): string {
  const own = p.mimeType ?? ''
  const byType = new Map<string, Array<{ width: number, url: string }>>()
  for (const r of p.renditions) {
    const type = r.mimeType ?? own
    byType.set(type, [...(byType.get(type) ?? []), r])
  }
  const ownSet = byType.get(own) ?? []
  if (p.renditions.length > 0 && p.width !== null && !ownSet.some((r) => r.width === p.width)) ownSet.push({ width: p.width, url: p.url })
  // One candidate a width: a srcset with two of the same width is invalid.
  const sorted = (list: Array<{ width: number, url: string }>) =>
    [...new Map(list.map((c) => [c.width, c] as const).reverse()).values()].sort((a, b) => a.width - b.width)
  // The original's own format needs no <source> when nothing better comes before it.
  const types = MODERN.filter((t) => byType.has(t))
  while (types.length > 0 && types[types.length - 1] === own) types.pop()
  const sizes = attr('sizes', ctx.photoSizes)
  const img = `<img${attr('src', ctx.mediaUrl(p.url))}` +
    (ownSet.length > 0 ? `${attr('srcset', srcset(sorted(ownSet), ctx))}${sizes}` : '') +
    `${attr('width', p.width)}${attr('height', p.height)}${attr('alt', p.altText ?? '')} loading="lazy" decoding="async">`
  if (types.length === 0) return img
  const sources = types.map((t) => `<source${attr('type', t)}${attr('srcset', srcset(sorted(t === own ? ownSet : byType.get(t)!), ctx))}${sizes}>`)
  return `<picture>${sources.join('')}${img}</picture>`
}

export function renderBlocks (blocks: Block[], ctx: RenderContext): string {
  const out: string[] = []
  for (const b of blocks) {
    switch (b.type) {
      case 'paragraph': out.push(`<p>${b.text}</p>`); break
      case 'heading': out.push(`<h${b.level}>${b.text}</h${b.level}>`); break
      case 'quote':
        out.push(`<blockquote><p>${b.text}</p>${b.attribution ? `<cite>${escapeHtml(b.attribution)}</cite>` : ''}</blockquote>`)
        break
      case 'list': {
        const tag = b.ordered ? 'ol' : 'ul'
        out.push(`<${tag}>${b.items.map((i) => `<li>${i}</li>`).join('')}</${tag}>`)
        break
      }
      case 'photo': {
        const p = ctx.photos.get(b.photoId)
        if (!p) break
        const caption = b.caption ?? (p.caption ? escapeHtml(p.caption) : '')
        const credit = p.credit ? `<span class="credit">${escapeHtml(p.credit)}</span>` : ''
        const figcaption = caption || credit ? `<figcaption>${caption}${caption && credit ? ' ' : ''}${credit}</figcaption>` : ''
        out.push(`<figure class="photo">${pictureOf(p, ctx)}${figcaption}</figure>`)
        break
      }
      case 'related': {
        const a = ctx.related.get(b.articleId)
        if (a) out.push(`<aside class="related"><p>Also read: <a${attr('href', ctx.articleUrl(a.slug))}>${escapeHtml(a.headline)}</a></p></aside>`)
        break
      }
      case 'embed':
        out.push(`<figure class="embed"><a${attr('href', b.url)} rel="noopener noreferrer">${escapeHtml(b.url)}</a></figure>`)
        break
    }
  }
  return out.join('\n')
}

export type RenderCorrection = { text: string, publishedAt: Date }

const correctionDate = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' })

/**
 * The corrections that end `bodyHtml`, oldest first: plain text, escaped, each after its date.
 * Nothing at all when there are none.
 */
export function renderCorrections (corrections: RenderCorrection[]): string {
  if (corrections.length === 0) return ''
  const notes = corrections.map((c) =>
    `<p><time${attr('datetime', c.publishedAt.toISOString())}>${correctionDate.format(c.publishedAt)}</time> ${escapeHtml(c.text)}</p>`)
  return `<aside class="corrections"><h2>Corrections</h2>${notes.join('')}</aside>`
}
