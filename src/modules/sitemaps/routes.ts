// /v1/sitemaps: the sitemaps protocol (https://www.sitemaps.org/protocol.html) for search engines.
// An index names one sitemap per month of published articles (numbered pages past
// SITEMAP_URLS_PER_FILE), one of sections, tags and authors each, and a Google News sitemap of
// the last 48 hours. Written by the `sitemap` library. They are public reads under /v1, so the
// public cache, ETags and 304s apply to them, and their tags evict them when an article goes
// public, changes or goes; `/sitemap.xml` at the root answers the index too.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { SitemapIndexStream, SitemapStream, streamToPromise, type SitemapItemLoose } from 'sitemap'
import { Type } from 'typebox'
import { notFound } from '../../http/errors.js'
import { tagResponse } from '../../http/public-cache.js'
import { errorResponses } from '../../http/schemas.js'
import type { Routes } from '../../http/type-provider.js'
import { ARTICLE_LISTS, entityTag, listTag } from '../../lib/cache-tags.js'
import { articleMonths, directories, directoryPage, directorySummary, monthArticles, monthName, newsArticles, type Directory, type SitemapArticle } from './service.js'

const XML = 'application/xml; charset=utf-8'
/** Google News takes the articles of the last two days, at most 1,000 of them. */
export const NEWS_HOURS = 48
export const NEWS_MAX = 1000
/** The protocol's limit on an uncompressed sitemap file. */
const MAX_BYTES = 50 * 1024 * 1024

const kinds = { sections: 'section', tags: 'tag', authors: 'author' } as const
const MONTH_FILE = '^[0-9]{4}-(0[1-9]|1[0-2])(-([2-9]|[1-9][0-9]+))?\\.xml$'
const DIRECTORY_FILE = '^(sections|tags|authors)(-([2-9]|[1-9][0-9]+))?\\.xml$'

const xmlResponse = (description: string) => ({
  200: { description, content: { 'application/xml': { schema: { type: 'string', description: 'XML of the sitemaps protocol.' } } } }
})

/** `name.xml` or `name-3.xml` (page 3): the name and the page, from 1. */
function parseFile (file: string): { name: string, page: number } {
  const m = /^(.*?)(?:-(\d+))?\.xml$/.exec(file)!
  // A month's name has a dash of its own: `2026-11` is page 1 of 2026-11, `2026-11-2` page 2.
  if (/^\d{4}$/.test(m[1])) return { name: `${m[1]}-${m[2]}`, page: 1 }
  return { name: m[1], page: m[2] ? Number(m[2]) : 1 }
}
const fileName = (name: string, page: number) => (page === 1 ? `${name}.xml` : `${name}-${page}.xml`)

/** Google News wants an ISO 639 code (zh-cn and zh-tw apart), not a full language tag. */
const newsLanguage = (tag: string) => (/^zh-(cn|tw)$/i.test(tag) ? tag.toLowerCase() : tag.split('-')[0])

const emptyUrlset = (news: boolean) => '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"' +
  (news ? ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' : '') + ' xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"></urlset>'

async function write (stream: SitemapStream | SitemapIndexStream, items: SitemapItemLoose[] | Array<{ url: string, lastmod?: string }>, log: FastifyRequest['log']) {
  for (const item of items) stream.write(item)
  stream.end()
  const body = (await streamToPromise(stream)).toString('utf8')
  if (Buffer.byteLength(body) > MAX_BYTES) log.error({ bytes: Buffer.byteLength(body) }, 'a sitemap is larger than the protocol allows (50 MB): lower SITEMAP_URLS_PER_FILE')
  return body
}

type Instance = Parameters<Routes>[0]

export function sitemapsOf (app: Instance) {
  const config = app.config
  const perFile = config.SITEMAP_URLS_PER_FILE
  const origin = (request: FastifyRequest) => `${request.protocol}://${request.host}`
  /** The site's pages (SITE_URL, else PUBLIC_URL, else the API's own origin), as the feeds link them. */
  const page = (request: FastifyRequest, template: string, slug: string) =>
    new URL(template.replace('{slug}', encodeURIComponent(slug)), config.SITE_URL ?? config.PUBLIC_URL ?? origin(request)).toString()
  /** The sitemap files themselves, where this API serves them. */
  const file = (request: FastifyRequest, path: string) => new URL(app.publicUrls.api(`/v1/sitemaps/${path}`), origin(request)).toString()
  const media = (request: FastifyRequest, url: string) => new URL(app.publicUrls.media(url), config.PUBLIC_URL ?? origin(request)).toString()

  const articleItems = (request: FastifyRequest, rows: SitemapArticle[], news: boolean): SitemapItemLoose[] => {
    tagResponse(request, rows.flatMap((r) => (r.photo ? [entityTag('photo', r.photo.id)] : [])))
    return rows.map((r) => ({
      url: page(request, config.ARTICLE_URL_TEMPLATE, r.slug),
      lastmod: r.lastmod.toISOString(),
      img: r.photo ? [{ url: media(request, r.photo.url), ...(r.photo.caption && { caption: r.photo.caption }), ...(r.photo.altText && { title: r.photo.altText }) }] : [],
      ...(news && {
        news: {
          publication: { name: config.SITE_TITLE, language: newsLanguage(config.SITE_LANGUAGE) },
          publication_date: r.publishedAt.toISOString(),
          title: r.headline
        }
      })
    }))
  }
  // The library refuses to end a sitemap with no URL in it (EmptySitemap), but an empty one is
  // valid and is what a quiet news desk has: no article in the last two days.
  const urlset = async (request: FastifyRequest, items: SitemapItemLoose[], news = false) => items.length === 0
    ? emptyUrlset(news)
    : write(new SitemapStream({ xmlns: { news, image: true, video: false, xhtml: false } }), items, request.log)

  return {
    async index (request: FastifyRequest) {
      const now = app.now()
      tagResponse(request, [ARTICLE_LISTS, listTag('section'), listTag('tag'), listTag('author')])
      const months = await articleMonths(app.db, now)
      const entries: Array<{ url: string, lastmod?: string }> = []
      const newest = months[0]?.lastmod
      entries.push({ url: file(request, 'news.xml'), ...(newest && { lastmod: newest.toISOString() }) })
      for (const kind of Object.keys(directories) as Directory[]) {
        const { count, lastmod } = await directorySummary(app.db, kind)
        for (let p = 1; p <= Math.ceil(count / perFile); p++) entries.push({ url: file(request, fileName(kind, p)), ...(lastmod && { lastmod: lastmod.toISOString() }) })
      }
      for (const m of months) {
        for (let p = 1; p <= Math.ceil(m.articles / perFile); p++) entries.push({ url: file(request, `articles/${fileName(monthName(m), p)}`), lastmod: m.lastmod.toISOString() })
      }
      return write(new SitemapIndexStream(), entries, request.log)
    },

    async month (request: FastifyRequest, name: string, p: number) {
      tagResponse(request, [ARTICLE_LISTS])
      const [year, month] = name.split('-').map(Number)
      const rows = await monthArticles(app.db, { year, month }, { offset: (p - 1) * perFile, limit: perFile }, app.now())
      if (rows.length === 0) throw notFound('Sitemap')
      return urlset(request, articleItems(request, rows, false))
    },

    async news (request: FastifyRequest) {
      tagResponse(request, [ARTICLE_LISTS])
      const now = app.now()
      const rows = await newsArticles(app.db, new Date(now.getTime() - NEWS_HOURS * 3_600_000), NEWS_MAX, now)
      return urlset(request, articleItems(request, rows, true), true)
    },

    async directory (request: FastifyRequest, kind: Directory, p: number) {
      tagResponse(request, [listTag(kinds[kind])])
      const rows = await directoryPage(app.db, kind, { offset: (p - 1) * perFile, limit: perFile })
      if (rows.length === 0 && p > 1) throw notFound('Sitemap')
      const template = { sections: config.SECTION_URL_TEMPLATE, tags: config.TAG_URL_TEMPLATE, authors: config.AUTHOR_URL_TEMPLATE }[kind]
      return urlset(request, rows.map((r) => ({ url: page(request, template, r.slug), lastmod: r.updatedAt.toISOString(), img: [] })))
    }
  }
}

const send = (reply: FastifyReply, body: string) => reply.type(XML).send(body)

const sitemapRoutes: Routes = async (app) => {
  const sitemaps = sitemapsOf(app)

  app.get('/index.xml', {
    config: { access: 'public' },
    schema: {
      operationId: 'getSitemapIndex', summary: 'The sitemap index', tags: ['Sitemaps'], security: [],
      description: 'A sitemap index naming the news sitemap, the sitemaps of sections, tags and authors, and one sitemap a month of published articles (`articles/2026-11.xml`; a month with more than `SITEMAP_URLS_PER_FILE` articles, default 50,000, goes on in `articles/2026-11-2.xml` and so on), each with the time of the newest change in it. `/sitemap.xml` answers the same.',
      response: { ...xmlResponse('The sitemap index.'), ...errorResponses(400) }
    }
  }, async (request, reply) => send(reply, await sitemaps.index(request)))

  app.get('/news.xml', {
    config: { access: 'public' },
    schema: {
      operationId: 'getNewsSitemap', summary: 'The Google News sitemap', tags: ['Sitemaps'], security: [],
      description: `The articles published in the last ${NEWS_HOURS} hours, newest first, at most ${NEWS_MAX.toLocaleString('en-US')}, each with \`news:publication\` (\`SITE_TITLE\` and the language of \`SITE_LANGUAGE\`), \`news:publication_date\` and \`news:title\`.`,
      response: { ...xmlResponse('A sitemap with the Google News extension.'), ...errorResponses(400) }
    }
  }, async (request, reply) => send(reply, await sitemaps.news(request)))

  app.get('/articles/:file', {
    config: { access: 'public' },
    schema: {
      operationId: 'getArticleSitemap', summary: 'The published articles of one month', tags: ['Sitemaps'], security: [],
      description: 'The articles published in one month (UTC), oldest first, each with its public URL, the time of its last change and its lead photo as `image:image`. `2026-11.xml` holds the first `SITEMAP_URLS_PER_FILE`, `2026-11-2.xml` the next ones; a month or page with no article is a 404.',
      params: Type.Object({ file: Type.String({ pattern: MONTH_FILE, examples: ['2026-11.xml'], description: '`YYYY-MM.xml`, or `YYYY-MM-N.xml` for page N (from 2).' }) }, { additionalProperties: false }),
      response: { ...xmlResponse('A sitemap with the image extension.'), ...errorResponses(400, 404) }
    }
  }, async (request, reply) => {
    const { name, page } = parseFile(request.params.file)
    return send(reply, await sitemaps.month(request, name, page))
  })

  app.get('/:file', {
    config: { access: 'public' },
    schema: {
      operationId: 'getDirectorySitemap', summary: 'The sections, tags or authors', tags: ['Sitemaps'], security: [],
      description: 'Every section, tag or author with the address of its page on the site (`SECTION_URL_TEMPLATE`, `TAG_URL_TEMPLATE`, `AUTHOR_URL_TEMPLATE`) and its last change, by slug; past `SITEMAP_URLS_PER_FILE` they go on in `tags-2.xml` and so on (a page past the last is a 404).',
      params: Type.Object({ file: Type.String({ pattern: DIRECTORY_FILE, examples: ['sections.xml'], description: '`sections.xml`, `tags.xml` or `authors.xml`, or `tags-N.xml` for page N (from 2).' }) }, { additionalProperties: false }),
      response: { ...xmlResponse('A sitemap.'), ...errorResponses(400, 404) }
    }
  }, async (request, reply) => {
    const { name, page } = parseFile(request.params.file)
    return send(reply, await sitemaps.directory(request, name as Directory, page))
  })
}

/** `/sitemap.xml` at the root, where crawlers look first: the index. */
export const rootSitemapRoute: Routes = async (app) => {
  const sitemaps = sitemapsOf(app)
  app.get('/sitemap.xml', {
    schema: {
      operationId: 'getRootSitemap', summary: 'The sitemap index, at the root', tags: ['Sitemaps'], security: [],
      description: 'The same index as `GET /v1/sitemaps/index.xml`, where crawlers look for it.',
      response: { ...xmlResponse('The sitemap index.'), ...errorResponses(400) }
    }
  }, async (request, reply) => {
    // Outside /v1 the caching plugin leaves Cache-Control alone: the index is the same for every caller.
    reply.header('cache-control', app.config.PUBLIC_CACHE_CONTROL)
    return send(reply, await sitemaps.index(request))
  })
}

export default sitemapRoutes
