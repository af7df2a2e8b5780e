// A PostgreSQL restart or stop under load, on a cluster of this test's own: the server process
// stays up, answers only 503 + Retry-After while the database is gone, serves again as soon as
// it is back, and loses no write it acknowledged.
import t from 'tap'
import pg from 'pg'
import { createCluster, skipFaults as skip, sleep } from './db-cluster.js'
import { cleanEnv, startServer, tokenCli, tokenIn, type Server } from './processes.js'

t.setTimeout(600_000)

type Outcome = { at: number, what: string, status: number | 'error', detail?: string }

/** The load: readers, creators, PATCHes with If-Match (in transactions) and comments. */
function load (server: Server, token: string, articleIds: string[], publishedId: string) {
  const outcomes: Outcome[] = []
  const created: string[] = []
  const comments: string[] = []
  const acknowledged = new Map<string, { version: number, headline: string }>()
  let running = true
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const request = async (what: string, path: string, init: RequestInit = {}) => {
    try {
      const res = await fetch(`${server.url}${path}`, { ...init, signal: AbortSignal.timeout(15_000) })
      const text = await res.text()
      const outcome: Outcome = { at: Date.now(), what, status: res.status }
      if (res.status === 503 && (!res.headers.get('retry-after') || !/^application\/problem\+json/.test(res.headers.get('content-type') ?? ''))) {
        outcome.detail = `503 without Retry-After or problem+json: ${JSON.stringify(Object.fromEntries(res.headers))} ${text}`
      } else if (res.status >= 500 && res.status !== 503) outcome.detail = text
      outcomes.push(outcome)
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
    } catch (error) {
      outcomes.push({ at: Date.now(), what, status: 'error', detail: String((error as Error).cause ?? error) })
      await sleep(50) // a dead server refuses at once: no busy loop
      return undefined
    }
  }
  const loop = async (work: () => Promise<unknown>) => { while (running) await work() }
  let n = 0
  const workers = [
    loop(() => request('read', '/v1/articles?limit=5')),
    loop(() => request('read', `/v1/articles/${publishedId}`)),
    loop(async () => {
      const headline = `Fault story ${++n}`
      const res = await request('create', '/v1/articles', { method: 'POST', headers: auth, body: JSON.stringify({ headline, body: [{ type: 'paragraph', text: 'Filed during a fault.' }] }) })
      if (res?.status === 201) created.push(res.body.id)
    }),
    ...articleIds.map((id) => loop(async () => {
      const current = await request('read', `/v1/articles/${id}`, { headers: auth })
      if (current?.status !== 200) return
      const headline = `Patched ${++n}`
      const res = await request('patch', `/v1/articles/${id}`, { method: 'PATCH', headers: { ...auth, 'if-match': current.headers.get('etag')! }, body: JSON.stringify({ headline }) })
      // The ETag starts with the version it names.
      if (res?.status === 200) acknowledged.set(id, { version: Number(/(\d+)-/.exec(res.headers.get('etag')!)![1]), headline })
    })),
    loop(async () => {
      const body = `A remark filed during a fault, number ${++n}.`
      const res = await request('comment', `/v1/articles/${publishedId}/comments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ authorName: 'Rita Reader', authorEmail: 'rita@reader.test', body }) })
      if (res?.status === 201) comments.push(res.body.id)
    })
  ]
  return {
    outcomes,
    created,
    comments,
    acknowledged,
    request,
    async stop () { running = false; await Promise.all(workers) }
  }
}

t.test('a database restart and stop under load', { skip }, async (t) => {
  const cluster = await createCluster(t)
  const env = { DATABASE_URL: cluster.url, COMMENT_RATE_PER_CLIENT: '100000', COMMENT_RATE_PER_ARTICLE: '100000' }
  const cli = await tokenCli(cleanEnv(env), 'create', '--role', 'admin', '--label', 'faults')
  const token = tokenIn(cli.stdout)!
  t.ok(token, cli.stdout + cli.stderr)
  const server = await startServer(t, env)
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const make = async (headline: string) => {
    const res = await fetch(`${server.url}/v1/articles`, { method: 'POST', headers: auth, body: JSON.stringify({ headline, body: [{ type: 'paragraph', text: 'Before the fault.' }] }) })
    t.equal(res.status, 201)
    return ((await res.json()) as { id: string }).id
  }
  const publishedId = await make('The story readers comment on')
  t.equal((await fetch(`${server.url}/v1/articles/${publishedId}/publish`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 200)
  const patched = [await make('Edited during the fault, one'), await make('Edited during the fault, two')]

  const traffic = load(server, token, patched, publishedId)
  await sleep(1500)

  // 1. A restart: every session is terminated (57P01), then the server comes back.
  await cluster.ctl('restart')
  await cluster.ready()
  const backAfterRestart = Date.now()
  await sleep(1500)

  // 2. A stop: nothing answers for a while, then a start.
  await cluster.ctl('stop')
  const down = Date.now()
  await sleep(3000)
  const downEnd = Date.now()
  await cluster.ctl('start')
  await cluster.ready()
  const back = Date.now()
  // The first request after the database answers again is served: no dead pooled connection
  // makes it fail.
  const ready = await traffic.request('probe', '/health/ready')
  t.equal(ready?.status, 200, 'ready again at once')
  await sleep(1500)
  await traffic.stop()

  t.equal(server.child.exitCode, null, 'the process is still running')
  const { outcomes } = traffic
  const bad = outcomes.filter((o) => o.detail !== undefined || o.status === 'error')
  t.same(bad.slice(0, 5), [], `every answer was a success, a refusal or a 503 with Retry-After (${bad.length} not)`, { serverOutput: server.lines.slice(-20) })
  const whileDown = outcomes.filter((o) => o.at > down + 500 && o.at < downEnd)
  t.ok(whileDown.length > 0, 'requests were answered while the database was down')
  t.same([...new Set(whileDown.map((o) => o.status))], [503], 'only 503 while the database is down')
  const firstOk = (since: number) => outcomes.find((o) => o.at >= since && o.what !== 'read' && o.status !== 503)
  const recovered = firstOk(back)
  t.ok(recovered, 'writes succeed again after the database is back')
  t.ok(outcomes.some((o) => o.at > backAfterRestart && o.what === 'patch' && o.status === 200), 'PATCHes succeed after the restart')
  const statuses: Record<string, number> = {}
  for (const o of outcomes) statuses[`${o.what} ${o.status}`] = (statuses[`${o.what} ${o.status}`] ?? 0) + 1
  t.comment(`answers: ${JSON.stringify(statuses)}; first write served ${recovered ? recovered.at - back : '?'} ms after the database answered again`)
  t.notOk(server.messages().some((m) => /shutting down/.test(m)), 'no shutdown was started')

  // No acknowledged write is lost.
  const db = new pg.Client({ connectionString: cluster.url })
  await db.connect()
  t.teardown(() => db.end())
  const found = await db.query('select id from articles where id = any($1::uuid[])', [traffic.created])
  t.equal(found.rowCount, traffic.created.length, `all ${traffic.created.length} acknowledged creates are stored`)
  const foundComments = await db.query('select id from comments where id = any($1::uuid[])', [traffic.comments])
  t.equal(foundComments.rowCount, traffic.comments.length, `all ${traffic.comments.length} acknowledged comments are stored`)
  for (const [id, ack] of traffic.acknowledged) {
    const row = (await db.query('select version from articles where id = $1', [id])).rows[0]
    t.ok(row.version >= ack.version, `article ${id} keeps its acknowledged version ${ack.version} (has ${row.version})`)
    // Its headline is the current one, or an earlier version's kept in the revisions.
    const kept = await db.query(`select 1 from articles where id = $1 and headline = $2
      union all select 1 from article_revisions where article_id = $1 and snapshot->>'headline' = $2`, [id, ack.headline])
    t.ok((kept.rowCount ?? 0) > 0, `the acknowledged headline "${ack.headline}" is on record`)
  }

  t.equal(await server.stop('SIGTERM'), 0, 'and it still shuts down cleanly')
})
