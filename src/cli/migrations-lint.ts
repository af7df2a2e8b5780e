// npm run migrations:lint: every migration must keep the previous version's instances working
// (expand/contract, README), as squawk judges it with the rules in .squawk.toml: no dropped or
// renamed table or column, no changed column type, no NOT NULL column without a default. A
// migration whose first line is `-- contract step: <why>` is exempt: it removes what a release
// already running has stopped using, and says so.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const CONTRACT = /^--\s*contract step:\s*(\S.*)$/i

const folder = process.argv[2] ?? 'migrations'
const files = readdirSync(folder).filter((f) => f.endsWith('.sql')).sort().map((f) => path.join(folder, f))
const expand: string[] = []
for (const file of files) {
  const why = CONTRACT.exec(readFileSync(file, 'utf8').split('\n', 1)[0])?.[1]
  if (why) console.log(`${file}: a contract step (${why}), not held to the expand rules`)
  else expand.push(file)
}
if (expand.length === 0) process.exit(0)

// squawk's Linux x64 build, an optional dependency: the registry this project installs from
// carries no other platform's, and elsewhere the check is left to CI.
const squawk = fileURLToPath(new URL('../../node_modules/@squawk-cli/linux-x64/bin/squawk', import.meta.url))
if (!existsSync(squawk)) {
  console.log(`squawk is not installed here (its build is for Linux x64; this is ${process.platform} ${process.arch}): CI checks the migrations.`)
  process.exit(0)
}
const config = fileURLToPath(new URL('../../.squawk.toml', import.meta.url))
const run = spawnSync(squawk, ['--config', config, '--reporter', 'gcc', ...expand], { encoding: 'utf8' })
process.stdout.write(run.stdout)
process.stderr.write(run.stderr)
if (run.status === 0) console.log(`${expand.length} migration(s) keep running instances working.`)
else console.log('A migration above would break instances still running the previous version: split it into expand and contract steps (README), or mark a contract step with `-- contract step: <why>` as its first line.')
process.exitCode = run.status ?? 1
