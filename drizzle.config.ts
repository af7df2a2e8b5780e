import { defineConfig } from 'drizzle-kit'

// drizzle-kit only diffs the schema against the migrations folder; it never connects.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './migrations'
})
