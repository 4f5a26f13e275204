// Message reads for sending: the idempotency key of an agent's send, a message of the
// workspace (to quote, react to or retry), and the last inbound message to mark read.
// Writes go through the inbox store (insertMessage, updateMessage).
import { and, desc, eq, isNotNull, ne } from 'drizzle-orm'
import type { Db } from './db.ts'
import type { MessageRow } from './inbox-store.ts'
import { messages } from './schema.ts'

/** The message an agent's send with this clientMessageId stored, if any. */
export function messageByClientId(db: Db, workspaceId: number, clientMessageId: string): MessageRow | undefined {
  return db
    .select()
    .from(messages)
    .where(and(eq(messages.workspaceId, workspaceId), eq(messages.clientMessageId, clientMessageId)))
    .get()
}

export function messageInWorkspace(db: Db, workspaceId: number, id: number): MessageRow | undefined {
  return db
    .select()
    .from(messages)
    .where(and(eq(messages.workspaceId, workspaceId), eq(messages.id, id)))
    .get()
}

/** The provider's id of the customer's latest message (not a reaction): marking it read marks the earlier ones. */
export function lastInboundProviderId(db: Db, conversationId: number): string | null {
  const last = db
    .select({ id: messages.providerMessageId })
    .from(messages)
    .where(
      and(
        eq(messages.conversationId, conversationId),
        eq(messages.direction, 'in'),
        isNotNull(messages.providerMessageId),
        ne(messages.type, 'reaction'),
      ),
    )
    .orderBy(desc(messages.id))
    .limit(1)
    .get()
  return last?.id ?? null
}
