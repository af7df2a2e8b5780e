// Where the Redis suites find Redis, and whether it answers: without one they skip, saying why.
import { Redis } from 'ioredis'

/** TEST_REDIS_URL, or Redis on its usual local port. */
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/**
 * Why a suite that needs Redis cannot run here, or false when Redis answers a PING within a
 * second. With TEST_REDIS_REQUIRED set (as CI does), a missing Redis is no reason to skip: the
 * suite runs, and fails.
 */
export async function redisMissing (): Promise<string | false> {
  if (process.env.TEST_REDIS_REQUIRED) return false
  const probe = new Redis(testRedisUrl, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null })
  let cause: string | undefined
  probe.on('error', (error: Error) => { cause ??= error.message })
  try {
    await probe.connect()
    await probe.ping()
    return false
  } catch (error) {
    return `no Redis answers at ${testRedisUrl} (${cause ?? (error as Error).message}): start one, or point TEST_REDIS_URL at one`
  } finally {
    probe.disconnect()
  }
}
