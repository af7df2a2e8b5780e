// Photo metadata: what a page needs to show a picture and credit it.
import { Type, type Static } from 'typebox'
import { sortQuery } from '../../http/pagination.js'
import { DateTimeSchema, FieldsQuery, IdSchema, PaginationQuery, ref } from '../../http/schemas.js'
import { NullableText } from '../taxonomy/schemas.js'

// `uri` would refuse a bare path, which the contract allows; `uri-reference` plus the pattern
// admits absolute http(s) URLs and server paths only ("/x", never "//host" or "javascript:").
const HttpUrl = Type.String({
  format: 'uri-reference',
  pattern: '^(?:https?://[^/?#\\s]|/(?!/))',
  maxLength: 2000,
  description: 'An http(s) URL, or a path on this server.'
})

const CAPTION = 'Families leave a relief camp near Sehwan as the water recedes.'
const ALT = 'A line of people carrying bundles along a muddy embankment.'

export const PhotoSchema = Type.Object({
  id: ref(IdSchema),
  caption: Type.Union([Type.String({ examples: [CAPTION] }), Type.Null()]),
  credit: Type.Union([Type.String({ examples: ['PHOTO: ISPR'] }), Type.Null()], { description: 'Who to credit, e.g. "PHOTO: ISPR".' }),
  altText: Type.Union([Type.String({ examples: [ALT] }), Type.Null()]),
  width: Type.Union([Type.Integer(), Type.Null()]),
  height: Type.Union([Type.Integer(), Type.Null()]),
  mimeType: Type.Union([Type.String(), Type.Null()]),
  bytes: Type.Union([Type.Integer(), Type.Null()]),
  url: Type.String({ examples: ['/media/5f2b9c1e8a7d4b3c2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d/original.jpg'], description: 'The image. Absolute when the server has PUBLIC_URL or MEDIA_URL set, a path on this server otherwise; a photo added by an outside URL keeps it.' }),
  renditions: Type.Array(Type.Object({ width: Type.Integer(), url: Type.String(), mimeType: Type.Optional(Type.String()) }), { description: 'Sizes for srcset: for an upload, each width in the original format and in WebP, never wider than the original. URLs as `url`.' }),
  public: Type.Boolean({ description: 'Marked public by an editor: anyone may see it, whatever uses it. Without the mark a photo is public only while something public uses it (the lead or a body photo of a published article, an author\'s avatar); until then only staff see it, in lists, by id and under `/media`.' }),
  createdAt: ref(DateTimeSchema),
  updatedAt: ref(DateTimeSchema)
}, { $id: 'Photo', additionalProperties: false })

export const CreatePhotoBody = Type.Object({
  url: Type.Unsafe<string>({ ...HttpUrl, examples: ['https://images.example.com/sindh-floods/relief-camp.jpg'] }),
  caption: Type.Optional(NullableText(2000, CAPTION)),
  credit: Type.Optional(NullableText(300, 'PHOTO: ISPR')),
  altText: Type.Optional(NullableText(1000, ALT)),
  width: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()])),
  height: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()])),
  mimeType: Type.Optional(Type.Union([Type.String({ pattern: '^image/[a-z0-9.+-]+$', maxLength: 100 }), Type.Null()])),
  // The column is a 32-bit integer; a larger value is refused here, naming the field.
  bytes: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 2_147_483_647 }), Type.Null()])),
  renditions: Type.Optional(Type.Array(Type.Object({
    width: Type.Integer({ minimum: 1, maximum: 100_000 }),
    url: Type.Unsafe<string>(HttpUrl)
  }, { additionalProperties: false }), { maxItems: 20 }))
}, { additionalProperties: false })

export const UpdatePhotoBody = Type.Partial(Type.Object({
  ...CreatePhotoBody.properties,
  public: Type.Boolean({ description: 'Editors and admins only: `true` makes the photo public whatever uses it (e.g. one a page shows that no article does); `false` leaves it to what uses it.' })
}), { additionalProperties: false, minProperties: 1 })

export const ListPhotosQuery = Type.Object({
  ...PaginationQuery.properties,
  ...FieldsQuery.properties,
  sort: sortQuery(['createdAt'], '-createdAt'),
  q: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Search caption, credit and alt text: every word of `q` must begin a word of one of them, ignoring case (`harb quay` finds "Boats at the Old Quay, Port Aldren harbour"; a word is never matched from its middle). Punctuation separates words; a `q` with no letter or digit is a 400. Combines with the other filters and keeps the sort order.'
  })),
  credit: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'Only photos with exactly this credit, ignoring case (`credit=photo: reuters` finds "PHOTO: Reuters").' })),
  createdAfter: Type.Optional(Type.String({ format: 'date-time', description: 'Only photos added at or after this time (RFC 3339; a leap second is refused).' })),
  createdBefore: Type.Optional(Type.String({ format: 'date-time', description: 'Only photos added at or before this time (RFC 3339; a leap second is refused).' }))
}, { additionalProperties: false })

export type CreatePhoto = Static<typeof CreatePhotoBody>
export type UpdatePhoto = Static<typeof UpdatePhotoBody>
export type ListPhotos = Static<typeof ListPhotosQuery>

export const UploadPhotoFields = Type.Object({
  file: Type.Unsafe<string>({ type: 'string', format: 'binary', contentMediaType: 'image/*', description: 'The image: JPEG, PNG, WebP, AVIF or GIF, judged by its content.' }),
  caption: Type.Optional(Type.String({ maxLength: 2000, examples: [CAPTION] })),
  credit: Type.Optional(Type.String({ maxLength: 300, examples: ['PHOTO: ISPR'] })),
  altText: Type.Optional(Type.String({ maxLength: 1000, examples: [ALT] }))
}, { additionalProperties: false, description: 'A photo upload: the file and its credits.' })
/** An upload's metadata: the form without its file. */
export type UploadPhoto = Omit<Static<typeof UploadPhotoFields>, 'file'>
