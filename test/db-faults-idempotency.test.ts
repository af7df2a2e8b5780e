// Safe retries across a database fault: clients post articles and comments, each with an
// Idempotency-Key of its own, while PostgreSQL restarts and then stops for a while, and retry
// every request that fails (a 503, a 409 while the key is held, a broken connection, an answer
// it gave up waiting for) with the same key until it is answered. At the end each key has exactly one row: a write that had
// committed when its answer was lost is answered again, never made twice.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { clusterSkip, createCluster, sleep } from './pg-clusters.js'
import { cleanEnv, startServer, tokenCli, tokenIn, type Server } from './processes.js'

t.setTimeout(600_000)
const skip = clusterSkip()

type Sent = { key: string, marker: string, kind: 'article' | 'comment', id?: string, attempts: number, failures: string[], replayed: boolean }

/** Clients that retry each write with its key until it is answered. */
function clients (server: Server, token: string, articleId: string, creators: number, commenters: number) {
  const sent: Sent[] = []
  const odd: string[] = []
  let running = true
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

  // One write, retried with the same key until it gets a 201.
  const write = async (kind: Sent['kind'], path: string, headers: Record<string, string>, body: (marker: string) => unknown) => {
    const item: Sent = { key: randomUUID(), marker: `${kind} ${randomUUID()}`, kind, attempts: 0, failures: [], replayed: false }
    sent.push(item)
    const payload = JSON.stringify(body(item.marker))
    // Every third write gives up on its first answer almost at once, as a client on a bad
    // network would: the server often commits it anyway, and the retry must get that answer.
    const impatient = sent.length % 3 === 0
    for (;;) {
      item.attempts++
      try {
        const res = await fetch(`${server.url}${path}`, {
          method: 'POST', headers: { ...headers, 'idempotency-key': item.key }, body: payload,
          signal: AbortSignal.timeout(impatient && item.attempts === 1 ? 1 + (sent.length % 20) : 15_000)
        })
        const text = await res.text()
        if (res.status === 201) {
          item.id = JSON.parse(text).id
          item.replayed = res.headers.get('idempotent-replayed') === 'true'
          return
        }
        item.failures.push(String(res.status))
        // Anything but a retryable answer is a failure of the test.
        if (res.status !== 503 && res.status !== 409) { odd.push(`${kind} ${res.status}: ${text}`); return }
      } catch (error) {
        item.failures.push(String((error as Error).cause ?? error))
      }
      // Far longer than the outage: a write still refused by then is a failure, not a hang.
      if (item.attempts >= 1200) { odd.push(`${kind} ${item.key}: no answer after ${item.attempts} attempts: ${item.failures.slice(-3).join(', ')}`); return }
      await sleep(50)
    }
  }
  const loop = async (work: () => Promise<void>) => { while (running) await work() }
  const workers = [
    ...Array.from({ length: creators }, () => loop(() => write('article', '/v1/articles', auth,
      (headline) => ({ headline, body: [{ type: 'paragraph', text: 'Filed, and retried, during a fault.' }] })))),
    ...Array.from({ length: commenters }, () => loop(() => write('comment', `/v1/articles/${articleId}/comments`, { 'content-type': 'application/json' },
      (body) => ({ authorName: 'Rita Reader', authorEmail: 'rita@reader.test', body }))))
  ]
  return {
    sent,
    odd,
    /** Stops starting new writes; each running one is retried until answered. */
    async finish () { running = false; await Promise.all(workers) }
  }
}

t.test('retries with an Idempotency-Key across a restart and a stop never write twice', { skip }, async (t) => {
  const cluster = await createCluster(t, `dateline_faults_idem_${process.pid}`)
  const env = { DATABASE_URL: cluster.url, COMMENT_RATE_PER_CLIENT: '100000', COMMENT_RATE_PER_ARTICLE: '100000' }
  const cli = await tokenCli(cleanEnv(env), 'create', '--role', 'admin', '--label', 'retries')
  const token = tokenIn(cli.stdout)
  if (!t.ok(token, cli.stdout + cli.stderr) || !token) return
  const server = await startServer(t, env)
  const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
  const made = await fetch(`${server.url}/v1/articles`, { method: 'POST', headers: auth, body: JSON.stringify({ headline: 'Readers comment here' }) })
  if (!t.equal(made.status, 201)) return
  const articleId = ((await made.json()) as { id: string }).id
  t.equal((await fetch(`${server.url}/v1/articles/${articleId}/publish`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 200)

  const traffic = clients(server, token, articleId, 3, 3)
  await sleep(1500)
  // A restart: every session is cut, some in the middle of a write or its commit.
  await cluster.ctl('restart')
  await cluster.ready()
  await sleep(1500)
  // A stop: every write fails for a while, then the database comes back.
  await cluster.ctl('stop')
  await sleep(3000)
  await cluster.ctl('start')
  await cluster.ready()
  await sleep(1500)
  await traffic.finish()

  t.equal(server.child.exitCode, null, 'the process is still running')
  t.same(traffic.odd, [], 'every failed attempt was a 503, a 409 or a broken connection')
  const { sent } = traffic
  const retried = sent.filter((s) => s.failures.length > 0)
  t.ok(sent.every((s) => s.id !== undefined), `all ${sent.length} writes were answered in the end`)
  t.ok(retried.length > 0, `some writes were retried (${retried.length})`)
  t.ok(sent.some((s) => s.replayed), 'some retries got the answer of a write that had committed')
  const failures: Record<string, number> = {}
  for (const s of retried) for (const f of s.failures) failures[f] = (failures[f] ?? 0) + 1
  t.comment(`${sent.length} writes (${sent.filter((s) => s.kind === 'comment').length} comments), ${retried.length} retried, ` +
    `${sent.filter((s) => s.replayed).length} answered by a replay; failed attempts: ${JSON.stringify(failures)}`)

  const db = new pg.Client({ connectionString: cluster.url })
  await db.connect()
  t.teardown(() => db.end())
  const articles = await db.query<{ id: string, headline: string }>('select id, headline from articles where headline = any($1)', [sent.filter((s) => s.kind === 'article').map((s) => s.marker)])
  const comments = await db.query<{ id: string, body: string }>('select id, body from comments where body = any($1)', [sent.filter((s) => s.kind === 'comment').map((s) => s.marker)])
  const rows = new Map<string, string[]>()
  for (const r of articles.rows) rows.set(r.headline, [...(rows.get(r.headline) ?? []), r.id])
  for (const r of comments.rows) rows.set(r.body, [...(rows.get(r.body) ?? []), r.id])
  const wrong = sent.filter((s) => rows.get(s.marker)?.length !== 1 || rows.get(s.marker)![0] !== s.id)
  t.same(wrong.map((s) => ({ ...s, rows: rows.get(s.marker) ?? [] })).slice(0, 5), [], 'exactly one row a key, the one its answer named')
  // The replays a retry got were stored in the write's own transaction, so none is missing.
  const keys = await db.query<{ n: string }>("select count(*) as n from idempotency_keys where state = 'done'")
  t.equal(Number(keys.rows[0].n), sent.length, 'one stored answer a key')

  t.equal(await server.stop('SIGTERM'), 0, 'and it still shuts down cleanly', { serverOutput: server.messages().slice(-4) })
})
