// The media store the configuration asks for: the local folder, or an S3-compatible bucket.
import { mediaDirOf, type Config } from '../../config.js'
import { s3Store } from './s3-store.js'
import { localStore, type MediaStore } from './storage.js'

export function mediaStoreOf (config: Config): MediaStore {
  if (config.MEDIA_STORE === 'local') return localStore(mediaDirOf(config))
  return s3Store({
    bucket: config.S3_BUCKET!,
    region: config.S3_REGION,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    credentials: config.S3_ACCESS_KEY_ID ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY! } : undefined,
    prefix: config.S3_PREFIX
  })
}

/** Where the images are, for the start line. */
export const mediaWhere = (config: Config) => config.MEDIA_STORE === 'local'
  ? `the folder ${mediaDirOf(config)}`
  : `the bucket ${config.S3_BUCKET}${config.S3_PREFIX ? `/${config.S3_PREFIX}` : ''}${config.S3_ENDPOINT ? ` at ${config.S3_ENDPOINT}` : ''}`
