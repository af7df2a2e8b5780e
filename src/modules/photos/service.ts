// Photo metadata: create, read, update, and delete when nothing uses the photo.
import { and, eq, getTableColumns, gte, inArray, lte, ne, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../db/client.js'
import { entityChange, recordChange } from '../changes/record.js'
import { articleBodyPhotos, articles, authors, photos } from '../../db/schema.js'
import { assertVersion, type IfMatch } from '../../http/caching.js'
import { AppError, invalidField, notFound } from '../../http/errors.js'
import { decodeCursor, keyset, paginate, parseSort, totalOf } from '../../http/pagination.js'
import { assertUnreferenced, type Reference } from '../../lib/references.js'
import { extensions, mimeTypes, processImage, renditionTargets, RENDITION_WIDTHS, type ImageLimits, type ImageFormat } from './process.js'
import type { CreatePhoto, ListPhotos, UpdatePhoto, UploadPhoto } from './schemas.js'
import { isValidKey, type MediaStore } from './storage.js'
import { QueueFullError, WorkQueue } from '../../lib/work-queue.js'

const unbounded = new WorkQueue(Infinity, 0)

// Every column but the search vector, which only the database reads.
const { search: _search, ...photoColumns } = getTableColumns(photos)
export type PhotoRow = Omit<typeof photos.$inferSelect, 'search'>

/**
 * `q` as a tsquery: each run of letters and digits becomes a quoted prefix term, all of which
 * must match. Quoting every term means no input can be a tsquery syntax error.
 */
export function photoSearchQuery (q: string): string {
  const words = q.toLowerCase().match(/[\p{L}\p{M}\p{N}]+/gu)
  if (!words) throw invalidField('/q', 'needs at least one letter or digit', 'query')
  return [...new Set(words)].map((w) => `'${w}':*`).join(' & ')
}

function filters (query: ListPhotos): SQL[] {
  const where: SQL[] = []
  if (query.q !== undefined) where.push(sql`${photos.search} @@ to_tsquery('simple', ${photoSearchQuery(query.q)})`)
  if (query.credit !== undefined) where.push(sql`lower(${photos.credit}) = lower(${query.credit})`)
  if (query.createdAfter !== undefined) where.push(gte(photos.createdAt, new Date(query.createdAfter)))
  if (query.createdBefore !== undefined) where.push(lte(photos.createdAt, new Date(query.createdBefore)))
  return where
}

// Qualified by hand: drizzle leaves the table name off columns of a single-table select, and
// inside the subqueries a bare "id" would be the article's.
const photoId = sql.raw('"photos"."id"')
const live = (alias: string, now: string) =>
  sql`${sql.raw(alias)}.status in ('published', 'scheduled') and ${sql.raw(alias)}.published_at <= ${now}::timestamptz`

/**
 * The photos anyone may see: marked public by an editor, or used by something public (the lead
 * or a body photo of an article that is published, or scheduled and due; an author's avatar,
 * since authors are public). Worked out as each request is read, with the indexes on each use,
 * so a scheduled article's photos go public with it and an unpublished one's go private again.
 */
export const publicPhotos = (now: Date): SQL => {
  const at = now.toISOString()
  return sql`(${photos.public}
    or exists (select 1 from ${articles} a where a.lead_photo_id = ${photoId} and ${live('a', at)})
    or exists (select 1 from ${articleBodyPhotos} bp join ${articles} a on a.id = bp.article_id where bp.photo_id = ${photoId} and ${live('a', at)})
    or exists (select 1 from ${authors} au where au.avatar_id = ${photoId}))`
}

/** Who reads: staff see every photo; anyone else only public ones. */
export type PhotoView = { staff: boolean, now: Date }

export async function listPhotos (db: Db, query: ListPhotos, view: PhotoView) {
  const sort = parseSort(query.sort, { createdAt: { expr: photos.createdAt, kind: 'date' } }, '-createdAt')
  const { where, orderBy } = keyset(sort, photos.id, decodeCursor(query.cursor, sort))
  const matching = and(...filters(query), view.staff ? undefined : publicPhotos(view.now))
  const rows = await db.select(photoColumns).from(photos).where(and(matching, where)).orderBy(...orderBy).limit(query.limit + 1)
  return paginate(rows, query.limit, sort, (r) => r.createdAt, await totalOf(db, query.total, photos, matching))
}

export async function getPhoto (db: Db, id: string, view: PhotoView) {
  const [row] = await db.select(photoColumns).from(photos).where(and(eq(photos.id, id), view.staff ? undefined : publicPhotos(view.now)))
  if (!row) throw notFound('Photo')
  return row
}

/** Whether a stored file (by content hash) belongs to a photo anyone may see. */
export async function isPublicFile (db: Db, sha256: string, now: Date) {
  const [row] = await db.select({ one: sql`1` }).from(photos).where(and(eq(photos.sha256, sha256), publicPhotos(now))).limit(1)
  return row !== undefined
}

export async function photosByIds (db: Db, ids: string[]) {
  if (ids.length === 0) return new Map<string, PhotoRow>()
  const rows = await db.select(photoColumns).from(photos).where(inArray(photos.id, ids))
  return new Map(rows.map((r) => [r.id, r]))
}

// createdAt comes from the app clock (millisecond precision), not the database's now()
// (microseconds): a list cursor carries milliseconds, so a finer stored value would make
// `sort=createdAt` repeat the last row of a page on the next one.
export async function createPhoto (db: Db, input: CreatePhoto, createdById: string | null, now: Date = new Date()) {
  const [row] = await db.insert(photos).values({ ...input, createdById, createdAt: now, updatedAt: now }).returning(photoColumns)
  if (row.public) await recordChange(db, now, entityChange('photo', row, 'created'))
  return row
}

export async function updatePhoto (db: Db, id: string, input: UpdatePhoto, ifMatch: IfMatch | undefined, now: Date, canEdit: (row: PhotoRow) => void = () => {}) {
  return db.transaction(async (tx) => {
    const [current] = await tx.select(photoColumns).from(photos).where(eq(photos.id, id)).for('update')
    if (!current) throw notFound('Photo')
    canEdit(current)
    assertVersion(current, ifMatch)
    if (current.sha256) {
      // An upload's file facts come from the file itself.
      const fixed = (['url', 'renditions', 'width', 'height', 'mimeType', 'bytes'] as const).filter((k) => input[k] !== undefined)
      if (fixed.length > 0) {
        throw new AppError('VALIDATION_FAILED', `An uploaded photo's ${fixed.join(', ')} come from its file and cannot be changed.`, {
          errors: fixed.map((k) => ({ path: `/${k}`, in: 'body' as const, message: 'is read from the uploaded file' }))
        })
      }
    }
    const [row] = await tx.update(photos).set({ ...input, version: current.version + 1, updatedAt: now }).where(eq(photos.id, id)).returning(photoColumns)
    // Readers saw it before (marked public then, or used by something public) or see it now.
    const seen = current.public || row.public || (await tx.select({ one: sql`1` }).from(photos).where(and(eq(photos.id, id), publicPhotos(now)))).length > 0
    if (seen) await recordChange(tx as unknown as Db, now, entityChange('photo', row, 'updated'))
    return row
  })
}

async function references (db: Db, id: string): Promise<Reference[]> {
  const lead = await db.select({ id: articles.id, label: articles.headline }).from(articles).where(eq(articles.leadPhotoId, id)).limit(50)
  const inBody = await db.select({ id: articles.id, label: articles.headline }).from(articleBodyPhotos)
    .innerJoin(articles, eq(articles.id, articleBodyPhotos.articleId)).where(eq(articleBodyPhotos.photoId, id)).limit(50)
  const avatars = await db.select({ id: authors.id, label: authors.name }).from(authors).where(eq(authors.avatarId, id)).limit(50)
  const seen = new Set<string>()
  return [
    ...[...lead, ...inBody].map((r) => ({ resource: 'article', ...r })),
    ...avatars.map((r) => ({ resource: 'author', ...r }))
  ].filter((r) => !seen.has(r.resource + r.id) && seen.add(r.resource + r.id))
}

export async function deletePhoto (db: Db, id: string, ifMatch: IfMatch | undefined, now: Date, canEdit: (row: PhotoRow) => void = () => {}) {
  return db.transaction(async (tx) => {
    const [current] = await tx.select(photoColumns).from(photos).where(eq(photos.id, id)).for('update')
    if (!current) throw notFound('Photo')
    canEdit(current)
    assertVersion(current, ifMatch)
    assertUnreferenced(`Photo ${id}`, await references(tx as unknown as Db, id))
    await tx.delete(photos).where(eq(photos.id, id))
    // Nothing uses it (or the delete is refused): only one marked public was seen by readers.
    if (current.public) await recordChange(tx as unknown as Db, now, entityChange('photo', current, 'deleted'))
    return current
  })
}

export const MEDIA_PREFIX = '/media/'
const keyOf = (url: string) => (url.startsWith(MEDIA_PREFIX) ? url.slice(MEDIA_PREFIX.length) : undefined)

/**
 * Stores an uploaded image and its renditions (made now, at upload, so no burst of first
 * requests can make the same rendition twice), then records the photo. A file uploaded before
 * is stored once: the new photo shares the existing files.
 */
export async function createUploadedPhoto (db: Db, store: MediaStore, input: { file: Buffer, meta: UploadPhoto, createdById: string | null, limits: ImageLimits, now?: Date, queue?: WorkQueue }) {
  // Decoding is the costly part, in memory outside the heap: the queue bounds how many at once.
  const processed = await (input.queue ?? unbounded).run(() => processImage(input.file, input.limits)).catch((error) => {
    if (error instanceof QueueFullError) {
      throw new AppError('UNAVAILABLE', 'The server is processing as many images as it can; try again shortly.', { headers: { 'retry-after': '10' } })
    }
    throw error
  })
  const { sha256, original } = processed
  const originalKey = `${sha256}/original.${extensions[processed.format]}`
  const files = [
    { key: originalKey, data: original.data },
    ...processed.renditions.map((r) => ({ key: `${sha256}/${r.width}.${extensions[r.format]}`, data: r.data }))
  ]
  // Under the content's lock: a delete of the last photo sharing these files cannot remove
  // them between the check that they exist and the insert of the row that needs them.
  return db.transaction(async (tx) => {
    await lockContent(tx as unknown as Db, sha256)
    const fresh: string[] = []
    try {
      for (const f of files) {
        if (await store.size(f.key) === undefined) {
          await store.put(f.key, f.data)
          fresh.push(f.key)
        }
      }
      const now = input.now ?? new Date()
      const [row] = await tx.insert(photos).values({
        caption: input.meta.caption?.trim() || null,
        credit: input.meta.credit?.trim() || null,
        altText: input.meta.altText?.trim() || null,
        width: original.width,
        height: original.height,
        mimeType: mimeTypes[processed.format],
        bytes: original.data.length,
        url: MEDIA_PREFIX + originalKey,
        renditions: processed.renditions
          .map((r) => ({ width: r.width, url: `${MEDIA_PREFIX}${sha256}/${r.width}.${extensions[r.format]}`, mimeType: mimeTypes[r.format] }))
          .sort((a, b) => a.width - b.width || a.mimeType.localeCompare(b.mimeType)),
        sha256,
        createdById: input.createdById,
        createdAt: now,
        updatedAt: now
      }).returning(photoColumns)
      if (row.public) await recordChange(tx as unknown as Db, now, entityChange('photo', row, 'created'))
      return row
    } catch (error) {
      // Nothing partial is left behind: files this upload added go again (still under the lock,
      // so no other upload has come to rely on them).
      await Promise.all(fresh.map((key) => store.remove(key).catch(() => {})))
      throw error
    }
  })
}

/**
 * Removes a deleted photo's files, unless another photo shares them. The files are found from
 * the content hash, never trusted from `url` or `renditions` alone: those can be edited, and must
 * not lead a delete to another photo's files (or outside the store).
 */
export async function removeFilesIfUnused (db: Db, store: MediaStore, photo: PhotoRow) {
  const hash = photo.sha256
  if (!hash) return
  const prefix = `${hash}/`
  const named = [photo.url, ...photo.renditions.map((r) => r.url)]
    .flatMap((u) => keyOf(u) ?? [])
    .filter((key) => key.startsWith(prefix) && isValidKey(key))
  // Every width an upload of this size is given, the capped ones included.
  const capped = photo.width && photo.height
    ? (Object.keys(extensions) as ImageFormat[]).flatMap((f) => renditionTargets(photo.width!, photo.height!, f).map(([w]) => w))
    : []
  const widths = [...new Set([...RENDITION_WIDTHS, ...(photo.width ? [photo.width] : []), ...capped])]
  const made = Object.values(extensions).flatMap((ext) => [`original.${ext}`, ...widths.map((w) => `${w}.${ext}`)]).map((name) => prefix + name)
  await db.transaction(async (tx) => {
    await lockContent(tx as unknown as Db, hash)
    const [other] = await tx.select({ id: photos.id }).from(photos).where(and(eq(photos.sha256, hash), ne(photos.id, photo.id))).limit(1)
    if (other) return
    await Promise.all([...new Set([...named, ...made])].map((key) => store.remove(key)))
  })
}

/** Serialises work on one content hash (across instances sharing the database) until the transaction ends. */
const lockContent = (tx: Db, hash: string) => tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`photo:${hash}`}, 0))`)
