// Private data never reaches an anonymous reader. Content is created with known private values
// (emails, token secrets and their hashes, unpublished headlines); then every GET operation in
// the OpenAPI is called anonymously, with every `include=` value and every field, and no
// response may contain any of them. Cache headers must match the audience.
import t from 'tap'
import { createHash } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { build, call, type Harness, type Staff } from './helper.js'

type Json = Record<string, any>
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

async function ok (h: Harness, staff: Staff, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown): Promise<Json> {
  const res = await call(h.app, method, url, { token: staff.token, body })
  if (res.statusCode >= 300) throw new Error(`fixture ${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

/** The allowlist the server itself enforces for `include` or `fields`, read from its 400. */
async function allowlist (h: Harness, url: string, param: 'include' | 'fields'): Promise<string[]> {
  const res = await call(h.app, 'GET', `${url}${url.includes('?') ? '&' : '?'}${param}=__probe__`)
  const m = /Allowed: (.*)\.$/.exec(res.json().detail ?? '')
  if (res.statusCode !== 400 || !m) throw new Error(`${url}: no ${param} allowlist in ${res.statusCode} ${res.body}`)
  return m[1].split(', ')
}

t.test('anonymous responses carry no private data, and cache headers follow the audience', async (t) => {
  // With the public cache on: nothing private may reach it, whatever staff read first.
  const h = await build(t, { env: { PUBLIC_CACHE: 'true' } })

  // ---- content with known private values
  const avatar = await ok(h, h.editor, 'POST', '/v1/photos', { url: 'https://img.example.test/avatar.jpg', caption: 'Portrait' })
  const secretAuthor = await ok(h, h.editor, 'POST', '/v1/authors', {
    name: 'Sasha Secret', email: 'secret-author@leak.test', avatarId: avatar.id, bio: 'Covers courts.', links: { website: 'https://sasha.example.test' }
  })
  await ok(h, h.editor, 'PATCH', `/v1/authors/${h.author.authorId}`, { email: 'amal.byline@leak.test' })
  const section = await ok(h, h.editor, 'POST', '/v1/sections', { name: 'Courts' })
  const tag = await ok(h, h.editor, 'POST', '/v1/tags', { name: 'Appeals' })
  const lead = await ok(h, h.author, 'POST', '/v1/photos', { url: 'https://img.example.test/lead.jpg', caption: 'The court' })
  const draft = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Unpublished merger scoop', body: [{ type: 'paragraph', text: 'Not yet.' }] })
  // Photos that only unpublished stories use are staff-only, as the stories are.
  const embargoedLead = await ok(h, h.author, 'POST', '/v1/photos', { url: 'https://img.example.test/embargoed-lead.jpg', caption: 'Minister signs the embargoed budget' })
  const draftPhoto = await ok(h, h.author, 'POST', '/v1/photos', { url: 'https://img.example.test/draft-body.jpg', caption: 'Merger handshake, unpublished' })
  const embargoed = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Embargoed budget leak', leadPhotoId: embargoedLead.id, body: [{ type: 'paragraph', text: 'Tomorrow.' }, { type: 'photo', photoId: draftPhoto.id }] })
  await ok(h, h.editor, 'POST', `/v1/articles/${embargoed.id}/publish`, { publishedAt: new Date(Date.now() + 86_400_000).toISOString() })
  const other = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Earlier ruling', body: [{ type: 'paragraph', text: 'Before.' }] })
  await ok(h, h.editor, 'POST', `/v1/articles/${other.id}/publish`)
  const article = await ok(h, h.author, 'POST', '/v1/articles', {
    headline: 'Court rules on appeal',
    standfirst: 'A long-awaited decision.',
    authorIds: [secretAuthor.id, h.author.authorId],
    leadPhotoId: lead.id,
    sectionId: section.id,
    tagIds: [tag.id],
    relatedArticleIds: [other.id, draft.id, embargoed.id],
    body: [
      { type: 'paragraph', text: 'The court ruled.' },
      { type: 'photo', photoId: avatar.id },
      { type: 'related', articleId: other.id },
      { type: 'related', articleId: draft.id },
      { type: 'related', articleId: embargoed.id }
    ]
  })
  await ok(h, h.editor, 'POST', `/v1/articles/${article.id}/publish`)
  // A draft shared through a preview link: readers holding the link see it as readers would, so
  // with no private field, and without the unpublished stories it links to.
  const previewed = await ok(h, h.author, 'POST', '/v1/articles', {
    headline: 'Draft under legal review',
    authorIds: [secretAuthor.id, h.author.authorId],
    leadPhotoId: lead.id,
    sectionId: section.id,
    tagIds: [tag.id],
    relatedArticleIds: [other.id, draft.id, embargoed.id],
    body: [{ type: 'paragraph', text: 'For the lawyers.' }, { type: 'related', articleId: other.id }, { type: 'related', articleId: draft.id }, { type: 'related', articleId: embargoed.id }]
  })
  const preview = await ok(h, h.author, 'POST', `/v1/articles/${previewed.id}/preview-links`, { label: 'Legal' })
  // Old slugs: one of a public story (a 301), one of a story taken down since (nothing at all).
  const renamed = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Ruling explained', body: [{ type: 'paragraph', text: 'How.' }] })
  await ok(h, h.editor, 'POST', `/v1/articles/${renamed.id}/publish`)
  await ok(h, h.editor, 'PATCH', `/v1/articles/${renamed.id}`, { slug: 'ruling-explained-in-full' })
  const withdrawn = await ok(h, h.author, 'POST', '/v1/articles', { headline: 'Withdrawn council story', body: [{ type: 'paragraph', text: 'Gone.' }] })
  await ok(h, h.editor, 'POST', `/v1/articles/${withdrawn.id}/publish`)
  await ok(h, h.editor, 'PATCH', `/v1/articles/${withdrawn.id}`, { slug: 'withdrawn-council-story-final' })
  await ok(h, h.editor, 'POST', `/v1/articles/${withdrawn.id}/unpublish`)
  await ok(h, h.editor, 'PATCH', `/v1/sections/${section.id}`, { slug: 'courts-and-justice' })
  // Corrections: an edited one's earlier wording and editor are staff-only; a draft's, all of it.
  const correction = await ok(h, h.editor, 'POST', `/v1/articles/${article.id}/corrections`, { text: 'Earlier wording of the correction' })
  await ok(h, h.editor, 'PATCH', `/v1/articles/${article.id}/corrections/${correction.id}`, { text: 'The appeal was heard in Lahore, not Karachi.' })
  await ok(h, h.editor, 'POST', `/v1/articles/${draft.id}/corrections`, { text: 'Draft correction not yet public' })
  const created = await ok(h, h.admin, 'POST', '/v1/tokens', { label: 'leak check', userId: h.editor.userId })
  const webhook = await ok(h, h.admin, 'POST', '/v1/webhooks', { url: 'https://hooks.leak.test/dateline', events: ['*'] })
  const contentKey = await ok(h, h.admin, 'POST', '/v1/content-keys', { label: 'Leak check site' })
  const rotated = await ok(h, h.admin, 'POST', `/v1/webhooks/${webhook.id}/rotate-secret`, { graceSeconds: 3600 })

  // Reader comments: the commenter's email and address are private; so is anything unapproved.
  const comment = async (body: Json, remoteAddress: string, approve: boolean) => {
    const res = await h.app.inject({ method: 'POST', url: `/v1/articles/${article.id}/comments`, payload: body, remoteAddress })
    if (res.statusCode !== 201) throw new Error(`fixture comment: ${res.statusCode} ${res.body}`)
    t.notOk(res.body.includes(body.authorEmail) || res.body.includes('authorEmail') || res.body.includes('clientId'), 'the anonymous poster is not shown private fields, not even their own')
    t.match(res.headers['cache-control'], /no-store/, 'a write response is not cached')
    if (approve) await ok(h, h.editor, 'PATCH', `/v1/comments/${res.json().id}`, { status: 'approved' })
    return res.json() as Json
  }
  const approved = await comment({ authorName: 'Rita Reader', authorEmail: 'commenter@leak.test', body: 'Well reported, thank you.' }, '203.0.113.77', true)
  await comment({ authorName: 'Ravi Replier', authorEmail: 'replier@leak.test', body: 'Agreed with Rita.', parentId: approved.id }, '198.51.100.23', true)
  await comment({ authorName: 'Pat Pending', authorEmail: 'pending-commenter@leak.test', body: 'Pending remark awaiting review' }, '192.0.2.44', false)

  // ---- what must never be shown to the public
  const { rows: userRows } = await h.database.db.execute(sql`select email from users`) as unknown as { rows: Array<{ email: string }> }
  const emails = [...userRows.map((r) => r.email), 'secret-author@leak.test', 'amal.byline@leak.test']
  t.equal(userRows.length, 4, 'the staff users exist')
  const secrets = [h.admin.token, h.editor.token, h.author.token, h.otherAuthor.token, created.token as string]
  const { rows: hashRows } = await h.database.db.execute(sql`select token_hash as hash from api_tokens`) as unknown as { rows: Array<{ hash: string }> }
  t.same(hashRows.map((r) => r.hash).sort(), secrets.map(sha256).sort(), 'the stored hashes are the sha256 of the secrets')
  const forbidden: Array<[string, string]> = [
    ...emails.map((e): [string, string] => ['an email', e]),
    ...secrets.map((s): [string, string] => ['a token secret', s]),
    ...secrets.map((s): [string, string] => ['a token prefix', s.slice(0, 8)]),
    ...[webhook.secret as string, rotated.secret as string].map((s): [string, string] => ['a webhook secret', s.slice(6)]),
    ...secrets.map((s): [string, string] => ['a token hash', sha256(s)]),
    ['a preview link secret', preview.token as string],
    ['a content key', contentKey.key as string],
    ['a content key hash', sha256(contentKey.key)],
    ['a preview link hash', sha256(preview.token)],
    ['the tokenHash key', 'tokenHash'],
    ['the token_hash column', 'token_hash'],
    ['an unpublished id', draft.id],
    ['an embargoed story\'s lead photo', embargoedLead.id],
    ['an embargoed story\'s lead photo', embargoedLead.url],
    ['an embargoed story\'s lead photo', embargoedLead.caption],
    ['an unpublished story\'s photo', draftPhoto.id],
    ['an unpublished story\'s photo', draftPhoto.caption],
    ['an embargoed id', embargoed.id],
    ['an unpublished headline', draft.headline],
    ['an unpublished slug', draft.slug],
    ['an embargoed headline', embargoed.headline],
    ['an embargoed slug', embargoed.slug],
    ['a withdrawn story\'s id', withdrawn.id],
    ['a withdrawn story\'s headline', withdrawn.headline],
    ['a withdrawn story\'s old slug', withdrawn.slug],
    ['a withdrawn story\'s slug', 'withdrawn-council-story-final']
  ]
  const { rows: commentRows } = await h.database.db.execute(sql`select client_hash as hash, author_email as email from comments`) as unknown as { rows: Array<{ hash: string, email: string }> }
  t.equal(commentRows.length, 3, 'the comments exist')
  const { rows: settingRows } = await h.database.db.execute(sql`select value from settings`) as unknown as { rows: Array<{ value: string }> }
  forbidden.push(
    ...commentRows.map((r): [string, string] => ['a commenter email', r.email]),
    ...commentRows.flatMap((r): Array<[string, string]> => [['a client hash', r.hash], ['a client id', r.hash.slice(0, 12)]]),
    ...settingRows.map((r): [string, string] => ['a server setting', r.value]),
    ...['203.0.113.77', '198.51.100.23', '192.0.2.44'].map((ip): [string, string] => ['a client address', ip]),
    ...['authorEmail', 'clientId', 'moderationReasons', 'moderatedById'].map((key): [string, string] => ['a staff-only key', `"${key}"`]),
    ['an unapproved comment', 'Pending remark awaiting review'],
    ['an unapproved commenter', 'Pat Pending'],
    ...['editedById', 'history', 'modifiedAt'].map((key): [string, string] => ['a staff-only key', `"${key}"`]),
    ['an earlier wording of a correction', 'Earlier wording of the correction'],
    ['a draft\'s correction', 'Draft correction not yet public']
  )
  const leaksIn = (body: string) => forbidden.filter(([, value]) => body.toLowerCase().includes(value.toLowerCase())).map(([what, value]) => `${what} (${value})`)
  const anyEmail = /[\w.+-]+@[\w-]+\.[\w.-]+/

  // ---- every GET in the OpenAPI, with every include and every field
  const doc = (await call(h.app, 'GET', '/openapi.json')).json()
  const ids: Record<string, string> = {
    articles: article.id, comments: approved.id, authors: secretAuthor.id, photos: avatar.id, sections: section.id, tags: tag.id, users: h.editor.userId, tokens: created.id, webhooks: webhook.id, 'content-keys': contentKey.id
  }
  const slugs: Record<string, string> = { articles: article.slug, authors: secretAuthor.slug, sections: 'courts-and-justice', tags: tag.slug }
  const urls: Array<{ url: string, publicRoute: boolean, status?: number }> = []
  // A feed's format; a sitemap's file (the month of the published article, or the sections').
  const month = ((await call(h.app, 'GET', `/v1/articles/${article.id}`)).json().publishedAt as string).slice(0, 7)
  const fileOf = (path: string) => path === '/v1/sitemaps/articles/{file}' ? `${month}.xml` : path === '/v1/sitemaps/{file}' ? 'sections.xml' : 'rss.xml'
  let gets = 0
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    const op = item.get
    if (!path.startsWith('/v1') || !op) continue
    gets++
    const collection = path.split('/')[2]
    // A feed of a section, tag or author is named by that one's slug.
    const slugOf = collection === 'feeds' ? slugs[path.split('/')[3]] : slugs[collection]
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = name === 'id' ? ids[collection] : name === 'slug' ? slugOf : name === 'file' ? fileOf(path) : name === 'token' && collection === 'previews' ? preview.token : name === 'correctionId' ? correction.id : undefined
      if (!value) throw new Error(`No fixture for {${name}} in ${path}: add one to this test`)
      return value
    })
    const publicRoute = JSON.stringify(op.security ?? []).includes('{}')
    urls.push({ url: filled, publicRoute })
    if (collection === 'feeds') for (const file of ['atom.xml', 'feed.json']) urls.push({ url: filled.replace(/rss\.xml$/, file), publicRoute })
    if (path === '/v1/sitemaps/{file}') for (const file of ['tags.xml', 'authors.xml']) urls.push({ url: `/v1/sitemaps/${file}`, publicRoute })
    const params = new Set((op.parameters ?? []).filter((p: Json) => p.in === 'query').map((p: Json) => p.name as string))
    if (params.has('include')) {
      const include = (op.parameters as Json[]).find((p) => p.name === 'include')
      const documented = /Embed related objects: (.*)\./.exec(include?.description ?? include?.schema?.description ?? '')?.[1].split(', ') ?? []
      const allowed = await allowlist(h, filled, 'include')
      t.same(documented, allowed, `${path}: the OpenAPI names every include value the server allows`)
      for (const value of allowed) urls.push({ url: `${filled}?include=${value}`, publicRoute })
      urls.push({ url: `${filled}?include=${allowed.join(',')}`, publicRoute })
    }
    if (params.has('fields')) {
      const fields = await allowlist(h, filled, 'fields')
      urls.push({ url: `${filled}?fields=${fields.join(',')}`, publicRoute })
      if (params.has('include')) urls.push({ url: `${filled}?fields=${fields.join(',')}&include=${(await allowlist(h, filled, 'include')).join(',')}`, publicRoute })
    }
  }
  t.ok(gets >= 20, `the OpenAPI lists the GET operations (${gets})`)
  // Unpublished articles by id and slug, and filters that name private things.
  for (const photo of [embargoedLead, draftPhoto]) urls.push({ url: `/v1/photos/${photo.id}`, publicRoute: true, status: 404 })
  for (const hidden of [draft, embargoed]) {
    urls.push({ url: `/v1/articles/${hidden.id}?include=authors`, publicRoute: true, status: 404 })
    urls.push({ url: `/v1/articles/by-slug/${hidden.slug}`, publicRoute: true, status: 404 })
  }
  urls.push({ url: `/v1/articles?author=${secretAuthor.slug}&include=authors,relatedArticles&fields=body,bodyHtml,relatedArticleIds`, publicRoute: true })
  urls.push({ url: `/v1/articles?tag=${tag.slug}&section=${section.id}&include=authors`, publicRoute: true })
  urls.push({ url: '/v1/articles?q=merger', publicRoute: true })
  urls.push({ url: `/v1/articles/${article.id}/comments?status=approved`, publicRoute: true })
  for (const status of ['pending', 'rejected', 'spam']) urls.push({ url: `/v1/articles/${article.id}/comments?status=${status}`, publicRoute: true, status: 401 })
  urls.push({ url: `/v1/articles/${draft.id}/comments`, publicRoute: true, status: 404 })
  urls.push({ url: `/v1/articles/${draft.id}/corrections`, publicRoute: true, status: 404 })
  urls.push({ url: `/v1/articles?fields=corrections,bodyHtml,updatedAt,modifiedAt`, publicRoute: true })
  urls.push({ url: '/v1/articles?q=budget', publicRoute: true })
  // Old slugs: a public story's leads on; a withdrawn one's is a 404 like any unknown slug.
  urls.push({ url: `/v1/articles/by-slug/${renamed.slug}?include=authors`, publicRoute: true, status: 301 })
  urls.push({ url: `/v1/sections/by-slug/${section.slug}`, publicRoute: true, status: 301 })
  for (const slug of [withdrawn.slug, 'withdrawn-council-story-final']) urls.push({ url: `/v1/articles/by-slug/${slug}`, publicRoute: true, status: 404 })
  urls.push({ url: '/v1/redirects?entity=article', publicRoute: true })

  let seen = ''
  for (const { url, publicRoute, status } of urls) {
    const res = await call(h.app, 'GET', url)
    const expected = status ?? (publicRoute ? 200 : 401)
    t.equal(res.statusCode, expected, `anonymous GET ${url}: ${expected}`, { body: res.body })
    t.same(leaksIn(res.body), [], `anonymous GET ${url}: nothing private in the body`)
    t.notMatch(res.body, anyEmail, `anonymous GET ${url}: no email address at all`)
    if (res.statusCode === 200 && url.startsWith('/v1/previews/')) {
      // A preview shows a draft to whoever holds the link: never stored, tagged or indexed.
      t.equal(res.headers['cache-control'], 'private, no-store', `anonymous GET ${url}: never stored`)
      t.equal(res.headers['x-robots-tag'], 'noindex', `anonymous GET ${url}: not indexed`)
      t.notOk(res.headers['surrogate-key'] || res.headers['cache-tag'] || res.headers['x-cache'], `anonymous GET ${url}: neither tagged nor cached`)
      t.notMatch(res.body, /"createdById"|"email"/, `anonymous GET ${url}: no private key`)
      seen += res.body
    } else if (res.statusCode === 200 || res.statusCode === 301) {
      t.equal(res.headers['cache-control'], h.config.PUBLIC_CACHE_CONTROL, `anonymous GET ${url}: public cache`)
      t.match(res.headers['cache-control'], /^public/, `anonymous GET ${url}: Cache-Control public`)
      t.match(res.headers.vary, /\bAuthorization\b/i, `anonymous GET ${url}: Vary: Authorization`)
      t.ok(res.headers.etag, `anonymous GET ${url}: ETag`)
      seen += res.body
    } else {
      t.notMatch(String(res.headers['cache-control']), /public/, `anonymous GET ${url}: a refusal is not publicly cacheable`)
    }
  }
  // The walk reached the content it guards: it is not empty-handed by accident.
  for (const shown of ['The appeal was heard in Lahore, not Karachi.', 'Draft under legal review', 'For the lawyers.', 'Well reported, thank you.', 'Agreed with Rita.', 'Sasha Secret', 'Court rules on appeal', lead.url, avatar.url, 'Courts', 'Appeals', other.headline, h.author.authorId!, '"from":"ruling-explained"', '"slug":"ruling-explained-in-full"']) {
    t.ok(seen.includes(shown), `the anonymous walk saw ${shown}`)
  }
  const anonArticle = (await call(h.app, 'GET', `/v1/articles/${article.id}?include=relatedArticles`)).json()
  t.same(anonArticle.relatedArticleIds, [other.id], 'unpublished related articles are not listed to the public')
  const anonBody = (await call(h.app, 'GET', `/v1/articles/${article.id}?fields=body`)).json().body
  t.same(anonBody.filter((b: Json) => b.type === 'related'), [{ type: 'related', articleId: other.id }], 'the raw body keeps only related blocks the public may follow')
  t.equal(anonBody.length, 3, 'the other blocks stay')
  const staffBody = (await call(h.app, 'GET', `/v1/articles/${article.id}?fields=body`, { token: h.author.token })).json().body
  t.same(staffBody.filter((b: Json) => b.type === 'related').map((b: Json) => b.articleId), [other.id, draft.id, embargoed.id], 'staff get the body as written')

  // ---- staff see the private values (so the checks above could fail) and are never cached publicly
  const staffAuthor = await call(h.app, 'GET', `/v1/authors/${secretAuthor.id}`, { token: h.editor.token })
  t.equal(staffAuthor.json().email, 'secret-author@leak.test', 'staff see the author email')
  const staffArticle = await call(h.app, 'GET', `/v1/articles/${article.id}?include=authors,relatedArticles`, { token: h.editor.token })
  t.match(staffArticle.body, 'secret-author@leak.test', 'staff see the byline email embedded in an article')
  t.match(staffArticle.body, draft.headline, 'staff see unpublished related articles')
  const staffComments = await call(h.app, 'GET', `/v1/articles/${article.id}/comments`, { token: h.editor.token })
  t.match(staffComments.body, 'commenter@leak.test', 'staff see commenter emails')
  t.match(staffComments.body, 'Pending remark awaiting review', 'staff see unapproved comments')
  t.match(staffComments.body, commentRows[0].hash.slice(0, 12), 'staff see client ids')
  const staffUsers = await call(h.app, 'GET', '/v1/users', { token: h.admin.token })
  t.ok(emails.slice(0, 4).every((e) => staffUsers.body.includes(e)), 'admins see staff emails')

  for (const staff of [h.author, h.editor, h.admin]) {
    for (const { url, publicRoute, status } of urls) {
      const res = await call(h.app, 'GET', url, { token: staff.token })
      if (status === undefined && (publicRoute || staff === h.admin)) t.equal(res.statusCode, 200, `staff GET ${url}: 200`, { body: res.body })
      t.equal(res.headers['cache-control'], res.statusCode < 400 ? 'private, no-store' : 'no-store', `staff GET ${url} (${res.statusCode}): not stored`)
      if (res.statusCode < 400) t.match(res.headers.vary, /\bAuthorization\b/i, `staff GET ${url}: Vary: Authorization`)
      t.notMatch(res.body, /tokenHash|token_hash/, `staff GET ${url}: no token hash field`)
      t.same(secrets.filter((s) => res.body.includes(s) || res.body.includes(sha256(s))).map((s) => s.slice(0, 8)), [], `staff GET ${url}: no token secret or hash`)
    }
  }
})

t.test('commenters\' private data is for editors and admins: an author reads comments as a reader does', async (t) => {
  const h = await build(t)
  const article = await ok(h, h.editor, 'POST', '/v1/articles', { headline: 'Open for comments' })
  await ok(h, h.editor, 'POST', `/v1/articles/${article.id}/publish`)
  const post = async (body: Json, remoteAddress: string) => {
    const res = await h.app.inject({ method: 'POST', url: `/v1/articles/${article.id}/comments`, payload: body, remoteAddress })
    if (res.statusCode !== 201) throw new Error(`fixture comment: ${res.statusCode} ${res.body}`)
    return res.json() as Json
  }
  const shown = await post({ authorName: 'Rita Reader', authorEmail: 'rita@leak.test', body: 'Approved remark.' }, '203.0.113.9')
  await ok(h, h.editor, 'PATCH', `/v1/comments/${shown.id}`, { status: 'approved' })
  await post({ authorName: 'Pat Pending', authorEmail: 'pat@leak.test', body: 'PENDING REMARK, SHOUTING LOUDLY AT EVERYONE HERE' }, '203.0.113.10')
  const { rows } = await h.database.db.execute(sql`select client_hash as hash from comments`) as unknown as { rows: Array<{ hash: string }> }
  const privateValues = ['rita@leak.test', 'pat@leak.test', 'PENDING REMARK', '"authorEmail"', '"clientId"', '"moderationReasons"', '"moderatedById"', ...rows.map((r) => r.hash.slice(0, 12))]

  for (const status of ['pending', 'rejected', 'spam']) {
    const res = await call(h.app, 'GET', `/v1/articles/${article.id}/comments?status=${status}`, { token: h.author.token })
    t.equal(res.statusCode, 403, `an author asking for ${status} comments: 403`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { status: 403, code: 'FORBIDDEN' })
    t.same(privateValues.filter((v) => res.body.includes(v)), [], 'the refusal shows nothing private')
    t.equal((await call(h.app, 'GET', `/v1/comments?status=${status}`, { token: h.author.token })).statusCode, 403, 'as the moderation queue refuses authors')
  }
  for (const url of [`/v1/articles/${article.id}/comments`, `/v1/articles/${article.id}/comments?status=approved`]) {
    const res = await call(h.app, 'GET', url, { token: h.author.token })
    t.equal(res.statusCode, 200, `author GET ${url}`)
    t.same(res.json().data.map((c: Json) => c.body), ['Approved remark.'], 'approved comments only')
    t.same(privateValues.filter((v) => res.body.includes(v)), [], 'no private field or unapproved comment')
    t.equal(res.headers['cache-control'], 'private, no-store')
  }
  // An author posting a comment is shown what any poster is shown.
  const own = await h.app.inject({ method: 'POST', url: `/v1/articles/${article.id}/comments`, headers: { authorization: `Bearer ${h.author.token}` }, payload: { authorName: 'Amal', authorEmail: 'amal.private@leak.test', body: 'From the newsroom.' } })
  t.equal(own.statusCode, 201)
  t.notMatch(own.body, /amal\.private@leak\.test|"authorEmail"|"clientId"|"moderationReasons"/, 'no private field in the author\'s own post')

  // Editors and admins still see everything (so the checks above could fail).
  for (const staff of [h.editor, h.admin]) {
    const res = await call(h.app, 'GET', `/v1/articles/${article.id}/comments?status=pending`, { token: staff.token })
    t.equal(res.statusCode, 200)
    t.match(res.body, 'pat@leak.test', 'the commenter email')
    t.ok(rows.some((r) => res.body.includes(`"clientId":"${r.hash.slice(0, 12)}"`)), 'client ids')
    t.match(res.json().data[0].moderationReasons, ['shouting'], 'moderation reasons')
  }
})
