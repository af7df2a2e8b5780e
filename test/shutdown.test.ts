// SIGTERM under keep-alive traffic: readiness turns 503 at once while the rest is still served
// for SHUTDOWN_DELAY_SECONDS; then a request in flight is answered, new requests get a 503
// problem with Retry-After and Connection: close, and the process exits 0 soon after the last
// answer instead of waiting on idle keep-alive connections.
import t from 'tap'
import http from 'node:http'
import net from 'node:net'
import { build, testDatabaseUrl } from './helper.js'
import { cleanEnv, startServer, tokenCli, tokenIn } from './processes.js'

t.setTimeout(300_000)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

type Answer = { path: string, status: number, headers: http.IncomingHttpHeaders, body: string, at: number }

function get (agent: http.Agent, base: string, path: string): Promise<Answer | Error> {
  return new Promise((resolve) => {
    http.get(`${base}${path}`, { agent }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ path, status: res.statusCode!, headers: res.headers, body, at: Date.now() }))
    }).on('error', resolve)
  })
}

t.test('SIGTERM under keep-alive traffic', async (t) => {
  const env: Record<string, string> = testDatabaseUrl ? { DATABASE_URL: testDatabaseUrl } : { DATA_DIR: `${t.testdir()}/data` }
  // A limit well above what a drain needs: exit code 0 proves the drain ended by itself.
  const server = await startServer(t, { ...env, SHUTDOWN_TIMEOUT_SECONDS: '60', SHUTDOWN_DELAY_SECONDS: '1' })
  const { port } = new URL(server.url)
  const token = tokenIn((await tokenCli(cleanEnv(env), 'create', '--role', 'editor', '--label', 'desk', '--email', 'desk@paper.test', '--name', 'Desk')).stdout)
  t.ok(token, 'a token, made while the server runs')

  // A request in flight from before the signal until the drain: its body is still arriving.
  const slow = net.connect(Number(port), '127.0.0.1')
  await new Promise((resolve) => slow.once('connect', resolve))
  let slowAnswer = ''
  slow.on('data', (d) => { slowAnswer += d })
  const body = JSON.stringify({ headline: 'Filed while the server stops' })
  slow.write(`POST /v1/articles HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`)

  // A connection that never sends a request (a client opened it ahead of need): it must not
  // hold the drain until the time limit.
  const unused = net.connect(Number(port), '127.0.0.1')
  unused.on('error', () => {})
  await new Promise((resolve) => unused.once('connect', resolve))
  const unusedClosed = new Promise((resolve) => unused.once('close', resolve))

  // Busy keep-alive clients.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 6 })
  t.teardown(() => agent.destroy())
  const answers: Answer[] = []
  const failures: Error[] = []
  let running = true
  const clients = Array.from({ length: 6 }, async (_, i) => {
    while (running) {
      const res = await get(agent, server.url, i === 0 ? '/health/ready' : '/v1/articles?limit=2')
      if (res instanceof Error) { failures.push(res); await sleep(20) } else answers.push(res)
    }
  })
  await sleep(1000)
  t.ok(answers.some((a) => a.status === 200), 'serving before the signal')

  const signalled = Date.now()
  server.child.kill('SIGTERM')
  await sleep(1300)
  // The in-flight request finishes during the drain, and is carried out.
  slow.write(body.slice(10))
  const exitCode = await server.exited
  const exited = Date.now()
  running = false
  await Promise.all(clients)

  t.equal(exitCode, 0, 'exit code 0: the drain ended by itself')
  await unusedClosed
  t.pass('a connection that never sent a request was closed with the rest')
  t.match(slowAnswer, /^HTTP\/1\.1 201 /, 'the request in flight was carried out')
  t.match(slowAnswer, /\r\nconnection: close\r\n/i, 'and its connection closed after the answer')

  // Leaving: readiness says 503 while the rest is still served.
  const leaving = answers.filter((a) => a.at > signalled + 100 && a.at < signalled + 900)
  const ready = leaving.filter((a) => a.path === '/health/ready')
  t.ok(ready.length > 0 && ready.every((a) => a.status === 503), `not ready after the signal (${ready.length} answers)`)
  t.match(JSON.parse(ready[0]?.body ?? '{}'), { status: 503, code: 'UNAVAILABLE', detail: 'This instance is shutting down.' })
  const served = leaving.filter((a) => a.path !== '/health/ready')
  t.ok(served.length > 0 && served.every((a) => a.status === 200), `still serving the rest (${served.length} answers)`)
  const after = answers.filter((a) => a.at > signalled)
  const lastAnswer = Math.max(...answers.map((a) => a.at), signalled)
  t.comment(`exited ${exited - signalled} ms after SIGTERM, ${exited - lastAnswer} ms after the last answer; ${after.length} answers after the signal`)
  t.ok(failures.every((e) => /ECONNREFUSED|ECONNRESET|socket hang up/.test(e.message)), 'clients only saw the server go away')

  const lines = server.messages()
  t.ok(lines.some((l) => /^Shutting down \(SIGTERM\): \d+ request\(s\) in flight/.test(l)), 'the log says draining began')
  t.ok(lines.some((l) => /^Stopped after \d+ ms: every request answered/.test(l)), 'and that it ended')
})

t.test('a request that reaches a draining instance', async (t) => {
  const h = await build(t)
  h.app.drain.draining = true
  const res = await h.app.inject({ method: 'GET', url: '/v1/articles' })
  t.equal(res.statusCode, 503)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.equal(res.headers['retry-after'], '2')
  t.equal(res.headers.connection, 'close', 'its connection closes after the answer')
  t.equal(res.headers['x-content-type-options'], 'nosniff', 'with the security headers')
  t.match(res.json(), { status: 503, code: 'UNAVAILABLE', detail: 'This instance is shutting down; retry, and another will answer.' })
})
