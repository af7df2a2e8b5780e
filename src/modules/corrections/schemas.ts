// Corrections: dated notes appended to an article in public, never edited away silently.
import { Type, type Static } from 'typebox'
import { DateTimeSchema, IdSchema, PaginationQuery, ref } from '../../http/schemas.js'

const Nullable = <T extends ReturnType<typeof ref>>(t: T) => Type.Union([t, Type.Null()])

const noteFields = {
  id: ref(IdSchema),
  text: Type.String({ description: 'Plain text, exactly as written (trimmed); render it as text, never as HTML. `bodyHtml` shows it escaped.' }),
  publishedAt: ref(DateTimeSchema),
  editedAt: Type.Union([ref(DateTimeSchema), Type.Null()], { description: 'When the wording was last changed, or null if it never was: readers can tell an edited correction from an original one.' })
}

/** A correction as the article shows it (`corrections`). */
export const CorrectionNoteSchema = Type.Object(noteFields, {
  $id: 'CorrectionNote',
  additionalProperties: false,
  description: 'A correction as readers see it at the end of the article.'
})

export const CorrectionEditSchema = Type.Object({
  text: Type.String({ description: 'The wording before this edit.' }),
  editedAt: ref(DateTimeSchema),
  editedById: Nullable(ref(IdSchema))
}, { $id: 'CorrectionEdit', additionalProperties: false })

export const CorrectionSchema = Type.Object({
  ...noteFields,
  articleId: ref(IdSchema),
  history: Type.Optional(Type.Array(ref(CorrectionEditSchema), { description: 'Staff only: every earlier wording, oldest first, with when and by whom it was replaced.' }))
}, { $id: 'Correction', additionalProperties: false })

const Text = Type.String({ minLength: 1, maxLength: 5000, pattern: '\\S', description: 'Plain text, 1 to 5,000 characters; stored trimmed, shown escaped.', examples: ['An earlier version of this article gave the wrong district for the Sehwan camp. It is in Jamshoro, not Dadu.'] })

export const CreateCorrectionBody = Type.Object({ text: Text }, { additionalProperties: false })
export const UpdateCorrectionBody = Type.Object({ text: Text }, { additionalProperties: false })
export type CorrectionInput = Static<typeof CreateCorrectionBody>

export const CorrectionParams = Type.Object({ id: ref(IdSchema), correctionId: ref(IdSchema) }, { additionalProperties: false })
export const ListCorrectionsQuery = Type.Object({ ...PaginationQuery.properties }, { additionalProperties: false })
export type ListCorrections = Static<typeof ListCorrectionsQuery>

export const correctionSchemas = [CorrectionNoteSchema, CorrectionEditSchema, CorrectionSchema]
