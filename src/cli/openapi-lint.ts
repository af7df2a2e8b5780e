// npm run openapi:lint: validates the committed OpenAPI document against the OpenAPI 3.1 schema,
// then lints it with Redocly's recommended rules (redocly.yaml); any error fails the run.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import SwaggerParser from '@apidevtools/swagger-parser'

const api = await SwaggerParser.validate('openapi/openapi.json')
const operations = Object.values(api.paths ?? {}).flatMap((p) => Object.keys(p ?? {})).length
console.log(`openapi/openapi.json is valid OpenAPI ${(api as { openapi?: string }).openapi}: ${operations} operations.`)

const redocly = fileURLToPath(new URL('../../node_modules/.bin/redocly', import.meta.url))
const lint = spawnSync(redocly, ['lint', '--format=summary', 'openapi/openapi.json'], { stdio: 'inherit' })
process.exitCode = lint.status ?? 1
