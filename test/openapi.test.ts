// The committed OpenAPI document is what the code generates, and it is a complete, valid 3.1 document.
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import SwaggerParser from '@apidevtools/swagger-parser'
import { generateOpenApi } from '../src/cli/openapi-document.js'
import { OPTIONAL_BODY } from '../src/http/openapi.js'

type Operation = { operationId?: string, summary?: string, tags?: string[], security?: unknown[], responses: Record<string, unknown> }

t.test('the committed openapi/openapi.json matches the code', async (t) => {
  const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
  const generated = await generateOpenApi()
  t.equal(committed, generated, 'run `npm run openapi` and commit the result')
})

t.test('the document is valid OpenAPI 3.1 and every operation is fully described', async (t) => {
  const doc = JSON.parse(await generateOpenApi())
  t.equal(doc.openapi, '3.1.0')
  await SwaggerParser.validate(structuredClone(doc))
  for (const name of ['Article', 'Author', 'Photo', 'Section', 'Tag', 'Problem', 'PageMeta', 'Block', 'User', 'Token']) {
    t.ok(doc.components.schemas[name], `component ${name}`)
  }
  t.notOk(Object.keys(doc.components.schemas).some((n) => /^def-\d+$/.test(n)), 'no anonymous def-N components')
  t.ok(doc.components.securitySchemes.bearerAuth, 'bearer security scheme')
  const ids = new Set<string>()
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const where = `${method.toUpperCase()} ${path}`
      t.ok(op.operationId, `${where} has an operationId`)
      t.notOk(ids.has(op.operationId!), `${where} operationId is unique`)
      ids.add(op.operationId!)
      t.ok(op.summary, `${where} has a summary`)
      t.ok(op.tags?.length, `${where} has a tag`)
      if (!path.startsWith('/v1/')) continue
      t.ok(op.security, `${where} states its security`)
      for (const status of ['400', '401', '429', '503']) t.ok(op.responses[status], `${where} documents ${status}`)
      const isPublic = JSON.stringify(op.security).includes('{}')
      if (!isPublic) t.ok(op.responses['403'], `${where} documents 403`)
      t.ok(Object.keys(op.responses).some((s) => s.startsWith('2')), `${where} documents a success`)
    }
  }
})

t.test('Redocly\'s recommended rules (redocly.yaml) find no error in the committed document', async (t) => {
  const redocly = fileURLToPath(new URL('../node_modules/.bin/redocly', import.meta.url))
  const run = spawnSync(redocly, ['lint', '--format=summary', 'openapi/openapi.json'], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) })
  t.equal(run.status, 0, `${run.stdout}${run.stderr}`.trim())
  t.match(`${run.stdout}${run.stderr}`, /Your API description is valid/)
})

t.test('what generated clients rely on', async (t) => {
  const doc = JSON.parse(await generateOpenApi())
  const ops = Object.values(doc.paths as Record<string, Record<string, Operation & { parameters?: Array<{ name: string, in: string, required?: boolean, example?: unknown }>, requestBody?: { required?: boolean, content: Record<string, { schema: { required?: string[] } }> } }>>)
    .flatMap((methods) => Object.values(methods))
  const byId = (id: string) => ops.find((op) => op.operationId === id)!

  const lists = ops.filter((op) => op.parameters?.some((p) => p.name === 'limit'))
  t.equal(lists.length, 17, 'seventeen list operations')
  for (const op of lists) t.equal(op.parameters!.find((p) => p.name === 'limit')!.required, false, `${op.operationId}: limit is optional`)

  t.equal(byId('publishArticle').requestBody!.required, false, 'publish may be a bare POST')
  t.equal(byId('rotateWebhookSecret').requestBody!.required, false, 'so may a secret rotation')
  t.equal(byId('createPreviewLink').requestBody!.required, false, 'and making a preview link')
  t.notOk(byId('unpublishArticle').requestBody, 'unpublish takes no body')
  t.notOk(byId('archiveArticle').requestBody, 'archive takes no body')
  t.notOk(JSON.stringify(doc).includes(OPTIONAL_BODY), 'the marker does not leak into the document')

  for (const op of ops) {
    for (const [status, response] of Object.entries(op.responses as Record<string, { content?: Record<string, unknown> }>)) {
      if (!/^[45]/.test(status)) continue
      t.strictSame(Object.keys(response.content ?? {}), ['application/problem+json'], `${op.operationId} ${status} is a problem document`)
    }
  }

  const list = byId('listArticles').responses['200'] as { content: { 'application/json': { schema: { properties: { data: { items: { $ref: string } } } } } } }
  t.equal(list.content['application/json'].schema.properties.data.items.$ref, '#/components/schemas/ArticleSummary')
  const summary = doc.components.schemas.ArticleSummary
  t.notOk(summary.required.includes('body') || summary.required.includes('bodyHtml'), 'a summary has no body unless asked')
  t.ok(doc.components.schemas.Article.required.includes('body'), 'a full article has its body')

  const block = doc.components.schemas.Block
  const names = ['Paragraph', 'Heading', 'Quote', 'Photo', 'Related', 'List', 'Embed'].map((n) => `${n}Block`)
  t.strictSame(block.oneOf, names.map((n) => ({ $ref: `#/components/schemas/${n}` })))
  t.strictSame(Object.values(block.discriminator.mapping), names.map((n) => `#/components/schemas/${n}`))
  for (const n of names) t.ok(doc.components.schemas[n], `component ${n}`)

  t.ok(doc.paths['/media/{hash}/{file}'], 'media has named path parameters')
  t.notOk(Object.keys(doc.paths).some((p) => p.includes('*')), 'no wildcard paths')
  const upload = byId('createPhoto').requestBody!.content['multipart/form-data'].schema
  t.strictSame(upload.required, ['file'], 'an upload requires its file')

  t.equal(byId('getArticleBySlug').parameters!.find((p) => p.name === 'slug')!.example, 'flood-waters-recede-in-sindh')
  t.ok(byId('getArticle').parameters!.find((p) => p.name === 'id')!.example, 'an id parameter has an example')
  t.strictSame(doc.components.schemas.Slug.examples, ['flood-waters-recede-in-sindh'])
})

t.test('who may call what, and the limits answers carry', async (t) => {
  const doc = JSON.parse(await generateOpenApi())
  type Op = { operationId?: string, security?: Array<Record<string, unknown>>, responses: Record<string, { headers?: Record<string, { $ref: string }> }> }
  const ops = Object.values(doc.paths as Record<string, Record<string, Op>>).flatMap((methods) => Object.entries(methods).map(([method, op]) => ({ method, op })))
  const byId = (id: string) => ops.find((x) => x.op.operationId === id)!.op
  const schemes = (op: Op) => (op.security ?? []).map((s) => Object.keys(s)[0] ?? 'none')

  // Public reads take a content key (Fastify's HEAD route for a GET shares its schema object, and
  // once made them look like writes); public writes do not; staff routes take tokens only.
  t.strictSame(schemes(byId('listArticles')), ['none', 'contentKey', 'bearerAuth'])
  t.strictSame(schemes(byId('getArticleBySlug')), ['none', 'contentKey', 'bearerAuth'])
  t.strictSame(schemes(byId('postComment')), ['none', 'bearerAuth'])
  t.strictSame(schemes(byId('listContentKeys')), ['bearerAuth'])
  const publicReads = ops.filter((x) => x.method === 'get' && schemes(x.op).includes('none'))
  t.ok(publicReads.length > 20, `${publicReads.length} public reads`)
  for (const { op } of publicReads) t.ok(schemes(op).includes('contentKey'), `${op.operationId} takes a content key`)

  const refs = (op: Op, status: string) => Object.keys(op.responses[status]?.headers ?? {})
  t.strictSame(refs(byId('postComment'), '201').filter((h) => h.startsWith('RateLimit')), ['RateLimit-Policy', 'RateLimit'], 'a comment\'s limits, on its 201')
  t.strictSame(refs(byId('postComment'), '429'), ['RateLimit-Policy', 'RateLimit', 'Retry-After'], 'and its 429')
  t.strictSame(refs(byId('getPreview'), '200'), ['RateLimit-Policy', 'RateLimit'])
  t.strictSame(refs(byId('listArticles'), '200'), ['RateLimit-Policy', 'RateLimit'], 'a content key\'s limit, on public reads')
  t.strictSame(refs(byId('createArticle'), '201').filter((h) => h.startsWith('RateLimit')), [], 'none on a staff write')
  for (const { op } of ops) {
    for (const status of ['429', '503']) if (op.responses[status]) t.ok(refs(op, status).includes('Retry-After'), `${op.operationId} ${status} says Retry-After`)
  }
  t.notOk(JSON.stringify(doc).includes('x-rate-limited'), 'the marker does not leak into the document')
  for (const name of ['RateLimit-Policy', 'RateLimit', 'Retry-After']) t.ok(doc.components.headers[name], `header ${name} is a component`)
})
