// Webhooks through the real app, a real database and a real HTTP receiver on 127.0.0.1: the
// endpoints' API, deliveries made from the change log and verified with the `standardwebhooks`
// package, retries, leases left by a dead instance, per-entity order, secret rotation, pings,
// redeliveries, and the refusal of private addresses.
import t from 'tap'
import type { Test } from 'tap'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { eq, sql } from 'drizzle-orm'
import { Webhook } from 'standardwebhooks'
import { build, call, type Harness } from './helper.js'
import { webhookAttempts, webhookDeliveries, webhooks } from '../src/db/schema.js'
import { refusal } from '../src/modules/webhooks/outbound.js'
import { retryDelayMs, RETRY_SCHEDULE_SECONDS } from '../src/modules/webhooks/dispatcher.js'

const PUBLIC_URL = 'https://api.example.test'
/** A dispatcher that sends at once, retries within milliseconds, and may call 127.0.0.1. */
const sending = { WEBHOOK_DISPATCH: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_POLL_MS: '50', WEBHOOK_RETRY_SCALE: '0.0001', PUBLIC_URL }

type Received = { url: string, headers: IncomingHttpHeaders, body: string, status: number }
type Answer = (req: IncomingMessage, body: string, n: number) => number | 'hang'

/** An HTTP server on 127.0.0.1 that records every request and answers as `answer` says. */
async function receiver (t: Test, answer: Answer = () => 200) {
  const received: Received[] = []
  const hanging: ServerResponse[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const status = answer(req, body, received.length + 1)
      received.push({ url: req.url ?? '', headers: req.headers, body, status: status === 'hang' ? 0 : status })
      if (status === 'hang') { hanging.push(res); return }
      res.writeHead(status, { 'content-type': 'text/plain', ...(status >= 300 && status < 400 && { location: 'https://elsewhere.example.test/' }) })
      res.end(req.url === '/big' ? 'x'.repeat(1024 * 1024) : status >= 400 ? 'receiver says no' : 'ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => {
    for (const res of hanging) res.destroy()
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hooks`, port, received }
}

/** Waits for a condition the dispatcher brings about (it runs on its own); fails after 20 s. */
async function until<T> (what: string, check: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`waited 20 s for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function expectStatus (t: Test, res: { statusCode: number, body: string }, status: number) {
  t.equal(res.statusCode, status, `status ${status}`, { body: res.body })
  return res.statusCode === 204 ? {} : JSON.parse(res.body)
}

async function createHook (t: Test, h: Harness, body: Record<string, unknown>) {
  return expectStatus(t, await call(h.app, 'POST', '/v1/webhooks', { token: h.admin.token, body }), 201) as { id: string, secret: string, [k: string]: unknown }
}

const deliveriesOf = (h: Harness, webhookId: string) =>
  h.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId)).orderBy(webhookDeliveries.seq, webhookDeliveries.createdAt)

const attemptsOf = (h: Harness, deliveryId: string) =>
  h.database.db.select().from(webhookAttempts).where(eq(webhookAttempts.deliveryId, deliveryId)).orderBy(webhookAttempts.attempt)

async function publishArticle (t: Test, h: Harness, headline: string) {
  const draft = expectStatus(t, await call(h.app, 'POST', '/v1/articles', { token: h.editor.token, body: { headline, body: [{ type: 'paragraph', text: 'Words.' }] } }), 201)
  expectStatus(t, await call(h.app, 'POST', `/v1/articles/${draft.id}/publish`, { token: h.editor.token }), 200)
  return draft as { id: string, slug: string }
}

const verify = (secret: string, r: Received) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>)

t.test('endpoints: create shows the secret once, reads never do; update with If-Match; delete', async (t) => {
  const h = await build(t)
  const res = await call(h.app, 'POST', '/v1/webhooks', {
    token: h.admin.token,
    body: { url: 'https://hooks.example.test/dateline', events: ['article.published', 'article.*'], description: 'Site purger' }
  })
  const created = expectStatus(t, res, 201)
  t.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/, 'a whsec_ secret of 32 random bytes')
  t.equal(Buffer.from(created.secret.slice(6), 'base64').length, 32)
  t.equal(res.headers.location, `/v1/webhooks/${created.id}`)
  t.equal(res.headers['cache-control'], 'no-store', 'the answer holding the secret is not cached')
  t.match(created, { url: 'https://hooks.example.test/dateline', events: ['article.published', 'article.*'], enabled: true, disabledReason: null, description: 'Site purger', previousSecretExpiresAt: null })

  const one = await call(h.app, 'GET', `/v1/webhooks/${created.id}`, { token: h.admin.token })
  const got = expectStatus(t, one, 200)
  t.notOk('secret' in got, 'GET one has no secret')
  t.notOk(one.body.includes(created.secret.slice(6, 20)), 'nor any part of it')
  const list = await call(h.app, 'GET', '/v1/webhooks?total=true', { token: h.admin.token })
  const page = expectStatus(t, list, 200)
  t.equal(page.meta.total, 1)
  t.equal(page.data[0].id, created.id)
  t.notOk(list.body.includes('secret') || list.body.includes(created.secret.slice(6, 20)), 'the list has no secret')
  const { secret: _secret, ...withoutSecret } = created
  t.same(got, withoutSecret, 'GET answers what the create did, less the secret')

  // If-Match, as everywhere.
  const stale = await call(h.app, 'PATCH', `/v1/webhooks/${created.id}`, { token: h.admin.token, body: { enabled: false }, headers: { 'if-match': '"9-aaaaaaaaaaaaaaaaaaaaaa"' } })
  expectStatus(t, stale, 412)
  const patched = await call(h.app, 'PATCH', `/v1/webhooks/${created.id}`, { token: h.admin.token, body: { enabled: false, events: ['*'], description: null }, headers: { 'if-match': one.headers.etag as string } })
  t.match(expectStatus(t, patched, 200), { enabled: false, events: ['*'], description: null })
  t.not(patched.headers.etag, one.headers.etag, 'a new version, a new ETag')
  t.notOk(patched.body.includes('secret'))
  const again = await call(h.app, 'PATCH', `/v1/webhooks/${created.id}`, { token: h.admin.token, body: { enabled: true }, headers: { 'if-match': one.headers.etag as string } })
  expectStatus(t, again, 412)

  // The rotation answers the new secret once; reads still show none.
  const rotated = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${created.id}/rotate-secret`, { token: h.admin.token, body: { graceSeconds: 3600 } }), 200)
  t.match(rotated.secret, /^whsec_/)
  t.not(rotated.secret, created.secret)
  t.ok(Date.parse(rotated.previousSecretExpiresAt) > Date.now() + 3500_000, 'the old secret signs for the grace period')
  const afterRotation = await call(h.app, 'GET', `/v1/webhooks/${created.id}`, { token: h.admin.token })
  t.notOk(afterRotation.body.includes(rotated.secret.slice(6, 20)) || afterRotation.body.includes('"secret"'), 'GET after a rotation shows no secret')
  t.equal(afterRotation.json().previousSecretExpiresAt, rotated.previousSecretExpiresAt)
  const keyed = await call(h.app, 'POST', `/v1/webhooks/${created.id}/rotate-secret`, { token: h.admin.token, headers: { 'idempotency-key': 'k1' } })
  t.equal(keyed.statusCode, 400, 'an Idempotency-Key is refused where the answer holds a secret')

  const deleted = await call(h.app, 'DELETE', `/v1/webhooks/${created.id}`, { token: h.admin.token, headers: { 'if-match': afterRotation.headers.etag as string } })
  expectStatus(t, deleted, 204)
  expectStatus(t, await call(h.app, 'GET', `/v1/webhooks/${created.id}`, { token: h.admin.token }), 404)
  expectStatus(t, await call(h.app, 'GET', `/v1/webhooks/${created.id}/deliveries`, { token: h.admin.token }), 404)
})

t.test('validation names the field; only admins may manage webhooks', async (t) => {
  const h = await build(t)
  const bad = async (body: unknown, path: string, message?: RegExp) => {
    const res = await call(h.app, 'POST', '/v1/webhooks', { token: h.admin.token, body })
    const problem = expectStatus(t, res, 400)
    t.equal(problem.errors?.[0]?.path, path, `${JSON.stringify(body)}: names ${path}`)
    if (message) t.match(problem.errors[0].message, message)
  }
  await bad({ url: 'ftp://files.example.test/', events: ['*'] }, '/url', /http/)
  await bad({ url: 'not a url', events: ['*'] }, '/url')
  await bad({ url: 'https://user:secret@hooks.example.test/', events: ['*'] }, '/url', /credentials/)
  await bad({ url: 'https://hooks.example.test/', events: ['article.published', 'article.publish'] }, '/events/1', /not a known event/)
  await bad({ url: 'https://hooks.example.test/', events: ['nothing.*'] }, '/events/0')
  await bad({ url: 'https://hooks.example.test/', events: [] }, '/events')
  await bad({ url: 'https://hooks.example.test/' }, '/events')
  await bad({ events: ['*'] }, '/url')
  await bad({ url: 'https://hooks.example.test/', events: ['*'], secret: 'whsec_mine' }, '/secret')
  const hook = await createHook(t, h, { url: 'https://hooks.example.test/', events: ['*'] })
  const rotate = await call(h.app, 'POST', `/v1/webhooks/${hook.id}/rotate-secret`, { token: h.admin.token, body: { graceSeconds: 8 * 86400 } })
  t.equal(expectStatus(t, rotate, 400).errors[0].path, '/graceSeconds', 'a grace period over 7 days is refused')
  const patch = await call(h.app, 'PATCH', `/v1/webhooks/${hook.id}`, { token: h.admin.token, body: { url: 'javascript:alert(1)' } })
  t.equal(expectStatus(t, patch, 400).errors[0].path, '/url')

  for (const [who, token, status] of [['an editor', h.editor.token, 403], ['an author', h.author.token, 403], ['anonymous', undefined, 401]] as const) {
    t.equal((await call(h.app, 'GET', '/v1/webhooks', { token })).statusCode, status, `${who}: ${status} on the list`)
    t.equal((await call(h.app, 'POST', '/v1/webhooks', { token, body: { url: 'https://x.example.test/', events: ['*'] } })).statusCode, status, `${who}: ${status} on create`)
    t.equal((await call(h.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token })).statusCode, status, `${who}: ${status} on ping`)
  }
})

t.test('a publish is delivered, signed per Standard Webhooks, to the endpoints that asked for it', async (t) => {
  const h = await build(t, { env: sending })
  const r = await receiver(t)
  const hook = await createHook(t, h, { url: r.url, events: ['article.published'] })
  const all = await createHook(t, h, { url: `${r.url}?all`, events: ['*'] })

  // An author's change first: only the endpoint that wants every event gets it.
  expectStatus(t, await call(h.app, 'POST', '/v1/authors', { token: h.editor.token, body: { name: 'Zara Stringer' } }), 201)
  const article = await publishArticle(t, h, 'Flood waters recede')
  const published = await until('the publish to arrive', () => r.received.find((x) => x.url === '/hooks'))

  const payload = verify(hook.secret, published) as Record<string, any>
  t.pass('standardwebhooks verifies the delivery with the endpoint\'s secret')
  t.equal(payload.type, 'article.published')
  t.match(payload.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.match(payload.data, { entity: 'article', id: article.id, event: 'article.published', slug: article.slug, url: `${PUBLIC_URL}/v1/articles/${article.id}` })
  t.type(payload.data.seq, 'number')
  t.equal(published.headers['content-type'], 'application/json')
  t.match(published.headers['user-agent'], /^Dateline-Webhooks\//)
  t.match(published.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/, 'one signature when no rotation is under way')
  t.ok(Math.abs(Number(published.headers['webhook-timestamp']) - Date.now() / 1000) < 300, 'the timestamp is this attempt\'s unix time')
  t.throws(() => verify(all.secret, published), 'another endpoint\'s secret does not verify it')
  t.throws(() => new Webhook(hook.secret).verify(published.body.replace('flood', 'fl00d'), published.headers as Record<string, string>), 'a changed body does not verify')

  // The delivery log.
  const log = await until('the log to show it delivered', async () => {
    const body = (await call(h.app, 'GET', `/v1/webhooks/${hook.id}/deliveries`, { token: h.admin.token })).json()
    return body.data.length === 1 && body.data[0].state === 'delivered' && body
  })
  t.match(log.data[0], { id: published.headers['webhook-id'], event: 'article.published', seq: payload.data.seq, state: 'delivered', attempts: 1, lastStatus: 200, lastError: null, nextAttemptAt: null })
  t.type(log.data[0].lastDurationMs, 'number')
  t.ok(log.data[0].deliveredAt)
  const rows = await deliveriesOf(h, hook.id)
  t.equal(rows.length, 1, 'the author change, earlier in the log, made no delivery for an endpoint that did not ask for it')
  t.equal(rows[0].body, published.body, 'the stored body is the exact bytes sent and signed')

  const everything = await until('both changes at the catch-all endpoint', () => {
    const got = r.received.filter((x) => x.url === '/hooks?all')
    return got.length >= 2 && got
  })
  // Different entities may go out in parallel: in log order by seq, not necessarily by arrival.
  everything.sort((a, b) => JSON.parse(a.body).data.seq - JSON.parse(b.body).data.seq)
  t.same(everything.map((x) => JSON.parse(x.body).type), ['author.created', 'article.published'], 'the catch-all endpoint got both')
  everything.forEach((x) => verify(all.secret, x))
  const author = JSON.parse(everything[0].body)
  t.match(author.data, { entity: 'author', event: 'author.created' })
  t.match(author.data.url, new RegExp(`^${PUBLIC_URL}/v1/authors/`))
})

t.test('an endpoint gets only the changes made after it was created', async (t) => {
  // Writes happen on an instance that sends nothing; a second instance over the same database sends.
  const writer = await build(t)
  const r = await receiver(t)
  const before = await publishArticle(t, writer, 'Before the webhook')
  const hook = await createHook(t, writer, { url: r.url, events: ['*'] })
  const after = await publishArticle(t, writer, 'After the webhook')
  const worker = await build(t, { env: sending, database: writer.database })
  await until('the later change to arrive', () => r.received.some((x) => x.body.includes(after.id)))
  await worker.app.webhooks.idle()
  const rows = await deliveriesOf(worker, hook.id)
  t.same(rows.filter((d) => d.entity === 'article').map((d) => d.entityId), [after.id], 'no delivery for the change made before the endpoint')
  t.notOk(r.received.some((x) => x.body.includes(before.id)))
})

t.test('a receiver that fails twice gets the delivery on the third attempt; every attempt is logged', async (t) => {
  const h = await build(t, { env: sending })
  const r = await receiver(t, (_req, _body, n) => (n <= 2 ? 500 : 200))
  const hook = await createHook(t, h, { url: r.url, events: ['*'] })
  const ping = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: h.admin.token }), 202)
  t.match(ping, { event: 'webhook.ping', state: 'pending', attempts: 0, seq: 0 })
  const [delivered] = await until('the delivery to succeed', async () => {
    const rows = await deliveriesOf(h, hook.id)
    return rows[0]?.state === 'delivered' && rows
  })
  t.equal(delivered.attempts, 3, 'delivered on attempt 3')
  t.equal(delivered.lastStatus, 200)
  t.equal(delivered.lastError, null)
  t.same(r.received.map((x) => x.status), [500, 500, 200])
  t.same(new Set(r.received.map((x) => x.headers['webhook-id'])), new Set([ping.id]), 'the same webhook-id on every attempt')
  r.received.forEach((x) => verify(hook.secret, x))
  const attempts = await attemptsOf(h, ping.id)
  t.same(attempts.map((a) => [a.attempt, a.status]), [[1, 500], [2, 500], [3, 200]])
  t.match(attempts[0].error, /^HTTP 500: receiver says no$/)
  t.equal(attempts[2].error, null)
  const [webhook] = await h.database.db.select().from(webhooks).where(eq(webhooks.id, hook.id))
  t.equal(webhook.failingSince, null, 'a success clears failingSince')
  t.same(JSON.parse(r.received[2].body), { type: 'webhook.ping', timestamp: JSON.parse(r.received[2].body).timestamp, data: { entity: 'webhook', id: hook.id, event: 'webhook.ping' } })
})

t.test('a delivery leased by an instance that died is sent by another once the lease runs out', async (t) => {
  const dead = await build(t)
  const r = await receiver(t)
  const hook = await createHook(t, dead, { url: r.url, events: ['*'] })
  const held = expectStatus(t, await call(dead.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: dead.admin.token }), 202)
  // What the dead instance left: a lease an hour ahead, as if it had claimed it and then died.
  await dead.database.db.update(webhookDeliveries).set({ leaseUntil: new Date(Date.now() + 3600_000) }).where(eq(webhookDeliveries.id, held.id))
  const other = expectStatus(t, await call(dead.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: dead.admin.token }), 202)

  const live = await build(t, { env: sending, database: dead.database })
  await until('the unleased ping to arrive', () => r.received.some((x) => x.headers['webhook-id'] === other.id))
  await live.app.webhooks.idle()
  t.notOk(r.received.some((x) => x.headers['webhook-id'] === held.id), 'a lease still running is left alone')

  // The lease runs out: the live instance sends it.
  await dead.database.db.update(webhookDeliveries).set({ leaseUntil: new Date(Date.now() - 1000) }).where(eq(webhookDeliveries.id, held.id))
  const got = await until('the abandoned delivery to arrive', () => r.received.find((x) => x.headers['webhook-id'] === held.id))
  verify(hook.secret, got)
  const [row] = await until('it to be recorded', async () => {
    const rows = await dead.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, held.id))
    return rows[0]?.state === 'delivered' && rows
  })
  t.equal(row.attempts, 1)
  t.equal(row.leaseUntil, null)
})

t.test('an instance stopped mid-delivery gives its lease back, and another sends it again with the same webhook-id', async (t) => {
  const first = await build(t, { env: sending })
  const r = await receiver(t, (_req, _body, n) => (n === 1 ? 'hang' : 200))
  // Pings go to every endpoint; the second instance's own start-up changes (its staff) do not go to this one.
  const hook = await createHook(t, first, { url: r.url, events: ['article.published'] })
  const ping = expectStatus(t, await call(first.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: first.admin.token }), 202)
  await until('the first attempt to reach the receiver', () => r.received.length === 1)
  const [leased] = await first.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, ping.id))
  t.ok(leased.leaseUntil, 'the delivery is leased while it is sent')
  await first.app.close()
  const second = await build(t, { env: sending, database: first.database })
  await until('the second attempt', () => r.received.length === 2 && r.received[1].status === 200)
  t.equal(r.received[1].headers['webhook-id'], ping.id, 'the same webhook-id, so the receiver can de-duplicate')
  const [row] = await until('it to be recorded', async () => {
    const rows = await second.database.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, ping.id))
    return rows[0]?.state === 'delivered' && rows
  })
  t.equal(row.attempts, 1, 'the interrupted attempt is not counted against the endpoint')
})

t.test('an entity\'s changes reach an endpoint in order, even when the first has to be retried', async (t) => {
  const writer = await build(t)
  const tries = new Map<string, number>()
  const r = await receiver(t, (_req, body) => {
    const { type, data } = JSON.parse(body)
    tries.set(`${type} ${data.id}`, (tries.get(`${type} ${data.id}`) ?? 0) + 1)
    if (type === 'article.published' && tries.get(`${type} ${data.id}`)! <= 2) return 503
    return 200
  })
  const hook = await createHook(t, writer, { url: r.url, events: ['article.*'] })
  const article = await publishArticle(t, writer, 'Order matters')
  expectStatus(t, await call(writer.app, 'PATCH', `/v1/articles/${article.id}`, { token: writer.editor.token, body: { standfirst: 'Updated once' } }), 200)
  expectStatus(t, await call(writer.app, 'PATCH', `/v1/articles/${article.id}`, { token: writer.editor.token, body: { standfirst: 'Updated twice' } }), 200)
  const other = await publishArticle(t, writer, 'Another story')

  await build(t, { env: sending, database: writer.database })
  await until('all four changes delivered', async () => {
    const rows = await deliveriesOf(writer, hook.id)
    return rows.length === 4 && rows.every((d) => d.state === 'delivered')
  })
  const forArticle = r.received.filter((x) => JSON.parse(x.body).data.id === article.id).map((x) => `${JSON.parse(x.body).type} ${x.status}`)
  t.same(forArticle, ['article.published 503', 'article.published 503', 'article.published 200', 'article.updated 200', 'article.updated 200'],
    'nothing later of the same article went out while its first change was being retried')
  const updates = r.received.filter((x) => x.status === 200 && JSON.parse(x.body).type === 'article.updated').map((x) => JSON.parse(x.body).data.seq)
  t.ok(updates[0] < updates[1], 'the updates in log order')
  t.ok(r.received.some((x) => JSON.parse(x.body).data.id === other.id), 'another article was not held up')
})

t.test('during a rotation both secrets sign; after the grace period only the new one', async (t) => {
  const h = await build(t, { env: sending })
  const r = await receiver(t)
  const hook = await createHook(t, h, { url: r.url, events: ['*'] })
  const rotated = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/rotate-secret`, { token: h.admin.token }), 200)
  t.ok(Math.abs(Date.parse(rotated.previousSecretExpiresAt) - (Date.now() + 86400_000)) < 60_000, 'a day of grace by default')
  const first = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: h.admin.token }), 202)
  const during = await until('the ping during the grace period', () => r.received.find((x) => x.headers['webhook-id'] === first.id))
  t.equal(String(during.headers['webhook-signature']).split(' ').length, 2, 'two signatures, space-separated')
  verify(rotated.secret, during)
  verify(hook.secret, during)
  t.pass('both the new and the old secret verify it')

  const again = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/rotate-secret`, { token: h.admin.token, body: { graceSeconds: 0 } }), 200)
  t.equal(again.previousSecretExpiresAt, null)
  const second = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: h.admin.token }), 202)
  const after = await until('the ping after the rotation', () => r.received.find((x) => x.headers['webhook-id'] === second.id))
  t.equal(String(after.headers['webhook-signature']).split(' ').length, 1)
  verify(again.secret, after)
  t.throws(() => verify(rotated.secret, after), 'the replaced secret no longer verifies')

  // A grace period that has run out: the old secret no longer signs.
  const third = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/rotate-secret`, { token: h.admin.token, body: { graceSeconds: 60 } }), 200)
  await h.database.db.update(webhooks).set({ previousSecretExpiresAt: new Date(Date.now() - 1000) }).where(eq(webhooks.id, hook.id))
  const last = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: h.admin.token }), 202)
  const expired = await until('the ping after the grace period', () => r.received.find((x) => x.headers['webhook-id'] === last.id))
  t.equal(String(expired.headers['webhook-signature']).split(' ').length, 1)
  verify(third.secret, expired)
})

t.test('redeliver sends a delivery again with the same id and body', async (t) => {
  const h = await build(t, { env: sending })
  const r = await receiver(t)
  const hook = await createHook(t, h, { url: r.url, events: ['*'] })
  const ping = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: h.admin.token }), 202)
  await until('the delivery', async () => (await deliveriesOf(h, hook.id))[0]?.state === 'delivered')
  const again = expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/deliveries/${ping.id}/redeliver`, { token: h.admin.token }), 202)
  t.match(again, { id: ping.id, state: 'pending', attempts: 0, deliveredAt: null })
  await until('the redelivery', () => r.received.length === 2)
  t.equal(r.received[1].headers['webhook-id'], ping.id)
  t.equal(r.received[1].body, r.received[0].body, 'the same body')
  verify(hook.secret, r.received[1])
  const [row] = await until('it to be recorded', async () => {
    const rows = await deliveriesOf(h, hook.id)
    return rows[0]?.state === 'delivered' && rows
  })
  t.equal(row.attempts, 1, 'a fresh count')
  t.same((await attemptsOf(h, ping.id)).map((a) => a.attempt), [1, 2], 'the attempt log keeps both')
  expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/deliveries/00000000-0000-4000-8000-000000000000/redeliver`, { token: h.admin.token }), 404)
  const otherHook = await createHook(t, h, { url: r.url, events: ['*'] })
  expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${otherHook.id}/deliveries/${ping.id}/redeliver`, { token: h.admin.token }), 404)
})

t.test('outbound safety: private addresses, redirects, timeouts; an endpoint that keeps failing is disabled', async (t) => {
  t.equal(refusal('8.8.8.8'), null, 'a public address may be called')
  t.equal(refusal('2606:4700::1111'), null)
  for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '::']) {
    t.not(refusal(address), null, `${address} is refused`)
  }

  const h = await build(t, { env: { ...sending, WEBHOOK_ALLOW_PRIVATE: 'false', WEBHOOK_MAX_ATTEMPTS: '2' } })
  const r = await receiver(t)
  const literal = await createHook(t, h, { url: r.url, events: ['*'] })
  const named = await createHook(t, h, { url: `http://localhost:${r.port}/hooks`, events: ['*'] })
  for (const hook of [literal, named]) expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: h.admin.token }), 202)
  for (const [hook, what] of [[literal, /^refused: 127\.0\.0\.1 is a loopback address; set WEBHOOK_ALLOW_PRIVATE=true/], [named, /^refused: localhost resolves to a private address \((127\.0\.0\.1|::1) is a loopback address\)/]] as const) {
    const [row] = await until('the delivery to give up', async () => {
      const rows = await deliveriesOf(h, hook.id)
      return rows[0]?.state === 'failed' && rows
    })
    t.equal(row.attempts, 2)
    t.equal(row.lastStatus, null)
    t.match(row.lastError, what)
    const attempts = await attemptsOf(h, row.id)
    t.equal(attempts.length, 2, 'both attempts are logged as failed')
    const webhook = expectStatus(t, await call(h.app, 'GET', `/v1/webhooks/${hook.id}`, { token: h.admin.token }), 200)
    t.equal(webhook.enabled, false, 'an endpoint none of whose attempts succeeded through a whole delivery is disabled')
    t.match(webhook.disabledReason, /failed all 2 attempts/)
    t.ok(webhook.failingSince)
  }
  t.equal(r.received.length, 0, 'nothing was sent to a private address')

  // Disabled: new changes pass it by; enabling it again clears the reason.
  const enabled = expectStatus(t, await call(h.app, 'PATCH', `/v1/webhooks/${literal.id}`, { token: h.admin.token, body: { enabled: true } }), 200)
  t.match(enabled, { enabled: true, disabledReason: null, failingSince: null })
  const log = expectStatus(t, await call(h.app, 'GET', `/v1/webhooks/${literal.id}/deliveries?state=failed`, { token: h.admin.token }), 200)
  t.equal(log.data.length, 1)
  t.match(log.data[0], { state: 'failed', attempts: 2, nextAttemptAt: null, lastStatus: null })

  // Redirects are not followed; a receiver too slow is cut off.
  const slow = await build(t, { env: { ...sending, WEBHOOK_TIMEOUT_MS: '300', WEBHOOK_MAX_ATTEMPTS: '1' } })
  const odd = await receiver(t, (req) => (req.url?.includes('moved') ? 302 : 'hang'))
  const moved = await createHook(t, slow, { url: `${odd.url}/moved`, events: ['*'] })
  const stuck = await createHook(t, slow, { url: `${odd.url}/stuck`, events: ['*'] })
  for (const hook of [moved, stuck]) expectStatus(t, await call(slow.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: slow.admin.token }), 202)
  const [redirected] = await until('the redirect to fail', async () => { const rows = await deliveriesOf(slow, moved.id); return rows[0]?.state === 'failed' && rows })
  t.equal(redirected.lastStatus, 302)
  t.match(redirected.lastError, /^HTTP 302: redirects are not followed \(to https:\/\/elsewhere\.example\.test\/\)/)
  t.equal(odd.received.filter((x) => x.headers.host?.includes('elsewhere')).length, 0)
  const big = await receiver(t, () => 500)
  const chatty = await createHook(t, slow, { url: big.url.replace('/hooks', '/big'), events: ['*'] })
  expectStatus(t, await call(slow.app, 'POST', `/v1/webhooks/${chatty.id}/ping`, { token: slow.admin.token }), 202)
  const [tooLong] = await until('the long answer', async () => { const rows = await deliveriesOf(slow, chatty.id); return rows[0]?.state === 'failed' && rows })
  t.equal(tooLong.lastStatus, 500)
  t.ok(tooLong.lastError!.length < 220, 'a few hundred characters of the answer are kept, no more')
  const [timedOut] = await until('the timeout', async () => { const rows = await deliveriesOf(slow, stuck.id); return rows[0]?.state === 'failed' && rows })
  t.equal(timedOut.lastStatus, null)
  t.equal(timedOut.lastError, 'timed out after 300 ms')
})

t.test('the retry schedule: about a day in all, with jitter', async (t) => {
  const total = RETRY_SCHEDULE_SECONDS.reduce((a, b) => a + b, 0)
  t.ok(total > 20 * 3600 && total < 26 * 3600, `${total} s in all`)
  t.equal(retryDelayMs(1, 1, () => 0.5), 5000, 'the first wait is 5 s')
  t.equal(retryDelayMs(1, 1, () => 0), 4000, 'jitter takes up to 20% off')
  t.equal(retryDelayMs(1, 1, () => 1), 6000, 'and adds up to 20%')
  t.equal(retryDelayMs(99, 1, () => 0.5), 28_800_000, 'past the table, the last wait')
  t.equal(retryDelayMs(2, 0.001, () => 0.5), 30, 'WEBHOOK_RETRY_SCALE shrinks it')
})

t.test('deliveries page newest first', async (t) => {
  const h = await build(t)
  const hook = await createHook(t, h, { url: 'https://hooks.example.test/', events: ['*'] })
  const ids: string[] = []
  for (let i = 0; i < 5; i++) ids.push(expectStatus(t, await call(h.app, 'POST', `/v1/webhooks/${hook.id}/ping`, { token: h.admin.token }), 202).id)
  // Distinct creation times, oldest first.
  for (const [i, id] of ids.entries()) await h.database.db.execute(sql`update webhook_deliveries set created_at = now() - make_interval(secs => ${10 - i}) where id = ${id}`)
  const first = expectStatus(t, await call(h.app, 'GET', `/v1/webhooks/${hook.id}/deliveries?limit=3&total=true`, { token: h.admin.token }), 200)
  t.equal(first.meta.total, 5)
  const second = expectStatus(t, await call(h.app, 'GET', `/v1/webhooks/${hook.id}/deliveries?limit=3&cursor=${first.meta.nextCursor}`, { token: h.admin.token }), 200)
  t.same([...first.data, ...second.data].map((d: { id: string }) => d.id), [...ids].reverse())
  t.equal(second.meta.nextCursor, null)
})
