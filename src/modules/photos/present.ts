// A photo's URLs as clients see them and as they are stored: absolute on the way out (when
// PUBLIC_URL or MEDIA_URL is set), server paths again on the way in.
import type { PublicUrls } from '../../lib/public-urls.js'
import type { CreatePhoto, UpdatePhoto } from './schemas.js'

type HasUrls = { url: string, renditions: Array<{ url: string }> }

/** The row with `url` and each rendition's `url` as readers should use them. */
export function presentPhoto<T extends HasUrls> (row: T, urls: PublicUrls): T {
  if (urls.relative) return row
  return { ...row, url: urls.media(row.url), renditions: row.renditions.map((r) => ({ ...r, url: urls.media(r.url) })) }
}

/**
 * A client may send back a URL it read from us: one under PUBLIC_URL or MEDIA_URL is stored as
 * the server path, so it follows a later change of either setting like an upload's URLs do.
 */
export function storedPhotoUrls<T extends CreatePhoto | UpdatePhoto> (input: T, urls: PublicUrls): T {
  if (urls.relative) return input
  return {
    ...input,
    ...(input.url !== undefined && { url: urls.stored(input.url) }),
    ...(input.renditions !== undefined && { renditions: input.renditions.map((r) => ({ ...r, url: urls.stored(r.url) })) })
  }
}
