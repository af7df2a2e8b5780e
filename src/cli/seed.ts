// npm run seed [-- --force]: loads the demo newsroom (see seed-data.ts) into an empty database.
// With --force it seeds even when articles exist; generated slugs then get -2 suffixes.
import { parseArgs } from 'node:util'
import { mediaStoreOf } from '../modules/photos/media-store.js'
import { commandConfig, openForCommand } from './open.js'
import { hasContent, seedDemo } from './seed-data.js'

const { values } = parseArgs({ options: { force: { type: 'boolean', default: false } } })

const config = commandConfig()
const database = await openForCommand(config, 'seed command', 'the server seeds an empty embedded database when it starts; stop it to seed again with --force.')
try {
  await database.migrate()
  if (!values.force && await hasContent(database.db)) {
    console.log(`The database (${database.driver}) already has articles; nothing was done. Use --force to add the demo content anyway.`)
  } else {
    const s = await seedDemo(database.db, new Date(), mediaStoreOf(config))
    const a = s.articles
    console.log(`Seeded demo content (${database.driver}): ${s.authors} authors, ${s.sections} sections, ${s.tags} tags, ${s.photos} photos, ` +
      `${a.total} articles (${a.published} published, ${a.scheduled} scheduled, ${a.draft} drafts, ${a.archived} archived).`)
    console.log(`Try: GET /v1/articles/by-slug/${s.featured.slug}?include=authors,leadPhoto,relatedArticles`)
  }
} finally {
  await database.close()
}
