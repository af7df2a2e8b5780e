// PostgreSQL clusters of a test's own, made with Debian's cluster tools (as root, as CI runs):
// servers a test may stop, restart or stream from, on free ports, dropped at teardown.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { readdir, rm } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { testDatabaseUrl } from './helper.js'

const exec = promisify(execFile)

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Who drops a cluster again: a tap test, or a script's own list of clean-ups. */
type Owner = { teardown: (fn: () => unknown) => void }

/**
 * Why a suite of clusters cannot run here, or false. They run in the PostgreSQL run only; with
 * TEST_FAULTS_REQUIRED (as CI sets) missing tools fail the suite instead of skipping it.
 */
export function clusterSkip (): string | false {
  const tools = process.getuid?.() === 0 && existsSync('/usr/bin/pg_createcluster')
  if (!testDatabaseUrl) return 'in the PostgreSQL run'
  return !tools && !process.env.TEST_FAULTS_REQUIRED ? 'needs root and Debian\'s pg_createcluster' : false
}

async function freePort () {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export type Cluster = {
  url: string
  port: number
  ctl: (action: 'start' | 'stop' | 'restart') => Promise<void>
  /** Waits until a real session answers, not merely until the port is open. */
  ready: () => Promise<void>
}

const version = () => readdirSync('/etc/postgresql').sort().at(-1)!

function clusterOf (name: string, port: number): Cluster {
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const ctl = async (action: 'start' | 'stop' | 'restart') => {
    await exec('pg_ctlcluster', ['--skip-systemctl-redirect', version(), name, action, ...(action === 'start' ? [] : ['-m', 'fast'])])
  }
  const ready = async () => {
    for (;;) {
      const c = new pg.Client({ connectionString: url })
      c.on('error', () => {})
      try {
        await c.connect()
        await c.query('select 1')
        await c.end()
        return
      } catch {
        await c.end().catch(() => {})
        await sleep(50)
      }
    }
  }
  return { url, port, ctl, ready }
}

/** A running cluster of the test's own (trust authentication, replication allowed). */
export async function createCluster (t: Owner, name: string): Promise<Cluster> {
  const port = await freePort()
  await exec('pg_createcluster', [version(), name, '-p', String(port), '--start', '--', '--auth=trust'])
  t.teardown(() => exec('pg_dropcluster', ['--stop', version(), name]).then(() => {}, () => {}))
  const cluster = clusterOf(name, port)
  await cluster.ready()
  return cluster
}

/** A streaming replica of `primary`: a new cluster whose data is `pg_basebackup -R` of it. */
export async function createReplica (t: Owner, primary: Cluster, name: string): Promise<Cluster> {
  const port = await freePort()
  await exec('pg_createcluster', [version(), name, '-p', String(port), '--', '--auth=trust'])
  t.teardown(() => exec('pg_dropcluster', ['--stop', version(), name]).then(() => {}, () => {}))
  const dataDir = `/var/lib/postgresql/${version()}/${name}`
  // Emptied, not removed: the folder is the postgres user's, its parent is not.
  for (const entry of await readdir(dataDir)) await rm(path.join(dataDir, entry), { recursive: true, force: true })
  await exec('runuser', ['-u', 'postgres', '--', 'pg_basebackup', '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', dataDir, '-R', '-X', 'stream'])
  const replica = clusterOf(name, port)
  await replica.ctl('start')
  await replica.ready()
  return replica
}
