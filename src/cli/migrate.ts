// npm run migrate: applies pending migrations (under the same advisory lock as server start).
import { loadConfig } from '../config.js'
import { openDatabase } from '../db/client.js'

const config = loadConfig()
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR })
await database.migrate()
await database.close()
console.log(`Migrations applied (${database.driver}).`)
