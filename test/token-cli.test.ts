// The bootstrap CLI: `npm run token -- create --role admin --label bootstrap` prints a first
// admin token, creating the admin when there is none; the token then works against the API.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openDatabase, type Database } from '../src/db/client.js'
import { call, openTestDatabase, testDatabaseUrl } from './helper.js'

const root = fileURLToPath(new URL('..', import.meta.url))
type Run = { code: number | null, stdout: string, stderr: string }

t.test('token CLI', async (t) => {
  const dataDir = path.join(t.testdir(), 'data')
  // PostgreSQL: a fresh database of this test's own; PGlite: a fresh data folder.
  const pg = testDatabaseUrl ? await openTestDatabase(t) : undefined
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? root,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    ...(pg?.url && { DATABASE_URL: pg.url })
  }
  const cli = (...args: string[]) => new Promise<Run>((resolve, reject) => {
    // Through env(1), which drops the coverage hooks the test runner adds to child processes:
    // the CLI runs under tsx, whose transpiled code would be merged into the coverage map
    // of the same files as loaded by the tests and garble it.
    const child = spawn('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, '--import', 'tsx', 'src/cli/token.ts', ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
  const tokenLine = /^dl_[A-Za-z0-9_-]{43,}\n$/
  const tablesIn = async (database: Database) =>
    ((await database.db.execute(sql`select count(*)::int as n from information_schema.tables where table_schema = 'public'`)) as unknown as { rows: Array<{ n: number }> }).rows[0].n

  // Refusals before anything exists: exit 2, usage on stderr, nothing on stdout, nothing written.
  for (const [args, message] of [
    [['create', '--role', 'superuser', '--label', 'bootstrap'], /--role must be admin, editor or author/],
    [['create', '--label', 'bootstrap'], /--role must be/],
    [['create', '--role', 'admin'], /--label is required/],
    [['create', '--role', 'admin', '--label', '   '], /--label is required/],
    [['destroy', '--role', 'admin', '--label', 'x'], /Unknown command/],
    [['create', '--role', 'admin', '--label', 'x', '--expires-in-days', '0'], /--expires-in-days/]
  ] as const) {
    const run = await cli(...args)
    t.equal(run.code, 2, `${args.join(' ')}: exit code 2`, { stderr: run.stderr })
    t.match(run.stderr, message, `${args.join(' ')}: says why`)
    t.match(run.stderr, /Usage: npm run token/, `${args.join(' ')}: shows usage`)
    t.equal(run.stdout, '', `${args.join(' ')}: prints no token`)
  }
  if (pg) t.equal(await tablesIn(pg.database), 0, 'the database was not touched')
  else t.notOk(existsSync(dataDir), 'no data folder was created')

  const first = await cli('create', '--role', 'admin', '--label', 'bootstrap')
  t.equal(first.code, 0, 'first run succeeds', { stderr: first.stderr })
  t.match(first.stdout, tokenLine, 'stdout is the token and nothing else')
  t.match(first.stderr, /Created admin user admin@localhost/, 'with no admin yet, it creates one')
  t.match(first.stderr, /It is shown once/, 'and says the token is shown once')

  const second = await cli('create', '--role', 'admin', '--label', 'bootstrap')
  t.equal(second.code, 0, 'second run succeeds', { stderr: second.stderr })
  t.match(second.stdout, tokenLine, 'prints a token')
  t.not(second.stdout, first.stdout, 'a new one')
  t.notMatch(second.stderr, /Created/, 'and creates no second admin')

  const editor = await cli('create', '--role', 'editor', '--label', 'desk', '--email', 'desk@paper.test', '--name', 'Desk Editor', '--expires-in-days', '7')
  t.equal(editor.code, 0, 'an editor token for a new user', { stderr: editor.stderr })
  t.match(editor.stderr, /Created editor user desk@paper\.test/)
  t.match(editor.stderr, /expires \d{4}-\d\d-\d\dT/, 'with its expiry')
  // Refused after the database is open: the process must still leave it usable.
  const noEmail = await cli('create', '--role', 'author', '--label', 'x')
  t.equal(noEmail.code, 2, 'an author token needs --email')
  t.match(noEmail.stderr, /--email is required/)
  const wrongRole = await cli('create', '--role', 'author', '--label', 'x', '--email', 'DESK@paper.test')
  t.equal(wrongRole.code, 2, 'a role that is not the user\'s: exit 2')
  t.match(wrongRole.stderr, /desk@paper\.test is editor, not author/)
  t.equal(wrongRole.stdout + noEmail.stdout, '', 'no token printed when refused')

  // The printed tokens work against an app over the same database.
  let database: Database
  if (pg) database = pg.database
  else {
    database = await openDatabase({ dataDir })
    t.teardown(() => database.close())
  }
  const app = await buildApp({ config: loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: dataDir }), database })
  await app.ready()
  t.teardown(() => app.close())
  const [adminToken, secondToken, editorToken] = [first, second, editor].map((r) => r.stdout.trim())

  const meRes = await call(app, 'GET', '/v1/users/me', { token: adminToken })
  t.equal(meRes.statusCode, 200, 'the bootstrap token authenticates', { body: meRes.body })
  const admin = meRes.json()
  t.match(admin, { role: 'admin', email: 'admin@localhost', name: 'Administrator' }, 'as the admin')
  t.equal((await call(app, 'GET', '/v1/users/me', { token: secondToken })).json().id, admin.id, 'the second token belongs to the same admin')
  t.match((await call(app, 'GET', '/v1/users/me', { token: editorToken })).json(), { role: 'editor', email: 'desk@paper.test', name: 'Desk Editor' }, 'the editor token is the editor\'s')

  const users = (await call(app, 'GET', '/v1/users', { token: adminToken })).json().data as Array<{ role: string, email: string }>
  t.same(users.map((u) => `${u.role} ${u.email}`).sort(), ['admin admin@localhost', 'editor desk@paper.test'], 'one admin, one editor, nobody else')
  const tokens = (await call(app, 'GET', '/v1/tokens?limit=100', { token: adminToken })).json().data as Array<{ userId: string, label: string, expiresAt: string | null }>
  t.equal(tokens.length, 3, 'three tokens in all')
  t.same(tokens.filter((x) => x.userId === admin.id).map((x) => x.label), ['bootstrap', 'bootstrap'], 'two bootstrap tokens for the admin')
  const days = (Date.parse(tokens.find((x) => x.userId !== admin.id)!.expiresAt!) - Date.now()) / 86_400_000
  t.ok(days > 6.9 && days <= 7, `the editor token expires in 7 days (${days.toFixed(3)})`)
  t.equal((await call(app, 'GET', '/v1/users', { token: editorToken })).statusCode, 403, 'the editor token carries the editor role')
})
