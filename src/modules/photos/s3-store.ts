// The media store on an S3-compatible bucket (AWS S3, MinIO, Ceph, R2...), so instances on
// several machines share one set of files. Keys are those of the local store, under an optional
// prefix; a bucket served by a CDN at MEDIA_URL serves the same paths as /media.
import { PassThrough, Readable } from 'node:stream'
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3'
import { AppError } from '../../http/errors.js'
import { isValidKey, type MediaStore } from './storage.js'

export type S3Options = {
  bucket: string
  region: string
  /** For stores other than AWS: their URL. */
  endpoint?: string
  /** Bucket in the path (`host/bucket/key`), as MinIO and most self-hosted stores want. */
  forcePathStyle: boolean
  /** Without them, the SDK's usual sources (environment, instance role...). */
  credentials?: { accessKeyId: string, secretAccessKey: string }
  prefix: string
}

const types: Record<string, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp', avif: 'image/avif', gif: 'image/gif' }

/** A store that cannot be reached or refuses us is the API's 503, not a 500. */
function unavailable (error: unknown): AppError {
  const detail = error instanceof S3ServiceException ? `${error.name}` : (error as Error).message
  return new AppError('UNAVAILABLE', `The media store does not answer (${detail}); try again shortly.`, { headers: { 'retry-after': '5' } })
}

const notFound = (error: unknown) =>
  error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 404 || error.name === 'NotFound' || error.name === 'NoSuchKey')

export function s3Store (options: S3Options): MediaStore {
  const client = new S3Client({
    region: options.region,
    endpoint: options.endpoint,
    forcePathStyle: options.forcePathStyle,
    credentials: options.credentials,
    // One retry: a request waits on the answer, and a store that is down should say so soon.
    maxAttempts: 2
  })
  const Bucket = options.bucket
  const objectKey = (key: string) => {
    if (!isValidKey(key)) throw new Error(`invalid media key: ${key}`)
    return options.prefix + key
  }
  return {
    async put (key, data) {
      try {
        await client.send(new PutObjectCommand({ Bucket, Key: objectKey(key), Body: data, ContentType: types[key.split('.').pop()!], CacheControl: 'public, max-age=31536000, immutable' }))
      } catch (error) { throw unavailable(error) }
    },
    async size (key) {
      try {
        return (await client.send(new HeadObjectCommand({ Bucket, Key: objectKey(key) }))).ContentLength
      } catch (error) {
        if (notFound(error)) return undefined
        throw unavailable(error)
      }
    },
    read (key, range) {
      // The caller wants a stream at once; the object's body is piped into it when it comes.
      const out = new PassThrough()
      client.send(new GetObjectCommand({ Bucket, Key: objectKey(key), Range: range && `bytes=${range.start}-${range.end}` }))
        .then((object) => {
          const body = object.Body as Readable
          body.on('error', (error) => out.destroy(error))
          body.pipe(out)
        }, (error) => out.destroy(unavailable(error)))
      return out
    },
    async remove (key) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key: objectKey(key) }))
      } catch (error) { throw unavailable(error) }
    }
  }
}
