// Builds the app against a stand-in database that is never queried, and returns its OpenAPI.
import { buildApp } from '../app.js'
import { loadConfig } from '../config.js'
import type { Database } from '../db/client.js'

const unused = new Proxy({}, { get: () => { throw new Error('the OpenAPI generator does not use the database') } })

export async function generateOpenApi (): Promise<string> {
  const database = { db: unused, driver: 'pg', migrate: async () => {}, ping: async () => {}, close: async () => {} } as unknown as Database
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), database })
  await app.ready()
  const doc = `${JSON.stringify(app.swagger(), null, 2)}\n`
  await app.close()
  return doc
}
