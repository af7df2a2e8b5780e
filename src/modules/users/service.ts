// Staff users: who may do what, and which byline is theirs.
import { and, eq, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { apiTokens, users } from '../../db/schema.js'
import { assertVersion, type IfMatch } from '../../http/caching.js'
import { AppError, invalidField, notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf } from '../../http/pagination.js'
import { missingAuthors } from '../authors/service.js'
import type { CreateUser, UpdateUser } from './schemas.js'

const byCreated = { createdAt: { expr: users.createdAt, kind: 'date' as const } }

export async function listUsers (db: Db, { limit, cursor: cursorRaw, total }: { limit: number, cursor?: string, total?: boolean }) {
  const sort = parseSort('-createdAt', byCreated, '-createdAt')
  const { where, orderBy } = keyset(sort, users.id, decodeCursor(cursorRaw, sort))
  const rows = await db.select().from(users).where(where).orderBy(...orderBy).limit(limit + 1)
  return paginate(rows, limit, sort, (r) => r.createdAt, await totalOf(db, total, users, undefined))
}

export async function getUser (db: Db, id: string) {
  const [row] = await db.select().from(users).where(eq(users.id, id))
  if (!row) throw notFound('User')
  return row
}

async function assertUsable (db: Db, input: UpdateUser, selfId?: string) {
  if (input.authorId && (await missingAuthors(db, [input.authorId])).length > 0) throw invalidField('/authorId', 'is not the id of an author')
  if (input.email) {
    const [clash] = await db.select({ id: users.id }).from(users).where(eq(sql`lower(${users.email})`, input.email.toLowerCase()))
    if (clash && clash.id !== selfId) {
      throw new AppError('CONFLICT', 'Another user has this email.', { errors: [{ path: '/email', in: 'body', message: 'is already used by another user' }] })
    }
  }
}

export async function createUser (db: Db, input: CreateUser) {
  return db.transaction(async (tx) => {
    await assertUsable(tx as unknown as Db, input)
    const [row] = await tx.insert(users).values({ ...input, email: input.email.trim() }).returning()
    return row
  })
}

export async function updateUser (db: Db, id: string, input: UpdateUser, ifMatch: IfMatch | undefined, now: Date) {
  return db.transaction(async (tx) => {
    if (input.role !== undefined && input.role !== 'admin') await lockAdminChanges(tx as unknown as Db)
    const [current] = await tx.select().from(users).where(eq(users.id, id)).for('update')
    if (!current) throw notFound('User')
    assertVersion(current, ifMatch)
    await assertUsable(tx as unknown as Db, input, id)
    if (current.role === 'admin' && input.role && input.role !== 'admin') await assertAnotherAdmin(tx as unknown as Db, id)
    const [row] = await tx.update(users).set({ ...input, version: current.version + 1, updatedAt: now }).where(eq(users.id, id)).returning()
    return row
  })
}

// Two requests that each demote or delete one of the last two admins would each see the other
// admin still in place and both succeed, leaving none. Changes that may remove an admin take this
// transaction-scoped lock first, so they run one after the other and the second sees the first.
const ADMIN_CHANGE_LOCK_KEY = 4_217_002

async function lockAdminChanges (db: Db) {
  await db.execute(sql`select pg_advisory_xact_lock(${ADMIN_CHANGE_LOCK_KEY})`)
}

/** The last admin cannot be removed or demoted: nobody could manage users after that. */
async function assertAnotherAdmin (db: Db, id: string) {
  const [other] = await db.select({ id: users.id }).from(users).where(and(eq(users.role, 'admin'), sql`${users.id} <> ${id}`)).limit(1)
  if (!other) throw new AppError('INVALID_STATE', 'This is the last admin; make another user admin first.')
}

export async function deleteUser (db: Db, id: string, ifMatch: IfMatch | undefined) {
  await db.transaction(async (tx) => {
    await lockAdminChanges(tx as unknown as Db)
    const [current] = await tx.select().from(users).where(eq(users.id, id)).for('update')
    if (!current) throw notFound('User')
    assertVersion(current, ifMatch)
    if (current.role === 'admin') await assertAnotherAdmin(tx as unknown as Db, id)
    await tx.delete(apiTokens).where(eq(apiTokens.userId, id))
    await tx.delete(users).where(eq(users.id, id))
  })
}

export async function findUserByEmail (db: Db, email: string) {
  const [row] = await db.select().from(users).where(eq(sql`lower(${users.email})`, email.toLowerCase()))
  return row
}

export async function firstAdmin (db: Db) {
  const [row] = await db.select().from(users).where(eq(users.role, 'admin')).orderBy(users.createdAt).limit(1)
  return row
}
