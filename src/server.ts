// Entry point: read the config, open and migrate the database, serve, and shut down gracefully.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { loadConfig, mediaDirOf } from './config.js'
import { openDatabase } from './db/client.js'
import { seedIfEmpty } from './cli/seed-data.js'
import { localStore } from './modules/photos/storage.js'

const config = loadConfig()
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, poolSize: config.DATABASE_POOL_SIZE })
await database.migrate()
// A new user's first start on the embedded database gets demo content to explore.
if (!config.DATABASE_URL && config.SEED_DEMO) await seedIfEmpty(database.db, new Date(), localStore(mediaDirOf(config)))

const app = await buildApp({ config, database })

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  await app.close()
  await database.close()
})

await app.listen({ port: config.PORT, host: config.HOST })
