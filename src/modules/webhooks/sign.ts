// Standard Webhooks signing (https://www.standardwebhooks.com): a secret is `whsec_` and the
// base64 of 32 random bytes; a signature is `v1,` and the base64 HMAC-SHA256, under the secret's
// bytes, of `<webhook-id>.<webhook-timestamp>.<body>`. During a rotation both secrets sign, and
// `webhook-signature` carries both, space-separated, so a receiver with either verifies.
import { createHmac, randomBytes } from 'node:crypto'

const PREFIX = 'whsec_'

export function newSecret (): string {
  return PREFIX + randomBytes(32).toString('base64')
}

export function sign (secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64')
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')
}

/** The headers of one attempt: the same id on every attempt, this attempt's time, every secret's signature. */
export function signedHeaders (secrets: string[], id: string, at: Date, body: string): Record<string, string> {
  const timestamp = Math.floor(at.getTime() / 1000)
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => sign(s, id, timestamp, body)).join(' ')
  }
}
