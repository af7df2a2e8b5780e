// Issuing a staff token from the command line (`npm run token -- create ...`): the same steps
// whether the command opens the database itself or asks the running server to (local channel).
import type { Db } from '../../db/client.js'
import { createUser, findUserByEmail, firstAdmin } from '../users/service.js'
import { createToken } from './service.js'

export type IssueRequest = {
  role: string
  label: string
  email?: string
  name?: string
  expiresInDays?: number
}

export type Issued = {
  secret: string
  tokenId: string
  email: string
  role: string
  expiresAt: string | null
  /** Set when the user was made for this token. */
  createdUserId?: string
}

/** A refusal the caller can show as is (exit code 2). */
export class IssueRefused extends Error {}

const roles = ['admin', 'editor', 'author'] as const
type Role = (typeof roles)[number]

/** The checks that need no database; the command runs them before opening anything. */
export function checkIssueRequest (input: Partial<Record<keyof IssueRequest, unknown>>): IssueRequest {
  if (!roles.includes(input.role as Role)) throw new IssueRefused('--role must be admin, editor or author.')
  if (typeof input.label !== 'string' || !input.label.trim()) throw new IssueRefused('--label is required.')
  const days = input.expiresInDays
  if (days !== undefined && !(typeof days === 'number' && Number.isInteger(days) && days > 0)) {
    throw new IssueRefused('--expires-in-days must be a positive whole number.')
  }
  for (const key of ['email', 'name'] as const) {
    if (input[key] !== undefined && (typeof input[key] !== 'string' || !(input[key] as string).trim())) throw new IssueRefused(`--${key} must not be empty.`)
  }
  return {
    role: input.role as Role,
    label: input.label.trim(),
    ...(input.email !== undefined && { email: (input.email as string).trim() }),
    ...(input.name !== undefined && { name: (input.name as string).trim() }),
    ...(days !== undefined && { expiresInDays: days as number })
  }
}

/**
 * With an email, the token is that user's (made with the role and name if new). Without one,
 * an admin token goes to the first admin, made if there is none.
 */
export async function issueToken (db: Db, input: IssueRequest, now: Date): Promise<Issued> {
  const role = input.role as Role
  let user = input.email ? await findUserByEmail(db, input.email) : role === 'admin' ? await firstAdmin(db) : undefined
  let createdUserId: string | undefined
  if (!user) {
    if (!input.email && role !== 'admin') throw new IssueRefused('--email is required for an editor or author token.')
    user = await createUser(db, { name: input.name ?? 'Administrator', email: input.email ?? 'admin@localhost', role })
    createdUserId = user.id
  } else if (user.role !== role) {
    throw new IssueRefused(`${user.email} is ${user.role}, not ${role}; a token carries its user's role.`)
  }
  const expiresAt = input.expiresInDays ? new Date(now.getTime() + input.expiresInDays * 86_400_000) : null
  const { row, secret } = await createToken(db, { userId: user.id, label: input.label, expiresAt })
  return { secret, tokenId: row.id, email: user.email, role: user.role, expiresAt: expiresAt?.toISOString() ?? null, createdUserId }
}
