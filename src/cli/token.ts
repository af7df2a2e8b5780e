// npm run token -- create --role admin --label bootstrap [--email ...] [--name ...]
// Creates a staff token and prints it once. With no admin yet, it creates the first admin.
// It works whether or not the server runs: an embedded database folder held by a running server
// is never opened a second time; the server is asked over its local channel instead.
import { parseArgs } from 'node:util'
import { openDatabase, type Database } from '../db/client.js'
import { DatabaseStartError } from '../db/connect-errors.js'
import { DataDirBusyError } from '../db/data-dir-lock.js'
import { askLocalChannel } from '../local-channel.js'
import { commandConfig } from './open.js'
import { IssueRefused, checkIssueRequest, issueToken, type IssueRequest, type Issued } from '../modules/tokens/issue.js'

const usage = `Usage: npm run token -- create --role admin|editor|author --label LABEL [--email EMAIL] [--name NAME] [--expires-in-days N]

  With --email, the token belongs to that user (created with --role and --name if new).
  Without --email, --role admin gives a token to the first admin, creating one if none exists.`

function fail (message: string, withUsage = true): never {
  console.error(withUsage ? `${message}\n\n${usage}` : message)
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
let request: IssueRequest
try {
  const days = values['expires-in-days']
  request = checkIssueRequest({ ...values, expiresInDays: days === undefined ? undefined : Number(days) })
} catch (error) {
  if (error instanceof IssueRefused) fail(error.message)
  throw error
}

const config = commandConfig()

/** Opens the database; an embedded folder held by a server gives its local channel instead. */
async function open (): Promise<Database | { socket: string }> {
  // A folder held by another short command (or a server still starting) frees up in seconds.
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      return await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, holder: 'token command', connectWaitMs: 5_000 })
    } catch (error) {
      if (error instanceof DatabaseStartError) fail(error.message, false)
      if (!(error instanceof DataDirBusyError)) throw error
      if (error.holder.socket) return { socket: error.holder.socket }
      if (Date.now() > deadline) fail(`${error.message}, and it takes no commands: try again when it has finished.`, false)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }
}

async function issue (): Promise<Issued> {
  const opened = await open()
  if ('socket' in opened) {
    const answer = await askLocalChannel(opened.socket, '/tokens', request).catch((error: Error) =>
      fail(`The running server holds ${config.DATA_DIR} but did not answer on its local channel (${error.message}).`, false))
    const body = answer.body as Issued & { error?: string }
    if (answer.status === 422) fail(body.error ?? 'refused', false)
    if (answer.status !== 201) fail(`The running server could not make the token: ${body.error ?? answer.status}`, false)
    return body
  }
  try {
    await opened.migrate()
    return await issueToken(opened.db, request, new Date())
  } catch (error) {
    if (error instanceof IssueRefused) fail(error.message, false)
    throw error
  } finally {
    await opened.close()
  }
}

const issued = await issue()
if (issued.createdUserId) console.error(`Created ${issued.role} user ${issued.email} (${issued.createdUserId}).`)
console.error(`Token ${issued.tokenId} for ${issued.email} (${issued.role})${issued.expiresAt ? `, expires ${issued.expiresAt}` : ''}. It is shown once:`)
console.log(issued.secret)
