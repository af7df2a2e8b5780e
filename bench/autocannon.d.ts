// The part of autocannon 8's API that the benchmark uses (the package ships no types).
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export type RequestParams = {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
  }

  export type Request = RequestParams & {
    /** Called before each request; returning a falsy value restarts the request sequence. */
    setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams | undefined | null | false
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => void
  }

  export type Client = EventEmitter & {
    setRequests: (requests: Request[]) => void
    setHeaders: (headers: Record<string, string>) => void
    setBody: (body: string | Buffer) => void
  }

  export type Options = RequestParams & {
    url: string
    connections?: number
    duration?: number
    amount?: number
    timeout?: number
    pipelining?: number
    requests?: Request[]
    setupClient?: (client: Client) => void
    initialContext?: Record<string, unknown>
    excludeErrorStats?: boolean
    title?: string
  }

  export type Histogram = {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p0_001: number
    p0_01: number
    p0_1: number
    p1: number
    p2_5: number
    p10: number
    p25: number
    p50: number
    p75: number
    p90: number
    p97_5: number
    p99: number
    p99_9: number
    p99_99: number
    p99_999: number
  }

  export type Result = {
    title?: string
    url: string
    requests: Histogram
    latency: Histogram
    throughput: Histogram
    duration: number
    errors: number
    timeouts: number
    mismatches: number
    non2xx: number
    resets: number
    '1xx': number
    '2xx': number
    '3xx': number
    '4xx': number
    '5xx': number
    statusCodeStats: Record<string, { count: number }>
    start: Date
    finish: Date
  }

  export type Instance = EventEmitter & Promise<Result> & { stop: () => void }

  function autocannon (options: Options): Instance
  function autocannon (options: Options, callback: (error: Error | null, result: Result) => void): Instance

  export default autocannon
}
