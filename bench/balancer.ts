// nginx (Debian's nginx-light) in front of API instances on this machine, as `npm run cluster`,
// `npm run bench -- --cluster` and test/nginx.test.ts run it: deploy/nginx/dateline.conf, the
// configuration the README shows, pointed at instances on loopback (which run with TRUST_PROXY=1).
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

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

/** The site configuration the README shows, as deployments use it. */
export const SITE_CONF = fileURLToPath(new URL('../deploy/nginx/dateline.conf', import.meta.url))

/**
 * deploy/nginx/dateline.conf for this machine: its upstream servers replaced by `ports`, its
 * `listen` by a port of loopback, and (`reference`) `/reference` sent to another server.
 */
function siteFor (port: number, ports: number[], reference?: number): string {
  const template = readFileSync(SITE_CONF, 'utf8')
  const site = template
    .replace(/(upstream dateline \{\n)(?:\s*server .*\n)+/, `$1${ports.map((p) => `  server ${HOST}:${p} max_fails=1 fail_timeout=5s;\n`).join('')}`)
    .replace(/^ {2}listen 80;$/m, `  listen ${HOST}:${port};`)
    .replace(/\n\}\n?$/, reference ? `\n  location = /reference { proxy_pass http://reference; }\n}\n` : '\n}\n')
  const upstreams = site.match(new RegExp(`server ${HOST.replace(/\./g, '\\.')}:`, 'g'))?.length ?? 0
  if (upstreams !== ports.length || !site.includes(`listen ${HOST}:${port};`)) throw new Error(`${SITE_CONF} no longer has the shape this script fills in`)
  return (reference ? `upstream reference { server ${HOST}:${reference}; keepalive 64; }\n` : '') + site
}

/**
 * Starts nginx with its files in `dir`, balancing over the instances on `ports` with
 * deploy/nginx/dateline.conf. `reference`: the port of a server that gets `/reference` (the
 * benchmark's reference, behind the same proxy).
 */
export async function startNginx (dir: string, ports: number[], options: { reference?: number } = {}): Promise<Balancer> {
  need('nginx', 'apt-get install nginx-light')
  const port = await freePort()
  await writeFile(path.join(dir, 'dateline.conf'), siteFor(port, ports, options.reference))
  const conf = `
worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  # A load generator keeps its connections: after nginx's default of 1,000 requests on one, it
  # closes it under a request already sent, which the generator counts as an error.
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  include ${dir}/dateline.conf;
}
`
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
