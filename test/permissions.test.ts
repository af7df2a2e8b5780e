// The permission matrix: every /v1 operation the app serves, called by every kind of caller,
// against the expectations written down below. The route table comes from the app itself (its
// OpenAPI document, checked against Fastify's own route tree), so a route added without an
// expectation, or an expectation left behind by a removed route, fails this test.
import t from 'tap'
import { sql } from 'drizzle-orm'
import type { Test } from 'tap'
import { build, call, type Harness, type Staff } from './helper.js'

const callers = ['anonymous', 'contentKey', 'author', 'otherAuthor', 'editor', 'admin'] as const
type Caller = (typeof callers)[number]
/** '2xx': allowed (the exact status must be one the OpenAPI documents); a number: refused with it. */
type Outcome = '2xx' | 401 | 403 | 404
/**
 * A content key reads what anonymous callers read and writes nothing: unless a case says
 * otherwise, its outcome is the anonymous one for a read, and 403 for a write or a staff route.
 */
type Expect = Record<Exclude<Caller, 'contentKey'>, Outcome> & { contentKey?: Outcome }
const keyOutcome = (expect: Expect, method: Method): Outcome =>
  expect.contentKey ?? (expect.anonymous === 401 || method !== 'GET' ? 403 : expect.anonymous)
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
type Req = { url: string, body?: unknown }
type Case = { name?: string, expect: Expect, prepare: (f: Fixtures, caller: Caller) => Promise<Req> }

// `author` is the owner of whatever the case acts on (their draft, their photo, their token).
const is = (anonymous: Outcome, author: Outcome, otherAuthor: Outcome, editor: Outcome, admin: Outcome): Expect =>
  ({ anonymous, author, otherAuthor, editor, admin })
const anyone = is('2xx', '2xx', '2xx', '2xx', '2xx')
const staff = is(401, '2xx', '2xx', '2xx', '2xx')
const staffSeeDrafts = is(404, '2xx', '2xx', '2xx', '2xx')
const ownerOrEditor = is(401, '2xx', 403, '2xx', '2xx')
const editors = is(401, 403, 403, '2xx', '2xx')
const admins = is(401, 403, 403, 403, '2xx')
/** Someone else's token does not exist, as far as a non-admin can tell. */
const ownTokenOrAdmin = is(401, '2xx', 404, 404, '2xx')

const photoBody = { url: 'https://img.example.test/p.jpg', caption: 'A photo', width: 1200, height: 800 }

/** The expectations, keyed by `METHOD /path` as the OpenAPI names the operation. */
const matrix: Record<string, Case | Case[]> = {
  // ---- articles
  'GET /v1/articles': [
    { expect: anyone, prepare: async () => ({ url: '/v1/articles' }) },
    { name: '?status=draft', expect: { ...staff, contentKey: 401 }, prepare: async () => ({ url: '/v1/articles?status=draft' }) }
  ],
  'GET /v1/articles/{id}': [
    { name: 'published', expect: anyone, prepare: async (f) => ({ url: `/v1/articles/${f.shared.published.id}` }) },
    { name: "author's draft", expect: staffSeeDrafts, prepare: async (f) => ({ url: `/v1/articles/${f.shared.draft.id}` }) }
  ],
  'GET /v1/articles/by-slug/{slug}': [
    { name: 'published', expect: anyone, prepare: async (f) => ({ url: `/v1/articles/by-slug/${f.shared.published.slug}` }) },
    { name: "author's draft", expect: staffSeeDrafts, prepare: async (f) => ({ url: `/v1/articles/by-slug/${f.shared.draft.slug}` }) }
  ],
  'POST /v1/articles': { expect: staff, prepare: async (f) => ({ url: '/v1/articles', body: { headline: f.unique('New story') } }) },
  'PATCH /v1/articles/{id}': [
    { name: "author's draft", expect: ownerOrEditor, prepare: async (f) => ({ url: `/v1/articles/${(await f.draft()).id}`, body: { standfirst: 'Changed' } }) },
    { name: "author's article, published", expect: editors, prepare: async (f) => ({ url: `/v1/articles/${(await f.published()).id}`, body: { standfirst: 'Changed' } }) }
  ],
  'DELETE /v1/articles/{id}': [
    { name: "author's draft", expect: ownerOrEditor, prepare: async (f) => ({ url: `/v1/articles/${(await f.draft()).id}` }) },
    { name: "author's article, published", expect: editors, prepare: async (f) => ({ url: `/v1/articles/${(await f.published()).id}` }) }
  ],
  'POST /v1/articles/{id}/publish': { name: "author's draft", expect: editors, prepare: async (f) => ({ url: `/v1/articles/${(await f.draft()).id}/publish` }) },
  'POST /v1/articles/{id}/unpublish': { name: "author's article, published", expect: editors, prepare: async (f) => ({ url: `/v1/articles/${(await f.published()).id}/unpublish` }) },
  'POST /v1/articles/{id}/archive': { name: "author's article, published", expect: editors, prepare: async (f) => ({ url: `/v1/articles/${(await f.published()).id}/archive` }) },
  'POST /v1/articles/bulk': [
    { name: "author's draft, tagged", expect: editors, prepare: async (f) => ({ url: '/v1/articles/bulk', body: { action: 'addTags', ids: [(await f.draft()).id], tagIds: [f.shared.tag.id] } }) },
    { name: "author's drafts, published", expect: editors, prepare: async (f) => ({ url: '/v1/articles/bulk', body: { action: 'publish', ids: [(await f.draft()).id, (await f.draft()).id] } }) }
  ],
  'GET /v1/articles/{id}/revisions': { name: "author's draft", expect: staff, prepare: async (f) => ({ url: `/v1/articles/${f.shared.revised.article.id}/revisions` }) },
  'POST /v1/articles/{id}/revisions/{revisionId}/restore': {
    name: "author's draft",
    expect: ownerOrEditor,
    prepare: async (f) => {
      const { article, revisionId } = await f.revised()
      return { url: `/v1/articles/${article.id}/revisions/${revisionId}/restore` }
    }
  },

  // ---- preview links
  'POST /v1/articles/{id}/preview-links': [
    { name: "author's draft", expect: ownerOrEditor, prepare: async (f) => ({ url: `/v1/articles/${(await f.draft()).id}/preview-links`, body: { label: 'For review' } }) },
    // An author may no longer edit a scheduled article, so may not share it either.
    { name: "author's article, scheduled", expect: editors, prepare: async (f) => ({ url: `/v1/articles/${(await f.scheduled()).id}/preview-links` }) }
  ],
  'GET /v1/articles/{id}/preview-links': { name: "author's draft", expect: ownerOrEditor, prepare: async (f) => ({ url: `/v1/articles/${f.shared.previewLink.articleId}/preview-links` }) },
  'DELETE /v1/articles/{id}/preview-links/{linkId}': {
    name: "author's draft",
    expect: ownerOrEditor,
    prepare: async (f) => {
      const link = await f.previewLink()
      return { url: `/v1/articles/${link.articleId}/preview-links/${link.id}` }
    }
  },
  // The link is the key: anyone holding it reads the draft, with or without a token.
  'GET /v1/previews/{token}': { name: "link to author's draft", expect: anyone, prepare: async (f) => ({ url: `/v1/previews/${f.shared.previewLink.token}` }) },
  // ---- corrections
  'GET /v1/articles/{id}/corrections': [
    { name: 'published', expect: anyone, prepare: async (f) => ({ url: `/v1/articles/${f.shared.published.id}/corrections` }) },
    { name: "author's draft", expect: staffSeeDrafts, prepare: async (f) => ({ url: `/v1/articles/${f.shared.draft.id}/corrections` }) }
  ],
  'GET /v1/articles/{id}/corrections/{correctionId}': [
    { name: 'published', expect: anyone, prepare: async (f) => ({ url: `/v1/articles/${f.shared.published.id}/corrections/${f.shared.correction.id}` }) },
    { name: "author's draft", expect: staffSeeDrafts, prepare: async (f) => ({ url: `/v1/articles/${f.shared.draft.id}/corrections/${f.shared.draftCorrection.id}` }) }
  ],
  'POST /v1/articles/{id}/corrections': [
    { name: "author's article, published", expect: editors, prepare: async (f) => ({ url: `/v1/articles/${(await f.published()).id}/corrections`, body: { text: 'A correction.' } }) },
    { name: "author's draft", expect: editors, prepare: async (f) => ({ url: `/v1/articles/${(await f.draft()).id}/corrections`, body: { text: 'A correction.' } }) }
  ],
  'PATCH /v1/articles/{id}/corrections/{correctionId}': {
    name: "author's article, published",
    expect: editors,
    prepare: async (f) => ({ url: `/v1/articles/${f.shared.published.id}/corrections/${(await f.correction(f.shared.published.id)).id}`, body: { text: 'Reworded.' } })
  },

  // ---- comments
  'GET /v1/articles/{id}/comments': [
    { name: 'published', expect: anyone, prepare: async (f) => ({ url: `/v1/articles/${f.shared.published.id}/comments` }) },
    { name: '?status=pending', expect: { ...editors, contentKey: 401 }, prepare: async (f) => ({ url: `/v1/articles/${f.shared.published.id}/comments?status=pending` }) }
  ],
  'POST /v1/articles/{id}/comments': { name: 'published', expect: anyone, prepare: async (f) => ({ url: `/v1/articles/${f.shared.published.id}/comments`, body: f.commentBody() }) },
  'GET /v1/comments': { expect: editors, prepare: async () => ({ url: '/v1/comments?status=pending' }) },
  'GET /v1/comments/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/comments/${f.shared.comment.id}` }) },
  'GET /v1/comments/{id}/moderations': { expect: editors, prepare: async (f) => ({ url: `/v1/comments/${f.shared.comment.id}/moderations` }) },
  'PATCH /v1/comments/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/comments/${(await f.comment()).id}`, body: { status: 'approved' } }) },
  'POST /v1/comments/moderate': { expect: editors, prepare: async (f) => ({ url: '/v1/comments/moderate', body: { ids: [(await f.comment()).id], status: 'approved' } }) },
  'DELETE /v1/comments/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/comments/${(await f.comment()).id}` }) },

  // ---- authors
  'GET /v1/authors': { expect: anyone, prepare: async () => ({ url: '/v1/authors?include=avatar' }) },
  'GET /v1/authors/{id}': { expect: anyone, prepare: async (f) => ({ url: `/v1/authors/${f.shared.author.id}` }) },
  'GET /v1/authors/by-slug/{slug}': { expect: anyone, prepare: async (f) => ({ url: `/v1/authors/by-slug/${f.shared.author.slug}` }) },
  'POST /v1/authors': { expect: editors, prepare: async (f) => ({ url: '/v1/authors', body: { name: f.unique('Correspondent') } }) },
  'PATCH /v1/authors/{id}': [
    { expect: editors, prepare: async (f) => ({ url: `/v1/authors/${(await f.author()).id}`, body: { bio: 'Changed' } }) },
    // An author's own byline is edited by editors, not by the author.
    { name: "author's own byline", expect: editors, prepare: async (f) => ({ url: `/v1/authors/${f.h.author.authorId}`, body: { bio: 'Changed' } }) }
  ],
  'DELETE /v1/authors/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/authors/${(await f.author()).id}` }) },

  // ---- photos
  'GET /v1/photos': { expect: anyone, prepare: async () => ({ url: '/v1/photos' }) },
  'GET /v1/photos/{id}': [
    { name: 'public', expect: anyone, prepare: async (f) => ({ url: `/v1/photos/${f.shared.publicPhoto.id}` }) },
    { name: 'used by nothing public', expect: staffSeeDrafts, prepare: async (f) => ({ url: `/v1/photos/${f.shared.photo.id}` }) }
  ],
  'POST /v1/photos': { expect: staff, prepare: async () => ({ url: '/v1/photos', body: photoBody }) },
  'PATCH /v1/photos/{id}': [
    { name: "author's photo", expect: ownerOrEditor, prepare: async (f) => ({ url: `/v1/photos/${(await f.photo()).id}`, body: { caption: 'Changed' } }) },
    { name: "author's photo, marked public", expect: editors, prepare: async (f) => ({ url: `/v1/photos/${(await f.photo()).id}`, body: { public: true } }) }
  ],
  'DELETE /v1/photos/{id}': { name: "author's photo", expect: ownerOrEditor, prepare: async (f) => ({ url: `/v1/photos/${(await f.photo()).id}` }) },

  // ---- sections and tags
  // ---- feeds
  'GET /v1/feeds/{file}': ['rss.xml', 'atom.xml', 'feed.json'].map((file) => ({ name: file, expect: anyone, prepare: async () => ({ url: `/v1/feeds/${file}` }) })),
  'GET /v1/feeds/sections/{slug}/{file}': { expect: anyone, prepare: async (f) => ({ url: `/v1/feeds/sections/${f.shared.section.slug}/rss.xml` }) },
  'GET /v1/feeds/tags/{slug}/{file}': { expect: anyone, prepare: async (f) => ({ url: `/v1/feeds/tags/${f.shared.tag.slug}/atom.xml` }) },
  'GET /v1/feeds/authors/{slug}/{file}': { expect: anyone, prepare: async (f) => ({ url: `/v1/feeds/authors/${f.shared.author.slug}/feed.json` }) },

  // ---- sitemaps
  'GET /v1/sitemaps/index.xml': { expect: anyone, prepare: async () => ({ url: '/v1/sitemaps/index.xml' }) },
  'GET /v1/sitemaps/news.xml': { expect: anyone, prepare: async () => ({ url: '/v1/sitemaps/news.xml' }) },
  'GET /v1/sitemaps/articles/{file}': {
    expect: anyone,
    prepare: async (f) => {
      const at = new Date((await call(f.h.app, 'GET', `/v1/articles/${f.shared.published.id}`)).json().publishedAt)
      return { url: `/v1/sitemaps/articles/${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}.xml` }
    }
  },
  'GET /v1/sitemaps/{file}': ['sections.xml', 'tags.xml', 'authors.xml'].map((file) => ({ name: file, expect: anyone, prepare: async () => ({ url: `/v1/sitemaps/${file}` }) })),
  'GET /v1/sections': { expect: anyone, prepare: async () => ({ url: '/v1/sections' }) },
  'GET /v1/sections/{id}': { expect: anyone, prepare: async (f) => ({ url: `/v1/sections/${f.shared.section.id}` }) },
  'GET /v1/sections/by-slug/{slug}': { expect: anyone, prepare: async (f) => ({ url: `/v1/sections/by-slug/${f.shared.section.slug}` }) },
  'POST /v1/sections': { expect: editors, prepare: async (f) => ({ url: '/v1/sections', body: { name: f.unique('Section') } }) },
  'PATCH /v1/sections/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/sections/${(await f.taxonomy('sections')).id}`, body: { description: 'Changed' } }) },
  'DELETE /v1/sections/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/sections/${(await f.taxonomy('sections')).id}` }) },
  'GET /v1/tags': { expect: anyone, prepare: async () => ({ url: '/v1/tags' }) },
  'GET /v1/tags/{id}': { expect: anyone, prepare: async (f) => ({ url: `/v1/tags/${f.shared.tag.id}` }) },
  'GET /v1/tags/by-slug/{slug}': { expect: anyone, prepare: async (f) => ({ url: `/v1/tags/by-slug/${f.shared.tag.slug}` }) },
  'POST /v1/tags': { expect: editors, prepare: async (f) => ({ url: '/v1/tags', body: { name: f.unique('Tag') } }) },
  'PATCH /v1/tags/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/tags/${(await f.taxonomy('tags')).id}`, body: { description: 'Changed' } }) },
  'DELETE /v1/tags/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/tags/${(await f.taxonomy('tags')).id}` }) },

  // ---- redirects (old slugs)
  'GET /v1/redirects': [
    { expect: anyone, prepare: async () => ({ url: '/v1/redirects' }) },
    { name: '?entity=section', expect: anyone, prepare: async () => ({ url: '/v1/redirects?entity=section&limit=5' }) }
  ],
  'DELETE /v1/redirects/{id}': { expect: editors, prepare: async (f) => ({ url: `/v1/redirects/${await f.redirect()}` }) },

  // ---- users
  'GET /v1/users': { expect: admins, prepare: async () => ({ url: '/v1/users' }) },
  'GET /v1/users/me': { expect: staff, prepare: async () => ({ url: '/v1/users/me' }) },
  'GET /v1/users/{id}': [
    { name: 'another user', expect: admins, prepare: async (f) => ({ url: `/v1/users/${f.shared.user.id}` }) },
    // Staff read their own record with /me; by id it is admins only.
    { name: "the caller's own record", expect: admins, prepare: async (f, caller) => ({ url: `/v1/users/${f.staffOf(caller).userId}` }) }
  ],
  'POST /v1/users': { expect: admins, prepare: async (f) => ({ url: '/v1/users', body: { name: 'New Person', email: `${f.unique('new').replace(/\W/g, '')}@people.test`, role: 'editor' } }) },
  'PATCH /v1/users/{id}': { expect: admins, prepare: async (f) => ({ url: `/v1/users/${(await f.user()).id}`, body: { name: 'Renamed' } }) },
  'DELETE /v1/users/{id}': { expect: admins, prepare: async (f) => ({ url: `/v1/users/${(await f.user()).id}` }) },

  // ---- the change log
  'GET /v1/changes': { expect: staff, prepare: async () => ({ url: '/v1/changes?after=0&limit=5' }) },

  // ---- tokens
  'GET /v1/tokens': [
    { expect: staff, prepare: async () => ({ url: '/v1/tokens' }) },
    { name: "?userId=author's", expect: is(401, '2xx', 403, 403, '2xx'), prepare: async (f) => ({ url: `/v1/tokens?userId=${f.h.author.userId}` }) }
  ],
  'POST /v1/tokens': [
    { name: 'for oneself', expect: staff, prepare: async () => ({ url: '/v1/tokens', body: { label: 'own token' } }) },
    { name: "for author's user", expect: is(401, '2xx', 403, 403, '2xx'), prepare: async (f) => ({ url: '/v1/tokens', body: { label: 'their token', userId: f.h.author.userId } }) }
  ],
  'GET /v1/tokens/{id}': { name: "author's token", expect: ownTokenOrAdmin, prepare: async (f) => ({ url: `/v1/tokens/${f.shared.token.id}` }) },
  'DELETE /v1/tokens/{id}': { name: "author's token", expect: ownTokenOrAdmin, prepare: async (f) => ({ url: `/v1/tokens/${(await f.token(f.h.author)).id}` }) },

  // ---- content keys
  'GET /v1/content-keys': { expect: admins, prepare: async () => ({ url: '/v1/content-keys' }) },
  'POST /v1/content-keys': { expect: admins, prepare: async (f) => ({ url: '/v1/content-keys', body: { label: f.unique('app key') } }) },
  'GET /v1/content-keys/{id}': { expect: admins, prepare: async (f) => ({ url: `/v1/content-keys/${f.shared.contentKey.id}` }) },
  'DELETE /v1/content-keys/{id}': { expect: admins, prepare: async (f) => ({ url: `/v1/content-keys/${(await f.contentKey()).id}` }) },

  // ---- webhooks
  'GET /v1/webhooks': { expect: admins, prepare: async () => ({ url: '/v1/webhooks' }) },
  'POST /v1/webhooks': { expect: admins, prepare: async () => ({ url: '/v1/webhooks', body: { url: 'https://hooks.example.test/new', events: ['article.published'] } }) },
  'GET /v1/webhooks/{id}': { expect: admins, prepare: async (f) => ({ url: `/v1/webhooks/${f.shared.webhook.id}` }) },
  'PATCH /v1/webhooks/{id}': { expect: admins, prepare: async (f) => ({ url: `/v1/webhooks/${(await f.webhook()).id}`, body: { enabled: false } }) },
  'DELETE /v1/webhooks/{id}': { expect: admins, prepare: async (f) => ({ url: `/v1/webhooks/${(await f.webhook()).id}` }) },
  'POST /v1/webhooks/{id}/rotate-secret': { expect: admins, prepare: async (f) => ({ url: `/v1/webhooks/${(await f.webhook()).id}/rotate-secret`, body: { graceSeconds: 60 } }) },
  'POST /v1/webhooks/{id}/ping': { expect: admins, prepare: async (f) => ({ url: `/v1/webhooks/${f.shared.webhook.id}/ping` }) },
  'GET /v1/webhooks/{id}/deliveries': { expect: admins, prepare: async (f) => ({ url: `/v1/webhooks/${f.shared.webhook.id}/deliveries` }) },
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': {
    expect: admins,
    prepare: async (f) => {
      const { webhook, delivery } = await f.delivery()
      return { url: `/v1/webhooks/${webhook.id}/deliveries/${delivery.id}/redeliver` }
    }
  }
}

// ---- fixtures ---------------------------------------------------------------------------

type Json = Record<string, any>

function fixtures (h: Harness) {
  let n = 0
  const unique = (s: string) => `${s} ${++n}`
  async function ok (staff: Staff, method: Method, url: string, body?: unknown): Promise<Json> {
    const res = await call(h.app, method, url, { token: staff.token, body })
    if (res.statusCode >= 300) throw new Error(`fixture ${method} ${url}: ${res.statusCode} ${res.body}`)
    return res.statusCode === 204 ? {} : res.json()
  }
  const draft = () => ok(h.author, 'POST', '/v1/articles', { headline: unique('Draft by Amal'), body: [{ type: 'paragraph', text: 'Words.' }] })
  const published = async () => {
    const a = await draft()
    await ok(h.editor, 'POST', `/v1/articles/${a.id}/publish`)
    return a
  }
  const scheduled = async () => {
    const a = await draft()
    await ok(h.editor, 'POST', `/v1/articles/${a.id}/publish`, { publishedAt: new Date(Date.now() + 86_400_000).toISOString() })
    return a
  }
  const previewLink = async () => ok(h.author, 'POST', `/v1/articles/${(await draft()).id}/preview-links`)
  const revised = async () => {
    const article = await draft()
    await ok(h.author, 'PATCH', `/v1/articles/${article.id}`, { standfirst: 'A second version' })
    const revisions = await ok(h.editor, 'GET', `/v1/articles/${article.id}/revisions`)
    return { article, revisionId: revisions.data[0].id as string }
  }
  const commentBody = () => ({ authorName: 'A Reader', authorEmail: `reader${++n}@readers.test`, body: `Thoughtful remark number ${n}.` })
  const f = {
    h,
    unique,
    commentBody,
    comment: async () => {
      const res = await call(h.app, 'POST', `/v1/articles/${f.shared.published.id}/comments`, { body: commentBody() })
      if (res.statusCode !== 201) throw new Error(`fixture comment: ${res.statusCode} ${res.body}`)
      return res.json() as Json
    },
    draft,
    published,
    scheduled,
    previewLink,
    revised,
    correction: (articleId: string) => ok(h.editor, 'POST', `/v1/articles/${articleId}/corrections`, { text: unique('A correction') }),
    photo: () => ok(h.author, 'POST', '/v1/photos', photoBody),
    publicPhoto: async () => ok(h.editor, 'PATCH', `/v1/photos/${(await ok(h.author, 'POST', '/v1/photos', photoBody)).id}`, { public: true }),
    author: () => ok(h.editor, 'POST', '/v1/authors', { name: unique('Stringer') }),
    taxonomy: (kind: 'sections' | 'tags') => ok(h.editor, 'POST', `/v1/${kind}`, { name: unique(kind) }),
    /** A section renamed: the id of the redirect its old slug leaves. */
    redirect: async () => {
      const section = await ok(h.editor, 'POST', '/v1/sections', { name: unique('Renamed section') })
      await ok(h.editor, 'PATCH', `/v1/sections/${section.id}`, { slug: `${section.slug}-renamed` })
      const list = await ok(h.editor, 'GET', '/v1/redirects?entity=section&limit=1')
      return list.data[0].id as string
    },
    user: () => ok(h.admin, 'POST', '/v1/users', { name: 'Some One', email: `someone.${++n}@people.test`, role: 'editor' }),
    token: (owner: Staff) => ok(h.admin, 'POST', '/v1/tokens', { label: unique('fixture token'), userId: owner.userId }),
    webhook: () => ok(h.admin, 'POST', '/v1/webhooks', { url: 'https://hooks.example.test/fixture', events: ['*'] }),
    contentKey: () => ok(h.admin, 'POST', '/v1/content-keys', { label: unique('fixture key') }),
    delivery: async () => {
      const webhook = await ok(h.admin, 'POST', '/v1/webhooks', { url: 'https://hooks.example.test/fixture', events: ['*'] })
      return { webhook, delivery: await ok(h.admin, 'POST', `/v1/webhooks/${webhook.id}/ping`) }
    },
    staffOf: (caller: Caller): Staff => (caller === 'anonymous' || caller === 'contentKey' ? h.author : h[caller]),
    shared: {} as {
      draft: Json, published: Json, revised: { article: Json, revisionId: string }, author: Json, photo: Json, publicPhoto: Json,
      section: Json, tag: Json, user: Json, token: Json, comment: Json, webhook: Json, contentKey: Json, previewLink: Json, correction: Json, draftCorrection: Json
    }
  }
  return f
}
type Fixtures = ReturnType<typeof fixtures>

// ---- the route table --------------------------------------------------------------------

/** Parses Fastify's printRoutes() tree into `METHOD /path` lines. */
function routeTree (tree: string): string[] {
  const out: string[] = []
  const stack: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1].length / 4
    const path = (depth > 0 ? stack[depth - 1] : '') + m[2]
    stack.length = depth
    stack[depth] = path
    if (m[3]) for (const method of m[3].split(', ')) out.push(`${method} ${path}`)
  }
  return out
}

/**
 * Every database row as text, except a token's last-used time (reads may touch it) and the
 * change log's shared positions (its chores move them on timers, whatever the requests).
 */
async function fingerprintQuery (t: Test, h: Harness) {
  const { rows } = await h.database.db.execute(sql`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> 'change_cursors' order by table_name`) as unknown as { rows: Array<{ name: string }> }
  t.ok(rows.some((r) => r.name === 'articles') && rows.some((r) => r.name === 'api_tokens'), 'the fingerprint covers the content and token tables')
  const parts = rows.map(({ name }) => name === 'api_tokens' || name === 'content_keys'
    ? `select '${name}:' || (to_jsonb(x) - 'last_used_at')::text as line from "${name}" x`
    : `select '${name}:' || to_jsonb(x)::text as line from "${name}" x`)
  const query = sql.raw(`select count(*)::int as n, md5(coalesce(string_agg(line, '|' order by line), '')) as hash from (${parts.join(' union all ')}) s`)
  return async () => {
    const result = await h.database.db.execute(query) as unknown as { rows: Array<{ n: number, hash: string }> }
    return `${result.rows[0].n}:${result.rows[0].hash}`
  }
}

// ---- the test ---------------------------------------------------------------------------

t.test('permission matrix', async (t: Test) => {
  // Comments are rate limited per client; every call here comes from one address.
  const h = await build(t, { env: { COMMENT_RATE_PER_CLIENT: '1000' } })
  const doc = (await call(h.app, 'GET', '/openapi.json')).json()

  const operations = new Map<string, Json>()
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    if (!path.startsWith('/v1')) continue
    for (const [method, op] of Object.entries(item)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(method)) operations.set(`${method.toUpperCase()} ${path}`, op)
    }
  }
  t.ok(operations.size >= 40, `the OpenAPI lists the /v1 operations (${operations.size})`)

  // The OpenAPI leaves out hidden routes; Fastify's own tree does not.
  const served = routeTree(h.app.printRoutes({ commonPrefix: false }))
    .filter((r) => r.split(' ')[1].startsWith('/v1') && !/^(HEAD|OPTIONS) /.test(r))
    .map((r) => r.replace(/:(\w+)/g, '{$1}'))
  t.ok(served.length >= 40, 'the route tree parses')
  t.same([...new Set(served)].filter((r) => !operations.has(r)).sort(), [], 'every served /v1 route is in the OpenAPI')
  t.same([...operations.keys()].filter((r) => !served.includes(r)).sort(), [], 'every OpenAPI /v1 operation is served')

  const missing = [...operations.keys()].filter((k) => !(k in matrix)).sort()
  const stale = Object.keys(matrix).filter((k) => !operations.has(k)).sort()
  t.same(missing, [], 'every /v1 operation has a row in the permission matrix (add one for a new route)')
  t.same(stale, [], 'every row of the permission matrix is a route the app serves')

  const f = fixtures(h)
  const revised = await f.revised()
  f.shared = {
    draft: await f.draft(),
    published: await f.published(),
    revised,
    author: await f.author(),
    photo: await f.photo(),
    publicPhoto: await f.publicPhoto(),
    section: await f.taxonomy('sections'),
    tag: await f.taxonomy('tags'),
    user: await f.user(),
    token: await f.token(h.author),
    webhook: await f.webhook(),
    contentKey: await f.contentKey(),
    previewLink: await f.previewLink(),
    correction: {},
    draftCorrection: {},
    comment: {}
  }
  f.shared.comment = await f.comment()
  f.shared.correction = await f.correction(f.shared.published.id)
  f.shared.draftCorrection = await f.correction(f.shared.draft.id)
  const fingerprint = await fingerprintQuery(t, h)
  const tokenOf = (caller: Caller) => (caller === 'anonymous' ? undefined : caller === 'contentKey' ? f.shared.contentKey.key as string : h[caller].token)

  const printed: string[][] = [['operation', ...callers]]
  for (const [key, rule] of Object.entries(matrix)) {
    const op = operations.get(key)
    if (!op) continue
    const [method] = key.split(' ') as [Method]
    const cases = Array.isArray(rule) ? rule : [rule]
    const documented = Object.keys(op.responses ?? {})

    // The document must agree with the matrix on who may call at all.
    const anonymousAllowed = cases.some((c) => c.expect.anonymous !== 401)
    const security = JSON.stringify(op.security ?? [])
    t.equal(security.includes('{}'), anonymousAllowed, `${key}: OpenAPI security ${security} matches the matrix`)
    if (cases.some((c) => Object.values(c.expect).includes(403) || keyOutcome(c.expect, method) === 403)) t.ok(documented.includes('403'), `${key}: documents 403`)

    for (const c of cases) {
      const label = c.name ? `${key} [${c.name}]` : key
      const row = [label]
      for (const caller of callers) {
        const req = await c.prepare(f, caller)
        const before = await fingerprint()
        const res = await call(h.app, method, req.url, { token: tokenOf(caller), body: req.body })
        const after = await fingerprint()
        const expected = caller === 'contentKey' ? keyOutcome(c.expect, method) : c.expect[caller]
        const what = `${label} as ${caller}`
        row.push(String(res.statusCode) + ((expected === '2xx' ? res.statusCode >= 200 && res.statusCode < 300 : res.statusCode === expected) ? '' : '!'))
        if (expected === '2xx') {
          t.ok(res.statusCode >= 200 && res.statusCode < 300, `${what}: allowed (got ${res.statusCode})`, { body: res.body })
          t.ok(documented.includes(String(res.statusCode)), `${what}: ${res.statusCode} is a documented response`)
          if (method === 'GET') t.equal(after, before, `${what}: a read writes nothing`)
          else t.not(after, before, `${what}: the write happened`)
        } else {
          t.equal(res.statusCode, expected, `${what}: refused with ${expected}`, { body: res.body })
          t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
          t.equal(res.json().status, res.statusCode, `${what}: the problem names its status`)
          t.ok(documented.includes(String(expected)), `${what}: ${expected} is a documented response`)
          if (expected === 401) t.match(res.headers['www-authenticate'], /^Bearer realm=/, `${what}: WWW-Authenticate challenge`)
          t.equal(after, before, `${what}: a refused request writes nothing`)
        }
      }
      printed.push(row)
    }
  }

  const widths = printed[0].map((_, i) => Math.max(...printed.map((r) => r[i].length)))
  t.comment(['Permission matrix (status per caller; "author" owns the resource; "!" = unexpected):',
    ...printed.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join('  '))].join('\n'))
})
