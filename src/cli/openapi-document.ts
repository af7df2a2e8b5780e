// Builds the app against a stand-in database (no route runs), and returns its OpenAPI.
import { buildApp } from '../app.js'
import { loadConfig } from '../config.js'
import type { Database } from '../db/client.js'


export async function generateOpenApi (): Promise<string> {
  // The change follower reads where the log ends as the app starts: an empty log.
  const database = { db: { execute: async () => ({ rows: [{ seq: 0, pruned: 0 }] }) }, driver: 'pg', migrate: async () => {}, ping: async () => {}, listen: async () => ({ close: async () => {} }), notify: async () => {}, close: async () => {} } as unknown as Database
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', WEBHOOK_DISPATCH: 'false' }), database })
  await app.ready()
  const doc = `${JSON.stringify(app.swagger(), null, 2)}\n`
  await app.close()
  return doc
}
