/**
 * Runs `work` one at a time. A call while it runs gets the next run, shared by every call made
 * meanwhile: so each caller gets a run that started after its call (a writer that asks the change
 * follower to read sees its own change), and a burst of calls costs two runs, not one each.
 */
export function coalesced (work: () => Promise<void>): (() => Promise<void>) & { settled: () => Promise<void> } {
  let running: Promise<void> | undefined
  let queued: Promise<void> | undefined
  const start = () => {
    const run: Promise<void> = work().finally(() => { if (running === run) running = undefined })
    running = run
    return run
  }
  const call = (): Promise<void> => {
    if (!running) return start()
    queued ??= running.catch(() => {}).then(() => { queued = undefined; return call() })
    return queued
  }
  /** Resolves once no run is going on, without starting one (for a clean stop). */
  const settled = async () => { while (running) await running.catch(() => {}) }
  return Object.assign(call, { settled })
}
