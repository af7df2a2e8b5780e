// A PostgreSQL cluster of a test's own, made with Debian's cluster tools, that the test may stop
// and restart: for the suites that take the database away under load.
import type { Test } from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import net from 'node:net'
import { promisify } from 'node:util'
import pg from 'pg'
import { testDatabaseUrl } from './helper.js'

const exec = promisify(execFile)

// Run as root (as CI runs). CI sets TEST_FAULTS_REQUIRED, so there a missing tool fails instead.
const clusterTools = process.getuid?.() === 0 && existsSync('/usr/bin/pg_createcluster')
const required = !!process.env.TEST_FAULTS_REQUIRED
/** Why a fault suite skips here, or false. */
export const skipFaults = !testDatabaseUrl ? 'in the PostgreSQL run' : !clusterTools && !required ? 'needs root and Debian\'s pg_createcluster' : false

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function freePort () {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

export type Cluster = { url: string, ctl: (action: 'start' | 'stop' | 'restart') => Promise<void>, ready: () => Promise<void> }

/** A PostgreSQL cluster of the test's own on a free port, dropped at teardown. */
export async function createCluster (tt: Test): Promise<Cluster> {
  const version = readdirSync('/etc/postgresql').sort().at(-1)!
  // The prefix is what .ci/run sweeps up after a killed run.
  const name = `dateline_faults_${process.pid}`
  const port = await freePort()
  await exec('pg_createcluster', [version, name, '-p', String(port), '--start', '--', '--auth=trust'])
  tt.teardown(() => exec('pg_dropcluster', ['--stop', version, name]).then(() => {}, () => {}))
  const ctl = async (action: 'start' | 'stop' | 'restart') => {
    await exec('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, action, ...(action === 'start' ? [] : ['-m', 'fast'])])
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  // Ready means a real session answers, not merely that the port is open.
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
  return { url, ctl, ready }
}
