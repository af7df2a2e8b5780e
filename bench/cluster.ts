// npm run cluster -- [--instances 3] [--duration 5]: several instances on one machine, as a
// newsroom that outgrows one server runs them, and the checks that only such a setup can make.
//
// Needs root and Debian's PostgreSQL tools (pg_createcluster, pg_basebackup), nginx (Debian's
// nginx-light) and Redis (REDIS_URL, default redis://127.0.0.1:6379). It starts a PostgreSQL
// primary and a streaming replica (clusters of its own on free ports), N API instances over them
// with Redis and one shared media folder, and nginx in front (round robin, retrying a read on
// another instance when one fails). Then it measures, all on loopback:
// 1. stale reads: after each write through one instance, an anonymous read from every other;
// 2. uploads: a photo uploaded through one instance, fetched from each;
// 3. a killed instance: reads through nginx while one instance is killed (SIGKILL);
// 4. limits through the balancer: bad tokens from one client spread over the instances, and a
//    client that forges X-Forwarded-For;
// 5. read throughput through nginx (autocannon): cached, then uncached with and without the replica.
// Everything it started is stopped and dropped at the end, on errors and on Ctrl-C alike.
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import sharp from 'sharp'
import { openDatabase } from '../src/db/client.js'
import { seedDemo } from '../src/cli/seed-data.js'
import { localStore } from '../src/modules/photos/storage.js'
import { createToken } from '../src/modules/tokens/service.js'
import { createUser } from '../src/modules/users/service.js'
import { createCluster, createReplica, sleep } from '../test/pg-clusters.js'
import { freePort, HOST, need, startNginx } from './balancer.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { values: argv } = parseArgs({ options: { instances: { type: 'string', default: '3' }, duration: { type: 'string', default: '5' } } })
const INSTANCES = Math.max(2, Number(argv.instances))
const DURATION = Math.max(1, Number(argv.duration))
// An instance migrates, seeds nothing and starts its follower: seconds on an idle machine, but
// much longer on a loaded one, so the wait is generous.
const READY_WITHIN_MS = 180_000
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const log = (line: string) => process.stdout.write(`${line}\n`)

// ---- clean-up of everything started --------------------------------------------------------

const cleanups: Array<() => unknown> = []
const owner = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }
async function cleanUp () {
  for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => {})
  cleanups.length = 0
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { cleanUp().finally(() => process.exit(130)) })

// ---- the instances and the balancer --------------------------------------------------------

type Instance = { child: ChildProcess, port: number, base: string }

/** Starts instance `n`; a restarted one takes its old port, so nginx needs no new configuration. */
async function startInstance (n: number, env: Record<string, string>, logDir: string, port?: number): Promise<Instance> {
  port ??= await freePort()
  const out = createWriteStream(path.join(logDir, `instance-${n}.log`), { flags: 'a' })
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: root, env: { ...process.env, ...env, PORT: String(port), HOST }, stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.pipe(out)
  child.stderr!.pipe(out)
  owner.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const base = `http://${HOST}:${port}`
  for (const deadline = Date.now() + READY_WITHIN_MS; ;) {
    if (child.exitCode !== null) throw new Error(`instance ${n} exited:\n${readFileSync(path.join(logDir, `instance-${n}.log`), 'utf8').slice(-2000)}`)
    if (await fetch(`${base}/health/ready`).then((r) => r.ok, () => false)) return { child, port, base }
    if (Date.now() > deadline) throw new Error(`instance ${n} was not ready within ${READY_WITHIN_MS / 1000} s`)
    await sleep(100)
  }
}

async function stopInstance (instance: Instance) {
  if (instance.child.exitCode !== null || instance.child.signalCode !== null) return
  const exited = new Promise((resolve) => instance.child.once('exit', resolve))
  instance.child.kill('SIGTERM')
  await exited
}

// ---- the checks ----------------------------------------------------------------------------

type Json = Record<string, any>
const api = async (base: string, pathname: string, init: { method?: string, token?: string, body?: unknown, headers?: Record<string, string> } = {}) => {
  const res = await fetch(base + pathname, {
    method: init.method ?? 'GET',
    headers: { ...(init.token && { authorization: `Bearer ${init.token}` }), ...(init.body !== undefined && { 'content-type': 'application/json' }), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body)
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: (text ? JSON.parse(text) : null) as Json }
}

async function staleReads (instances: Instance[], token: string, articleId: string, rounds: number) {
  let stale = 0
  let reads = 0
  for (let i = 0; i < rounds; i++) {
    const writer = instances[i % instances.length]
    const current = await api(writer.base, `/v1/articles/${articleId}`, { token })
    const headline = `Cluster round ${i}: ${Math.random().toString(36).slice(2, 8)}`
    const patched = await api(writer.base, `/v1/articles/${articleId}`, { method: 'PATCH', token, body: { headline }, headers: { 'if-match': current.headers.get('etag')! } })
    if (patched.status !== 200) throw new Error(`PATCH ${patched.status}: ${JSON.stringify(patched.json)}`)
    for (const reader of instances.filter((x) => x !== writer)) {
      const read = await api(reader.base, `/v1/articles/${articleId}`)
      reads++
      if (read.json.headline !== headline) stale++
    }
  }
  return { stale, reads }
}

async function limitsThroughBalancer (balancer: string) {
  const statuses: Record<string, number> = {}
  for (let i = 0; i < 30; i++) {
    // Half of them claim to come from elsewhere: nginx appends the address it saw, which counts.
    const headers: Record<string, string> = i % 2 ? { 'x-forwarded-for': `198.51.100.${i}` } : {}
    const res = await api(balancer, '/v1/users/me', { token: `dl_cluster_guess_${i}_${'x'.repeat(40)}`, headers })
    statuses[res.status] = (statuses[res.status] ?? 0) + 1
  }
  return statuses
}

async function uploadsEverywhere (instances: Instance[], token: string) {
  const image = await sharp({ create: { width: 800, height: 500, channels: 3, background: { r: Math.floor(Math.random() * 255), g: 90, b: 40 } } }).jpeg().toBuffer()
  const form = new FormData()
  form.append('caption', 'Cluster upload')
  form.append('file', new Blob([image], { type: 'image/jpeg' }), 'cluster.jpg')
  const res = await fetch(`${instances[0].base}/v1/photos`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form })
  const photo = await res.json() as Json
  if (res.status !== 201) throw new Error(`upload ${res.status}: ${JSON.stringify(photo)}`)
  // Staff read it (nothing public uses it yet, so anonymous readers would get a 404).
  const seen = await Promise.all(instances.map(async (x) => (await fetch(x.base + photo.renditions[0].url, { headers: { authorization: `Bearer ${token}` } })).status))
  return seen
}

async function killedInstance (balancer: string, victim: Instance, urls: string[]) {
  const statuses: Record<string, number> = {}
  let running = true
  const readers = Array.from({ length: 8 }, async (_, i) => {
    for (let n = i; running; n++) {
      const status = await fetch(balancer + urls[n % urls.length]).then((r) => r.arrayBuffer().then(() => r.status), () => 'error')
      statuses[status] = (statuses[status] ?? 0) + 1
    }
  })
  await sleep(1000)
  victim.child.kill('SIGKILL')
  await sleep(2000)
  running = false
  await Promise.all(readers)
  return statuses
}

async function throughput (balancer: string, url: string) {
  const result = await autocannon({ url: balancer + url, connections: 32, duration: DURATION })
  return { rps: Math.round(result.requests.average), p99: result.latency.p99, non2xx: result.non2xx, errors: result.errors }
}

// ---- the run -------------------------------------------------------------------------------

async function main () {
  if (process.getuid?.() !== 0) throw new Error('run as root: the PostgreSQL clusters are made with pg_createcluster')
  need('pg_createcluster', 'apt-get install postgresql-common postgresql')
  need('nginx', 'apt-get install nginx-light')
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dateline-cluster-'))
  owner.teardown(() => rm(dir, { recursive: true, force: true }))
  log(`Files and logs: ${dir}`)

  const primary = await createCluster(owner, `dateline_cluster_p_${process.pid}`)
  const replica = await createReplica(owner, primary, `dateline_cluster_r_${process.pid}`)
  log(`PostgreSQL: primary on port ${primary.port}, streaming replica on port ${replica.port}`)

  const media = path.join(dir, 'media')
  const database = await openDatabase({ url: primary.url, poolSize: 2 })
  await database.migrate()
  const seeded = await seedDemo(database.db, new Date(), localStore(media))
  const admin = await createUser(database.db, { name: 'Cluster Admin', email: 'cluster.admin@example.test', role: 'admin', authorId: null })
  const { secret: token } = await createToken(database.db, { userId: admin.id, label: 'cluster checks' })
  await database.close()
  log(`Content: ${seeded.articles.total} demo articles, ${seeded.photos} photos`)

  const env = (extra: Record<string, string> = {}) => ({
    DATABASE_URL: primary.url, DATABASE_READ_URL: replica.url, REDIS_URL, REDIS_PREFIX: `cluster-${process.pid}:`,
    TRUST_PROXY: '1', MEDIA_DIR: media, LOG_LEVEL: 'warn', LOG_FORMAT: 'json', SEED_DEMO: 'false', ...extra
  })
  let instances = await Promise.all(Array.from({ length: INSTANCES }, (_, n) => startInstance(n, env(), dir)))
  const { base: balancer, stop: stopNginx } = await startNginx(dir, instances.map((x) => x.port))
  owner.teardown(stopNginx)
  log(`${INSTANCES} instances behind nginx at ${balancer}`)

  const list = await api(balancer, '/v1/articles?limit=10')
  const articleId = list.json.data[0].id as string

  const { stale, reads } = await staleReads(instances, token, articleId, 20)
  log(`1. Stale reads after a write through another instance: ${stale} of ${reads}`)
  const seen = await uploadsEverywhere(instances, token)
  log(`2. A photo uploaded through instance 0, fetched from each instance: ${seen.join(', ')}`)
  // Stale reads are counted, not judged: an instance may answer from its cache in the
  // milliseconds before the change reaches it. The rest must hold exactly.
  const problems: string[] = []
  if (seen.some((status) => status !== 200)) problems.push('an upload was not visible on every instance')
  const urls = [...list.json.data.map((a: Json) => `/v1/articles/${a.id}`), '/v1/articles?limit=10', '/v1/sections']
  const killed = await killedInstance(balancer, instances[1], urls)
  log(`3. Reads through nginx while instance 1 is killed: ${JSON.stringify(killed)}`)
  if (Object.keys(killed).some((status) => status !== '200')) problems.push('reads failed while an instance was killed')
  // Last of the checks with a token: afterwards this machine's address is blocked for a minute.
  const limits = await limitsThroughBalancer(balancer)
  log(`4. 30 bad tokens from one client through nginx (limit 20 a minute, half with a forged X-Forwarded-For): ${JSON.stringify(limits)}`)
  if (limits[401] !== 20 || limits[429] !== 10) problems.push('the failed-authentication limit did not hold through the balancer')
  instances[1] = await startInstance(1, env(), dir, instances[1].port)
  await sleep(5500) // nginx's fail_timeout: the restarted instance is back in rotation

  const cached = await throughput(balancer, `/v1/articles/${articleId}`)
  log(`5. Through nginx, ${DURATION} s, 32 connections: a cached article: ${cached.rps} req/s, p99 ${cached.p99} ms, non-2xx ${cached.non2xx}, errors ${cached.errors}`)
  for (const [label, extra] of [['with the replica', { PUBLIC_CACHE: 'false' }], ['primary only', { PUBLIC_CACHE: 'false', DATABASE_READ_URL: '' }]] as const) {
    await Promise.all(instances.map(stopInstance))
    instances = await Promise.all(instances.map((x, n) => startInstance(n, env(extra), dir, x.port)))
    const r = await throughput(balancer, '/v1/articles?limit=20&include=authors,section')
    log(`   uncached list of 20 (public cache off), ${label}: ${r.rps} req/s, p99 ${r.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`)
    if (r.non2xx + r.errors > 0) problems.push(`reads through nginx failed (${label})`)
  }
  if (cached.non2xx + cached.errors > 0) problems.push('cached reads through nginx failed')
  if (problems.length > 0) throw new Error(`the cluster checks found: ${problems.join('; ')}`)
}

try {
  await main()
} catch (error) {
  log(`cluster run failed: ${(error as Error).stack ?? error}`)
  process.exitCode = 1
} finally {
  await cleanUp()
}
