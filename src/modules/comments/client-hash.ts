// Client addresses are never stored: only a keyed hash, the same on every instance, so abuse
// from one address can be seen without keeping the address itself.
import { createHmac, randomBytes } from 'node:crypto'
import { eq } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { settings } from '../../db/schema.js'

const KEY = 'client_hash_secret'

async function sharedSecret (db: Db): Promise<string> {
  // The first instance to ask creates it; the rest read the same one.
  await db.insert(settings).values({ key: KEY, value: randomBytes(32).toString('base64url') }).onConflictDoNothing()
  const [row] = await db.select().from(settings).where(eq(settings.key, KEY))
  return row.value
}

export function clientHasher (db: Db, configured?: string) {
  let secret: Promise<string> | undefined
  return async (address: string) => {
    secret ??= configured ? Promise.resolve(configured) : sharedSecret(db).catch((error) => { secret = undefined; throw error })
    return createHmac('sha256', await secret).update(address).digest('hex').slice(0, 32)
  }
}
