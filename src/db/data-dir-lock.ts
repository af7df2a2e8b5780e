// One process at a time in an embedded database folder. PGlite has no lock of its own: two
// processes on one folder reuse transaction ids and corrupt it. The lock is a file made with
// link(2), which fails if the file exists; its holder rewrites it every few seconds, so a lock
// left by a killed process is recognised (its process is gone, or it has gone quiet) and taken over.
import { link, mkdir, readFile, rename, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { randomBytes } from 'node:crypto'

/** What the lock file says about its holder. */
export type LockHolder = {
  pid: number
  host: string
  startedAt: string
  /** What holds it: the server, or a command that runs and ends. */
  role: string
  /** Where the holder takes local commands (the server's local channel), if anywhere. */
  socket?: string
  nonce: string
}

export type DataDirLock = {
  file: string
  holder: LockHolder
  /** Records where the holder takes local commands. */
  advertise: (socket: string) => Promise<void>
  release: () => Promise<void>
}

export class DataDirBusyError extends Error {
  constructor (readonly dataDir: string, readonly holder: LockHolder) {
    super(`${dataDir} is in use by another Dateline process (${holder.role}, pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`)
  }
}

const HEARTBEAT_MS = 5_000
// A holder silent for this long is gone, whatever its pid says (a pid can be reused, and a
// container that restarts gets a new host name).
const QUIET_MS = 30_000

export const lockFileOf = (dataDir: string) => path.join(dataDir, 'dateline.lock')

export async function readHolder (file: string): Promise<{ holder: LockHolder, mtimeMs: number } | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)])
    return { holder: JSON.parse(text) as LockHolder, mtimeMs: info.mtimeMs }
  } catch (error) {
    // Missing, or caught half-written: either way nobody can be shown to hold it.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined
    throw error
  }
}

function alive (pid: number) {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

// Locks this process holds: a lock naming this pid but none of these is an earlier life's (a
// container's first process has the same pid every time).
const heldHere = new Set<string>()

export function isStale ({ holder, mtimeMs }: { holder: LockHolder, mtimeMs: number }, now = Date.now()) {
  if (now - mtimeMs > QUIET_MS) return true
  if (holder.host !== hostname()) return false
  if (holder.pid === process.pid) return !heldHere.has(holder.nonce)
  return !alive(holder.pid)
}

/** Takes the folder's lock, or throws DataDirBusyError naming who holds it. */
export async function lockDataDir (dataDir: string, role: string): Promise<DataDirLock> {
  await mkdir(dataDir, { recursive: true })
  const file = lockFileOf(dataDir)
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), role, nonce: randomBytes(8).toString('hex') }
  const draft = `${file}.${holder.nonce}`
  await writeFile(draft, JSON.stringify(holder), { mode: 0o600 })
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(draft, file)
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const found = await readHolder(file)
      if (found && !isStale(found)) throw new DataDirBusyError(dataDir, found.holder)
      if (attempt >= 20) throw new Error(`could not take the lock ${file}`)
      await takeOverStale(file, found?.holder.nonce)
    }
  } finally {
    await unlink(draft).catch(() => {})
  }

  heldHere.add(holder.nonce)
  let current = holder
  const heartbeat = setInterval(() => {
    const t = new Date()
    utimes(file, t, t).catch(() => {})
  }, HEARTBEAT_MS)
  heartbeat.unref()
  let released = false
  return {
    file,
    get holder () { return current },
    async advertise (socket) {
      current = { ...current, socket }
      // Written aside and renamed over the lock, so a reader never sees half a file.
      const next = `${file}.${current.nonce}`
      await writeFile(next, JSON.stringify(current), { mode: 0o600 })
      await rename(next, file)
    },
    async release () {
      if (released) return
      released = true
      clearInterval(heartbeat)
      heldHere.delete(holder.nonce)
      const found = await readHolder(file)
      if (found?.holder.nonce === holder.nonce) await unlink(file).catch(() => {})
    }
  }
}

/**
 * Removes a stale lock, unless another process is taking it over at the same moment: a folder
 * made with mkdir(2) lets one process at a time check and remove, so no process removes a lock
 * that another has just taken.
 */
async function takeOverStale (file: string, staleNonce: string | undefined) {
  const guard = `${file}.takeover`
  try {
    await mkdir(guard)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    // Someone else is at it; a guard left by a process killed in these few lines is cleared.
    const info = await stat(guard).catch(() => undefined)
    if (info && Date.now() - info.mtimeMs > QUIET_MS) await rmdir(guard).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 50))
    return
  }
  try {
    const found = await readHolder(file)
    if (found && found.holder.nonce === staleNonce && isStale(found)) await unlink(file)
    else if (!found && staleNonce === undefined) await unlink(file).catch(() => {})
  } finally {
    await rmdir(guard).catch(() => {})
  }
}
