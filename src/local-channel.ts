// The local channel: while the server holds an embedded database folder, no other process may
// open it, so commands such as `npm run token` ask the server instead. It listens on a Unix
// socket inside a folder only this user can enter (mode 0700): nothing on the network reaches it.
import { chmod, mkdir, mkdtemp, rm, unlink } from 'node:fs/promises'
import { createServer, request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'

export type LocalHandler = (body: unknown) => Promise<{ status: number, body: unknown }>

export type LocalChannel = { socket: string, close: () => Promise<void> }

// Socket paths are limited to about 107 bytes; a deep DATA_DIR gets a private temporary folder.
const MAX_SOCKET_PATH = 100
const MAX_BODY = 64 * 1024

export async function serveLocalChannel (dataDir: string, routes: Record<string, LocalHandler>): Promise<LocalChannel> {
  let folder = path.resolve(dataDir, 'run')
  let temporary = false
  if (path.join(folder, 'local.sock').length > MAX_SOCKET_PATH) {
    folder = await mkdtemp(path.join(tmpdir(), 'dateline-'))
    temporary = true
  } else {
    await mkdir(folder, { recursive: true, mode: 0o700 })
  }
  await chmod(folder, 0o700)
  const socket = path.join(folder, 'local.sock')
  // Whoever holds the folder's lock owns this path: a socket left here is a dead server's.
  await unlink(socket).catch(() => {})

  const server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    const handler = req.method === 'POST' ? routes[req.url ?? ''] : undefined
    if (!handler) return answer(404, { error: 'no such command' })
    let size = 0
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY) req.destroy()
      else chunks.push(chunk)
    })
    req.on('end', () => {
      let body: unknown
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        return answer(400, { error: 'the request is not JSON' })
      }
      handler(body).then(
        (result) => answer(result.status, result.body),
        (error: unknown) => answer(500, { error: error instanceof Error ? error.message : String(error) })
      )
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socket, () => { server.off('error', reject); resolve() })
  })
  await chmod(socket, 0o600)
  return {
    socket,
    async close () {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await (temporary ? rm(folder, { recursive: true, force: true }) : unlink(socket).catch(() => {}))
    }
  }
}

/** Sends one command to a server's local channel. */
export function askLocalChannel (socket: string, route: string, body: unknown): Promise<{ status: number, body: unknown }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body)
    const req = request({ socketPath: socket, path: route, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) })
        } catch (error) {
          reject(error)
        }
      })
    })
    req.setTimeout(30_000, () => req.destroy(new Error('the server did not answer in 30 s')))
    req.on('error', reject)
    req.end(payload)
  })
}
