// The benchmark's reference: a bare Fastify server with one route that sends a precomputed body
// (the size of an article page) and nothing else: no database, no validation, no hooks. What the
// API does per request is measured against what Node and Fastify alone can do on this machine.
//
//   PORT=4000 REFERENCE_BODY_FILE=/tmp/body.json node --import tsx bench/reference-server.ts
import { readFileSync } from 'node:fs'
import Fastify from 'fastify'

const port = Number(process.env.PORT ?? 0)
const host = process.env.HOST ?? '127.0.0.1'
const file = process.env.REFERENCE_BODY_FILE
const body = file ? readFileSync(file) : Buffer.from(JSON.stringify({ ok: true }))

const app = Fastify({ logger: false })

app.get('/reference', async (_request, reply) => {
  reply.header('content-type', 'application/json; charset=utf-8')
  return body
})
app.get('/health', async () => ({ status: 'ok' }))

const close = () => { app.close().finally(() => process.exit(0)) }
process.on('SIGTERM', close)
process.on('SIGINT', close)

await app.listen({ port, host })
