// nginx (Debian's nginx-light) in front of API instances on this machine, as `npm run cluster` and
// `npm run bench -- --cluster` run it: round robin over keep-alive connections, one proxy hop
// (the instances run with TRUST_PROXY=1), and a read that fails on one instance tried on the next.
import { spawn, spawnSync } from 'node:child_process'
import { chmod, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import path from 'node:path'

export const HOST = '127.0.0.1'

export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, HOST, () => {
      const address = s.address()
      s.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** Throws with an install hint when a command is not on this machine. */
export function need (command: string, hint: string) {
  if (spawnSync('sh', ['-c', `command -v ${command}`]).status !== 0) throw new Error(`${command} is missing: ${hint}`)
}

export type Balancer = { base: string, stop: () => Promise<void> }

/**
 * Starts nginx with its files in `dir`, balancing over the instances on `ports`. `reference`:
 * the port of a server that gets `/reference` (the benchmark's reference, behind the same proxy).
 */
export async function startNginx (dir: string, ports: number[], options: { reference?: number } = {}): Promise<Balancer> {
  need('nginx', 'apt-get install nginx-light')
  const port = await freePort()
  const conf = `
worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  upstream dateline {
${ports.map((p) => `    server ${HOST}:${p} max_fails=1 fail_timeout=5s;`).join('\n')}
    keepalive 64;
  }
${options.reference ? `  upstream reference { server ${HOST}:${options.reference}; keepalive 64; }\n` : ''}
  server {
    listen ${HOST}:${port};
    client_max_body_size 30m;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    # The API sees one proxy hop (TRUST_PROXY=1): the client is the address nginx saw.
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    # A long list's Surrogate-Key and Cache-Tag take up to 4 KB each: more than nginx's default
    # 4 KB for a response's headers (a 502 "upstream sent too big header").
    proxy_buffer_size 16k;
    proxy_buffers 8 16k;
    location / {
      proxy_pass http://dateline;
      # A read that fails on one instance is tried on the next; a write is never sent twice.
      proxy_next_upstream error timeout http_502 http_503;
    }
${options.reference ? '    location = /reference { proxy_pass http://reference; }\n' : ''}  }
}`
  // Started as root, nginx's workers run as nobody: they must reach the temporary files for
  // request bodies (uploads) inside `dir`.
  await chmod(dir, 0o755)
  const confFile = path.join(dir, 'nginx.conf')
  await writeFile(confFile, conf)
  const nginx = spawn('nginx', ['-p', dir, '-c', confFile, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  nginx.stderr!.on('data', (chunk) => { stderr += chunk })
  const base = `http://${HOST}:${port}`
  for (let i = 0; ; i++) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited: ${stderr}`)
    if (await fetch(`${base}/health/live`).then((r) => r.ok, () => false)) break
    if (i > 200) throw new Error(`nginx did not answer within 10 s: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const stop = async () => {
    if (nginx.exitCode !== null || nginx.signalCode !== null) return
    const exited = new Promise((resolve) => nginx.once('exit', resolve))
    nginx.kill('SIGQUIT')
    await exited
  }
  return { base, stop }
}
