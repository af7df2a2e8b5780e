// Text the API stores must be the text that was sent. Bytes that are not well-formed UTF-8 would
// otherwise become U+FFFD on the way in; NUL cannot be stored in PostgreSQL text at all, and an
// unpaired surrogate (from an escaped "\ud800" in JSON) is no character.
import { isUtf8 } from 'node:buffer'

/**
 * The offset of the first byte that does not belong to well-formed UTF-8 (Unicode's Table 3-7:
 * no overlong forms, no encoded surrogates as CESU-8 writes them, nothing past U+10FFFF, no cut
 * sequence), or -1 when all of it is well formed.
 */
export function firstInvalidUtf8 (bytes: Uint8Array): number {
  if (isUtf8(bytes)) return -1
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]
    if (b < 0x80) { i++; continue }
    let more: number
    let lo = 0x80
    let hi = 0xbf
    if (b >= 0xc2 && b <= 0xdf) more = 1
    else if (b >= 0xe0 && b <= 0xef) { more = 2; if (b === 0xe0) lo = 0xa0; else if (b === 0xed) hi = 0x9f }
    else if (b >= 0xf0 && b <= 0xf4) { more = 3; if (b === 0xf0) lo = 0x90; else if (b === 0xf4) hi = 0x8f }
    else return i
    for (let k = 1; k <= more; k++) {
      const c = bytes[i + k]
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i
    }
    i += more + 1
  }
  return -1
}

const LONE_SURROGATE = /\p{Cs}/u

/** Why a string cannot be stored as sent, or undefined when it can. */
export function textProblem (text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL characters (\\u0000)'
  if (LONE_SURROGATE.test(text)) return 'must not contain unpaired surrogates (\\ud800 to \\udfff on their own)'
  return undefined
}

export const pointer = (parent: string, key: string | number) => `${parent}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`

/**
 * The first string or key in a parsed JSON value that `problemOf` refuses, as a JSON Pointer with
 * the reason. Walked with a stack of its own: a deeply nested body cannot overflow the call stack.
 */
export function findBadText (value: unknown, problemOf: (text: string) => string | undefined = textProblem): { path: string, message: string } | undefined {
  const stack: Array<[unknown, string]> = [[value, '']]
  while (stack.length > 0) {
    const [node, path] = stack.pop()!
    if (typeof node === 'string') {
      const message = problemOf(node)
      if (message) return { path: path || '/', message }
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push([node[i], pointer(path, i)])
    } else if (node !== null && typeof node === 'object') {
      const entries = Object.entries(node)
      for (const [key] of entries) {
        const message = problemOf(key)
        if (message) return { path: pointer(path, key), message: `is a field name that ${message}` }
      }
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i][1], pointer(path, entries[i][0])])
    }
  }
  return undefined
}

/**
 * Bytes that claim to be UTF-8, as text: either the text, or why not (naming the first bad byte
 * and its offset), so that nothing is replaced by U+FFFD behind the sender's back.
 */
export function utf8Text (bytes: Uint8Array): { text: string, problem?: undefined } | { text?: undefined, problem: string } {
  const bad = firstInvalidUtf8(bytes)
  if (bad !== -1) return { problem: `is not valid UTF-8 (byte 0x${bytes[bad].toString(16).padStart(2, '0')} at offset ${bad})` }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  const problem = textProblem(text)
  return problem ? { problem } : { text }
}
