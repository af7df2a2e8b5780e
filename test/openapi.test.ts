// The committed OpenAPI document is what the code generates, and it is a complete, valid 3.1 document.
import { readFile } from 'node:fs/promises'
import t from 'tap'
import SwaggerParser from '@apidevtools/swagger-parser'
import { generateOpenApi } from '../src/cli/openapi-document.js'

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
