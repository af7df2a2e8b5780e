// /v1/articles/{id}/corrections: public corrections of an article. Editors add and reword them;
// there is no delete, so a correction once published stays on the record.
import { setVersion } from '../../http/caching.js'
import { committed } from '../../http/idempotency.js'
import { tagResponse } from '../../http/public-cache.js'
import { ifMatch, location } from '../../http/replies.js'
import { IdParams, errorResponses, page, ref } from '../../http/schemas.js'
import type { Routes } from '../../http/type-provider.js'
import { entityTag } from '../../lib/cache-tags.js'
import { CorrectionParams, CorrectionSchema, CreateCorrectionBody, ListCorrectionsQuery, UpdateCorrectionBody } from './schemas.js'
import { presentCorrection } from './present.js'
import { addCorrection, editCorrection, getCorrection, listCorrections } from './service.js'

const tags = ['Articles']
const never = 'Corrections cannot be deleted (DELETE is a 405): a wrong one is reworded, and its earlier wording stays in `history`.'

const correctionRoutes: Routes = async (app) => {
  app.get('/:id/corrections', {
    config: { access: 'public' },
    schema: {
      operationId: 'listArticleCorrections', summary: 'An article\'s corrections, oldest first', tags,
      description: 'Anyone who may see the article (a draft\'s corrections are staff-only, as the draft). Staff also get each correction\'s `history`.',
      params: IdParams, querystring: ListCorrectionsQuery, response: { 200: page(ref(CorrectionSchema)), ...errorResponses(404) }
    }
  }, async (request) => {
    tagResponse(request, [entityTag('article', request.params.id)])
    const staff = request.principal !== null
    const result = await listCorrections(app.db, request.params.id, request.query, { staff, now: app.now() })
    return { data: result.data.map((r) => presentCorrection(r, staff)), meta: result.meta }
  })

  app.get('/:id/corrections/:correctionId', {
    config: { access: 'public' },
    schema: {
      operationId: 'getArticleCorrection', summary: 'Get one correction of an article', tags,
      description: 'Its ETag is the one `If-Match` takes when it is edited. Staff also get its `history`.',
      params: CorrectionParams, response: { 200: ref(CorrectionSchema), ...errorResponses(404) }
    }
  }, async (request, reply) => {
    tagResponse(request, [entityTag('article', request.params.id)])
    const staff = request.principal !== null
    const row = await getCorrection(app.db, request.params.id, request.params.correctionId, { staff, now: app.now() })
    setVersion(reply, row)
    return presentCorrection(row, staff)
  })

  app.post('/:id/corrections', {
    config: { access: 'editor' },
    schema: {
      operationId: 'addArticleCorrection', summary: 'Append a correction to an article', tags,
      description: `Editors and admins. The correction is dated now and shown to readers in the article's \`corrections\` and at the end of its \`bodyHtml\`; the article's \`updatedAt\` (its last substantive update) moves to the same time. A draft may be corrected too: readers see it once the article is public. ${never}`,
      params: IdParams, body: CreateCorrectionBody, response: { 201: ref(CorrectionSchema), ...errorResponses(404) }
    }
  }, async (request, reply) => committed(request, reply, async (db) => {
    const row = await addCorrection(db, request.params.id, request.body.text, { now: app.now(), actor: request.principal })
    location(reply.code(201), `/v1/articles/${row.articleId}/corrections/${row.id}`)
    setVersion(reply, row)
    return presentCorrection(row, true)
  }))

  app.patch('/:id/corrections/:correctionId', {
    config: { access: 'editor' },
    schema: {
      operationId: 'updateArticleCorrection', summary: 'Reword a correction (the earlier wording is kept)', tags,
      description: `Editors and admins; \`If-Match\` with the correction's ETag guards against overwriting a colleague's edit. The earlier wording goes into \`history\` with \`editedAt\` and \`editedById\` (shown to staff), and readers see the correction's \`editedAt\`. The correction keeps its \`publishedAt\`, and the article's \`updatedAt\` does not move. ${never}`,
      params: CorrectionParams, body: UpdateCorrectionBody, response: { 200: ref(CorrectionSchema), ...errorResponses(404, 412) }
    }
  }, async (request, reply) => committed(request, reply, async (db) => {
    const row = await editCorrection(db, request.params.id, request.params.correctionId, request.body.text, { now: app.now(), actor: request.principal, ifMatch: ifMatch(request) })
    setVersion(reply, row)
    return presentCorrection(row, true)
  }))
}

export default correctionRoutes
