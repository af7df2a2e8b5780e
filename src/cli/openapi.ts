// npm run openapi: writes openapi/openapi.json from the route schemas (no database needed).
import { writeFile, mkdir } from 'node:fs/promises'
import { generateOpenApi } from './openapi-document.js'

const doc = await generateOpenApi()
await mkdir('openapi', { recursive: true })
await writeFile('openapi/openapi.json', doc)
console.log('Wrote openapi/openapi.json')
