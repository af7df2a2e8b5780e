// Corrections as the API shows them: readers the note and whether it was edited, staff also its
// earlier wordings.
import type { articleCorrections } from '../../db/schema.js'

export type CorrectionRow = typeof articleCorrections.$inferSelect

/** When the wording last changed, or null. */
export const editedAtOf = (row: Pick<CorrectionRow, 'history'>) => row.history.at(-1)?.editedAt ?? null

export function presentCorrection (row: CorrectionRow, staff: boolean) {
  return {
    id: row.id,
    articleId: row.articleId,
    text: row.text,
    publishedAt: row.publishedAt,
    editedAt: editedAtOf(row),
    ...(staff && { history: row.history })
  }
}
