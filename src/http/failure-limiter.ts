// Counts failed authentications per client in fixed windows, to slow down token guessing.
export interface FailureLimiter {
  /** Seconds the client must still wait, or 0. */
  blockedFor (client: string): Promise<number>
  fail (client: string): Promise<void>
}

/** In-process counter: right for one instance; a shared store serves several. */
export function memoryFailureLimiter (limit: number, windowSeconds: number, now: () => number = Date.now): FailureLimiter {
  const windows = new Map<string, { start: number, count: number }>()
  const current = (client: string) => {
    const w = windows.get(client)
    if (w && now() - w.start < windowSeconds * 1000) return w
    windows.delete(client)
    return undefined
  }
  return {
    async blockedFor (client) {
      const w = current(client)
      if (!w || w.count < limit) return 0
      return Math.max(1, Math.ceil((w.start + windowSeconds * 1000 - now()) / 1000))
    },
    async fail (client) {
      const w = current(client)
      if (w) w.count++
      else {
        // Drop expired windows now and then so the map stays small.
        if (windows.size > 10_000) for (const key of windows.keys()) current(key)
        windows.set(client, { start: now(), count: 1 })
      }
    }
  }
}
