// Webhook fan-out: N publishes through the API, each delivered to R local receivers. Reports
// whether every delivery arrived, duplicates (the same `webhook-id` twice at one receiver: at
// least once allows them, they are counted), and the delay from the publish's answer (its
// commit) to each arrival.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export type FanOutResult = {
  publishes: number
  receivers: number
  expected: number
  delivered: number
  duplicates: number
  missing: number
  seconds: number
  delayMs: { p50: number, p99: number, max: number }
}

type Receiver = { server: Server, url: string, seen: Map<string, number>, duplicates: number, arrivals: Array<{ article: string, at: number }> }

async function receiver (): Promise<Receiver> {
  const r: Receiver = { server: createServer(), url: '', seen: new Map(), duplicates: 0, arrivals: [] }
  r.server.on('request', (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const id = String(req.headers['webhook-id'])
      if (r.seen.has(id)) r.duplicates++
      else {
        r.seen.set(id, Date.now())
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { id: string } }
        r.arrivals.push({ article: body.data.id, at: Date.now() })
      }
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve))
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`
  return r
}

const percentile = (sorted: number[], p: number) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

/** Runs `work` over `items`, `width` at a time. */
async function pool<T> (items: T[], width: number, work: (item: T) => Promise<void>) {
  const queue = [...items]
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item)
  }))
}

export async function webhookFanOut (opts: { base: string, adminToken: string, publishes: number, receivers: number, log: (line: string) => void }): Promise<FanOutResult> {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(opts.base + path, {
      method,
      headers: { authorization: `Bearer ${opts.adminToken}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) })
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`)
    return text ? JSON.parse(text) : undefined
  }
  const receivers = await Promise.all(Array.from({ length: opts.receivers }, receiver))
  const hooks: string[] = []
  try {
    for (const r of receivers) hooks.push((await call('POST', '/v1/webhooks', { url: r.url, events: ['article.published'], description: 'benchmark receiver' })).id)
    const drafts: string[] = []
    await pool(Array.from({ length: opts.publishes }, (_, i) => i), 8, async (i) => {
      drafts.push((await call('POST', '/v1/articles', { headline: `Fan-out story ${Date.now()}-${i}` })).id)
    })
    const answered = new Map<string, number>()
    const started = Date.now()
    await pool(drafts, 8, async (id) => {
      await call('POST', `/v1/articles/${id}/publish`)
      answered.set(id, Date.now())
    })
    const expected = opts.publishes * opts.receivers
    const count = () => receivers.reduce((n, r) => n + r.seen.size, 0)
    // Every delivery, or a minute with nothing new.
    for (let last = count(), quiet = Date.now(); count() < expected && Date.now() - quiet < 60_000;) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      if (count() !== last) { last = count(); quiet = Date.now() }
    }
    const seconds = (Date.now() - started) / 1000
    const delays = receivers.flatMap((r) => r.arrivals.map((a) => Math.max(0, a.at - (answered.get(a.article) ?? a.at)))).sort((a, b) => a - b)
    const delivered = count()
    return {
      publishes: opts.publishes,
      receivers: opts.receivers,
      expected,
      delivered,
      duplicates: receivers.reduce((n, r) => n + r.duplicates, 0),
      missing: expected - delivered,
      seconds,
      delayMs: { p50: percentile(delays, 0.5), p99: percentile(delays, 0.99), max: delays.at(-1) ?? 0 }
    }
  } finally {
    for (const id of hooks) await call('DELETE', `/v1/webhooks/${id}`).catch(() => {})
    for (const r of receivers) r.server.close()
  }
}
