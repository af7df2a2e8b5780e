// Answers made outside Fastify's request lifecycle, in the same form as every other answer:
// problem+json with `Cache-Control: no-store`, the security headers, and `Connection: close`.
// They come from Node's HTTP server, for bytes that are no request Fastify could take
// (`clientError`: malformed HTTP, headers too large, a request too slow to arrive) and for an
// `Expect` other than 100-continue (`checkExpectation`); from the router, for a URL it cannot
// decode (`frameworkErrors`); and from the connection limit (src/http/connections.ts).
import { STATUS_CODES, maxHeaderSize, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { problemBody, sendProblem, type ErrorCode } from './errors.js'

export type EarlyAnswer = { status: number, headers: Record<string, string>, body: string }

type Headers = Readonly<Record<string, string>>

export function earlyAnswer (security: Headers, code: ErrorCode, detail: string, extra: Record<string, string> = {}): EarlyAnswer {
  const problem = problemBody(code, detail)
  const body = JSON.stringify(problem)
  return {
    status: problem.status,
    body,
    headers: {
      ...security,
      ...extra,
      'cache-control': 'no-store',
      'content-type': 'application/problem+json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      connection: 'close'
    }
  }
}

/** Through Node's response object, when Node still parsed a request. */
export function sendEarly (res: ServerResponse, answer: EarlyAnswer) {
  res.writeHead(answer.status, answer.headers)
  res.end(answer.body)
}

/** Straight onto the socket, when Node's parser has given up on it; then the socket closes. */
export function writeEarly (socket: Socket, answer: EarlyAnswer) {
  const head = [`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}`, `date: ${new Date().toUTCString()}`]
  for (const [name, value] of Object.entries(answer.headers)) head.push(`${name}: ${value}`)
  socket.end(`${head.join('\r\n')}\r\n\r\n${answer.body}`)
  // Closed once written: nothing more is read from a connection whose bytes made no sense.
  socket.once('finish', () => socket.destroy())
}

/** What Node's HTTP parser (llhttp) and its timers report, as problems. */
function clientProblem (security: Headers, error: NodeJS.ErrnoException & { reason?: string }): EarlyAnswer {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return earlyAnswer(security, 'REQUEST_TIMEOUT', 'The request did not arrive in full in the time this server allows (REQUEST_TIMEOUT_SECONDS); send it again, faster.')
    case 'HPE_HEADER_OVERFLOW':
      return earlyAnswer(security, 'HEADERS_TOO_LARGE', `The request line and headers are larger than this server accepts (${maxHeaderSize} bytes).`)
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return earlyAnswer(security, 'PAYLOAD_TOO_LARGE', 'The chunk extensions of the request body are larger than this server accepts.')
    default:
      return earlyAnswer(security, 'BAD_REQUEST', `The request is not valid HTTP/1.1: ${error.reason ?? error.code ?? 'it could not be parsed'}.`)
  }
}

/** Fastify's `clientErrorHandler`: Node's `clientError`, answered as a problem. */
export function clientErrorHandler (security: Headers) {
  // Fastify calls it with itself as `this`.
  return function (this: { log: FastifyBaseLogger }, error: NodeJS.ErrnoException, socket: Socket) {
    // Reset by the client: there is no one to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    this.log.debug({ code: error.code }, 'client error')
    // An answer already under way (an early 401 while the body still trickles in) must not be
    // followed by a second one the client never asked for: the connection just closes.
    const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage
    if (!socket.writable || current?.headersSent) {
      socket.destroy()
      return
    }
    writeEarly(socket, clientProblem(security, error))
  }
}

/**
 * What Node's HTTP server would otherwise answer itself, or not at all: an `Expect` other than
 * 100-continue (Node's bare 417), and CONNECT (Node closes the connection without a word).
 */
export function answerServerErrors (server: Server, security: Headers) {
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    sendEarly(res, earlyAnswer(security, 'EXPECTATION_FAILED', `Expect: ${String(req.headers.expect).slice(0, 100)} is not supported; only 100-continue is.`))
  })
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    writeEarly(socket, earlyAnswer(security, 'BAD_REQUEST', 'CONNECT is for proxies, and this server is none.'))
  })
}

/** Fastify's `frameworkErrors`: a URL the router cannot decode, or a path segment too long. */
export function frameworkErrorHandler (security: Headers) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    // No hook runs for these: the headers they would have set are set here.
    reply.headers(security).header('x-request-id', request.id)
    if (!request.raw.complete) reply.header('connection', 'close')
    request.log.info({ code: error.code }, 'request refused')
    if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
      return sendProblem(reply, problemBody('URI_TOO_LONG', 'A segment of the path is longer than any id or slug (300 characters).'))
    }
    if (error.code === 'FST_ERR_BAD_URL') {
      return sendProblem(reply, problemBody('BAD_REQUEST', 'The path is not valid percent-encoded UTF-8.'))
    }
    request.log.error({ err: error }, 'routing failed')
    return sendProblem(reply, problemBody('INTERNAL', 'Something went wrong on our side; it has been logged.'))
  }
}
