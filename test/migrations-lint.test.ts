// The migration linter (npm run migrations:lint, run by CI) holds every migration to the
// expand/contract rule with squawk: the committed ones pass, a change that would break
// instances still running the previous version fails, and a marked contract step is let through.
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'

// squawk ships a build for Linux x64 only in this project's dependencies.
const skip = process.platform === 'linux' && process.arch === 'x64' ? false : 'squawk is installed on Linux x64 only'
const lint = (folder?: string) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/migrations-lint.ts', ...(folder ? [folder] : [])], { encoding: 'utf8' })

t.test('the committed migrations keep running instances working', { skip }, async (t) => {
  const run = lint()
  t.equal(run.status, 0, run.stdout + run.stderr)
  t.match(run.stdout, /\d+ migration\(s\) keep running instances working/)
})

t.test('breaking changes fail, each named by its rule; a marked contract step passes', { skip }, async (t) => {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'dateline-migrations-'))
  t.teardown(() => rm(folder, { recursive: true, force: true }))
  const breaking = {
    'renaming-column': 'ALTER TABLE "articles" RENAME COLUMN "title" TO "headline";',
    'adding-required-field': 'ALTER TABLE "articles" ADD COLUMN "kicker" text NOT NULL;',
    'ban-drop-column': 'ALTER TABLE "articles" DROP COLUMN "standfirst";',
    'changing-column-type': 'ALTER TABLE "articles" ALTER COLUMN "slug" SET DATA TYPE varchar(100);',
    'renaming-table': 'ALTER TABLE "articles" RENAME TO "stories";',
    'ban-drop-table': 'DROP TABLE "tags";'
  }
  for (const [rule, statement] of Object.entries(breaking)) {
    await writeFile(path.join(folder, '0009_change.sql'), `${statement}\n`)
    const run = lint(folder)
    t.equal(run.status, 1, `${rule} fails the run`)
    t.match(run.stdout, new RegExp(`0009_change\\.sql:.*${rule}`), `and is named: ${rule}`)
  }
  await writeFile(path.join(folder, '0009_change.sql'), 'ALTER TABLE "articles" ADD COLUMN "kicker" text DEFAULT \'\' NOT NULL;\n')
  t.equal(lint(folder).status, 0, 'a NOT NULL column with a default is an expand step')

  await writeFile(path.join(folder, '0009_change.sql'), '-- contract step: standfirst unused since the release before\nALTER TABLE "articles" DROP COLUMN "standfirst";\n')
  const contract = lint(folder)
  t.equal(contract.status, 0, contract.stdout)
  t.match(contract.stdout, /a contract step \(standfirst unused since the release before\)/)
})
