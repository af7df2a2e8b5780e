// The benchmark: npm run bench -- [--articles N] [--duration S] [--warmup S] [--connections 50]
//                                  [--smoke] [--out FILE] [--seed TEXT] [--only key,key] [--keep-db] [--no-cache] [--db NAME]
//                                  [--profile DIR] [--cluster [--instances 3]]
//
// 1. A fresh database: `dateline_bench` (or --db NAME) on the PostgreSQL server of DATABASE_URL (dropped and
//    created again), or, without DATABASE_URL, an embedded PGlite database in a temporary DATA_DIR.
// 2. Migrations and the bulk seeder (bench/seed.ts), then an editor token made through the services.
// 3. The API server, compiled, as a child process (as the Dockerfile runs it), and the reference (a bare
//    Fastify server sending a body of the same size as an article page, bench/reference-server.ts)
//    as another. This process only sends load (autocannon, as a library) and samples the memory of
//    the process under test from /proc/<pid>/status.
// 4. Each scenario: a warm-up, then a fixed duration, 50 connections by default. The results go to
//    the terminal as a table and to a JSON file (default bench/results/<date>.json).
//
// The server runs with its default configuration, so anonymous reads of the same URL are answered
// from its in-process public cache after the first one; --no-cache starts it with PUBLIC_CACHE=false
// to measure the database paths instead.
//
// --cluster: the read scenarios through nginx in front of N instances, over a PostgreSQL primary and
// a streaming replica of the run's own (Debian's pg_createcluster, as root), with Redis and one
// media folder, as a newsroom that outgrows one server runs them; once with the replica taking the
// anonymous reads, then again with every instance restarted on the primary alone.
//
// --smoke: a few hundred articles and one-second runs without warm-up, for CI; it exits with 1 when
// a scenario gets an unexpected status or an error, or completes no request at all.
// Child processes are stopped at the end, on errors and on Ctrl-C alike. Traffic stays on 127.0.0.1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon, { type Options, type Result } from 'autocannon'
import pg from 'pg'
import sharp from 'sharp'
import { sql } from 'drizzle-orm'
import { rowsOf } from '../src/db/batch.js'
import { openDatabase } from '../src/db/client.js'
import { createContentKey } from '../src/modules/content-keys/service.js'
import { createToken } from '../src/modules/tokens/service.js'
import { createUser } from '../src/modules/users/service.js'
import { createCluster, createReplica } from '../test/pg-clusters.js'
import { freePort, HOST, need, startNginx } from './balancer.js'
import { seed, type SeedResult, type SeedTarget } from './seed.js'
import { webhookFanOut, type FanOutResult } from './webhook-fanout.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const INCLUDE = 'include=authors,leadPhoto,section,tags'

// ---- options -------------------------------------------------------------------------------

const { values: argv } = parseArgs({
  options: {
    articles: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    seed: { type: 'string', default: 'dateline' },
    only: { type: 'string' },
    db: { type: 'string', default: 'dateline_bench' },
    'keep-db': { type: 'boolean', default: false },
    'no-cache': { type: 'boolean', default: false },
    profile: { type: 'string' },
    cluster: { type: 'boolean', default: false },
    instances: { type: 'string', default: '3' }
  }
})

function numberOption (name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number of at least ${min}`)
  return n
}

const smoke = argv.smoke
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(argv.db)) throw new Error(`--db ${argv.db}: a database name of a-z, 0-9 and _`)
/** The database the run drops, seeds and uses on the DATABASE_URL server (--db). */
const BENCH_DB = argv.db
const options = {
  articles: Math.floor(numberOption('articles', argv.articles, smoke ? 300 : 100_000, 20)),
  duration: numberOption('duration', argv.duration, smoke ? 1 : 10, 1),
  warmup: numberOption('warmup', argv.warmup, smoke ? 0 : 3, 0),
  connections: Math.floor(numberOption('connections', argv.connections, 50, 1)),
  seed: argv.seed,
  only: argv.only ? new Set(argv.only.split(',').map((s) => s.trim())) : undefined,
  publicCache: !argv['no-cache'],
  /** --cluster: how many API instances run behind nginx; 0 without --cluster. */
  instances: argv.cluster ? Math.floor(numberOption('instances', argv.instances, 3, 1)) : 0
}
const cluster = options.instances > 0
/** Whether PostgreSQL runs on this machine, so its processes' CPU time can be read. */
const localPostgres = (() => {
  if (cluster) return true
  if (!process.env.DATABASE_URL) return false
  const host = new URL(process.env.DATABASE_URL).hostname
  return ['', 'localhost', '127.0.0.1', '[::1]'].includes(host)
})()
const startedAt = new Date()
const loadAtStart = os.loadavg()
const outFile = path.resolve(argv.out ?? path.join(root, 'bench', 'results', `${startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`))

const log = (line: string) => process.stderr.write(`${line}\n`)

// ---- child processes: always stopped ---------------------------------------------------------

const children = new Set<ChildProcess>()
const temporary: string[] = []
/** What else the run started (nginx, the PostgreSQL clusters of --cluster), undone last first. */
const teardowns: Array<() => unknown> = []
async function tearDown () {
  for (const fn of teardowns.reverse()) await Promise.resolve().then(fn).catch((error) => log(`clean-up: ${error}`))
  teardowns.length = 0
}
/** The servers' logs: removed after a clean run, kept (and named) after a failed one. */
const logs: string[] = []

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

function stopChild (child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (exited(child)) return Promise.resolve()
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => { clearTimeout(force); children.delete(child); resolve() })
    child.kill(signal)
  })
}

async function stopAll () {
  await Promise.all([...children].map((c) => stopChild(c)))
}

// Last resort when the runner itself dies: no server is left behind.
process.on('exit', () => { for (const c of children) if (!exited(c)) c.kill('SIGKILL') })
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`\n${signal}: stopping the servers`)
    stopAll().then(tearDown).finally(() => {
      for (const file of temporary) rmSync(file, { recursive: true, force: true })
      process.exit(130)
    })
  })
}

type Started = { child: ChildProcess, port: number, base: string, logFile: string }

/** Starts a server: compiled JavaScript runs as is, TypeScript through tsx. */
async function startProcess (name: string, script: string, env: NodeJS.ProcessEnv, readyPath: string, port?: number): Promise<Started> {
  port ??= await freePort()
  const logFile = path.join(os.tmpdir(), `dateline-bench-${name}-${process.pid}.log`)
  logs.push(logFile)
  const out = createWriteStream(logFile)
  // The compiled server runs as the Dockerfile runs it: its flags and malloc setting.
  const compiled = !script.endsWith('.ts')
  const flags = compiled ? ['--max-old-space-size=192'] : ['--import', 'tsx']
  // --profile DIR: the API writes a V8 CPU profile there when it stops.
  if (compiled && argv.profile) flags.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(argv.profile)}`)
  const child = spawn(process.execPath, [...flags, script], {
    cwd: root,
    env: { ...env, ...(compiled && { MALLOC_ARENA_MAX: '2' }), PORT: String(port), HOST },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  children.add(child)
  child.stdout!.pipe(out)
  child.stderr!.pipe(out)
  child.once('exit', () => children.delete(child))
  const base = `http://${HOST}:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (exited(child)) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logFile)}`)
    try {
      const res = await fetch(base + readyPath)
      if (res.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} was not ready within 60 s:\n${tail(logFile)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return { child, port, base, logFile }
}

function tail (file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

// ---- memory of the process under test ------------------------------------------------------

type Memory = { peakRssMb: number, hwmMb: number }

/** Samples the processes' memory; with several (--cluster), the figures of the largest. */
function sampleMemory (pids: number[]) {
  let peakRss = 0
  let hwm = 0
  const read = () => {
    for (const pid of pids) {
      const file = `/proc/${pid}/status`
      if (!existsSync(file)) continue
      try {
        const status = readFileSync(file, 'utf8')
        const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0)
        peakRss = Math.max(peakRss, kb('VmRSS'))
        hwm = Math.max(hwm, kb('VmHWM'))
      } catch {
        // the process is gone
      }
    }
  }
  read()
  const timer = setInterval(read, 200)
  return (): Memory => {
    clearInterval(timer)
    read()
    return { peakRssMb: Math.round(peakRss / 102.4) / 10, hwmMb: Math.round(hwm / 102.4) / 10 }
  }
}

const perRequest = (seconds: number, requests: number) => (requests > 0 ? Math.round((seconds * 1e6) / requests) : 0)

/** A process's command name and CPU time (user + system) in seconds, from /proc. */
function procStat (pid: number | string): { name: string, seconds: number } | undefined {
  try {
    // The command name is in parentheses and may hold spaces; the fields follow it.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = stat.lastIndexOf(') ')
    const fields = stat.slice(close + 2).split(' ')
    return { name: stat.slice(stat.indexOf('(') + 1, close), seconds: (Number(fields[11]) + Number(fields[12])) / 100 }
  } catch {
    return undefined // not on Linux, or the process ended meanwhile
  }
}

/** The CPU time the processes have used together, in seconds; 0 where /proc cannot say. */
const cpuSeconds = (pids: number[]): number => pids.reduce((sum, pid) => sum + (procStat(pid)?.seconds ?? 0), 0)

/** The CPU time of each local PostgreSQL process, in seconds, by pid. */
function postgresCpu (): Map<string, number> {
  const byPid = new Map<string, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(entry)
    if (stat?.name === 'postgres') byPid.set(entry, stat.seconds)
  }
  return byPid
}

/** What the database spent since `before`: processes that ended meanwhile are not counted. */
function postgresCpuSince (before: Map<string, number>): number {
  let total = 0
  for (const [pid, seconds] of postgresCpu()) total += seconds - (before.get(pid) ?? 0)
  return total
}

// ---- scenarios -------------------------------------------------------------------------------

type Scenario = {
  key: string
  name: string
  /** What autocannon sends; url is added. */
  load: () => Omit<Options, 'url'>
  /** Runs before each autocannon run (the warm-up and the measured one). */
  prepare?: () => Promise<void>
  /** The statuses that count as a success; 2xx unless said otherwise. */
  expected?: (status: number) => boolean
  reference?: boolean
  note?: string
  /** A write scenario: not run by --cluster, which measures reads. */
  writes?: boolean
  /** A key for `--only` that selects several rows together (`sitemaps`). */
  group?: string
  /** Work running beside the load, started before each run and stopped after it. */
  background?: () => Background
  /** Figures of the measured run beyond autocannon's (read after it). */
  report?: () => Record<string, number>
}

/** Writes sent beside a scenario's reads: how many, and how many failed. */
type Background = { stop: () => Promise<{ writes: number, failed: number }> }

type ScenarioResult = {
  key: string
  name: string
  note?: string
  reqPerSec: number
  latencyMs: { p50: number, p90: number, p99: number, max: number, mean: number }
  requests: number
  errors: number
  timeouts: number
  non2xx: number
  unexpected: number
  statusCodes: Record<string, number>
  bytesPerSec: number
  ratioToReference: number | null
  serverCpu: { percentOfCore: number, microsPerRequest: number }
  databaseCpu: { percentOfCore: number, microsPerRequest: number } | null
  memory: Memory
  /** The scenario's own figures (cache hits, writes beside the reads, ...). */
  details?: Record<string, number>
}

async function measure (base: string, pids: number[], scenario: Scenario): Promise<ScenarioResult> {
  const run = async (duration: number) => {
    await scenario.prepare?.()
    // autocannon takes a fixed path from the URL (a top-level `path` option is ignored).
    const { path: fixedPath, ...load } = scenario.load()
    const background = scenario.background?.()
    try {
      const result = await (autocannon({ url: base + (fixedPath ?? ''), connections: options.connections, duration, timeout: 30, ...load }) as Promise<Result>)
      return { result, writes: await background?.stop() }
    } catch (error) {
      await background?.stop()
      throw error
    }
  }
  if (options.warmup > 0) await run(options.warmup)
  const stopSampling = sampleMemory(pids)
  const cpuBefore = cpuSeconds(pids)
  // The reference never touches the database.
  const countDb = localPostgres && !scenario.reference
  const dbBefore = countDb ? postgresCpu() : new Map<string, number>()
  const { result: r, writes } = await run(options.duration)
  const cpu = cpuSeconds(pids) - cpuBefore
  const dbCpu = countDb ? postgresCpuSince(dbBefore) : 0
  const memory = stopSampling()
  const expected = scenario.expected ?? ((s: number) => s >= 200 && s < 300)
  const statusCodes: Record<string, number> = {}
  // A write beside the reads that failed is as unexpected as a read that did.
  let unexpected = r.errors + r.mismatches + (writes?.failed ?? 0)
  for (const [code, { count }] of Object.entries(r.statusCodeStats)) {
    statusCodes[code] = count
    if (!expected(Number(code))) unexpected += count
  }
  return {
    key: scenario.key,
    name: scenario.name,
    ...(scenario.note && { note: scenario.note }),
    reqPerSec: Math.round((r.requests.total / r.duration) * 10) / 10,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max, mean: Math.round(r.latency.mean * 100) / 100 },
    requests: r.requests.total,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    unexpected,
    statusCodes,
    bytesPerSec: Math.round(r.throughput.mean),
    ratioToReference: null,
    // What the server itself spent: when it is well below 100 % of a core, the load generator
    // sharing the machine is the limit, not the server.
    serverCpu: { percentOfCore: Math.round((cpu / r.duration) * 1000) / 10, microsPerRequest: perRequest(cpu, r.requests.total) },
    // A PostgreSQL on this machine (scenarios that never reach it show ~0); null otherwise.
    databaseCpu: localPostgres && !scenario.reference ? { percentOfCore: Math.round((dbCpu / r.duration) * 1000) / 10, microsPerRequest: perRequest(dbCpu, r.requests.total) } : null,
    memory,
    ...((scenario.report || writes) && { details: { ...scenario.report?.(), ...(writes && { writes: writes.writes, failedWrites: writes.failed }) } })
  }
}

// ---- the run ---------------------------------------------------------------------------------

type Targets = {
  /** A content key (scenario 2c). */
  contentKey: string
  slugs: string[]
  sectionTag: { section: string, tag: string, articles: number }
  hotArticle: { id: string, comments: number }
  commentArticles: string[]
  patchArticles: string[]
  published: number
  matches: { common: number, rare: number }
  /** The month with the most public articles: its sitemap is the largest. */
  sitemapMonth: { month: string, articles: number }
}

type Prepared = { target: SeedTarget, cleanup: () => Promise<void>, driver: 'pg' | 'pglite', replicaUrl?: string }

async function prepareDatabase (): Promise<Prepared> {
  if (cluster) return prepareReplicatedDatabase()
  const url = process.env.DATABASE_URL
  if (url) {
    const benchUrl = new URL(url)
    const adminUrl = new URL(url)
    benchUrl.pathname = `/${BENCH_DB}`
    if (adminUrl.pathname === `/${BENCH_DB}`) adminUrl.pathname = '/postgres'
    const admin = new pg.Client({ connectionString: adminUrl.toString() })
    await admin.connect()
    try {
      await admin.query(`drop database if exists ${BENCH_DB} with (force)`)
      await admin.query(`create database ${BENCH_DB}`)
    } finally {
      await admin.end()
    }
    return {
      target: { url: benchUrl.toString() },
      driver: 'pg',
      cleanup: async () => {
        if (argv['keep-db']) { log(`Kept the database ${benchUrl.toString()}`); return }
        const c = new pg.Client({ connectionString: adminUrl.toString() })
        await c.connect()
        try { await c.query(`drop database if exists ${BENCH_DB} with (force)`) } finally { await c.end() }
      }
    }
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'dateline-bench-'))
  temporary.push(dataDir)
  return {
    target: { dataDir },
    driver: 'pglite',
    cleanup: async () => {
      if (argv['keep-db']) { log(`Kept the PGlite data in ${dataDir}`); return }
      await rm(dataDir, { recursive: true, force: true })
    }
  }
}

/** --cluster: a PostgreSQL primary and a streaming replica of this run's own, dropped at the end. */
async function prepareReplicatedDatabase (): Promise<Prepared> {
  if (process.getuid?.() !== 0) throw new Error('--cluster runs as root: its PostgreSQL clusters are made with pg_createcluster')
  need('pg_createcluster', 'apt-get install postgresql-common postgresql')
  const owner = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }
  const primary = await createCluster(owner, `dateline_bench_p_${process.pid}`)
  const replica = await createReplica(owner, primary, `dateline_bench_r_${process.pid}`)
  log(`PostgreSQL: primary on port ${primary.port}, streaming replica on port ${replica.port}`)
  return { target: { url: primary.url }, driver: 'pg', replicaUrl: replica.url, cleanup: async () => {} }
}

/** An editor token, made through the services like `npm run token` does, and what the scenarios aim at. */
async function prepareTargets (target: SeedTarget, seeded: SeedResult): Promise<{ token: string, adminToken: string, targets: Targets }> {
  const database = await openDatabase('url' in target ? { url: target.url, poolSize: 2 } : { dataDir: target.dataDir })
  try {
    const db = database.db
    const user = await createUser(db, { name: 'Benchmark Editor', email: 'bench-editor@dateline.example', role: 'editor' })
    const { secret } = await createToken(db, { userId: user.id, label: 'benchmark' })
    const admin = await createUser(db, { name: 'Benchmark Admin', email: 'bench-admin@dateline.example', role: 'admin' })
    const { secret: adminToken } = await createToken(db, { userId: admin.id, label: 'benchmark webhooks' })
    const { secret: contentKey } = await createContentKey(db, { label: 'benchmark frontend' }, admin.id)
    const rows = <T>(query: ReturnType<typeof sql>) => rowsOf<T>(db, query)

    // Slugs of at most 100 characters: the router answers 414 for a longer path parameter
    // (find-my-way's maxParamLength), although slugs may have 120 (see the report of the run).
    const slugs = (await rows<{ slug: string }>(sql`select slug from articles where status = 'published' and published_at <= now() and length(slug) <= 100 order by md5(id::text) limit 2000`)).map((r) => r.slug)
    // A section and a tag that go together often, but not the commonest pair: a filtered list that
    // has to look at more than its own page of rows.
    const pairs = await rows<{ section: string, tag: string, articles: number }>(sql`
      select s.slug as section, t.slug as tag, count(*)::int as articles
      from articles a join sections s on s.id = a.section_id
      join article_tags at on at.article_id = a.id join tags t on t.id = at.tag_id
      where a.status = 'published'
      group by s.slug, t.slug order by count(*) desc limit 11`)
    const sectionTag = pairs[Math.min(10, pairs.length - 1)]
    const [hot] = await rows<{ id: string, comments: number }>(sql`select id, comment_count as comments from articles where status = 'published' order by comment_count desc, id limit 1`)
    const commentArticles = (await rows<{ id: string }>(sql`select id from articles where status = 'published' and published_at <= now() and comments_open order by md5(id::text) limit 1000`)).map((r) => r.id)
    // Each connection edits an article of its own: drafts first, then archived ones, then the
    // oldest published ones (the write scenarios run after the read ones, so edits change no page
    // that a read scenario fetched).
    const need = Math.max(options.connections * 2, 100)
    const patchArticles = (await rows<{ id: string }>(sql`
      select id from articles where slug <> ${slugs[0]}
      order by case status when 'draft' then 0 when 'archived' then 1 when 'published' then 2 else 3 end, created_at
      limit ${need}`)).map((r) => r.id)
    const [{ published }] = await rows<{ published: number }>(sql`select count(*)::int as published from articles where status in ('published', 'scheduled') and published_at <= now()`)
    const count = async (term: string) => (await rows<{ n: number }>(sql`select count(*)::int as n from articles where status = 'published' and search @@ websearch_to_tsquery('english', ${term})`))[0].n
    const matches = { common: await count(seeded.terms.common), rare: await count(seeded.terms.rare) }
    const [sitemapMonth] = await rows<{ month: string, articles: number }>(sql`
      select to_char(date_trunc('month', published_at at time zone 'UTC'), 'YYYY-MM') as month, count(*)::int as articles
      from articles where status in ('published', 'scheduled') and published_at <= now() group by 1 order by 2 desc, 1 desc limit 1`)
    if (!hot || slugs.length === 0 || commentArticles.length === 0 || patchArticles.length < options.connections || !sectionTag || !sitemapMonth) {
      throw new Error('The seeded database is too small for the scenarios; use more --articles or fewer --connections.')
    }
    return { token: secret, adminToken, targets: { contentKey, slugs, sectionTag, hotArticle: hot, commentArticles, patchArticles, published, matches, sitemapMonth } }
  } finally {
    await database.close()
  }
}

async function getJson (url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers })
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`)
  return { res, body: await res.text() }
}

/** Uploads a generated 1600×1067 JPEG, marks it public, and returns the URL of its 640-wide WebP rendition. */
async function uploadPhoto (base: string, token: string): Promise<string> {
  const image = await sharp({ create: { width: 1600, height: 1067, channels: 3, background: '#35607f' } })
    .composite([{ input: Buffer.from('<svg width="1600" height="1067"><circle cx="800" cy="500" r="300" fill="#f4d35e"/></svg>') }])
    .jpeg().toBuffer()
  const form = new FormData()
  form.append('caption', 'Benchmark photo')
  form.append('file', new Blob([image], { type: 'image/jpeg' }), 'bench.jpg')
  const res = await fetch(`${base}/v1/photos`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } })
  if (res.status !== 201) throw new Error(`photo upload: ${res.status} ${await res.text()}`)
  const photo = await res.json() as { id: string, url: string, renditions: Array<{ width: number, url: string, mimeType?: string }> }
  // Anonymous readers get the files of public photos only: this one is marked so.
  const marked = await fetch(`${base}/v1/photos/${photo.id}`, { method: 'PATCH', body: JSON.stringify({ public: true }), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
  if (marked.status !== 200) throw new Error(`photo made public: ${marked.status} ${await marked.text()}`)
  return photo.renditions.find((r) => r.width === 640 && r.mimeType === 'image/webp')?.url ?? photo.url
}

/** Walks the public list `depth` items deep, 100 at a time, and returns the cursor found there. */
async function deepCursor (base: string, depth: number): Promise<string> {
  let cursor: string | undefined
  for (let walked = 0; walked < depth;) {
    const limit = Math.min(100, depth - walked)
    const { body } = await getJson(`${base}/v1/articles?limit=${limit}&fields=id${cursor ? `&cursor=${cursor}` : ''}`)
    const page = JSON.parse(body) as { data: unknown[], meta: { nextCursor: string | null } }
    walked += page.data.length
    if (!page.meta.nextCursor) throw new Error(`The list ended after ${walked} items, before ${depth}`)
    cursor = page.meta.nextCursor
  }
  return cursor!
}

type Extra = {
  /** The API's base URL, for the writes sent beside a scenario's reads. */
  api: string
  etag: string, deep: string, depth: number, terms: SeedResult['terms'], rendition: string
  fetchEtag: (id: string) => Promise<string>
  /** Reads each path once (anonymously, a few at a time). */
  prime: (paths: string[]) => Promise<void>
}

function scenarios (token: string, targets: Targets, extra: Extra): Scenario[] {
  const auth = { authorization: `Bearer ${token}` }
  const json = { 'content-type': 'application/json' }
  const runTag = startedAt.getTime().toString(36)
  let postTurn = 0
  let commentTurn = 0
  let patchTurn = 0
  let patchRun = 0
  let patching: string[] = []
  let primed = false
  const etags = new Map<string, string>()
  const slugPaths = targets.slugs.map((s) => `/v1/articles/by-slug/${s}?${INCLUDE}`)
  const { section, tag } = targets.sectionTag
  const frontPath = `/v1/articles?limit=20&${INCLUDE}`
  // Scenarios 12a and 12b: article pages and the front page, four to one, counting the answers
  // that came from the public cache (they carry `x-cache: hit`).
  const readMix = slugPaths.flatMap((p, i) => (i % 4 === 3 ? [p, frontPath] : [p]))
  const cacheCount = { hits: 0, total: 0 }
  const countedReads = () => {
    cacheCount.hits = 0
    cacheCount.total = 0
    const onResponse = (_status: number, _body: string, _context: unknown, headers: Record<string, string | string[]>) => {
      cacheCount.total++
      if (headers['x-cache'] === 'hit') cacheCount.hits++
    }
    return { requests: readMix.map((p) => ({ method: 'GET' as const, path: p, onResponse })) }
  }
  const cacheReport = () => ({ cacheHitRatio: cacheCount.total > 0 ? Math.round((cacheCount.hits / cacheCount.total) * 10_000) / 10_000 : 0, responses: cacheCount.total })
  const primeReads = async () => { if (!primed) { await extra.prime(slugPaths); primed = true } }
  // The newsroom beside scenario 12b: a draft saved five times a second, and a story of its own
  // published, then updated, once a second (neither is one the reads ask for).
  const newsroom = { draft: '', story: '', storyPublic: false, saves: 0 }
  const editorCall = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(extra.api + url, { method, headers: body === undefined ? auth : { ...auth, ...json }, ...(body !== undefined && { body: JSON.stringify(body) }) })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text.slice(0, 200)}`)
    return JSON.parse(text) as { id: string }
  }
  const every = (ms: number, work: () => Promise<void>, counts: { writes: number, failed: number }) => {
    let running = true
    const loop = (async () => {
      while (running) {
        const started = performance.now()
        try { await work(); counts.writes++ } catch (error) { counts.failed++; log(`  a write beside the reads failed: ${(error as Error).message}`) }
        const wait = ms - (performance.now() - started)
        if (wait > 0 && running) await new Promise((r) => setTimeout(r, wait))
      }
    })()
    return async () => { running = false; await loop }
  }
  return [
    {
      key: 'reference', name: 'reference: bare Fastify, same body size', reference: true,
      load: () => ({ method: 'GET', path: '/reference' })
    },
    {
      key: 'article', name: '1 article by slug (+includes)',
      note: `${slugPaths.length} different published slugs in turn`,
      // Fixed requests, built once by autocannon: a per-request callback would load the client.
      // Every connection walks the list in the same order, so each slug is read once beforehand,
      // as readers would have done before a story is hot.
      prepare: primeReads,
      load: () => ({ requests: slugPaths.map((p) => ({ method: 'GET', path: p })) })
    },
    { key: 'front', name: '2 front page (20, +includes)', load: () => ({ method: 'GET', path: frontPath }) },
    {
      // A frontend that adopts content keys must lose no speed: its reads are public reads.
      key: 'front-key', name: '2c front page with a content key', note: 'Authorization: Bearer dlc_… (its ratio to 2 is what a key costs)',
      load: () => ({ method: 'GET', path: frontPath, headers: { authorization: `Bearer ${targets.contentKey}` } })
    },
    {
      // An extra scenario: what a browser or a CDN asks for, measured beside the plain one.
      key: 'front-br', name: '2b front page, as a browser asks', note: 'Accept-Encoding: gzip, deflate, br (the answer is brotli)',
      load: () => ({ method: 'GET', path: `/v1/articles?limit=20&${INCLUDE}`, headers: { 'accept-encoding': 'gzip, deflate, br' } })
    },
    {
      key: 'filtered', name: '3 section + tag list', note: `section=${section}&tag=${tag} (${targets.sectionTag.articles} published articles)`,
      load: () => ({ method: 'GET', path: `/v1/articles?limit=20&section=${section}&tag=${tag}&${INCLUDE}` })
    },
    {
      key: 'deep', name: `4 page ${extra.depth.toLocaleString('en-US')} items deep`, note: `cursor after ${extra.depth} items of ${targets.published} public ones`,
      load: () => ({ method: 'GET', path: `/v1/articles?limit=20&${INCLUDE}&cursor=${extra.deep}` })
    },
    {
      key: 'search-common', name: `5a search, common term`, note: `q=${extra.terms.common}: ${targets.matches.common} matches`,
      load: () => ({ method: 'GET', path: `/v1/articles?limit=20&q=${encodeURIComponent(extra.terms.common)}&${INCLUDE}` })
    },
    {
      key: 'search-rare', name: `5b search, rare term`, note: `q=${extra.terms.rare}: ${targets.matches.rare} matches`,
      load: () => ({ method: 'GET', path: `/v1/articles?limit=20&q=${encodeURIComponent(extra.terms.rare)}&${INCLUDE}` })
    },
    {
      key: 'not-modified', name: '6 conditional GET (304)', note: 'If-None-Match with the ETag of scenario 1\'s first article',
      expected: (s) => s === 304,
      load: () => ({ method: 'GET', path: slugPaths[0], headers: { 'if-none-match': extra.etag } })
    },
    {
      key: 'comments', name: '7 comment threads page', note: `article with ${targets.hotArticle.comments} approved comments`,
      load: () => ({ method: 'GET', path: `/v1/articles/${targets.hotArticle.id}/comments` })
    },
    {
      key: 'rendition', name: '11 photo rendition (/media)', note: `${extra.rendition.split('/').pop()} of an upload, from the media folder`,
      load: () => ({ method: 'GET', path: extra.rendition })
    },
    {
      key: 'reads', name: '12a article pages + front page', note: 'article by slug and front page, four to one: the baseline of 12b',
      prepare: primeReads,
      load: countedReads,
      report: cacheReport
    },
    {
      key: 'under-edits', name: '12b the same reads under edits',
      note: 'as 12a, while an editor saves a draft 5 times a second and publishes or updates another story once a second',
      prepare: async () => {
        await primeReads()
        newsroom.draft ||= (await editorCall('POST', '/v1/articles', { headline: `Draft in progress ${runTag}`, body: [{ type: 'paragraph', text: 'First lines.' }] })).id
        newsroom.story ||= (await editorCall('POST', '/v1/articles', { headline: `Breaking story ${runTag}`, body: [{ type: 'paragraph', text: 'What we know so far.' }] })).id
      },
      load: countedReads,
      report: cacheReport,
      background: () => {
        const counts = { writes: 0, failed: 0 }
        const saving = every(200, async () => {
          const n = ++newsroom.saves
          await editorCall('PATCH', `/v1/articles/${newsroom.draft}`, { standfirst: `Save ${n} of the draft.`, body: [{ type: 'paragraph', text: `The draft as of save ${n}: the council, the harbour and the budget.` }] })
        }, counts)
        const publishing = every(1000, async () => {
          if (!newsroom.storyPublic) {
            await editorCall('POST', `/v1/articles/${newsroom.story}/publish`)
            newsroom.storyPublic = true
          } else {
            await editorCall('PATCH', `/v1/articles/${newsroom.story}`, { headline: `Breaking story ${runTag}, update ${++newsroom.saves}` })
          }
        }, counts)
        return { stop: async () => { await Promise.all([saving(), publishing()]); return counts } }
      }
    },
    // Sitemaps: the index and the largest month, from the database (a staff token's Authorization
    // header passes the public cache by), beside the front page read the same way, and the index
    // as anonymous crawlers get it (from the public cache).
    {
      key: 'sitemap-index', group: 'sitemaps', name: '13a sitemap index, uncached', note: 'GET /v1/sitemaps/index.xml with a staff token (no public cache)',
      load: () => ({ method: 'GET', path: '/v1/sitemaps/index.xml', headers: auth })
    },
    {
      key: 'sitemap-month', group: 'sitemaps', name: '13b one month\'s sitemap, uncached',
      note: `GET /v1/sitemaps/articles/${targets.sitemapMonth.month}.xml (${targets.sitemapMonth.articles} URLs) with a staff token`,
      load: () => ({ method: 'GET', path: `/v1/sitemaps/articles/${targets.sitemapMonth.month}.xml`, headers: auth })
    },
    {
      key: 'sitemap-list', group: 'sitemaps', name: '13c front page, uncached', note: 'scenario 2 with a staff token: a list read from the database, for comparison',
      load: () => ({ method: 'GET', path: frontPath, headers: auth })
    },
    {
      key: 'sitemap-cached', group: 'sitemaps', name: '13d sitemap index, cached', note: 'anonymous, as crawlers ask: from the public cache',
      load: () => ({ method: 'GET', path: '/v1/sitemaps/index.xml' })
    },
    {
      key: 'create', name: '8 POST article (editor)', writes: true,
      load: () => ({
        requests: [{
          setupRequest: (req) => {
            const n = ++postTurn
            return {
              ...req, method: 'POST', path: '/v1/articles', headers: { ...auth, ...json },
              body: JSON.stringify({
                headline: `Benchmark story ${runTag} number ${n} on the harbour budget`,
                body: [{ type: 'paragraph', text: `Councillors met on Tuesday to discuss story ${n}. The harbour budget, the tram timetable and the <strong>flood barrier</strong> were on the agenda, and residents asked questions about all three.` }]
              })
            }
          }
        }]
      })
    },
    {
      key: 'comment', name: '9 POST comment (anonymous)', writes: true, note: `${targets.commentArticles.length} published articles in turn`,
      load: () => ({
        requests: [{
          setupRequest: (req) => {
            const n = ++commentTurn
            const article = targets.commentArticles[n % targets.commentArticles.length]
            return {
              ...req, method: 'POST', path: `/v1/articles/${article}/comments`, headers: json,
              body: JSON.stringify({ authorName: 'Bench Reader', authorEmail: 'reader@mail.example', body: `Comment ${runTag}-${n}: I read this story twice and I still have questions about the budget.` })
            }
          }
        }]
      })
    },
    {
      key: 'update', name: '10 PATCH article (If-Match)', writes: true, note: 'each connection edits its own article, If-Match from its last ETag',
      // Every run edits articles of its own, with ETags read just before: the edits that a run
      // leaves in flight when it stops change versions that no later request relies on.
      prepare: async () => {
        const pool = targets.patchArticles
        const start = (patchRun++ * options.connections) % pool.length
        patching = Array.from({ length: options.connections }, (_, i) => pool[(start + i) % pool.length])
        await new Promise((r) => setTimeout(r, 300))
        for (const id of patching) etags.set(id, await extra.fetchEtag(id))
      },
      load: () => {
        let claimed = 0
        return {
          setupClient: (client) => {
            const id = patching[claimed++ % patching.length]
            client.setRequests([{
              setupRequest: (req) => {
                const n = ++patchTurn
                return {
                  ...req, method: 'PATCH', path: `/v1/articles/${id}`, headers: { ...auth, ...json, 'if-match': etags.get(id)! },
                  body: JSON.stringify({ headline: `Edited headline, revision ${n}`, standfirst: `The standfirst as of revision ${n}.` })
                }
              },
              onResponse: (status, _body, _context, headers) => {
                const etag = headers.etag
                if (status === 200 && typeof etag === 'string') etags.set(id, etag)
              }
            }])
          }
        }
      }
    }
  ]
}

// ---- output ----------------------------------------------------------------------------------

function table (results: ScenarioResult[]): string {
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'non-2xx', 'unexpected', 'vs ref', 'server CPU', 'CPU µs/req', 'DB µs/req', 'peak RSS MB']
  const rows = results.map((r) => [
    r.name,
    r.reqPerSec.toFixed(0),
    r.latencyMs.p50.toFixed(1),
    r.latencyMs.p99.toFixed(1),
    String(r.errors),
    String(r.non2xx),
    String(r.unexpected),
    r.ratioToReference === null ? '' : `${(r.ratioToReference * 100).toFixed(1)}%`,
    `${r.serverCpu.percentOfCore.toFixed(0)}%`,
    String(r.serverCpu.microsPerRequest),
    r.databaseCpu ? String(r.databaseCpu.microsPerRequest) : '',
    r.memory.peakRssMb.toFixed(0)
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

async function main () {
  log(`Dateline benchmark: ${options.articles.toLocaleString('en-US')} articles, ${options.connections} connections, ` +
    `${options.warmup} s warm-up + ${options.duration} s per scenario, public cache ${options.publicCache ? 'on' : 'off'}${smoke ? ' (smoke)' : ''}`)
  const { target, cleanup, driver, replicaUrl } = await prepareDatabase()
  let clean = false
  try {
    log(`Database: ${'url' in target ? target.url : `PGlite in ${target.dataDir}`}`)
    const seeded = await seed({ target, articles: options.articles, seed: options.seed, log: (l) => log(l) })
    const { token, adminToken, targets } = await prepareTargets(target, seeded)

    const referenceBodyFile = path.join(os.tmpdir(), `dateline-bench-reference-${process.pid}.json`)
    temporary.push(referenceBodyFile)
    const serverEnv: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_LEVEL: 'warn',
      SEED_DEMO: 'false',
      COMMENT_RATE_PER_CLIENT: '1000000000',
      COMMENT_RATE_PER_ARTICLE: '1000000000',
      AUTH_FAILURE_LIMIT: '1000000000',
      CONTENT_KEY_RATE_LIMIT: '1000000000',
      PUBLIC_CACHE: options.publicCache ? 'true' : 'false',
      // The webhook fan-out's receivers listen on this machine.
      WEBHOOK_ALLOW_PRIVATE: 'true'
    }
    delete serverEnv.REDIS_URL
    delete serverEnv.DATABASE_URL
    delete serverEnv.DATA_DIR
    if ('url' in target) serverEnv.DATABASE_URL = target.url
    else serverEnv.DATA_DIR = target.dataDir
    // Several instances share their limits through Redis and see one client behind nginx's hop.
    if (cluster) Object.assign(serverEnv, { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_PREFIX: `bench-${process.pid}:`, TRUST_PROXY: '1' })
    // --cluster measures the reads twice: the replica taking anonymous reads, then the primary alone.
    const passes = cluster ? [{ label: 'with the replica', env: { DATABASE_READ_URL: replicaUrl } }, { label: 'primary only', env: {} }] : [{ label: '', env: {} }]

    // Uploaded files go to a folder of this run's own.
    const mediaDir = await mkdtemp(path.join(os.tmpdir(), 'dateline-bench-media-'))
    process.on('exit', () => rmSync(mediaDir, { recursive: true, force: true }))
    serverEnv.MEDIA_DIR = mediaDir
    // The server as it is deployed: compiled, as the Docker image runs it (`npm run start:dist`).
    log('Building the API server...')
    const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, encoding: 'utf8' })
    if (build.status !== 0) throw new Error(`the build failed:\n${build.stdout}${build.stderr}`)
    const startInstances = (env: NodeJS.ProcessEnv, pass: number, ports: number[] = []) => Promise.all(Array.from({ length: Math.max(1, options.instances) }, (_, i) =>
      startProcess(cluster ? `api-${i + 1}${pass > 0 ? `-pass-${pass + 1}` : ''}` : 'api', 'dist/src/server.js', env, '/health/ready', ports[i])))
    log(cluster ? `Starting ${options.instances} API instances...` : 'Starting the API server...')
    let instances = await startInstances({ ...serverEnv, ...passes[0].env }, 0)
    for (const x of instances) log(`  pid ${x.child.pid}, ${x.base}, log ${x.logFile}`)
    // The reference's port is known before it starts: nginx proxies /reference to it too.
    const referencePort = await freePort()
    let base = instances[0].base
    if (cluster) {
      const nginxDir = await mkdtemp(path.join(os.tmpdir(), 'dateline-bench-nginx-'))
      temporary.push(nginxDir)
      const balancer = await startNginx(nginxDir, instances.map((x) => x.port), { reference: referencePort })
      teardowns.push(balancer.stop)
      base = balancer.base
      log(`  nginx at ${base}, round robin over the instances; /reference goes to the reference server`)
    }

    // What the scenarios need from the running API.
    let etag = ''
    const sizes: Array<{ size: number, body: string }> = []
    for (const slug of targets.slugs.slice(0, 25)) {
      const { res, body } = await getJson(`${base}/v1/articles/by-slug/${slug}?${INCLUDE}`)
      etag ||= res.headers.get('etag')!
      sizes.push({ size: Buffer.byteLength(body), body })
    }
    sizes.sort((a, b) => a.size - b.size)
    const median = sizes[Math.floor(sizes.length / 2)]
    await writeFile(referenceBodyFile, median.body)
    // 50,000 items deep, or half way down a list too short for that.
    const depth = targets.published >= 50_000 + 20 ? 50_000 : Math.floor(targets.published / 2)
    const walkStarted = performance.now()
    const deep = await deepCursor(base, depth)
    log(`  walked the cursor chain ${depth.toLocaleString('en-US')} items deep in ${((performance.now() - walkStarted) / 1000).toFixed(1)} s`)
    const fetchEtag = async (id: string) => (await getJson(`${base}/v1/articles/${id}`, { authorization: `Bearer ${token}` })).res.headers.get('etag')!
    const rendition = await uploadPhoto(base, token)
    log(`  uploaded a photo; scenario 11 serves ${rendition}`)

    log('Starting the reference server...')
    const reference = await startProcess('reference', 'bench/reference-server.ts', { ...process.env, REFERENCE_BODY_FILE: referenceBodyFile }, '/health', referencePort)
    log(`  pid ${reference.child.pid}, ${reference.base}, body ${median.size} bytes (median article page)`)
    // Behind the balancer, the reference is measured through nginx too: it pays the same hop.
    const referenceBase = cluster ? base : reference.base

    const prime = async (paths: string[]) => {
      const queue = [...paths]
      await Promise.all(Array.from({ length: 8 }, async () => {
        for (let p = queue.shift(); p !== undefined; p = queue.shift()) await getJson(base + p)
      }))
    }
    const passResults: Array<{ label: string, results: ScenarioResult[] }> = []
    for (const [n, pass] of passes.entries()) {
      if (n > 0) {
        // The same ports again, so nginx goes on balancing over them unchanged.
        log(`Restarting the ${instances.length} instances, ${pass.label}...`)
        await Promise.all(instances.map((x) => stopChild(x.child)))
        instances = await startInstances({ ...serverEnv, ...pass.env }, n, instances.map((x) => x.port))
      }
      if (cluster) log(`Pass ${n + 1} of ${passes.length}: ${instances.length} instances behind nginx, ${pass.label}`)
      const list = scenarios(token, targets, { api: base, etag, deep, depth, terms: seeded.terms, fetchEtag, rendition, prime })
        .filter((s) => !(cluster && s.writes))
        .filter((s) => !options.only || s.reference || options.only.has(s.key) || (s.group !== undefined && options.only.has(s.group)) || (s.key === 'reads' && options.only.has('under-edits')))
      const results: ScenarioResult[] = []
      for (const scenario of list) {
        log(`Running ${scenario.name}...`)
        const pids = (scenario.reference ? [reference] : instances).map((x) => x.child.pid!)
        const result = await measure(scenario.reference ? referenceBase : base, pids, scenario)
        results.push(result)
        log(`  ${result.reqPerSec.toFixed(0)} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms${result.unexpected ? `, ${result.unexpected} unexpected (${JSON.stringify(result.statusCodes)}, ${result.errors} errors)` : ''}`)
        for (const p of [...instances, reference]) {
          if (exited(p.child)) throw new Error(`A server (pid ${p.child.pid}) exited (${p.child.exitCode ?? p.child.signalCode}) during ${scenario.name}:\n${tail(p.logFile)}`)
        }
        // Let the requests still queued in the servers finish before the next scenario starts.
        await fetch(scenario.reference ? `${reference.base}/health` : `${base}/health/ready`).catch(() => {})
        await new Promise((r) => setTimeout(r, 500))
      }
      const ref = results.find((r) => r.key === 'reference')!
      for (const r of results) r.ratioToReference = r === ref ? 1 : Math.round((r.reqPerSec / ref.reqPerSec) * 10_000) / 10_000
      passResults.push({ label: pass.label, results })
    }
    const results = passResults[0].results
    // Webhook fan-out: publishes delivered to three local receivers.
    let fanOut: FanOutResult | undefined
    if (!cluster && (!options.only || options.only.has('webhooks'))) {
      const publishes = smoke ? 30 : 1000
      log(`Running webhook fan-out: ${publishes} publishes to 3 receivers...`)
      fanOut = await webhookFanOut({ base: base, adminToken, publishes, receivers: 3, log })
      log(`  ${fanOut.delivered} of ${fanOut.expected} delivered in ${fanOut.seconds.toFixed(1)} s, p99 ${fanOut.delayMs.p99} ms after the publish answered`)
    }

    // 12b against 12a, both measured in this run.
    const baselineReads = results.find((r) => r.key === 'reads')
    const editedReads = results.find((r) => r.key === 'under-edits')
    const readsUnderEdits = baselineReads && editedReads && baselineReads.reqPerSec > 0
      ? { baseline: baselineReads, edited: editedReads, ratio: Math.round((editedReads.reqPerSec / baselineReads.reqPerSec) * 1000) / 1000 }
      : undefined
    const seedSummary = { ms: seeded.ms, phases: seeded.phases, counts: seeded.counts }
    const front = results.find((r) => r.key === 'front')
    const deepResult = results.find((r) => r.key === 'deep')
    const output = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      driver,
      options: { ...options, only: options.only ? [...options.only] : undefined, smoke },
      machine: {
        cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}`,
        // Other work on the machine skews every figure: the load averages at the start and the end.
        loadAverage: { start: loadAtStart, end: os.loadavg() }
      },
      seed: seedSummary,
      targets: { ...targets, slugs: targets.slugs.length, commentArticles: targets.commentArticles.length, patchArticles: targets.patchArticles.length, terms: seeded.terms, depth, referenceBodyBytes: median.size },
      deepVsFirstPage: front && deepResult ? { firstPageP99Ms: front.latencyMs.p99, deepPageP99Ms: deepResult.latencyMs.p99 } : undefined,
      readsUnderEdits: readsUnderEdits
        ? { ratio: readsUnderEdits.ratio, target: 0.8, cacheHitRatio: readsUnderEdits.edited.details?.cacheHitRatio, cacheHitRatioWithoutWrites: readsUnderEdits.baseline.details?.cacheHitRatio, writes: readsUnderEdits.edited.details?.writes }
        : undefined,
      webhookFanOut: fanOut,
      // --cluster: the instances behind nginx, and each pass's results (the first pass's are `scenarios`).
      cluster: cluster ? { instances: options.instances, passes: passResults.map((p) => ({ label: p.label, scenarios: p.results })) } : undefined,
      scenarios: results
    }
    await mkdir(path.dirname(outFile), { recursive: true })
    await writeFile(outFile, `${JSON.stringify(output, null, 2)}\n`)

    const finalMemory = sampleMemory(instances.map((x) => x.child.pid!))()
    for (const pass of passResults) process.stdout.write(`\n${cluster ? `${options.instances} instances behind nginx, ${pass.label}:\n` : ''}${table(pass.results)}\n`)
    process.stdout.write(`\nDriver ${driver}, public cache ${options.publicCache ? 'on' : 'off'}; seeded ${options.articles.toLocaleString('en-US')} articles in ${(seeded.ms / 1000).toFixed(1)} s; ` +
      `reference body ${median.size} bytes; API server peak RSS (VmHWM) ${finalMemory.hwmMb} MB${cluster ? ' (the largest instance)' : ''}.\n`)
    if (cluster) {
      process.stdout.write(`Behind nginx: server CPU sums the ${options.instances} instances; the reference is reached through nginx too. Reads with the replica against the primary alone:\n`)
      const [replicaPass, primaryPass] = passResults
      for (const r of replicaPass.results) {
        const other = primaryPass.results.find((x) => x.key === r.key)
        if (!r.reqPerSec || !other?.reqPerSec || r.key === 'reference') continue
        process.stdout.write(`  ${r.name}: ${r.reqPerSec.toFixed(0)} req/s with the replica, ${other.reqPerSec.toFixed(0)} primary only (${(r.reqPerSec / other.reqPerSec).toFixed(2)}x)\n`)
      }
    }
    if (front && deepResult) {
      process.stdout.write(`Page ${depth.toLocaleString('en-US')} items deep: p99 ${deepResult.latencyMs.p99} ms, against ${front.latencyMs.p99} ms for the first page.\n`)
    }
    for (const r of results) if (r.note) process.stdout.write(`  ${r.name}: ${r.note}\n`)
    if (readsUnderEdits) {
      const { baseline, edited, ratio } = readsUnderEdits
      const pct = (x: number | undefined) => `${((x ?? 0) * 100).toFixed(1)}%`
      process.stdout.write(`Reads under edits: ${edited.reqPerSec.toFixed(0)} req/s, ${ratio.toFixed(2)}x the same reads without writes (${baseline.reqPerSec.toFixed(0)} req/s; target 0.80x or more); ` +
        `public cache hits ${pct(edited.details?.cacheHitRatio)} (without writes ${pct(baseline.details?.cacheHitRatio)}); ${edited.details?.writes ?? 0} writes beside them.\n`)
    }
    if (fanOut) {
      process.stdout.write(`Webhook fan-out: ${fanOut.publishes} publishes to ${fanOut.receivers} receivers: ${fanOut.delivered} of ${fanOut.expected} deliveries arrived ` +
        `(${fanOut.missing} missing, ${fanOut.duplicates} duplicates by webhook-id) in ${fanOut.seconds.toFixed(1)} s; delay from the publish's answer to arrival ` +
        `p50 ${fanOut.delayMs.p50} ms, p99 ${fanOut.delayMs.p99} ms, max ${fanOut.delayMs.max} ms.\n`)
    }
    process.stdout.write(`Load average (1 min) at the start ${loadAtStart[0].toFixed(2)}, at the end ${os.loadavg()[0].toFixed(2)}; ${os.cpus().length} CPUs.\n`)
    process.stdout.write(`Results: ${path.relative(process.cwd(), outFile)}\n`)

    const bad = passResults.flatMap((p) => p.results).filter((r) => r.unexpected > 0 || r.requests === 0)
    clean = bad.length === 0 && (fanOut?.missing ?? 0) === 0
    if (fanOut && fanOut.missing > 0) log(`Webhook fan-out: ${fanOut.missing} deliveries never arrived`)
    if (!clean) log(`Unexpected responses in: ${bad.map((r) => `${r.name} (${JSON.stringify(r.statusCodes)}, ${r.errors} errors)`).join('; ')}; server logs: ${instances.map((x) => x.logFile).join(', ')}`)
    if (smoke && !clean) {
      process.exitCode = 1
      for (const x of instances) log(tail(x.logFile))
    }
  } finally {
    if (clean) temporary.push(...logs)
    await stopAll()
    await tearDown()
    await cleanup().catch((error) => log(`Could not remove the benchmark database: ${error}`))
    for (const file of temporary) await rm(file, { recursive: true, force: true }).catch(() => {})
  }
}

main().catch(async (error) => {
  log(error instanceof Error ? (error.stack ?? error.message) : String(error))
  await stopAll()
  await tearDown()
  process.exit(1)
})
