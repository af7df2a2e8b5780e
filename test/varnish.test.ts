// Outside caches: a real Varnish (deploy/varnish/default.vcl) in front of the API on a real
// socket, purged by the API's purger as changes commit; and a purge API (as Fastly's or
// Cloudflare's) played by a local HTTP receiver. Without varnishd and vmod xkey the Varnish suite
// skips, saying why, unless TEST_VARNISH_REQUIRED is set (as CI does).
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, request, type IncomingHttpHeaders } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { sql } from 'drizzle-orm'
import { rowsOf } from '../src/db/batch.js'
import { call, build, testDatabaseUrl, type Harness } from './helper.js'
import { expectStatus, makeSection, makeTag, post, published, type Json } from './articles-fixtures.js'
import { root } from './processes.js'

const VARNISHD = process.env.VARNISHD ?? '/usr/sbin/varnishd'
const VCL = path.join(root, 'deploy/varnish/default.vcl')

/** A port free right now (the OS's pick), for a server that takes its port on the command line. */
async function freePort (): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The VCL with its backend pointed at the API's port. */
const vclFor = (apiPort: number) => readFileSync(VCL, 'utf8').replace(/\.port = "\d+";/, `.port = "${apiPort}";`)

/**
 * A folder for varnishd: it makes its work folder inside itself, and as root hands it to its own
 * user, who must be able to reach it.
 */
function workDir () {
  const dir = mkdtempSync(path.join(tmpdir(), 'dateline-varnish-'))
  chmodSync(dir, 0o755)
  return dir
}

/** Why Varnish cannot run here, or false: varnishd must exist and compile the VCL (vmod xkey). */
function varnishMissing (): string | false {
  if (process.env.TEST_VARNISH_REQUIRED) return false
  if (!existsSync(VARNISHD)) return `no ${VARNISHD}: install varnish and varnish-modules (apt-get install varnish varnish-modules), or set VARNISHD`
  const dir = workDir()
  try {
    const compiled = spawnSync(VARNISHD, ['-C', '-n', path.join(dir, 'varnish'), '-f', VCL], { encoding: 'utf8' })
    if (compiled.status !== 0) return `varnishd cannot compile deploy/varnish/default.vcl (is vmod xkey from varnish-modules installed?): ${compiled.stderr.trim().split('\n').slice(-3).join(' ')}`
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return false
}

async function until<T> (what: string, probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Starts varnishd in the foreground with the project's VCL; stopped at teardown. */
async function startVarnish (t: Test, port: number, apiPort: number) {
  const dir = workDir()
  const vcl = path.join(dir, 'default.vcl')
  writeFileSync(vcl, vclFor(apiPort))
  const child = spawn(VARNISHD, ['-F', '-n', path.join(dir, 'varnish'), '-a', `127.0.0.1:${port}`, '-T', 'none', '-f', vcl, '-s', 'malloc,64m', '-p', 'vcc_allow_inline_c=off'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  })
  const base = `http://127.0.0.1:${port}`
  // Ready once its probe found the API healthy and it answers through it.
  await until(`varnishd on ${base} serving the API (output so far: ${output})`, async () => {
    if (child.exitCode !== null) throw new Error(`varnishd exited (${child.exitCode}): ${output}`)
    const res = await fetch(`${base}/health/live`).catch(() => undefined)
    return res?.status === 200
  })
  return base
}

/** Waits until the purger has purged every change recorded so far. */
async function purgedAll (h: Harness) {
  const [row] = await rowsOf<{ seq: string | number }>(h.database.db, sql`select coalesce(max(seq), 0) as seq from changes`)
  const last = Number(row.seq)
  await until(`the purger reaching change ${last}`, async () => (h.app.purger?.purged ?? -1) >= last)
}

type Read = { status: number, cache: string | null, headers: Headers, body: Json }

t.test('Varnish in front of the API: anonymous reads cached, a change purges exactly what it touched', { skip: varnishMissing() }, async (t) => {
  const varnishPort = await freePort()
  const h = await build(t, { env: { PUBLIC_CACHE: 'true', PURGE_VARNISH_URLS: `http://127.0.0.1:${varnishPort}`, PURGE_REPEAT_SECONDS: '0', CHANGES_POLL_MS: '200' } })
  const api = new URL(await h.app.listen({ port: 0, host: '127.0.0.1' }))
  const varnish = await startVarnish(t, varnishPort, Number(api.port))

  const read = async (url: string, headers: Record<string, string> = {}): Promise<Read> => {
    const res = await fetch(varnish + url, { headers })
    const text = await res.text()
    return { status: res.status, cache: res.headers.get('x-cache'), headers: res.headers, body: text.startsWith('{') ? JSON.parse(text) : {} }
  }
  const section = await makeSection(h, 'Politics')
  const a = await published(h, { headline: 'Council votes on the budget', sectionId: section.id, body: [{ type: 'paragraph', text: 'The council met.' }] })
  const b = await published(h, { headline: 'River floods the old town', body: [{ type: 'paragraph', text: 'Water rose.' }] })
  await purgedAll(h)
  const pageA = `/v1/articles/by-slug/${a.slug}`
  const pageB = `/v1/articles/by-slug/${b.slug}`
  const front = '/v1/articles?limit=10'

  await t.test('anonymous reads: a miss, then hits', async (t) => {
    for (const url of [pageA, pageB, front]) {
      const first = await read(url)
      t.equal(first.status, 200, url)
      t.equal(first.cache, 'MISS', `${url}: first read`)
      const second = await read(url)
      t.equal(second.cache, 'HIT', `${url}: second read`)
      t.same(second.body, first.body)
      t.equal(second.headers.get('cache-control'), h.config.PUBLIC_CACHE_CONTROL, 'the API\'s Cache-Control, for browsers')
      t.equal(second.headers.get('surrogate-key'), null, 'tags are not shown to clients')
      t.equal(second.headers.get('xkey'), null)
      t.ok(second.headers.get('cache-tag'), 'Cache-Tag is kept, for a CDN in front')
    }
    t.equal((await read(pageA)).body.headline, 'Council votes on the budget')
    const debug = await read(pageA, { 'x-cache-debug': '1' })
    t.ok(debug.headers.get('surrogate-key'), 'shown when asked')
    t.same(debug.headers.get('surrogate-key')?.split(' ').sort(), debug.headers.get('cache-tag')?.split(',').sort())
  })

  await t.test('a request with a token always goes to the API, and is not cached', async (t) => {
    for (let i = 0; i < 2; i++) {
      const staff = await read(pageA, { authorization: `Bearer ${h.editor.token}` })
      t.equal(staff.status, 200)
      t.equal(staff.cache, 'PASS')
      t.equal(staff.headers.get('cache-control'), 'private, no-store')
    }
    const bad = await read(pageA, { authorization: 'Bearer nope' })
    t.equal(bad.status, 401, 'a bad token is refused, not served from the cache')
    t.equal((await read('/v1/articles/by-slug/no-such-story')).cache, 'PASS', 'a 404 is not cached')
    t.equal((await read('/v1/articles/by-slug/no-such-story')).cache, 'PASS')
  })

  await t.test('PURGE is only for the addresses in the ACL', async (t) => {
    // 127.0.0.2 is this machine too, but not in `acl purgers`.
    const status = await new Promise<number>((resolve, reject) => {
      request(`${varnish}/`, { method: 'PURGE', localAddress: '127.0.0.2', headers: { 'xkey-purge': 'al' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
        .on('error', reject).end()
    })
    t.equal(status, 403)
    t.equal((await read(front)).cache, 'HIT', 'nothing was purged')
  })

  await t.test('PURGE needs its header', async (t) => {
    const res = await fetch(varnish + '/', { method: 'PURGE' })
    t.equal(res.status, 400)
    const none = await fetch(varnish + '/', { method: 'PURGE', headers: { 'xkey-purge': 'no-such-tag' } })
    t.equal(none.status, 200)
    t.equal(none.headers.get('x-purged'), '0')
  })

  const tagsOfB = (await read(pageB, { 'x-cache-debug': '1' })).headers.get('surrogate-key')
  await t.test('an update to A: A is fresh through Varnish at once, B is still cached', async (t) => {
    const res = await call(h.app, 'PATCH', `/v1/articles/${a.id}`, { token: h.editor.token, body: { headline: 'Council passes the budget' } })
    expectStatus(res, 200)
    await purgedAll(h)
    const fresh = await read(pageA)
    t.equal(fresh.cache, 'MISS', 'A was purged')
    t.equal(fresh.body.headline, 'Council passes the budget')
    t.equal((await read(pageA)).cache, 'HIT', 'and is cached again')
    const list = await read(front)
    t.equal(list.cache, 'MISS', 'the front page lists A: purged too')
    t.ok(list.body.data.some((x: Json) => x.headline === 'Council passes the budget'))
    t.notMatch(String(tagsOfB), /untagged/, 'B\'s page carries its own tags')
    t.equal((await read(pageB)).cache, 'HIT', 'B was not touched')
  })

  await t.test('unpublishing A: its page is a 404 through Varnish, and the front page drops it', async (t) => {
    expectStatus(await call(h.app, 'POST', `/v1/articles/${a.id}/unpublish`, { token: h.editor.token }), 200)
    await purgedAll(h)
    const gone = await read(pageA)
    t.equal(gone.status, 404)
    t.not(gone.cache, 'HIT')
    const list = await read(front)
    t.equal(list.status, 200)
    t.notOk(list.body.data.some((x: Json) => x.id === a.id), 'A is no longer listed')
    t.ok(list.body.data.some((x: Json) => x.id === b.id), 'B still is')
    t.equal((await read(front)).cache, 'HIT')
    t.equal((await read(pageA)).status, 404, 'still a 404 on the next read')
  })

  await t.test('a soft purge expires what it names, and says how many', async (t) => {
    await read(pageB)
    const tags = (await read(pageB, { 'x-cache-debug': '1' })).headers.get('surrogate-key')
    t.ok(tags)
    const res = await fetch(varnish + '/', { method: 'PURGE', headers: { 'xkey-softpurge': tags! } })
    t.equal(res.status, 200)
    t.ok(Number(res.headers.get('x-purged')) >= 1, 'B\'s page among them')
    t.equal((await read(pageB)).status, 200, 'B is still served (a fresh copy is fetched meanwhile)')
  })
})

type Received = { method: string, url: string, headers: IncomingHttpHeaders, body: string }

/** A purge API on a local port: records each request; `fail` answers the next few with a 500. */
async function receiver (t: Test) {
  const received: Received[] = []
  const state = { fail: 0 }
  const server = createHttpServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => { body += d.toString() })
    req.on('end', () => {
      if (state.fail > 0) {
        state.fail--
        res.writeHead(500).end('{"success":false}')
        return
      }
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":true}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/purge`, received, state }
}

/** Every tag of the changes after `after`, and `untagged`. */
async function tagsSince (h: Harness, after: number) {
  const rows = await rowsOf<{ tags: string[] }>(h.database.db, sql`select tags from changes where seq > ${after}`)
  return [...new Set(['untagged', ...rows.flatMap((r) => r.tags)])].sort()
}

const lastSeq = async (h: Harness) => Number((await rowsOf<{ seq: string | number }>(h.database.db, sql`select coalesce(max(seq), 0) as seq from changes`))[0].seq)

t.test('a purge API: every tag of every change, in chunks, with the template and the headers', async (t) => {
  const cdn = await receiver(t)
  const h = await build(t, {
    env: {
      PURGE_URL: cdn.url,
      PURGE_HEADERS: 'Fastly-Key: k3y; Authorization: Bearer s3cret; Fastly-Soft-Purge: 1',
      PURGE_BODY_TEMPLATE: '{"surrogate_keys":{{tags_json}}}',
      PURGE_CHUNK_SIZE: '2',
      PURGE_REPEAT_SECONDS: '0',
      CHANGES_POLL_MS: '200'
    }
  })
  // The staff that build() made are changes too: purged before this starts.
  await purgedAll(h)
  cdn.received.length = 0
  const start = await lastSeq(h)
  const section = await makeSection(h, 'Sport')
  const tag = await makeTag(h, 'Cricket')
  await published(h, { headline: 'A late win', sectionId: section.id, tagIds: [tag.id], body: [{ type: 'paragraph', text: 'By one run.' }] })
  await purgedAll(h)
  const expected = await tagsSince(h, start)
  t.ok(expected.length > 4, 'several tags to purge')
  t.ok(cdn.received.length >= Math.ceil(expected.length / 2), 'in chunks of two')
  const sent: string[] = []
  for (const r of cdn.received) {
    t.equal(r.method, 'POST')
    t.equal(r.url, '/purge')
    t.equal(r.headers['fastly-key'], 'k3y')
    t.equal(r.headers.authorization, 'Bearer s3cret')
    t.equal(r.headers['fastly-soft-purge'], '1')
    t.equal(r.headers['content-type'], 'application/json')
    const body = JSON.parse(r.body) as { surrogate_keys: string[] }
    t.ok(body.surrogate_keys.length >= 1 && body.surrogate_keys.length <= 2, 'at most PURGE_CHUNK_SIZE tags a request')
    sent.push(...body.surrogate_keys)
  }
  t.same([...new Set(sent)].sort(), expected, 'every tag of the changes, and untagged')
  const [cursor] = await rowsOf<{ seq: string | number }>(h.database.db, sql`select seq from change_cursors where name = 'purge'`)
  t.equal(Number(cursor.seq), await lastSeq(h), 'the cursor moved past them')

  await t.test('a failed purge is tried again, and the cursor waits for it', async (t) => {
    cdn.received.length = 0
    cdn.state.fail = 1
    const before = await lastSeq(h)
    const renamed = await post(h, '/v1/sections', { name: 'Weather' })
    t.ok(renamed.id)
    await purgedAll(h)
    t.equal(cdn.state.fail, 0, 'the first try failed')
    t.same([...new Set(cdn.received.flatMap((r) => (JSON.parse(r.body) as { surrogate_keys: string[] }).surrogate_keys))].sort(), await tagsSince(h, before), 'then everything went out')
    t.equal(h.app.purger?.failures, 0)
  })
})

t.test('two instances on one database: each change is purged by one of them, once', { skip: testDatabaseUrl ? false : 'PGlite is one process\'s database: one purger' }, async (t) => {
  const cdn = await receiver(t)
  const env = { PURGE_URL: cdn.url, PURGE_BODY_TEMPLATE: '{{tags_space}}', PURGE_CHUNK_SIZE: '1000', PURGE_REPEAT_SECONDS: '0', CHANGES_POLL_MS: '100' }
  const one = await build(t, { env: { ...env, PURGE_HEADERS: 'X-Instance: one' } })
  const two = await build(t, { env: { ...env, PURGE_HEADERS: 'X-Instance: two' }, database: one.database })
  await purgedAll(one)
  await purgedAll(two)
  cdn.received.length = 0
  for (const [i, name] of ['Arts', 'Books', 'Film'].entries()) {
    const before = await lastSeq(one)
    await makeSection(i % 2 === 0 ? one : two, name)
    await purgedAll(one)
    await purgedAll(two)
    t.equal(cdn.received.length, i + 1, `${name}: one request`)
    t.same(cdn.received[i].body.split(' ').sort(), await tagsSince(one, before), 'with its tags')
  }
  t.equal(cdn.received[0].headers['content-type'], 'application/json', 'the default content type')
  t.ok(cdn.received.every((r) => r.headers['x-instance'] === 'one' || r.headers['x-instance'] === 'two'))
})
