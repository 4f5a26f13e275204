// The inbox's row types, derived from the schema. In a module of their own so the
// repositories and the DTO mapping share them without importing each other.
import type { contacts, conversations, messages } from './schema.ts'

export type { ChannelRow } from './channels.ts'
export type ContactRow = typeof contacts.$inferSelect
export type ConversationRow = typeof conversations.$inferSelect
export type NewConversation = typeof conversations.$inferInsert
export type MessageRow = typeof messages.$inferSelect
export type NewMessage = typeof messages.$inferInsert
