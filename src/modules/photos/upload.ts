// Reads a multipart photo upload: one file part named `file` and a few text fields.
import type { FastifyRequest } from 'fastify'
import { AppError, invalidField } from '../../http/errors.js'

export type ReadUpload = { fields: Record<string, string>, file?: Buffer, fileName?: string }

export async function readUpload (request: FastifyRequest, maxBytes: number): Promise<ReadUpload> {
  const fields: Record<string, string> = {}
  let file: Buffer | undefined
  let fileName: string | undefined
  try {
    const parts = request.parts({ limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 10_000, parts: 11 } })
    for await (const part of parts) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          part.file.resume()
          throw invalidField(`/${part.fieldname}`, 'is not a known field; send the image as `file`')
        }
        // Whole in memory: it is hashed and decoded anyway, and the size limit bounds it.
        file = await part.toBuffer()
        fileName = part.filename
      } else {
        fields[part.fieldname] = String(part.value)
      }
    }
  } catch (error) {
    if (error instanceof AppError) throw error
    const code = (error as { code?: string }).code
    if (code === 'FST_REQ_FILE_TOO_LARGE') {
      throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the ${maxBytes} bytes allowed.`)
    }
    if (code === 'FST_FILES_LIMIT') throw invalidField('/file', 'must be a single file')
    if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') throw new AppError('BAD_REQUEST', 'The form has too many parts.')
    throw new AppError('BAD_REQUEST', 'The multipart body is malformed or was cut off; nothing was stored.')
  }
  return { fields, file, fileName }
}
