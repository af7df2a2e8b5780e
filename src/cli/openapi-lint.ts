// npm run openapi:lint: validates the committed OpenAPI document against the OpenAPI 3.1 schema.
import SwaggerParser from '@apidevtools/swagger-parser'

const api = await SwaggerParser.validate('openapi/openapi.json')
const operations = Object.values(api.paths ?? {}).flatMap((p) => Object.keys(p ?? {})).length
console.log(`openapi/openapi.json is valid OpenAPI ${(api as { openapi?: string }).openapi}: ${operations} operations.`)
