// Reads a multipart photo upload: one file part named `file` and a few text fields.
import type { FastifyRequest } from 'fastify'
import { AppError, invalidField } from '../../http/errors.js'
import { textProblem, utf8Text } from '../../lib/text.js'

export type ReadUpload = { fields: Record<string, string>, file?: Buffer, fileName?: string }

export async function readUpload (request: FastifyRequest, maxBytes: number): Promise<ReadUpload> {
  const fields: Record<string, string> = {}
  let file: Buffer | undefined
  let fileName: string | undefined
  try {
    // Fields that name no charset arrive as Latin-1, byte for byte, so their UTF-8 is checked
    // here rather than silently repaired with U+FFFD.
    const parts = request.parts({ defCharset: 'latin1', limits: { fileSize: maxBytes, files: 1, fields: 10, fieldSize: 10_000, parts: 11 } })
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
        fields[part.fieldname] = fieldText(part.fieldname, String(part.value))
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

/**
 * A text field's value. One that names its own charset was decoded by it already (and may hold
 * characters past U+00FF); every other is the field's bytes, which must be UTF-8.
 */
function fieldText (name: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  const decoded = /[^\u0000-\u00ff]/.test(value) ? { text: value, problem: textProblem(value) } : utf8Text(Buffer.from(value, 'latin1'))
  if (decoded.problem) throw invalidField(`/${name}`, decoded.problem)
  return decoded.text!
}
