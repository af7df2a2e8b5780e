// The public cache's storage: entries by key, an index from each cache tag to the keys carrying
// it, eviction by tag (a change), by age, and by size (oldest first, a second chance for an
// entry read since its last turn). It knows nothing of HTTP (src/http/public-cache.ts).

export type Stored = {
  tags: string[]
  /** Date.now() when stored. */
  storedAt: number
  /** Its bytes. */
  size: number
  /** Read since it was stored or last spared from eviction. */
  used: boolean
}

export type StoreLimits = { maxEntries: number, maxBytes: number, maxAgeMs: number }

/** Evictions remembered, so a miss computed across one does not store what it evicted. */
const RECENT = 1000

export class TaggedStore<E extends Stored> {
  private entries = new Map<string, E>()
  private byTag = new Map<string, Set<string>>()
  bytes = 0
  /** Counts evictions by tag; a miss notes it, to check at store time what was evicted since. */
  epoch = 0
  /** The last evictions' epochs and tags, oldest first. */
  private recent: Array<{ epoch: number, tags: Set<string> }> = []
  /** Misses from before this epoch store nothing (the store was emptied since). */
  private floor = 0
  evicted = 0

  constructor (private readonly limits: StoreLimits) {}

  get size () { return this.entries.size }
  get tagCount () { return this.byTag.size }

  /** An entry young enough to serve; an older one goes. */
  get (key: string): E | undefined {
    const entry = this.entries.get(key)
    if (entry && Date.now() - entry.storedAt > this.limits.maxAgeMs) {
      this.drop(key)
      return undefined
    }
    return entry
  }

  set (key: string, entry: E) {
    this.drop(key)
    this.entries.set(key, entry)
    for (const tag of entry.tags) {
      const keys = this.byTag.get(tag)
      if (keys) keys.add(key)
      else this.byTag.set(tag, new Set([key]))
    }
    this.grew(key, entry.size)
  }

  /** An entry grew by `bytes` (a compressed copy made later): the limits apply again. */
  grew (key: string, bytes: number) {
    this.bytes += bytes
    this.trim(key)
  }

  /** Evicts every entry that carries one of these tags. */
  evictTags (tags: Set<string>) {
    this.epoch++
    this.recent.push({ epoch: this.epoch, tags })
    if (this.recent.length > RECENT) this.recent.shift()
    for (const tag of tags) {
      const keys = this.byTag.get(tag)
      if (!keys) continue
      for (const key of [...keys]) { this.drop(key); this.evicted++ }
    }
  }

  /** Empties the store: what changed is unknown. */
  clear () {
    this.epoch++
    this.floor = this.epoch
    this.entries.clear()
    this.byTag.clear()
    this.bytes = 0
  }

  /** Whether an eviction since `epoch` named one of these tags (or the store was emptied). */
  touchedSince (epoch: number, tags: string[]) {
    if (epoch === this.epoch) return false
    if (epoch < this.floor || (this.recent[0]?.epoch ?? 0) > epoch + 1) return true
    return this.recent.some((r) => r.epoch > epoch && tags.some((t) => r.tags.has(t)))
  }

  private drop (key: string) {
    const entry = this.entries.get(key)
    if (!entry) return
    this.entries.delete(key)
    this.bytes -= entry.size
    for (const tag of entry.tags) {
      const keys = this.byTag.get(tag)
      keys?.delete(key)
      if (keys?.size === 0) this.byTag.delete(tag)
    }
  }

  /** Oldest first; an entry read since its last turn goes to the back instead, once. */
  private trim (stored: string) {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) return
      // The entry just stored is not the one to go, even when every other one was read.
      if (key === stored) continue
      if (entry.used) {
        entry.used = false
        this.entries.delete(key)
        this.entries.set(key, entry)
      } else {
        this.drop(key)
      }
    }
  }
}
