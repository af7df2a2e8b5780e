// npm run token -- create --role admin --label bootstrap [--email ...] [--name ...]
// Creates a staff token and prints it once. With no admin yet, it creates the first admin.
import { parseArgs } from 'node:util'
import { loadConfig } from '../config.js'
import { openDatabase } from '../db/client.js'
import { createToken } from '../modules/tokens/service.js'
import { createUser, findUserByEmail, firstAdmin } from '../modules/users/service.js'

const usage = `Usage: npm run token -- create --role admin|editor|author --label LABEL [--email EMAIL] [--name NAME] [--expires-in-days N]

  With --email, the token belongs to that user (created with --role and --name if new).
  Without --email, --role admin gives a token to the first admin, creating one if none exists.`

function fail (message: string): never {
  console.error(`${message}\n\n${usage}`)
  process.exit(2)
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    role: { type: 'string' },
    label: { type: 'string' },
    email: { type: 'string' },
    name: { type: 'string' },
    'expires-in-days': { type: 'string' }
  }
})

if (positionals[0] !== 'create') fail('Unknown command.')
const role = values.role
if (role !== 'admin' && role !== 'editor' && role !== 'author') fail('--role must be admin, editor or author.')
if (!values.label?.trim()) fail('--label is required.')
const days = values['expires-in-days'] === undefined ? undefined : Number(values['expires-in-days'])
if (days !== undefined && !(Number.isInteger(days) && days > 0)) fail('--expires-in-days must be a positive whole number.')

const config = loadConfig()
const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR })
try {
  await database.migrate()
  const db = database.db
  let user = values.email ? await findUserByEmail(db, values.email) : role === 'admin' ? await firstAdmin(db) : undefined
  if (!user) {
    if (!values.email && role !== 'admin') fail('--email is required for an editor or author token.')
    user = await createUser(db, { name: values.name ?? 'Administrator', email: values.email ?? 'admin@localhost', role })
    console.error(`Created ${role} user ${user.email} (${user.id}).`)
  } else if (user.role !== role) {
    fail(`${user.email} is ${user.role}, not ${role}; a token carries its user's role.`)
  }
  const expiresAt = days ? new Date(Date.now() + days * 86_400_000) : null
  const { row, secret } = await createToken(db, { userId: user.id, label: values.label!.trim(), expiresAt })
  console.error(`Token ${row.id} for ${user.email} (${user.role})${expiresAt ? `, expires ${expiresAt.toISOString()}` : ''}. It is shown once:`)
  console.log(secret)
} finally {
  await database.close()
}
