// Read replicas (DATABASE_READ_URL) against a real streaming replica: a primary cluster of the
// test's own and a replica made from it with pg_basebackup -R. Anonymous reads go to the
// replica; staff reads and writes never do; a replica that lags is not used (and never puts a
// stale answer in the public cache); a stopped replica costs no errors.
import t from 'tap'
import pg from 'pg'
import { openDatabase } from '../src/db/client.js'
import { build, call } from './helper.js'
import { publishedArticle } from './comments-helpers.js'
import { clusterSkip, createCluster, createReplica, sleep } from './pg-clusters.js'

t.setTimeout(300_000)
const skip = clusterSkip()

t.test('reads on a streaming replica', { skip }, async (t) => {
  const primary = await createCluster(t, `dateline_replica_p_${process.pid}`)
  const replica = await createReplica(t, primary, `dateline_replica_r_${process.pid}`)
  const onReplica: string[] = []
  const onPrimary: string[] = []
  const database = await openDatabase({ url: primary.url, poolSize: 5, onQuery: (q) => onPrimary.push(q) })
  t.teardown(() => database.close())
  await database.migrate()
  const h = await build(t, {
    database,
    env: { DATABASE_URL: primary.url, DATABASE_READ_URL: replica.url, REPLICA_MAX_LAG_SECONDS: '1', PUBLIC_CACHE: 'true' },
    onReplicaQuery: (q) => onReplica.push(q)
  })
  const standby = new pg.Client({ connectionString: replica.url })
  standby.on('error', () => {}) // its server is stopped below
  await standby.connect()
  t.teardown(() => standby.end())
  const until = async (what: string, check: () => Promise<boolean> | boolean) => {
    for (let i = 0; i < 100; i++) { if (await check()) return; await sleep(50) }
    t.fail(`timed out waiting until ${what}`)
  }
  const serving = async () => (await h.app.inject('/health/ready')).json().replicas[0].serving as boolean
  const readsGo = async (url: string, token?: string) => {
    onReplica.length = 0
    onPrimary.length = 0
    const res = await call(h.app, 'GET', url, { token })
    t.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 200)}`)
    // Not counted: the replicas' position samples, and the public cache's look-up of the next
    // scheduled publication, which asks the primary (it must never be behind).
    const read = (qs: string[]) => qs.filter((q) => /^\s*(select|with)/i.test(q) && !/pg_current_wal_lsn|pg_last_wal_replay_lsn|select min\("published_at"\)/.test(q)).length
    return { replica: read(onReplica), primary: read(onPrimary), res }
  }

  await until('the replica serves', serving)
  const story = await publishedArticle(h)
  await until('the replica has the story', async () => (await standby.query('select 1 from articles where id = $1', [story.id])).rowCount === 1)
  await until('the replica is known to have it', serving)

  await t.test('anonymous reads go to the replica, staff reads to the primary', async (t) => {
    const anonymous = await readsGo(`/v1/articles/${story.id}`)
    t.ok(anonymous.replica > 0, `the replica ran ${anonymous.replica} reads`)
    t.equal(anonymous.primary, 0, `the primary none: ${onPrimary.join(' | ')}`)
    t.equal(anonymous.res.json().id, story.id)
    const staff = await readsGo(`/v1/articles/${story.id}`, h.editor.token)
    t.equal(staff.replica, 0, 'a staff read never goes to a replica')
    t.ok(staff.primary > 0)
  })

  await t.test('writes never go to the replica', async (t) => {
    const etag = (await call(h.app, 'GET', `/v1/articles/${story.id}`, { token: h.editor.token })).headers.etag as string
    onReplica.length = 0
    const res = await call(h.app, 'PATCH', `/v1/articles/${story.id}`, { token: h.editor.token, body: { headline: 'Edited on the primary' }, headers: { 'if-match': etag } })
    t.equal(res.statusCode, 200, res.body)
    t.same(onReplica.filter((q) => !/pg_last_wal_replay_lsn/.test(q)), [], 'nothing ran on the replica')
  })

  await t.test('a replica that has not replayed a change is not used, and the cache stays fresh', async (t) => {
    await standby.query('select pg_wal_replay_pause()')
    const fresh = await publishedArticle(h, { headline: 'Published while the replica is paused' })
    const list = await readsGo('/v1/articles?limit=50')
    t.ok(list.res.json().data.some((a: { id: string }) => a.id === fresh.id), 'the list has the new story')
    t.equal(list.replica, 0, 'read on the primary: the replica has not replayed the change')
    t.equal((await h.app.inject('/v1/articles?limit=50')).headers['x-cache'], 'hit', 'the fresh list is what the cache holds')
    await until('the lagging replica is out of rotation', async () => !(await serving()))

    await standby.query('select pg_wal_replay_resume()')
    await until('the replica is back in rotation', serving)
    const back = await readsGo(`/v1/articles/${fresh.id}`)
    t.ok(back.replica > 0, 'caught up, it serves again')
    t.equal(back.res.json().id, fresh.id)
  })

  await t.test('a replica further behind than REPLICA_MAX_LAG_SECONDS is out of rotation', async (t) => {
    await standby.query('select pg_wal_replay_pause()')
    // A change no instance is told of, written straight to the primary: only the lag bound sees it.
    const primaryClient = new pg.Client({ connectionString: primary.url })
    await primaryClient.connect()
    await primaryClient.query(`insert into sections (slug, name) values ('lag-${process.pid}', 'Lag')`)
    await primaryClient.end()
    await until('the replica is more than a second behind', async () => !(await serving()))
    t.equal((await readsGo(`/v1/articles/${story.id}`)).replica, 0, 'its reads go to the primary')
    await standby.query('select pg_wal_replay_resume()')
    await until('the replica is back in rotation', serving)
  })

  await t.test('a stopped replica costs no errors', async (t) => {
    const statuses = new Map<number, number>()
    let reading = true
    const readers = Array.from({ length: 4 }, async (_, i) => {
      while (reading) {
        // Distinct URLs: each one misses the cache and reads the database.
        const res = await h.app.inject(`/v1/articles?limit=${1 + (i * 7 + statuses.size) % 40}&q=${Math.random().toString(36).slice(2, 6)}`)
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      }
    })
    await sleep(300)
    await replica.ctl('stop')
    await sleep(1500)
    t.notOk(await serving(), 'out of rotation')
    await replica.ctl('start')
    await replica.ready()
    await until('the replica serves again', serving)
    reading = false
    await Promise.all(readers)
    t.same([...statuses.keys()], [200], `every read answered 200: ${JSON.stringify(Object.fromEntries(statuses))}`)
  })
})
