// The server and the commands as a user runs them: real processes, started from the project's
// folder the way the README says, with their output kept for the assertions.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

export const root = fileURLToPath(new URL('..', import.meta.url))

export type Run = { code: number | null, stdout: string, stderr: string }

/** The environment of a clean shell, plus what the test sets. */
export function cleanEnv (env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? root }
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v
  return out
}

// Through env(1), which drops the coverage hooks the test runner adds to child processes: the
// code runs under tsx, whose transpiled files would be merged into the coverage map of the same
// files as loaded by the tests and garble it.
const spawnClean = (command: string, args: string[], env: Record<string, string>) =>
  spawn('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', command, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })

/** Runs a command to its end. */
export function run (command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnClean(command, args, env)
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (d) => { stdout += d })
    child.stderr!.on('data', (d) => { stderr += d })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** `npm run token -- create ...`, word for word as the README has it. */
export const tokenCli = (env: Record<string, string>, ...args: string[]) => run('npm', ['run', 'token', '--', ...args], env)

export const tokenIn = (output: string) => output.match(/dl_[A-Za-z0-9_-]{43,}/)?.[0]

export type Server = {
  url: string
  child: ChildProcess
  /** Every line it has written, stdout and stderr together. */
  lines: string[]
  messages: () => string[]
  /** Resolves with the exit code. */
  exited: Promise<number | null>
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

/**
 * Starts `src/server.ts` as `npm start` does (node --import tsx), on a port of its own, and
 * waits for its "API docs" line (the hint for a first token, if any, is written with it);
 * rejects with its output if it exits first.
 */
export function startServer (t: Test, env: Record<string, string>): Promise<Server> {
  const child = spawnClean(process.execPath, ['--import', 'tsx', 'src/server.ts'], cleanEnv({ PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'json', SEED_DEMO: 'false', ...env }))
  const lines: string[] = []
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const messages = () => lines.map((l) => { try { return String(JSON.parse(l).msg) } catch { return l } })
  return new Promise((resolve, reject) => {
    let buffered = ''
    const onData = (d: Buffer) => {
      buffered += d
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      lines.push(...parts)
      const listening = messages().find((m) => m.startsWith('Listening on http://'))
      if (listening && messages().some((m) => m.startsWith('API docs:'))) {
        resolve({
          url: listening.slice('Listening on '.length),
          child,
          lines,
          messages,
          exited,
          stop: (signal = 'SIGTERM') => { child.kill(signal); return exited }
        })
      }
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    exited.then((code) => reject(new Error(`the server exited (${code}) before it listened:\n${[...lines, buffered].join('\n')}`)))
  })
}
