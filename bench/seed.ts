// Fast, deterministic bulk seeder for the benchmark.
//
//   npx tsx bench/seed.ts [--articles 100000] [--seed dateline] [--keep-indexes] [--connections 4]
//
// Seeds the database of DATABASE_URL (PostgreSQL) or, without it, the PGlite database in DATA_DIR,
// which must have no articles yet. Everything comes from a seeded PRNG: the same seed on the same
// UTC day gives the same rows (dates are laid out back from the start of the current UTC day).
//
// Shape at 100,000 articles (smaller runs scale the rest down, with minimums): 200 authors,
// 30 sections, 500 tags, 10,000 photos, 300,000 comments. ~90% of articles are published, spread
// over three years; the rest are drafts, scheduled or archived. Bodies hold 300-900 words in
// paragraph, heading, quote, list, photo, related and embed blocks; body_text, word_count,
// reading_time_minutes and auto_excerpt are what the app would store (its own functions compute
// them, and a sample of articles is checked against the app's derived() on the whole body).
//
// Speed: rows go in as multi-row INSERT ... VALUES statements (prepared once per connection), a
// thousand rows a statement, over several connections at once, each in one transaction. Secondary indexes and foreign keys
// are dropped first and recreated afterwards from their own definitions (pg_get_indexdef and
// pg_get_constraintdef), and the result is checked against what the migrations created.
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { cleanInline, countWords, derived, excerptOf, inlineToText, readingMinutes } from '../src/modules/articles/body.js'
import type { Block } from '../src/modules/articles/schemas.js'
import { bodyHashOf } from '../src/modules/comments/service.js'
import { openDatabase } from '../src/db/client.js'
import { baseSlug, slugify } from '../src/lib/slug.js'
import { Rng, Zipf, weighted } from './prng.js'
import {
  COMMON_TERM, contentWords, firstNames, functionWords, properNoun, sectionNames, tagQualifiers, tagTopics
} from './words.js'

export type SeedTarget = { url: string } | { dataDir: string }

export type SeedOptions = {
  target: SeedTarget
  articles: number
  seed?: string
  /** The newest published article is just before this; scheduled ones come after it. */
  now?: Date
  /** Keep secondary indexes and foreign keys in place during the load (slower; for comparison). */
  keepIndexes?: boolean
  /**
   * PostgreSQL connections loading at once (default 4). Two would keep two cores busy; more get
   * the load a fairer share of the CPU when something else runs on the machine too.
   */
  connections?: number
  log?: (line: string) => void
}

export type SeedCounts = {
  articles: number
  published: number
  draft: number
  scheduled: number
  archived: number
  authors: number
  sections: number
  tags: number
  photos: number
  comments: number
  approvedComments: number
  articleAuthors: number
  articleTags: number
  articleRelated: number
  articleBodyPhotos: number
}

export type SeedResult = {
  counts: SeedCounts
  ms: number
  phases: Record<string, number>
  /** Search terms for the benchmark: one in many articles, one in a handful. */
  terms: { common: string, rare: string }
}

// ---- scale -------------------------------------------------------------------------------

export function scaleFor (articles: number) {
  const f = articles / 100_000
  return {
    articles,
    authors: Math.max(5, Math.round(200 * f)),
    sections: Math.min(sectionNames.length, Math.max(5, Math.round(30 * f))),
    tags: Math.max(20, Math.round(500 * f)),
    photos: Math.max(50, Math.round(10_000 * f)),
    comments: Math.max(20, Math.round(300_000 * f))
  }
}

// ---- database access: pg (two connections) or PGlite (one) --------------------------------

/** A statement with its parameters; a name makes PostgreSQL parse and plan it once per connection. */
type Statement = { name?: string, text: string, values?: unknown[] }

type Conn = {
  query: (statement: Statement | string) => Promise<{ rows: Array<Record<string, unknown>> }>
  close: () => Promise<void>
}

async function connect (target: SeedTarget, count: number): Promise<Conn[]> {
  if ('url' in target) {
    const pg = (await import('pg')).default
    const conns: Conn[] = []
    for (let i = 0; i < count; i++) {
      const client = new pg.Client({ connectionString: target.url })
      await client.connect()
      conns.push({
        query: async (statement) => client.query(typeof statement === 'string' ? { text: statement } : statement),
        close: async () => { await client.end() }
      })
    }
    return conns
  }
  const { PGlite } = await import('@electric-sql/pglite')
  // The same folder the app uses for DATA_DIR (see src/db/client.ts).
  const db = new PGlite(path.resolve(target.dataDir, 'pglite'))
  await db.waitReady
  return [{
    query: async (statement) => typeof statement === 'string'
      ? db.query<Record<string, unknown>>(statement)
      : db.query<Record<string, unknown>>(statement.text, statement.values),
    close: async () => { await db.close() }
  }]
}

// ---- text ------------------------------------------------------------------------------------

/** A piece of inline text as stored, its plain text (inlineToText) and its word count (countWords). */
type Piece = { text: string, plain: string, words: number }

const uniqueWords = (list: string[]) => [...new Set(list)]
const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

class TextMaker {
  readonly fn = uniqueWords(functionWords)
  readonly content = uniqueWords(contentWords)
  readonly fnZipf = new Zipf(this.fn.length, 1, 2)
  readonly contentZipf = new Zipf(this.content.length, 1, 3)
  readonly nouns: string[]
  readonly nounZipf: Zipf
  /** Sentences to build paragraphs from; each is stored clean, with its plain text and count. */
  readonly sentences: Piece[] = []
  readonly sentenceUses: Int32Array
  /** For each noun, the pool sentences that contain it. */
  readonly nounSentences = new Map<number, number[]>()
  readonly headings: Piece[] = []
  private readonly cityNames: string[]

  constructor (private readonly rng: Rng, poolSize: number) {
    const seen = new Set<string>()
    this.nouns = []
    while (this.nouns.length < 20_000) {
      const noun = properNoun(() => rng.next())
      if (!seen.has(noun.toLowerCase())) { seen.add(noun.toLowerCase()); this.nouns.push(noun) }
    }
    this.nounZipf = new Zipf(this.nouns.length, 0.7, 10)
    this.cityNames = this.nouns.slice(0, 40).map((n) => n.toUpperCase())
    for (let i = 0; i < poolSize; i++) this.sentences.push(this.makeSentence(i, 8, 26))
    this.sentenceUses = new Int32Array(poolSize)
    for (let i = 0; i < 2_000; i++) this.headings.push(this.piece(this.phrase(3, 7)))
  }

  private piece (text: string): Piece {
    const plain = inlineToText(text)
    return { text, plain, words: countWords(plain) }
  }

  private token (nounsUsed?: number[]): string {
    const u = this.rng.next()
    if (u < 0.03) {
      const i = this.nounZipf.sample(this.rng)
      nounsUsed?.push(i)
      return this.nouns[i]
    }
    if (u < 0.47) return this.fn[this.fnZipf.sample(this.rng)]
    return this.content[this.contentZipf.sample(this.rng)]
  }

  /** Words without a full stop: headlines, headings, names of things. */
  phrase (min: number, max: number): string {
    const n = this.rng.range(min, max)
    const out: string[] = []
    for (let i = 0; i < n; i++) out.push(this.token())
    return capitalise(out.join(' '))
  }

  private makeSentence (index: number, min: number, max: number): Piece {
    const n = this.rng.range(min, max)
    const nounsUsed: number[] = []
    const out: string[] = []
    for (let i = 0; i < n; i++) out.push(this.token(nounsUsed) + (i < n - 1 && this.rng.chance(0.08) ? ',' : ''))
    // Some inline markup: the app keeps <strong>, <em> and <a href>.
    const m = this.rng.next()
    if (m < 0.02 && n > 4) {
      const at = this.rng.range(1, n - 3)
      out[at] = `<a href="https://www.example.org/news/${this.rng.hex(8)}">${out[at].replace(/,$/, '')}`
      out[at + 1] = `${out[at + 1].replace(/,$/, '')}</a>`
    } else if (m < 0.05) {
      const at = this.rng.int(n)
      const word = out[at].replace(/,$/, '')
      out[at] = `${m < 0.035 ? '<strong>' : '<em>'}${word}${m < 0.035 ? '</strong>' : '</em>'}${out[at].endsWith(',') ? ',' : ''}`
    }
    const raw = `${capitalise(out.join(' '))}${this.rng.chance(0.04) ? '?' : '.'}`
    for (const noun of new Set(nounsUsed)) {
      const list = this.nounSentences.get(noun)
      if (list) list.push(index)
      else this.nounSentences.set(noun, [index])
    }
    // What the app stores is the cleaned text; plain text sentences are already clean.
    return this.piece(raw.includes('<') ? cleanInline(raw) : raw)
  }

  sentence (): Piece {
    const i = this.rng.int(this.sentences.length)
    this.sentenceUses[i]++
    return this.sentences[i]
  }

  /** Sentences joined by spaces: the plain text and the count add up piece by piece. */
  join (pieces: Piece[]): Piece {
    let words = 0
    let marked = false
    for (const p of pieces) {
      words += p.words
      if (p.text !== p.plain) marked = true
    }
    const text = pieces.map((p) => p.text).join(' ')
    return { text, plain: marked ? pieces.map((p) => p.plain).join(' ') : text, words }
  }

  paragraph (): Piece {
    const n = this.rng.range(2, 6)
    const pieces: Piece[] = []
    for (let i = 0; i < n; i++) pieces.push(this.sentence())
    return this.join(pieces)
  }

  heading (): Piece { return this.headings[this.rng.int(this.headings.length)] }

  city (): string { return this.rng.pick(this.cityNames) }

  /** A noun in a single pool sentence that a few articles used: the rare search term. */
  rareTerm (): string {
    let best: { noun: string, uses: number } | undefined
    for (const [noun, list] of this.nounSentences) {
      // Names of people (authors, commenters) and places come from the first few thousand nouns.
      if (noun < 5000 || list.length !== 1) continue
      const uses = this.sentenceUses[list[0]]
      if (uses < 3) continue
      if (!best || Math.abs(uses - 12) < Math.abs(best.uses - 12)) best = { noun: this.nouns[noun], uses }
    }
    return best?.noun ?? this.nouns[0]
  }
}

// ---- rows ------------------------------------------------------------------------------------

const DAY = 86_400_000
const iso = (ms: number) => new Date(ms).toISOString()

type Status = 'published' | 'draft' | 'scheduled' | 'archived'

type Skeleton = {
  id: string
  status: Status
  createdAt: number
  publishedAt: number | null
  comments: number
}

type Taxon = { id: string, slug: string }

function uniqueSlugs () {
  const taken = new Set<string>()
  // The app's rule (src/lib/slug.ts uniqueSlug): base, then base-2, base-3, ...
  return (text: string) => {
    const base = baseSlug(text)
    let slug = base
    for (let n = 2; taken.has(slug); n++) slug = `${base}-${n}`
    taken.add(slug)
    return slug
  }
}

/** What the app computes on write (derived() in src/modules/articles/body.ts), piece by piece. */
function derive (parts: Piece[], standfirstPlain: string | null) {
  const kept = parts.filter((p) => p.plain !== '')
  const text = kept.map((p) => p.plain).join('\n')
  let words = 0
  for (const p of kept) words += p.words
  // excerptOf looks at the first 200 characters once whitespace is squeezed: a long prefix is
  // enough, and the sample check below compares with excerptOf of the whole text.
  return { bodyText: text, wordCount: words, readingTimeMinutes: readingMinutes(words), autoExcerpt: excerptOf(standfirstPlain ?? text.slice(0, 1000)) }
}

// ---- the seeder ------------------------------------------------------------------------------

const ARTICLE_CHUNK = 1000

export async function seed (options: SeedOptions): Promise<SeedResult> {
  const log = options.log ?? ((line: string) => console.log(line))
  const started = performance.now()
  const phases: Record<string, number> = {}
  let mark = started
  const phase = (name: string) => {
    const now = performance.now()
    phases[name] = Math.round(now - mark)
    mark = now
  }

  const scale = scaleFor(options.articles)
  const seedText = options.seed ?? 'dateline'
  const anchor = options.now ? options.now.getTime() : Math.floor(Date.now() / DAY) * DAY
  const span = 3 * 365 * DAY

  // Migrate through the app, so the tables are exactly what the server expects.
  const database = await openDatabase('url' in options.target ? { url: options.target.url, poolSize: 2 } : { dataDir: options.target.dataDir })
  try {
    await database.migrate()
  } finally {
    await database.close()
  }
  phase('migrate')

  const conns = await connect(options.target, 'url' in options.target ? Math.max(1, options.connections ?? 4) : 1)
  const [main] = conns
  try {
    const existing = await main.query('select count(*)::int as n from articles')
    if (Number(existing.rows[0].n) > 0) throw new Error('The database already has articles; the benchmark seeder needs an empty one.')
    if ('url' in options.target) {
      for (const c of conns) {
        await c.query('set synchronous_commit = off')
        await c.query("set maintenance_work_mem = '1GB'")
      }
    }

    // Secondary indexes and foreign keys, as the migrations made them.
    const indexesBefore = await secondaryIndexes(main)
    const keysBefore = await foreignKeys(main)
    if (!options.keepIndexes) {
      for (const k of keysBefore) await main.query(`alter table ${k.table} drop constraint ${quoteIdent(k.name)}`)
      for (const i of indexesBefore) await main.query(`drop index ${quoteIdent(i.name)}`)
    }
    phase('drop indexes')

    const rng = new Rng(`${seedText}:text`)
    const text = new TextMaker(rng, Math.min(150_000, Math.max(3_000, Math.round(scale.articles * 1.2))))
    phase('text pool')

    // Several statements at once, one per connection; each connection is one transaction.
    const queue = new StatementQueue(conns)
    await queue.all('begin')

    // Photos, sections, tags, authors.
    const meta = new Rng(`${seedText}:meta`)
    const photoIds: string[] = []
    const photoRows: Array<Record<string, unknown>> = []
    for (let i = 0; i < scale.photos; i++) {
      const id = meta.uuid()
      photoIds.push(id)
      const landscape = meta.chance(0.8)
      const width = landscape ? meta.pick([1600, 2000, 2400, 3000]) : meta.pick([1200, 1600])
      const height = landscape ? Math.round(width / meta.pick([1.5, 1.78, 1.33])) : Math.round(width * 1.25)
      const url = `https://images.dateline.example/photos/${id}.jpg`
      const created = anchor - span - 30 * DAY + Math.floor(meta.next() * (span + 29 * DAY))
      photoRows.push({
        id,
        caption: text.sentence().plain,
        credit: `PHOTO: ${meta.pick(firstNames)} ${text.nouns[meta.int(500)]}`,
        alt_text: meta.chance(0.9) ? text.phrase(5, 12) : null,
        width,
        height,
        mime_type: 'image/jpeg',
        bytes: 150_000 + meta.int(2_500_000),
        url,
        renditions: [400, 800, 1600].filter((w) => w < width).map((w) => ({ width: w, url: `https://images.dateline.example/photos/${id}-${w}.jpg` })),
        created_at: iso(created),
        updated_at: iso(created)
      })
    }
    for (let i = 0; i < photoRows.length; i += 5000) {
      await queue.push(inserts('photos', photoColumns, photoRows.slice(i, i + 5000)))
    }

    const taxonomy = async (table: 'sections' | 'tags', names: string[]) => {
      const slugOf = uniqueSlugs()
      const rows = names.map((name) => {
        const created = anchor - span - 60 * DAY + meta.int(30 * DAY)
        return { id: meta.uuid(), slug: slugOf(name), name, description: meta.chance(0.7) ? text.sentence().plain : null, created_at: iso(created), updated_at: iso(created) }
      })
      await queue.push(inserts(table, taxonomyColumns, rows))
      return rows.map((r): Taxon => ({ id: r.id, slug: r.slug }))
    }
    const sections = await taxonomy('sections', sectionNames.slice(0, scale.sections))
    const tagNames: string[] = [...tagTopics]
    for (const q of tagQualifiers) for (const t of tagTopics) tagNames.push(`${q} ${t}`)
    meta.shuffle(tagNames.splice(tagTopics.length))
      .forEach((name) => tagNames.push(name))
    for (let i = 0; tagNames.length < scale.tags; i++) tagNames.push(`${text.nouns[1000 + i]} ${meta.pick(tagTopics)}`)
    const tags = await taxonomy('tags', [...new Set(tagNames)].slice(0, scale.tags))

    const authorSlug = uniqueSlugs()
    const authorRows: Array<Record<string, unknown>> = []
    const authorNames = new Set<string>()
    while (authorRows.length < scale.authors) {
      const name = `${meta.pick(firstNames)} ${text.nouns[meta.int(3000)]}`
      if (authorNames.has(name)) continue
      authorNames.add(name)
      const slug = authorSlug(name)
      const created = anchor - span - 30 * DAY + meta.int(span)
      authorRows.push({
        id: meta.uuid(),
        slug,
        name,
        bio: meta.chance(0.85) ? `${text.sentence().plain} ${text.sentence().plain}` : null,
        avatar_id: meta.chance(0.5) ? meta.pick(photoIds) : null,
        email: `${slug}@dateline.example`,
        links: meta.chance(0.6) ? { website: `https://www.example.org/${slug}`, x: `https://x.com/${slug.replace(/-/g, '')}` } : {},
        created_at: iso(created),
        updated_at: iso(created)
      })
    }
    await queue.push(inserts('authors', authorColumns, authorRows))
    const authorIds = authorRows.map((a) => a.id as string)
    const sectionZipf = new Zipf(sections.length, 1, 1)
    const tagZipf = new Zipf(tags.length, 1, 1)
    const authorZipf = new Zipf(authorIds.length, 0.8, 2)
    phase('photos, authors, taxonomy')

    // Skeletons first: ids, states, dates, and how many comments each article gets.
    const sk = new Rng(`${seedText}:articles`)
    const skeletons: Skeleton[] = []
    for (let i = 0; i < scale.articles; i++) {
      const status = weighted<Status>(sk, { published: 0.9, draft: 0.045, scheduled: 0.02, archived: 0.035 })
      const t = anchor - span + Math.floor(((i + sk.next()) / scale.articles) * (span - 3_600_000))
      let createdAt = t - 600_000 - sk.int(2 * DAY)
      let publishedAt: number | null = t
      if (status === 'draft') publishedAt = null
      if (status === 'scheduled') {
        publishedAt = anchor + DAY + sk.int(29 * DAY)
        createdAt = anchor - sk.int(14 * DAY)
      }
      skeletons.push({ id: sk.uuid(), status, createdAt, publishedAt, comments: 0 })
    }
    // Newer stories draw more comments: the newest published one gets the most.
    const newestFirst = skeletons.filter((s) => s.status === 'published').reverse()
    for (let c = 0; c < scale.comments && newestFirst.length > 0; c++) {
      const u = sk.next()
      newestFirst[Math.floor(newestFirst.length * u * u)].comments++
    }
    phase('skeletons')

    const counts: SeedCounts = {
      articles: scale.articles, published: 0, draft: 0, scheduled: 0, archived: 0, authors: authorRows.length,
      sections: sections.length, tags: tags.length, photos: photoRows.length, comments: 0, approvedComments: 0,
      articleAuthors: 0, articleTags: 0, articleRelated: 0, articleBodyPhotos: 0
    }
    for (const s of skeletons) counts[s.status]++

    const art = new Rng(`${seedText}:bodies`)
    const com = new Rng(`${seedText}:comments`)
    const slugOf = uniqueSlugs()
    const clientHashes = Array.from({ length: Math.max(10, Math.round(scale.comments / 6)) }, () => com.hex(32))
    const commenterNames = Array.from({ length: 2000 }, () => `${com.pick(firstNames)} ${text.nouns[com.int(5000)]}`)
    const commenterEmails = new Map(commenterNames.map((name) => [name, `${slugify(name).replace(/-/g, '.')}@mail.example`]))
    const verifyEvery = scale.articles <= 2000 ? 1 : 100
    // Comments wait until the articles are in: they load while the articles' indexes build.
    const commentRows: Array<Record<string, unknown>> = []
    const publishedBefore = (i: number) => {
      // An earlier published article near this one, for "Also read" links.
      for (let tries = 0; tries < 10; tries++) {
        const j = i - 1 - art.int(Math.min(i, 3000))
        if (j >= 0 && skeletons[j].status === 'published') return skeletons[j].id
      }
      return undefined
    }

    for (let start = 0; start < scale.articles; start += ARTICLE_CHUNK) {
      const articleRows: Array<Record<string, unknown>> = []
      const authorLinks: Array<Record<string, unknown>> = []
      const tagLinks: Array<Record<string, unknown>> = []
      const relatedLinks: Array<Record<string, unknown>> = []
      const bodyPhotoLinks: Array<Record<string, unknown>> = []

      for (let i = start; i < Math.min(scale.articles, start + ARTICLE_CHUNK); i++) {
        const s = skeletons[i]
        const headline = text.phrase(6, 13)
        const standfirst = art.chance(0.75) ? text.sentence() : null

        // The body: 300 to 900 words.
        const target = art.range(300, 900)
        const blocks: Block[] = []
        const parts: Piece[] = []
        const photosInBody: string[] = []
        let words = 0
        const withHeadings = art.chance(0.5)
        const related: string[] = []
        while (words < target) {
          const para = text.paragraph()
          // The last paragraph only when it brings the count closer to the target.
          if (words > 0 && words + para.words - target > target - words) break
          blocks.push({ type: 'paragraph', text: para.text })
          parts.push(para)
          words += para.words
          const k = blocks.length
          if (withHeadings && k % 4 === 0 && words < target - 60) {
            const h = text.heading()
            blocks.push({ type: 'heading', level: 2, text: h.text })
            parts.push(h)
            words += h.words
          }
          if (k === 3) {
            const r = art.next()
            if (r < 0.15) {
              const q = text.sentence()
              const who = art.pick(commenterNames)
              blocks.push({ type: 'quote', text: q.text, attribution: who })
              parts.push(q, { text: who, plain: who, words: countWords(who) })
              words += q.words
            } else if (r < 0.23) {
              const items = Array.from({ length: art.range(3, 5) }, () => text.sentence())
              blocks.push({ type: 'list', ordered: art.chance(0.3), items: items.map((it) => it.text) })
              parts.push(...items)
              for (const it of items) words += it.words
            } else if (r < 0.43) {
              for (let n = art.range(1, 2); n > 0; n--) {
                const photoId = art.pick(photoIds)
                if (photosInBody.includes(photoId)) continue
                photosInBody.push(photoId)
                blocks.push(art.chance(0.5) ? { type: 'photo', photoId, caption: text.sentence().text } : { type: 'photo', photoId })
              }
            } else if (r < 0.53) {
              const other = publishedBefore(i)
              if (other) { blocks.push({ type: 'related', articleId: other }); related.push(other) }
            } else if (r < 0.58) {
              blocks.push({ type: 'embed', url: `https://www.youtube.com/watch?v=${art.hex(11)}` })
            }
          }
        }
        const standfirstPlain = standfirst ? standfirst.plain : null
        const d = derive(parts, standfirstPlain)
        if (i % verifyEvery === 0) verifyDerived(blocks, d, standfirst?.text ?? null)

        const listed: string[] = []
        if (art.chance(0.15)) {
          for (let n = art.range(1, 3); n > 0; n--) {
            const other = publishedBefore(i)
            if (other && !listed.includes(other)) listed.push(other)
          }
        }
        const fromBody = related.filter((id) => !listed.includes(id))
        ;[...listed.map((id) => [id, true] as const), ...[...new Set(fromBody)].map((id) => [id, false] as const)]
          .forEach(([relatedId, isListed], position) => relatedLinks.push({ article_id: s.id, related_id: relatedId, position, listed: isListed }))
        for (const photoId of photosInBody) bodyPhotoLinks.push({ article_id: s.id, photo_id: photoId })

        const nAuthors = Number(weighted(art, { '1': 0.7, '2': 0.22, '3': 0.08 }))
        const bylines: string[] = []
        while (bylines.length < nAuthors) {
          const a = authorIds[authorZipf.sample(art)]
          if (!bylines.includes(a)) bylines.push(a)
        }
        bylines.forEach((authorId, position) => authorLinks.push({ article_id: s.id, author_id: authorId, position }))
        const nTags = Math.min(tags.length, Number(weighted(art, { '0': 0.15, '1': 0.25, '2': 0.3, '3': 0.2, '4': 0.1 })))
        const tagIds: string[] = []
        while (tagIds.length < nTags) {
          const t = tags[tagZipf.sample(art)].id
          if (!tagIds.includes(t)) tagIds.push(t)
        }
        tagIds.forEach((tagId, position) => tagLinks.push({ article_id: s.id, tag_id: tagId, position }))

        // Comments: mostly approved, some replies (at most three levels deep, as the app allows).
        let approved = 0
        if (s.comments > 0 && s.publishedAt !== null) {
          const times: number[] = []
          for (let c = 0; c < s.comments; c++) times.push(Math.min(anchor - 1000, s.publishedAt + Math.floor(-Math.log(1 - com.next()) * 10 * 3_600_000)))
          times.sort((a, b) => a - b)
          const open: Array<{ id: string, thread: string, depth: number, name: string }> = []
          for (const at of times) {
            const id = com.uuid()
            const status = weighted(com, { approved: 0.86, pending: 0.08, spam: 0.04, rejected: 0.02 })
            const parent = open.length > 0 && com.chance(0.3) ? open[open.length - 1 - com.int(Math.min(open.length, 10))] : undefined
            const body = commentBody(com, text)
            const name = com.pick(commenterNames)
            const reasons = status === 'spam' ? [com.pick(['repeat', 'too_many_links', 'honeypot'])] : status === 'pending' && com.chance(0.3) ? ['shouting'] : []
            commentRows.push({
              id,
              article_id: s.id,
              parent_id: parent?.id ?? null,
              thread_id: parent?.thread ?? id,
              depth: parent ? parent.depth + 1 : 0,
              author_name: name,
              author_email: commenterEmails.get(name)!,
              body,
              status,
              moderation_reasons: reasons,
              client_hash: com.pick(clientHashes),
              body_hash: bodyHashOf(body),
              moderated_at: status === 'pending' ? null : iso(Math.min(anchor - 500, at + com.int(6 * 3_600_000))),
              created_at: iso(at),
              updated_at: iso(at)
            })
            if (status === 'approved') {
              approved++
              if ((parent?.depth ?? -1) + 1 < 3) open.push({ id, thread: parent?.thread ?? id, depth: (parent?.depth ?? -1) + 1, name })
            }
          }
          counts.comments += s.comments
          counts.approvedComments += approved
        }

        const updatedAt = s.status === 'archived'
          ? Math.min(anchor - 1000, (s.publishedAt ?? s.createdAt) + 30 * DAY + art.int(300 * DAY))
          : s.status === 'published' && art.chance(0.3) ? Math.min(anchor - 1000, s.publishedAt! + art.int(3 * DAY)) : (s.publishedAt ?? s.createdAt)
        articleRows.push({
          id: s.id,
          slug: slugOf(headline),
          headline,
          standfirst: standfirst?.text ?? null,
          dateline: art.chance(0.8) ? text.city() : null,
          body: blocks,
          body_text: d.bodyText,
          custom_excerpt: art.chance(0.05) ? text.sentence().plain : null,
          auto_excerpt: d.autoExcerpt,
          status: s.status,
          published_at: s.publishedAt === null ? null : iso(s.publishedAt),
          first_published_at: s.publishedAt === null ? null : iso(s.publishedAt),
          lead_photo_id: art.chance(0.7) ? photoIds[art.int(photoIds.length)] : null,
          lead_photo_caption: art.chance(0.1) ? text.sentence().text : null,
          section_id: sections[sectionZipf.sample(art)].id,
          comments_open: art.chance(0.9),
          word_count: d.wordCount,
          reading_time_minutes: d.readingTimeMinutes,
          seo_title: art.chance(0.25) ? headline.slice(0, 70) : null,
          seo_description: art.chance(0.25) ? text.sentence().plain : null,
          comment_count: approved,
          created_at: iso(Math.min(s.createdAt, updatedAt)),
          updated_at: iso(Math.max(updatedAt, s.createdAt))
        })
      }

      counts.articleAuthors += authorLinks.length
      counts.articleTags += tagLinks.length
      counts.articleRelated += relatedLinks.length
      counts.articleBodyPhotos += bodyPhotoLinks.length
      await queue.push([
        ...inserts('articles', articleColumns, articleRows),
        ...inserts('article_authors', authorLinkColumns, authorLinks),
        ...inserts('article_tags', tagLinkColumns, tagLinks),
        ...inserts('article_related', relatedColumns, relatedLinks),
        ...inserts('article_body_photos', bodyPhotoColumns, bodyPhotoLinks)
      ])
    }
    await queue.drain()
    await queue.all('commit')
    phase('articles')

    // One connection builds the articles' indexes (the GIN index on articles.search is by far
    // the largest) while the other loads the comments; then both take the remaining indexes.
    const commentLoad: Array<Statement | string> = ['begin', ...inserts('comments', commentColumns, commentRows), 'commit']
    commentRows.length = 0
    const indexTasks = options.keepIndexes ? [] : [...indexesBefore].sort((a, b) => indexCost(b) - indexCost(a)).map((i) => i.def)
    let nextTask = 0
    await Promise.all(conns.map(async (conn, n) => {
      if (n === conns.length - 1) for (const statement of commentLoad) await conn.query(statement)
      while (nextTask < indexTasks.length) await conn.query(indexTasks[nextTask++])
    }))
    phase(options.keepIndexes ? 'comments' : 'comments and indexes')
    if (!options.keepIndexes) {
      for (const k of keysBefore) await main.query(`alter table ${k.table} add constraint ${quoteIdent(k.name)} ${k.def}`)
      phase('foreign keys')
    }
    // Freshly loaded tables: vacuum them (visibility map, hint bits) and gather statistics now,
    // or autovacuum would do it in the middle of the benchmark.
    const tables = ['articles', 'comments', 'article_authors', 'article_tags', 'article_related', 'article_body_photos', 'photos', 'authors', 'sections', 'tags']
    await queue.spread(tables.map((t) => `vacuum (analyze) ${t}`))
    phase('vacuum analyze')

    // The schema must be what the migrations made, index for index and key for key.
    const indexesAfter = await secondaryIndexes(main)
    const keysAfter = await foreignKeys(main)
    const describe = (list: Array<{ name: string, def: string }>) => list.map((x) => `${x.name}: ${x.def}`).sort().join('\n')
    if (describe(indexesAfter) !== describe(indexesBefore) || describe(keysAfter) !== describe(keysBefore)) {
      throw new Error(`The indexes or foreign keys after seeding differ from the migrations'.\nbefore:\n${describe(indexesBefore)}\n${describe(keysBefore)}\nafter:\n${describe(indexesAfter)}\n${describe(keysAfter)}`)
    }
    const [check] = (await main.query(`select
      (select count(*)::int from articles a
        left join (select article_id, count(*) as n from comments where status = 'approved' group by article_id) c on c.article_id = a.id
        where a.comment_count <> coalesce(c.n, 0)) as bad_counts,
      (select count(*)::int from comments c
        left join comments p on p.id = c.parent_id
        where c.parent_id is not null and (p.id is null or p.thread_id <> c.thread_id or p.depth <> c.depth - 1 or p.status <> 'approved')) as bad_threads`)).rows
    if (Number(check.bad_counts) !== 0 || Number(check.bad_threads) !== 0) throw new Error(`Seeded data is inconsistent: ${JSON.stringify(check)}`)
    phase('verify')

    const ms = Math.round(performance.now() - started)
    log(`Seeded ${counts.articles.toLocaleString('en-US')} articles (${counts.published} published, ${counts.draft} drafts, ${counts.scheduled} scheduled, ${counts.archived} archived), ` +
      `${counts.authors} authors, ${counts.sections} sections, ${counts.tags} tags, ${counts.photos} photos, ${counts.comments.toLocaleString('en-US')} comments ` +
      `(${counts.approvedComments.toLocaleString('en-US')} approved) in ${(ms / 1000).toFixed(1)} s`)
    log(`  phases: ${Object.entries(phases).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}`)
    return { counts, ms, phases, terms: { common: COMMON_TERM, rare: text.rareTerm() } }
  } finally {
    for (const c of conns) await c.close().catch(() => {})
  }
}

function commentBody (rng: Rng, text: TextMaker): string {
  const n = rng.range(1, 4)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(text.sentence().plain)
  return out.join(' ')
}

/** The sample check: the fast, piece-by-piece values equal the app's functions on the whole body. */
function verifyDerived (blocks: Block[], d: ReturnType<typeof derive>, standfirst: string | null) {
  const app = derived(blocks, standfirst)
  if (app.bodyText !== d.bodyText || app.wordCount !== d.wordCount || app.readingTimeMinutes !== d.readingTimeMinutes || app.autoExcerpt !== d.autoExcerpt) {
    throw new Error(`Derived body fields differ from the app's: words ${d.wordCount} vs ${app.wordCount}, text equal: ${app.bodyText === d.bodyText}, excerpt equal: ${app.autoExcerpt === d.autoExcerpt}`)
  }
}

// ---- SQL ---------------------------------------------------------------------------------------

type Columns = Record<string, string>

const photoColumns: Columns = {
  id: 'uuid', caption: 'text', credit: 'text', alt_text: 'text', width: 'integer', height: 'integer', mime_type: 'text',
  bytes: 'integer', url: 'text', renditions: 'jsonb', created_at: 'timestamptz', updated_at: 'timestamptz'
}
const taxonomyColumns: Columns = { id: 'uuid', slug: 'text', name: 'text', description: 'text', created_at: 'timestamptz', updated_at: 'timestamptz' }
const authorColumns: Columns = {
  id: 'uuid', slug: 'text', name: 'text', bio: 'text', avatar_id: 'uuid', email: 'text', links: 'jsonb', created_at: 'timestamptz', updated_at: 'timestamptz'
}
const articleColumns: Columns = {
  id: 'uuid', slug: 'text', headline: 'text', standfirst: 'text', dateline: 'text', body: 'jsonb', body_text: 'text',
  custom_excerpt: 'text', auto_excerpt: 'text', status: 'article_status', published_at: 'timestamptz', first_published_at: 'timestamptz', lead_photo_id: 'uuid',
  lead_photo_caption: 'text', section_id: 'uuid', comments_open: 'boolean', word_count: 'integer', reading_time_minutes: 'integer',
  seo_title: 'text', seo_description: 'text', comment_count: 'integer', created_at: 'timestamptz', updated_at: 'timestamptz'
}
const authorLinkColumns: Columns = { article_id: 'uuid', author_id: 'uuid', position: 'integer' }
const tagLinkColumns: Columns = { article_id: 'uuid', tag_id: 'uuid', position: 'integer' }
const relatedColumns: Columns = { article_id: 'uuid', related_id: 'uuid', position: 'integer', listed: 'boolean' }
const bodyPhotoColumns: Columns = { article_id: 'uuid', photo_id: 'uuid' }
const commentColumns: Columns = {
  id: 'uuid', article_id: 'uuid', parent_id: 'uuid', thread_id: 'uuid', depth: 'integer', author_name: 'text', author_email: 'text',
  body: 'text', status: 'comment_status', moderation_reasons: 'jsonb', client_hash: 'text', body_hash: 'text', moderated_at: 'timestamptz',
  created_at: 'timestamptz', updated_at: 'timestamptz'
}

// PostgreSQL takes at most 65,535 parameters a statement.
const MAX_PARAMS = 60_000
const statementTexts = new Map<string, string>()

/**
 * Multi-row INSERT ... VALUES statements with parameters: each value travels as itself, so the
 * server parses nothing but the values (cheaper than one JSON or array parameter to unpack).
 * Statements of the same table and row count are prepared once per connection.
 */
function inserts (table: string, columns: Columns, rows: Array<Record<string, unknown>>): Statement[] {
  const names = Object.keys(columns)
  const perStatement = Math.min(1000, Math.floor(MAX_PARAMS / names.length))
  const out: Statement[] = []
  for (let start = 0; start < rows.length; start += perStatement) {
    const batch = rows.slice(start, start + perStatement)
    const name = `bench_insert_${table}_${batch.length}`
    let text = statementTexts.get(name)
    if (text === undefined) {
      let n = 0
      const tuple = () => `(${names.map((c) => `$${++n}::${columns[c]}`).join(',')})`
      text = `insert into ${table} (${names.join(', ')}) values ${batch.map(tuple).join(',')}`
      statementTexts.set(name, text)
    }
    const values: unknown[] = []
    for (const row of batch) {
      for (const c of names) {
        const v = row[c]
        // jsonb goes as JSON text (pg would turn a JS array into a PostgreSQL array literal).
        values.push(columns[c] === 'jsonb' && v !== null ? JSON.stringify(v) : v)
      }
    }
    out.push({ name, text, values })
  }
  return out
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`

type Definition = { name: string, table: string, def: string }

/** Indexes that no constraint owns (primary keys stay: foreign keys and upserts need them). */
async function secondaryIndexes (conn: Conn): Promise<Definition[]> {
  const { rows } = await conn.query(`select i.relname as name, t.relname as table, pg_get_indexdef(x.indexrelid) as def
    from pg_index x
    join pg_class i on i.oid = x.indexrelid
    join pg_class t on t.oid = x.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    where n.nspname = 'public'
      and not exists (select 1 from pg_constraint k where k.conindid = x.indexrelid and k.contype in ('p', 'u', 'x'))
    order by i.relname`)
  return rows as Definition[]
}

async function foreignKeys (conn: Conn): Promise<Definition[]> {
  const { rows } = await conn.query(`select k.conname as name, quote_ident(t.relname) as table, pg_get_constraintdef(k.oid) as def
    from pg_constraint k
    join pg_class t on t.oid = k.conrelid
    join pg_namespace n on n.oid = t.relnamespace
    where n.nspname = 'public' and k.contype = 'f'
    order by k.conname`)
  return rows as Definition[]
}

// Biggest first, and the comments' own last: they wait for the comment load to commit.
const indexCost = (i: Definition) => (i.def.includes('USING gin') ? 100 : i.table === 'articles' ? 10 : i.table.startsWith('comment') ? 0 : 1)

/** Statements over several connections: each connection runs its own in order. */
class StatementQueue {
  private readonly busy: Array<Promise<void>>
  private failed: unknown

  constructor (private readonly conns: Conn[]) {
    this.busy = conns.map(() => Promise.resolve())
  }

  /** Runs statements, in order, on the next free connection. */
  async push (statements: Statement[]): Promise<void> {
    if (this.failed) throw this.failed
    const free = await Promise.race(this.busy.map((p, i) => p.then(() => i)))
    if (this.failed) throw this.failed
    const conn = this.conns[free]
    this.busy[free] = (async () => {
      try {
        for (const statement of statements) await conn.query(statement)
      } catch (error) {
        this.failed ??= error
      }
    })()
  }

  async drain (): Promise<void> {
    await Promise.all(this.busy)
    if (this.failed) throw this.failed
  }

  /** The same statement on every connection (begin, commit). */
  async all (text: string): Promise<void> {
    await this.drain()
    await Promise.all(this.conns.map((c) => c.query(text)))
  }

  /** Independent statements, spread over the connections, biggest first. */
  async spread (statements: string[]): Promise<void> {
    await this.drain()
    let next = 0
    await Promise.all(this.conns.map(async (c) => {
      while (next < statements.length) await c.query(statements[next++])
    }))
  }
}

// ---- command line --------------------------------------------------------------------------

async function main () {
  const { values } = parseArgs({
    options: {
      articles: { type: 'string', default: '100000' },
      seed: { type: 'string', default: 'dateline' },
      'keep-indexes': { type: 'boolean', default: false },
      connections: { type: 'string', default: '4' }
    }
  })
  const articles = Number(values.articles)
  if (!Number.isInteger(articles) || articles < 1) throw new Error('--articles must be a positive whole number')
  const { loadConfig } = await import('../src/config.js')
  const config = loadConfig()
  const target: SeedTarget = config.DATABASE_URL ? { url: config.DATABASE_URL } : { dataDir: config.DATA_DIR }
  const result = await seed({ target, articles, seed: values.seed, keepIndexes: values['keep-indexes'], connections: Number(values.connections) })
  console.log(`Search terms: common "${result.terms.common}", rare "${result.terms.rare}"`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error)
    process.exit(1)
  })
}
