// POST /v1/articles/bulk: publish, unpublish, archive, delete, tag or file many articles at once.
import { asc, inArray } from 'drizzle-orm'
import { articles } from '../../db/schema.js'
import { committed } from '../../http/idempotency.js'
import { errorResponses, ref } from '../../http/schemas.js'
import type { Routes } from '../../http/type-provider.js'
import { bulkEdit } from './bulk.js'
import { BULK_MAX_IDS, BulkArticlesBody, BulkResponse } from './bulk-schemas.js'
import { presentArticles, summaryColumns, type LoadedRow } from './present.js'

const articleBulkRoutes: Routes = async (app) => {
  const articleUrl = (slug: string) => app.config.ARTICLE_URL_TEMPLATE.replace('{slug}', encodeURIComponent(slug))

  app.post('/', {
    config: { access: 'editor' },
    schema: {
      operationId: 'bulkEditArticles',
      summary: 'Publish, unpublish, archive, delete, tag or file many articles at once: all or nothing',
      description: `One \`action\` on 1 to ${BULK_MAX_IDS} articles (\`ids\`, each once; more is a 400), in one transaction. ` +
        'Each article changes exactly as its single route would change it, with the same revision and change-log entry, so public reads reflect it as soon as the answer arrives. ' +
        'If any id blocks the action, nothing is changed and one problem names every blocking id in `errors` (`path` `/ids/{index}`) with its reason: ' +
        'a 400 when an id names no article (or `tagIds`/`sectionId` name no tag or section), else a 409 (an illegal state change such as unpublishing a draft, ' +
        'a delete that would orphan a link from another article, listed in `references`, or more than 50 tags). ' +
        'The answer is `{ data: [article summaries] }` in the order of `ids`, or `{ deleted: [ids] }` for `delete`.',
      tags: ['Articles'],
      body: ref(BulkArticlesBody),
      response: { 200: BulkResponse, ...errorResponses(409) }
    }
  }, async (request, reply) => committed(request, reply, async (db) => {
    const ids = await bulkEdit(db, request.body, { now: app.now(), actor: request.principal })
    if (request.body.action === 'delete') return { deleted: ids }
    // The answer is read in the write's own transaction (committed()): once it commits, it is in hand.
    const rows = await db.select(summaryColumns).from(articles).where(inArray(articles.id, ids)).orderBy(asc(articles.id)) as LoadedRow[]
    const byId = new Map(rows.map((r) => [r.id, r]))
    const data = await presentArticles(db, ids.map((id) => byId.get(id)!), {
      staff: true,
      now: app.now(),
      include: new Set(),
      summary: true,
      articleUrl,
      urls: app.publicUrls,
      photoSizes: app.config.BODY_PHOTO_SIZES
    })
    return { data }
  }))
}

export default articleBulkRoutes
