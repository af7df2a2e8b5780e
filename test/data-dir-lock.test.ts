// The embedded folder's lock: one holder at a time, whoever asks; a lock whose holder died or went
// silent is taken over, by exactly one of those who try at once.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { openDatabase } from '../src/db/client.js'
import { DataDirBusyError, lockDataDir, lockFileOf, type LockHolder } from '../src/db/data-dir-lock.js'
import { sections } from '../src/db/schema.js'
import { testDatabaseUrl } from './helper.js'

// Only the embedded database has a folder to lock: once, in the PGlite run.
if (testDatabaseUrl) t.plan(0, 'the embedded database only')

const holderOf = (over: Partial<LockHolder>): LockHolder => ({ pid: process.ppid, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', role: 'server', nonce: 'feedfacefeedface', ...over })
/** The pid of a process that has ended. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!
const busy = (promise: Promise<unknown>) => promise.then(() => 'taken', (e: unknown) => (e instanceof DataDirBusyError ? `busy: ${e.holder.role} ${e.holder.pid}` : `error: ${String(e)}`))

t.test('one holder at a time, in this process or another', async (t) => {
  const dir = t.testdir()
  const lock = await lockDataDir(dir, 'server')
  t.same(JSON.parse(await readFile(lockFileOf(dir), 'utf8')), lock.holder, 'the file names its holder')
  t.equal(await busy(lockDataDir(dir, 'token command')), `busy: server ${process.pid}`, 'a second lock in the same process is refused')
  await lock.advertise('/somewhere/local.sock')
  t.equal(JSON.parse(await readFile(lockFileOf(dir), 'utf8')).socket, '/somewhere/local.sock', 'the holder says where it takes commands')
  t.equal(await busy(lockDataDir(dir, 'token command')), `busy: server ${process.pid}`, 'and still holds it')
  await lock.release()
  t.notOk(existsSync(lockFileOf(dir)), 'released: the file is gone')
  const again = await lockDataDir(dir, 'seed command')
  t.equal(again.holder.role, 'seed command', 'and the folder can be taken again')
  await again.release()

  await writeFile(lockFileOf(dir), JSON.stringify(holderOf({})))
  t.equal(await busy(lockDataDir(dir, 'server')), `busy: server ${process.ppid}`, 'a live process of this host holds it')
  await writeFile(lockFileOf(dir), JSON.stringify(holderOf({ host: 'another-machine', pid: deadPid() })))
  t.equal(await busy(lockDataDir(dir, 'server')), `busy: server ${JSON.parse(await readFile(lockFileOf(dir), 'utf8')).pid}`, 'another machine\'s recent lock is respected: its pid cannot be checked from here')
})

t.test('a stale lock is taken over', async (t) => {
  const cases: Array<[string, LockHolder | string, Date?]> = [
    ['its process has ended', holderOf({ pid: deadPid() })],
    ['it names this process, which does not hold it (a restarted container\'s pid 1)', holderOf({ pid: process.pid })],
    ['it has been silent for a minute, whatever its pid', holderOf({ host: 'another-machine' }), new Date(Date.now() - 60_000)],
    ['it is not a lock at all', 'garbage{']
  ]
  for (const [why, content, mtime] of cases) {
    const dir = t.testdir()
    await writeFile(lockFileOf(dir), typeof content === 'string' ? content : JSON.stringify(content))
    if (mtime) await utimes(lockFileOf(dir), mtime, mtime)
    const lock = await lockDataDir(dir, 'server')
    t.equal(JSON.parse(await readFile(lockFileOf(dir), 'utf8')).nonce, lock.holder.nonce, `taken over: ${why}`)
    await lock.release()
  }
})

t.test('of several taking over one stale lock at once, exactly one wins', async (t) => {
  const dir = t.testdir()
  await writeFile(lockFileOf(dir), JSON.stringify(holderOf({ pid: deadPid() })))
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => lockDataDir(dir, `contender ${i}`)))
  const won = results.filter((r) => r.status === 'fulfilled')
  t.equal(won.length, 1, 'one holder')
  t.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof DataDirBusyError), 'the others are told it is busy')
  await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockDataDir>>>).value.release()
})

t.test('the embedded database takes the lock: a second open of the folder is refused, the first keeps working', async (t) => {
  const dataDir = path.join(t.testdir(), 'data')
  const first = await openDatabase({ dataDir })
  t.teardown(() => first.close())
  await first.migrate()
  t.equal(await busy(openDatabase({ dataDir, holder: 'seed command' })), `busy: server ${process.pid}`)
  await first.db.insert(sections).values({ slug: 'still-here', name: 'Still here' })
  t.same((await first.db.select().from(sections)).map((s) => s.slug), ['still-here'], 'the holder is unharmed')
  await first.close()
  t.notOk(existsSync(lockFileOf(dataDir)), 'closing releases the folder')
  const second = await openDatabase({ dataDir })
  t.same((await second.db.select().from(sections)).map((s) => s.slug), ['still-here'])
  await second.close()
})
