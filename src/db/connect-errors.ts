// Reaching PostgreSQL at start: a server that is still starting is waited for, with backoff and
// for a bounded time; anything else becomes one line that names the server and what to do.

/** A database that cannot be used, said in one line for the person starting the server. */
export class DatabaseStartError extends Error {}

type PgError = Error & { code?: string }

// Worth waiting for: the server is starting, restarting, or briefly out of connections.
const transient = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', '57P03', '53300'])
const isTransient = (error: PgError) => transient.has(error.code ?? '') || /timeout exceeded when trying to connect/i.test(error.message)

/** One line naming host, port and database, and what to do about the error. */
export function explainConnectError (error: PgError, url: string): string {
  const u = new URL(url)
  const host = u.hostname || 'localhost'
  const port = u.port || '5432'
  const database = decodeURIComponent(u.pathname.slice(1)) || '(default)'
  const user = decodeURIComponent(u.username) || '(default)'
  const at = `${host}:${port}`
  switch (error.code) {
    case 'ECONNREFUSED':
      return `Nothing accepts connections at ${at}: start PostgreSQL there, or point DATABASE_URL at a running server.`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `The database host "${host}" is not known: check the host name in DATABASE_URL.`
    case '3D000':
      return `Database "${database}" does not exist at ${at}: create it (createdb -h ${host} -p ${port} ${database}), or fix DATABASE_URL.`
    case '28000':
      return `PostgreSQL at ${at} refused user "${user}" for database "${database}" (${error.message}): create the role (createuser -h ${host} -p ${port} ${user}) or fix DATABASE_URL and pg_hba.conf.`
    case '28P01':
      return `PostgreSQL at ${at} rejected the password of user "${user}": fix DATABASE_URL.`
    case '57P03':
      return `PostgreSQL at ${at} is still starting up; it did not finish in time. Try again when it is ready.`
    default:
      return `Cannot use database "${database}" at ${at}: ${error.message}${error.code ? ` (${error.code})` : ''}.`
  }
}

/** Runs `attempt` until it succeeds, retrying transient failures for up to `waitMs`. */
export async function waitForServer (attempt: () => Promise<unknown>, url: string, waitMs: number, onRetry?: (error: Error, delayMs: number) => void) {
  const deadline = Date.now() + waitMs
  for (let delay = 250; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      await attempt()
      return
    } catch (error) {
      const e = error as PgError
      if (!isTransient(e) || Date.now() + delay > deadline) throw new DatabaseStartError(explainConnectError(e, url), { cause: e })
      onRetry?.(new Error(explainConnectError(e, url)), delay)
      await new Promise((resolve) => setTimeout(resolve, delay))
    }
  }
}
