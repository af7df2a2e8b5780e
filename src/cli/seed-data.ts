// Demo content for a new installation. (Filled in below.)
import type { Db } from '../db/client.js'

export async function seedDemo (_db: Db): Promise<void> {}

export async function seedIfEmpty (db: Db): Promise<boolean> {
  await seedDemo(db)
  return false
}
