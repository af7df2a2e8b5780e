// A small, fast, seeded PRNG (sfc32) and the sampling helpers the seeder needs. Everything the
// benchmark generates comes from here, so the same seed always gives the same data.

export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number | string) {
    // Spread the seed over the four words of state with a string hash (cyrb128).
    const text = String(seed)
    let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762
    for (let i = 0; i < text.length; i++) {
      const k = text.charCodeAt(i)
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
    }
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
    this.a = (h1 ^ h2 ^ h3 ^ h4) >>> 0
    this.b = (h2 ^ h1) >>> 0
    this.c = (h3 ^ h1) >>> 0
    this.d = (h4 ^ h1) >>> 0
    for (let i = 0; i < 15; i++) this.u32()
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  u32 (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** [0, 1) */
  next (): number { return this.u32() / 4294967296 }

  /** An integer in [0, n). */
  int (n: number): number { return Math.floor(this.next() * n) }

  /** An integer in [min, max]. */
  range (min: number, max: number): number { return min + this.int(max - min + 1) }

  chance (p: number): boolean { return this.next() < p }

  pick<T> (items: readonly T[]): T { return items[this.int(items.length)] }

  /** A random version 4 UUID, from this generator (not from the system). */
  uuid (): string {
    const hex = (n: number) => n.toString(16).padStart(8, '0')
    const a = hex(this.u32())
    const b = hex(((this.u32() & 0xffff0fff) | 0x00004000) >>> 0)
    const c = hex(((this.u32() & 0x3fffffff) | 0x80000000) >>> 0)
    const d = hex(this.u32())
    return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`
  }

  /** Hex digits, `length` of them. */
  hex (length: number): string {
    let out = ''
    while (out.length < length) out += this.u32().toString(16).padStart(8, '0')
    return out.slice(0, length)
  }

  /** Fisher-Yates, in place. */
  shuffle<T> (items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = items[i]
      items[i] = items[j]
      items[j] = tmp
    }
    return items
  }
}

/** Draws indexes 0..n-1 with probability proportional to 1 / (rank + offset)^exponent. */
export class Zipf {
  private readonly cdf: Float64Array

  constructor (readonly n: number, exponent = 1, offset = 1) {
    this.cdf = new Float64Array(n)
    let total = 0
    for (let i = 0; i < n; i++) {
      total += 1 / Math.pow(i + offset, exponent)
      this.cdf[i] = total
    }
    for (let i = 0; i < n; i++) this.cdf[i] /= total
  }

  sample (rng: Rng): number {
    const u = rng.next()
    let lo = 0
    let hi = this.n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Probability of index i. */
  p (i: number): number { return this.cdf[i] - (i === 0 ? 0 : this.cdf[i - 1]) }
}

/** Picks one of the keys with the given weights (they need not add up to 1). */
export function weighted<K extends string> (rng: Rng, weights: Record<K, number>): K {
  const entries = Object.entries(weights) as Array<[K, number]>
  let total = 0
  for (const [, w] of entries) total += w
  let u = rng.next() * total
  for (const [k, w] of entries) {
    u -= w
    if (u < 0) return k
  }
  return entries[entries.length - 1][0]
}
