// The parts of s3rver (an S3-protocol server for tests) that the media tests use; it ships no types.
declare module 's3rver' {
  export default class S3rver {
    constructor (options: { address?: string, port?: number, silent?: boolean, directory: string, configureBuckets?: Array<{ name: string }> })
    run (): Promise<{ address: string, port: number }>
    close (): Promise<void>
  }
}
