// A start that cannot go on says why in one line a cause, with what to do, and exits 1; a
// PostgreSQL server that is still starting is waited for.
import t from 'tap'
import net from 'node:net'
import { openDatabase } from '../src/db/client.js'
import { DatabaseStartError } from '../src/db/connect-errors.js'
import { testDatabaseUrl } from './helper.js'
import { cleanEnv, run } from './processes.js'

t.setTimeout(600_000)

const startFails = async (env: Record<string, string | undefined>) => {
  const result = await run(process.execPath, ['--import', 'tsx', 'src/server.ts'], cleanEnv({ PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'json', SEED_DEMO: 'false', DATA_DIR: `${t.testdir()}/data`, ...env }))
  const output = `${result.stdout}${result.stderr}`.trim()
  const lines = output.split('\n').map((l) => { try { return String(JSON.parse(l).msg) } catch { return l } })
  return { code: result.code, lines, output }
}

t.test('bad settings: one line each, naming the setting, its value and what it takes', { skip: !!testDatabaseUrl && 'in the PGlite run' }, async (t) => {
  const { code, lines, output } = await startFails({ LOG_LEVEL: 'verbose', PORT: 'http', DATABASE_POOL_SIZE: '0' })
  t.equal(code, 1)
  t.same(lines, [
    'Dateline cannot start: a setting is wrong.',
    'PORT="http" is not allowed: PORT takes a whole number from 0 to 65535.',
    'LOG_LEVEL="verbose" is not allowed: LOG_LEVEL takes one of fatal, error, warn, info, debug, trace, silent.',
    'DATABASE_POOL_SIZE="0" is not allowed: DATABASE_POOL_SIZE takes a whole number from 1 to 200.'
  ], 'nothing else: no stack trace, no repeats', { output })
})

t.test('a port in use', { skip: !!testDatabaseUrl && 'in the PGlite run' }, async (t) => {
  const taken = net.createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())))
  const port = (taken.address() as net.AddressInfo).port
  const { code, lines, output } = await startFails({ PORT: String(port) })
  t.equal(code, 1)
  t.equal(lines.at(-1), `Port ${port} on 127.0.0.1 is in use: stop what listens there, or set PORT to another port.`, 'the last line says what to do', { output })
  t.notMatch(output, /\n\s+at /, 'no stack trace')
})

t.test('PostgreSQL that cannot be used: one line naming host, port and database', { skip: !testDatabaseUrl && 'needs TEST_DATABASE_URL' }, async (t) => {
  const base = new URL(testDatabaseUrl!)
  const at = `${base.hostname}:${base.port || '5432'}`
  const urlWith = (change: (u: URL) => void) => { const u = new URL(base); change(u); return u.toString() }

  const missing = await startFails({ DATABASE_URL: urlWith((u) => { u.pathname = '/dateline_missing_db' }) })
  t.equal(missing.code, 1)
  t.equal(missing.lines.at(-1), `Database "dateline_missing_db" does not exist at ${at}: create it (createdb -h ${base.hostname} -p ${base.port || '5432'} dateline_missing_db), or fix DATABASE_URL.`, 'a missing database', { output: missing.output })
  t.notMatch(missing.output, /\n\s+at /, 'no stack trace')

  const role = await startFails({ DATABASE_URL: urlWith((u) => { u.username = 'no_such_role_here' }) })
  t.equal(role.code, 1)
  t.match(role.lines.at(-1), new RegExp(`^PostgreSQL at ${at} refused user "no_such_role_here" for database "[^"]+" .*createuser`), 'an unknown role', { output: role.output })

  const closed = net.createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const port = (closed.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => closed.close(() => resolve()))
  const refused = await startFails({ DATABASE_URL: urlWith((u) => { u.host = `127.0.0.1:${port}` }), DATABASE_CONNECT_WAIT_SECONDS: '1' })
  t.equal(refused.code, 1)
  t.ok(refused.lines.some((l) => l.startsWith(`Nothing accepts connections at 127.0.0.1:${port}`) && l.endsWith('Retrying in 250 ms.')), 'it waits and says so', { output: refused.output })
  t.equal(refused.lines.at(-1), `Nothing accepts connections at 127.0.0.1:${port}: start PostgreSQL there, or point DATABASE_URL at a running server.`, 'then gives up in one line')
})

t.test('a PostgreSQL server that comes up after a moment is waited for, with backoff', { skip: !testDatabaseUrl && 'needs TEST_DATABASE_URL' }, async (t) => {
  const target = new URL(testDatabaseUrl!)
  // A relay that refuses connections at first, like a server that is still starting.
  const relay = net.createServer((client) => {
    const server = net.connect(Number(target.port || 5432), target.hostname)
    for (const s of [client, server]) s.on('error', () => {})
    client.pipe(server).pipe(client)
  })
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as net.AddressInfo).port
      probe.close(() => resolve(p))
    })
  })
  setTimeout(() => relay.listen(port, '127.0.0.1'), 1_200)
  t.teardown(() => new Promise<void>((resolve) => relay.close(() => resolve())))
  const url = new URL(testDatabaseUrl!)
  url.host = `127.0.0.1:${port}`
  const waits: number[] = []
  const database = await openDatabase({ url: url.toString(), poolSize: 1, connectWaitMs: 20_000, onRetry: (_e, ms) => waits.push(ms) })
  t.teardown(() => database.close())
  await database.ping()
  t.ok(waits.length >= 2, `it retried (${waits.join(', ')} ms)`)
  t.same(waits.slice(0, 3), [250, 500, 1000].slice(0, Math.min(3, waits.length)), 'waiting longer each time')

  const gaveUp = await openDatabase({ url: `postgres://127.0.0.1:1/x`, connectWaitMs: 0 }).then(() => 'opened', (e: unknown) => e)
  t.ok(gaveUp instanceof DatabaseStartError, 'with no time to wait, a refusal is at once a start error')
})
