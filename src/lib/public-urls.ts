// The addresses the API hands out. The database keeps server paths (`/media/...`), so a change
// of PUBLIC_URL or MEDIA_URL needs no rewrite of stored rows: paths become absolute here, as a
// response is made. Never derived from the request's Host header, which a client controls and a
// shared cache would keep.

export type PublicUrls = {
  /** True when neither PUBLIC_URL nor MEDIA_URL is set: every path is handed out as it is. */
  readonly relative: boolean
  /** A path of this API (`/v1/articles/<id>`), absolute under PUBLIC_URL when it is set. */
  api (path: string): string
  /**
   * A stored photo URL as readers get it: `/media/...` under MEDIA_URL (or PUBLIC_URL/media),
   * another server path under PUBLIC_URL, an http(s) URL unchanged.
   */
  media (url: string): string
  /** The reverse, for URLs a client sends: one under MEDIA_URL or PUBLIC_URL is stored as a path. */
  stored (url: string): string
}

const MEDIA = '/media'
const bare = (url: string | undefined) => url?.replace(/\/+$/, '')
const isPath = (url: string) => url.startsWith('/') && !url.startsWith('//')

export function publicUrls (config: { PUBLIC_URL?: string, MEDIA_URL?: string }): PublicUrls {
  const base = bare(config.PUBLIC_URL)
  const media = bare(config.MEDIA_URL) ?? (base === undefined ? undefined : base + MEDIA)
  const api = (path: string) => (base !== undefined && isPath(path) ? base + path : path)
  return {
    relative: base === undefined && media === undefined,
    api,
    media (url) {
      if (media !== undefined && url.startsWith(`${MEDIA}/`)) return media + url.slice(MEDIA.length)
      return api(url)
    },
    stored (url) {
      // Only to a plain path: `https://host//x` must not become the protocol-relative `//x`.
      const under = (prefix: string | undefined) => prefix !== undefined && url.startsWith(`${prefix}/`) && isPath(url.slice(prefix.length))
      if (under(media)) return MEDIA + url.slice(media!.length)
      if (under(base)) return url.slice(base!.length)
      return url
    }
  }
}
