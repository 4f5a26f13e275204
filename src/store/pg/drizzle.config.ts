// drizzle-kit for PostgreSQL (issue 17): `npm run db:generate:pg` (or `npm run db:generate`, both
// dialects) writes migrations/pg/ from src/store/pg/schema.ts. Generated files are never edited.
import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/pg/schema.ts',
  out: './migrations/pg',
})
