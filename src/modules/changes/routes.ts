// GET /v1/changes: the change log itself, for staff, in order, so an app or a static-site builder
// syncs incrementally: it keeps the last `seq` it saw and asks for what came after.
import { sql } from 'drizzle-orm'
import { rowsOf } from '../../db/batch.js'
import { Type } from 'typebox'
import type { Routes } from '../../http/type-provider.js'
import { AppError } from '../../http/errors.js'
import { Defaulted, errorResponses } from '../../http/schemas.js'

const ChangeSchema = Type.Object({
  seq: Type.Integer({ description: 'Its position in the log: increasing, in commit order (numbers may be skipped).' }),
  at: Type.String({ format: 'date-time' }),
  entity: Type.Union(['article', 'author', 'photo', 'section', 'tag', 'comment', 'redirect', 'content_key'].map((e) => Type.Literal(e))),
  id: Type.String({ format: 'uuid', description: 'The entity\'s id.' }),
  event: Type.String({ description: '`<entity>.<what>`: article.published, article.updated, article.unpublished, article.archived, article.deleted, author.created, section.updated, comment.approved, ...', examples: ['article.published'] }),
  tags: Type.Array(Type.String(), { description: 'The cache tags it evicts (as in `Surrogate-Key`).' }),
  data: Type.Record(Type.String(), Type.String(), { description: 'What finds the entity: its `slug`, or a comment\'s `articleId`.' })
}, { $id: 'Change', additionalProperties: false })

const ChangesQuery = Type.Object({
  after: Defaulted(Type.Integer({ minimum: 0, default: 0, description: 'The last `seq` already seen (0: from the oldest change kept; a position older than that is a 410).' })),
  limit: Defaulted(Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'Changes per page, 1 to 1000.' }))
}, { additionalProperties: false })

const ChangesPage = Type.Object({
  data: Type.Array(Type.Ref('Change')),
  meta: Type.Object({
    last: Type.Integer({ description: 'The `after` for the next page: the last `seq` of this one (or `after`, when it is empty).' }),
    hasMore: Type.Boolean({ description: 'Whether more changes follow right now.' })
  })
})

const changeRoutes: Routes = async (app) => {
  app.addSchema(ChangeSchema)

  app.get('/', {
    config: { access: 'author' },
    schema: {
      operationId: 'listChanges',
      summary: 'The change log: what changed for readers, in order',
      description: 'Every write that changes what readers see is one change, recorded in its own transaction, with the cache tags it touches. Page with `after` = the previous page\'s `meta.last`. A position older than the retention (CHANGES_RETENTION_DAYS) is a 410: the client must start over from a full sync.',
      tags: ['Changes'],
      querystring: ChangesQuery,
      response: { 200: ChangesPage, ...errorResponses(410) }
    }
  }, async (request) => {
    const { after, limit } = request.query
    // One statement, one snapshot: the retention mark and the page agree even while pruning runs.
    const rows = await rowsOf<{ pruned: string | number, seq: string | number | null, at: string | Date | null, entity: string | null, entity_id: string | null, event: string | null, tags: string[] | null, data: Record<string, string> | null }>(app.database.db, sql`
      select p.seq as pruned, c.* from change_cursors p left join lateral (
        select seq, at, entity, entity_id, event, tags, data from changes
        where seq > greatest(${after}::bigint, p.seq) order by seq limit ${limit + 1}
      ) c on true where p.name = 'pruned'`)
    const pruned = Number(rows[0]?.pruned ?? 0)
    // 0 means from the oldest change kept; any other position must still be in the log.
    if (after !== 0 && after < pruned) {
      throw new AppError('CHANGES_PRUNED', `The changes after ${after} are no longer kept (the log starts after ${pruned}); start over from a full sync.`)
    }
    const found = rows.filter((r) => r.seq !== null)
    const data = found.slice(0, limit).map((r) => ({ seq: Number(r.seq), at: new Date(r.at!).toISOString(), entity: r.entity!, id: r.entity_id!, event: r.event!, tags: r.tags ?? [], data: r.data ?? {} }))
    const hasMore = found.length > limit
    return { data, meta: { last: data.at(-1)?.seq ?? Math.max(after, pruned), hasMore } }
  })
}

export default changeRoutes
