// One outbound POST to a webhook endpoint, with the limits every call out of Dateline keeps: a
// deadline for the whole attempt (connecting, the answer and its body), a cap on the body read
// (the rest is discarded), no redirects (a 3xx is a failure, like any other non-2xx), and no
// private destinations: the address a name resolves to is checked at connect time, by the
// socket's own lookup, so a name that resolves to a public address when checked and to a private
// one when used (DNS rebinding) is refused too.
import dns from 'node:dns'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import ipaddr from 'ipaddr.js'

/** How much of an answer's body is read; the rest is discarded unread. */
export const MAX_RESPONSE_BYTES = 64 * 1024
/** How much of an answer's body is kept with a failed attempt, to tell its owner why. */
const KEPT_BODY_CHARS = 200

export type Outcome = {
  /** The answer's status; null when none came (refused, unreachable, timed out). */
  status: number | null
  ok: boolean
  durationMs: number
  /** Why it failed, for the delivery log; null on success. */
  error: string | null
}

export type SendOptions = {
  timeoutMs: number
  allowPrivate: boolean
  userAgent: string
  signal?: AbortSignal
}

export class RefusedAddress extends Error {
  code = 'EADDRREFUSED'
}

/**
 * Why an address may not be called, or null when it may: only global unicast addresses are.
 * Loopback, RFC 1918, unique-local, link-local (the cloud metadata service at 169.254.169.254),
 * carrier-grade NAT, multicast, broadcast, unspecified and reserved ranges are not; IPv4 inside
 * IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it is.
 */
export function refusal (address: string): string | null {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`
  const ip = ipaddr.process(address)
  const range = ip.range()
  return range === 'unicast' ? null : `${address} is a ${range} address`
}

/** dns.lookup, refusing names that resolve to an address refusal() names. */
function guardedLookup (hostname: string, options: dns.LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void) {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '')
    if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '')
    const refused = addresses.map((a) => refusal(a.address)).find((r) => r !== null)
    if (refused) return callback(new RefusedAddress(`${hostname} resolves to a private address (${refused}); set WEBHOOK_ALLOW_PRIVATE=true to allow it`), '')
    if (options.all) return callback(null, addresses)
    callback(null, addresses[0].address, addresses[0].family)
  })
}

/** POSTs `body` to `url`; never throws: every failure is an outcome. */
export async function send (url: string, headers: Record<string, string>, body: string, opts: SendOptions): Promise<Outcome> {
  const started = performance.now()
  const done = (status: number | null, error: string | null): Outcome => ({
    status, ok: error === null, durationMs: Math.round(performance.now() - started), error
  })
  let target: URL
  try {
    target = new URL(url)
  } catch {
    return done(null, 'the URL does not parse')
  }
  // A literal address never reaches a lookup: it is checked here.
  const host = target.hostname.replace(/^\[|\]$/g, '')
  if (!opts.allowPrivate && net.isIP(host) !== 0) {
    const refused = refusal(host)
    if (refused) return done(null, `refused: ${refused}; set WEBHOOK_ALLOW_PRIVATE=true to allow it`)
  }
  const client = target.protocol === 'https:' ? https : http
  return new Promise<Outcome>((resolve) => {
    let settled = false
    const finish = (status: number | null, error: string | null) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      resolve(done(status, error))
    }
    const req = client.request(target, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': opts.userAgent },
      // No connection kept between deliveries: each one resolves (and checks) its address anew.
      agent: false,
      ...(!opts.allowPrivate && { lookup: guardedLookup as never })
    }, (res) => {
      const status = res.statusCode ?? 0
      let read = 0
      const kept: Buffer[] = []
      res.on('data', (chunk: Buffer) => {
        if (read < KEPT_BODY_CHARS) kept.push(chunk)
        read += chunk.length
        // Past the cap the answer is dropped: its status is all that counts.
        if (read >= MAX_RESPONSE_BYTES) { end(); res.destroy() }
      })
      const end = () => {
        if (status >= 200 && status < 300) return finish(status, null)
        const text = Buffer.concat(kept).toString('utf8').slice(0, KEPT_BODY_CHARS).replace(/\s+/g, ' ').trim()
        const why = status >= 300 && status < 400
          ? `HTTP ${status}: redirects are not followed${res.headers.location ? ` (to ${String(res.headers.location).slice(0, 200)})` : ''}`
          : `HTTP ${status}${text ? `: ${text}` : ''}`
        finish(status, why)
      }
      res.on('end', end)
      res.on('error', () => end())
      res.on('close', () => end())
    })
    const onAbort = () => { req.destroy(new Error('aborted: the instance is stopping')) }
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs)
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    req.on('error', (err: NodeJS.ErrnoException) => {
      const message = err instanceof RefusedAddress ? `refused: ${err.message}` : err.code && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message
      finish(null, message)
    })
    req.end(body)
  })
}
