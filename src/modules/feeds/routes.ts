// /v1/feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1 of the latest published articles, for the whole
// site and for each section, tag and author. Written by the `feed` library from the articles as
// the list API presents them, so a feed shows exactly what an anonymous reader may see. They are
// public reads under /v1, so the public cache, ETags and 304s apply to them as to any list.
import { tagResponse } from '../../http/public-cache.js'
import { entityTag } from '../../lib/cache-tags.js'
import type { FastifyRequest } from 'fastify'
import { Feed, type Item } from 'feed'
import { eq } from 'drizzle-orm'
import { Type } from 'typebox'
import { authors, sections, tags } from '../../db/schema.js'
import { notFound } from '../../http/errors.js'
import { errorResponses } from '../../http/schemas.js'
import type { Routes } from '../../http/type-provider.js'
import { presentArticles, type View } from '../articles/present.js'
import type { ListArticles } from '../articles/schemas.js'
import { listArticles } from '../articles/service.js'

const formats = {
  'rss.xml': { type: 'application/rss+xml; charset=utf-8', name: 'RSS 2.0' },
  'atom.xml': { type: 'application/atom+xml; charset=utf-8', name: 'Atom 1.0' },
  'feed.json': { type: 'application/feed+json; charset=utf-8', name: 'JSON Feed 1.1' }
} as const
type Format = keyof typeof formats

const FileParam = Type.Union(Object.keys(formats).map((f) => Type.Literal(f)), { description: '`rss.xml` (RSS 2.0), `atom.xml` (Atom 1.0) or `feed.json` (JSON Feed 1.1).' })
const scopes = { sections: { table: sections, filter: 'section' }, tags: { table: tags, filter: 'tag' }, authors: { table: authors, filter: 'author' } } as const
type Scope = keyof typeof scopes
const examples: Record<Scope, string> = { sections: 'national', tags: 'floods', authors: 'ayesha-siddiqui' }

const documented = {
  200: {
    description: 'The feed, in the format its file name says.',
    content: {
      'application/rss+xml': { schema: { type: 'string', description: 'RSS 2.0.' } },
      'application/atom+xml': { schema: { type: 'string', description: 'Atom 1.0.' } },
      'application/feed+json': {
        schema: {
          type: 'object',
          description: 'JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/).',
          required: ['version', 'title', 'items'],
          properties: { version: { type: 'string', const: 'https://jsonfeed.org/version/1.1' }, title: { type: 'string' }, items: { type: 'array', items: { type: 'object' } } }
        }
      }
    }
  }
}

/**
 * JSON Feed 1.1, written here: the library writes version 1 (one author an item, and none
 * at all for an item without a byline).
 */
function jsonFeed (feed: Feed, items: Item[], language: string): string {
  const { options } = feed
  return JSON.stringify({
    version: 'https://jsonfeed.org/version/1.1',
    title: options.title,
    home_page_url: options.link,
    feed_url: options.feedLinks?.json,
    language,
    items: items.map((item) => ({
      id: item.id,
      url: item.link,
      title: item.title,
      ...(item.content !== undefined ? { content_html: item.content, summary: item.description } : { content_text: item.description, summary: item.description }),
      ...(typeof item.image === 'object' && { image: item.image.url }),
      date_published: item.published?.toISOString(),
      date_modified: item.date.toISOString(),
      authors: item.author ?? [],
      tags: (item.category ?? []).map((c) => c.name)
    }))
  })
}

const feedRoutes: Routes = async (app) => {
  const config = app.config

  /** Links in a feed must be absolute: the site's (SITE_URL), else the API's own origin. */
  const absolute = (request: FastifyRequest, pathOrUrl: string) =>
    new URL(pathOrUrl, config.SITE_URL ?? config.PUBLIC_URL ?? `${request.protocol}://${request.host}`).toString()

  async function render (request: FastifyRequest, file: Format, scope?: { kind: Scope, slug: string }) {
    let title = config.SITE_TITLE
    const query: Record<string, unknown> = { limit: config.FEED_ITEMS }
    if (scope) {
      const { table, filter } = scopes[scope.kind]
      const [row] = await app.db.select({ id: table.id, name: table.name }).from(table).where(eq(table.slug, scope.slug))
      if (!row) throw notFound(filter[0].toUpperCase() + filter.slice(1))
      title = `${config.SITE_TITLE}: ${row.name}`
      // By id: the list need not look the slug up again.
      query[filter] = row.id
      // The feed's title names it.
      tagResponse(request, [entityTag(filter, row.id)])
    }
    const view: View = {
      staff: false,
      now: app.now(),
      include: new Set(['authors', 'leadPhoto', 'section', 'tags']),
      fields: new Set(['slug', 'headline', 'standfirst', 'excerpt', 'publishedAt', 'updatedAt', 'authors', 'leadPhoto', 'section', 'tags', ...(config.FEED_CONTENT === 'full' ? ['bodyHtml'] : [])]),
      summary: true,
      articleUrl: (slug) => absolute(request, config.ARTICLE_URL_TEMPLATE.replace('{slug}', encodeURIComponent(slug))),
      urls: app.publicUrls,
      photoSizes: config.BODY_PHOTO_SIZES,
      tags: (request.cacheTags ??= [])
    }
    const result = await listArticles(app.db, query as ListArticles, view)
    const articles = await presentArticles(app.db, result.data, view) as Array<Record<string, any>>
    const self = absolute(request, request.url.split('?')[0])
    const base = self.slice(0, self.lastIndexOf('/') + 1)
    const feed = new Feed({
      id: self,
      title,
      link: absolute(request, '/'),
      language: config.SITE_LANGUAGE,
      // The latest substantive update among the items (a correction counts), as each item's date.
      updated: new Date(Math.max(0, ...articles.map((a) => Date.parse(a.updatedAt ?? a.publishedAt)))),
      generator: 'Dateline',
      copyright: `© ${config.SITE_TITLE}`,
      feedLinks: { rss: `${base}rss.xml`, atom: `${base}atom.xml`, json: `${base}feed.json` }
    })
    const items: Item[] = articles.map((a) => {
      const link = view.articleUrl(a.slug)
      const photo = a.leadPhoto as { url: string, mimeType: string, bytes: number | null, caption: string | null } | null | undefined
      const byline = (a.authors ?? []) as Array<{ name: string }>
      return {
        title: a.headline,
        id: link,
        link,
        date: new Date(a.updatedAt ?? a.publishedAt),
        published: new Date(a.publishedAt),
        description: a.standfirst ?? a.excerpt,
        content: a.bodyHtml,
        ...(byline.length > 0 && { author: byline.map((p) => ({ name: p.name })) }),
        category: [...(a.section ? [a.section] : []), ...(a.tags ?? [])].map((c: { name: string, slug: string }) => ({ name: c.name, term: c.slug })),
        ...(photo && { image: { url: absolute(request, photo.url), type: photo.mimeType, length: photo.bytes ?? 0, title: photo.caption ?? undefined } })
      }
    })
    for (const item of items) feed.addItem(item)
    if (file === 'rss.xml') return feed.rss2()
    if (file === 'atom.xml') return feed.atom1()
    return jsonFeed(feed, items, config.SITE_LANGUAGE)
  }

  app.get('/:file', {
    config: { access: 'public' },
    schema: {
      operationId: 'getSiteFeed', summary: 'The latest published articles as a feed', tags: ['Feeds'], security: [],
      description: 'The `FEED_ITEMS` latest published articles (default 20), newest first, with absolute links, authors, section and tags as categories, the lead photo as an enclosure, and the full body (`FEED_CONTENT=full`, the default) or the standfirst only (`excerpt`).',
      params: Type.Object({ file: FileParam }, { additionalProperties: false }),
      response: { ...documented, ...errorResponses(400) }
    }
  }, async (request, reply) => {
    const file = request.params.file as Format
    const body = await render(request, file)
    return reply.type(formats[file].type).send(body)
  })

  for (const kind of Object.keys(scopes) as Scope[]) {
    const one = scopes[kind].filter
    app.get(`/${kind}/:slug/:file`, {
      config: { access: 'public' },
      schema: {
        operationId: `get${one[0].toUpperCase()}${one.slice(1)}Feed`, summary: `The latest published articles of a ${one} as a feed`, tags: ['Feeds'], security: [],
        description: `As the site's feed, for one ${one}, named by its slug; an unknown slug is a 404.`,
        params: Type.Object({ slug: Type.String({ minLength: 1, maxLength: 200, examples: [examples[kind]] }), file: FileParam }, { additionalProperties: false }),
        response: { ...documented, ...errorResponses(400, 404) }
      }
    }, async (request, reply) => {
      const file = request.params.file as Format
      const body = await render(request, file, { kind, slug: request.params.slug })
      return reply.type(formats[file].type).send(body)
    })
  }
}

export default feedRoutes
