// npm run migrate: applies pending migrations (under the same advisory lock as server start).
import { commandConfig, openForCommand } from './open.js'

const config = commandConfig()
const database = await openForCommand(config, 'migrate command', 'the server applied every migration when it started; stop it to run this.')
try {
  const { applied, total } = await database.migrate()
  console.log(`Migrations: ${applied} applied, ${total} in all (${database.where}).`)
} finally {
  await database.close()
}
