// A newcomer's first run, as the README has it: the server starts on a fresh database and keeps
// running; `npm run token` in a second terminal prints a token that creates and publishes an
// article at once and after a restart. On the embedded database no second process ever opens
// the folder the server holds: the command asks the server, and a second server refuses to start.
import t, { type Test } from 'tap'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { lockFileOf } from '../src/db/data-dir-lock.js'
import { openTestDatabase, testDatabaseUrl } from './helper.js'
import { cleanEnv, startServer, tokenCli, tokenIn, type Server } from './processes.js'

// Several server starts and commands, each a new process: slow on a busy machine.
t.setTimeout(600_000)

async function publishWith (t: Test, server: Server, token: string, headline: string) {
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const created = await fetch(`${server.url}/v1/articles`, { method: 'POST', headers: auth, body: JSON.stringify({ headline, body: [{ type: 'paragraph', text: 'It happened.' }] }) })
  t.equal(created.status, 201, `${headline}: created`)
  const { id, slug } = await created.json() as { id: string, slug: string }
  const published = await fetch(`${server.url}/v1/articles/${id}/publish`, { method: 'POST', headers: { authorization: auth.authorization } })
  t.equal(published.status, 200, `${headline}: published`)
  const read = await fetch(`${server.url}/v1/articles/by-slug/${slug}`)
  t.equal(read.status, 200, `${headline}: readers see it`)
}


t.test('the README\'s steps in order, with the server running', async (t) => {
  const dataDir = path.join(t.testdir(), 'data')
  const pg = testDatabaseUrl ? await openTestDatabase(t) : undefined
  const env = cleanEnv({ DATA_DIR: dataDir, LOG_LEVEL: 'info', DATABASE_URL: pg?.url })

  const first = await startServer(t, env)
  const said = first.messages()
  t.match(said.find((m) => m.startsWith('Database:')), pg ? /^Database: PostgreSQL database "dateline_test_\w+" at [\w.]+:\d+$/ : /^Database: embedded PGlite in .*data[/\\]pglite$/, 'says which database')
  t.match(said.find((m) => m.startsWith('Migrations:')), /^Migrations: [1-9]\d* applied \(\d+ in all\)$/, 'says how many migrations it applied')
  t.ok(said.includes('No admin yet: create a first token with  npm run token -- create --role admin --label bootstrap'), 'gives the exact command for a first token', { said })
  t.notOk(said.some((m) => m.includes('password')), 'no secret in the start-up lines')

  const cli = await tokenCli(env, 'create', '--role', 'admin', '--label', 'bootstrap')
  t.equal(cli.code, 0, 'the token command works while the server runs', { stderr: cli.stderr })
  const token = tokenIn(cli.stdout)!
  t.ok(token, 'and prints a token')
  t.match(cli.stderr, /Created admin user admin@localhost/)
  await publishWith(t, first, token, 'Harbour reopens after the storm')

  if (!pg) {
    const lock = lockFileOf(dataDir)
    t.ok(existsSync(lock), 'the server holds the folder\'s lock')
    const second = await startServer(t, env).then(() => 'listened', (error: Error) => error.message)
    t.match(second, /exited \(1\) before it listened/, 'a second server on the same folder exits at once')
    t.match(second, /data is in use by another Dateline process \(server, pid \d+/, 'saying who holds the folder')
    t.notMatch(second, /\n\s+at /, 'without a stack trace')
    t.equal((await fetch(`${first.url}/health/ready`)).status, 200, 'while the first keeps serving')
  }

  const another = await tokenCli(env, 'create', '--role', 'editor', '--label', 'desk', '--email', 'desk@paper.test', '--name', 'Desk Editor')
  t.equal(another.code, 0, 'a second command, for an editor', { stderr: another.stderr })
  const refused = await tokenCli(env, 'create', '--role', 'author', '--label', 'x', '--email', 'desk@paper.test')
  t.equal(refused.code, 2, 'a refusal from the server is the command\'s exit code 2')
  t.match(refused.stderr, /desk@paper\.test is editor, not author/)
  t.equal(tokenIn(refused.stdout), undefined)

  t.equal(await first.stop(), 0, 'SIGTERM: a clean exit')
  if (!pg) t.notOk(existsSync(lockFileOf(dataDir)), 'the lock is released')

  const restarted = await startServer(t, env)
  t.ok(restarted.messages().includes('Migrations: none pending (' + said.find((m) => m.startsWith('Migrations:'))!.match(/\((\d+) in all\)/)![1] + ' in all)'), 'nothing to migrate on the second start')
  t.notOk(restarted.messages().some((m) => m.startsWith('No admin yet')), 'no first-token hint once there is an admin')
  await publishWith(t, restarted, token, 'Ferries run again')
  const me = await fetch(`${restarted.url}/v1/users/me`, { headers: { authorization: `Bearer ${tokenIn(another.stdout)}` } })
  t.equal(((await me.json()) as { role: string }).role, 'editor', 'the editor token made through the server works too')
  t.equal(await restarted.stop(), 0)
})

t.test('a server killed outright leaves a lock the next start takes over', { skip: !!testDatabaseUrl && 'the embedded database only' }, async (t) => {
  const env = cleanEnv({ DATA_DIR: path.join(t.testdir(), 'data'), LOG_LEVEL: 'info' })
  const first = await startServer(t, env)
  const cli = await tokenCli(env, 'create', '--role', 'admin', '--label', 'bootstrap')
  const token = tokenIn(cli.stdout)!
  t.ok(token, 'a token')
  await first.stop('SIGKILL')
  t.ok(existsSync(lockFileOf(env.DATA_DIR)), 'the dead server\'s lock is still there')
  const second = await startServer(t, env)
  await publishWith(t, second, token, 'Power restored across the city')
  t.equal(await second.stop(), 0)
})
