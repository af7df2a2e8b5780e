// Runs at most `concurrency` jobs at once, with at most `maxWaiting` more waiting their turn; past
// that a job is refused at once (QueueFullError) rather than piling up memory and latency.

export class QueueFullError extends Error {
  constructor () { super('The work queue is full.') }
}

export class WorkQueue {
  private running = 0
  private readonly waiting: Array<() => void> = []

  constructor (readonly concurrency: number, readonly maxWaiting: number) {}

  /** Jobs running now. */
  get active () { return this.running }
  /** Jobs waiting for a slot. */
  get queued () { return this.waiting.length }

  async run<T> (job: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.maxWaiting) throw new QueueFullError()
      // The slot is handed over by the job that finishes, so `running` stays counted.
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      this.running++
    }
    try {
      return await job()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }
}
