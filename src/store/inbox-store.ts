// Queries for contacts, conversations and messages. Synchronous functions over one
// connection: callers run them inside a transaction. Every read that serves a user
// takes the workspace id, which comes from the session, never from the request.
import { and, desc, eq, lt, or, sql } from 'drizzle-orm'
import type { Db } from './db.ts'
import { channels, contacts, conversations, messages } from './schema.ts'
import type { ConversationDTO, MessageDTO } from '../events/types.ts'

export type ChannelRow = typeof channels.$inferSelect
export type ContactRow = typeof contacts.$inferSelect
export type ConversationRow = typeof conversations.$inferSelect
export type MessageRow = typeof messages.$inferSelect
export type NewMessage = typeof messages.$inferInsert

export class InboxStore {
  constructor(readonly db: Db) {}

  channelByExternalId(kind: 'whatsapp' | 'messenger', externalId: string): ChannelRow | undefined {
    return this.db
      .select()
      .from(channels)
      .where(and(eq(channels.kind, kind), eq(channels.externalId, externalId)))
      .get()
  }

  /** Finds or creates the contact; refreshes the profile name only when it changed. */
  upsertContact(
    workspaceId: number,
    kind: 'whatsapp' | 'messenger',
    externalId: string,
    profileName: string | null,
    phone: string | null,
    now: number,
  ): ContactRow {
    const existing = this.db
      .select()
      .from(contacts)
      .where(and(eq(contacts.workspaceId, workspaceId), eq(contacts.kind, kind), eq(contacts.externalId, externalId)))
      .get()
    if (!existing) {
      return this.db
        .insert(contacts)
        .values({ workspaceId, kind, externalId, phone, profileName, name: profileName, createdAt: now, updatedAt: now })
        .returning()
        .get()
    }
    if (profileName && profileName !== existing.profileName) {
      // An agent-set name wins over the WhatsApp profile name.
      const name = existing.name === null || existing.name === existing.profileName ? profileName : existing.name
      return this.db
        .update(contacts)
        .set({ profileName, name, updatedAt: now })
        .where(eq(contacts.id, existing.id))
        .returning()
        .get()
    }
    return existing
  }

  findOrOpenConversation(workspaceId: number, channelId: number, contactId: number, now: number): ConversationRow {
    const existing = this.db
      .select()
      .from(conversations)
      .where(and(eq(conversations.channelId, channelId), eq(conversations.contactId, contactId)))
      .get()
    if (existing) return existing
    return this.db
      .insert(conversations)
      .values({ workspaceId, channelId, contactId, lastActivityAt: now, createdAt: now, updatedAt: now })
      .returning()
      .get()
  }

  updateConversation(id: number, set: Partial<typeof conversations.$inferInsert>): ConversationRow {
    return this.db.update(conversations).set(set).where(eq(conversations.id, id)).returning().get()
  }

  /** Inserts unless the provider id is already stored; undefined means duplicate. */
  insertMessage(values: NewMessage): MessageRow | undefined {
    return this.db.insert(messages).values(values).onConflictDoNothing().returning().get()
  }

  messageByProviderId(channelId: number, providerMessageId: string): MessageRow | undefined {
    return this.db
      .select()
      .from(messages)
      .where(and(eq(messages.channelId, channelId), eq(messages.providerMessageId, providerMessageId)))
      .get()
  }

  updateMessage(id: number, set: Partial<NewMessage>): MessageRow {
    return this.db.update(messages).set(set).where(eq(messages.id, id)).returning().get()
  }

  conversation(workspaceId: number, id: number): ConversationDTO | undefined {
    const row = this.conversationQuery()
      .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.id, id)))
      .get()
    return row && toConversationDTO(row)
  }

  /** Most recent activity first; keyset pagination on (last_activity_at, id). */
  listConversations(
    workspaceId: number,
    opts: { limit: number; before?: { at: number; id: number }; status?: 'open' | 'resolved'; q?: string },
  ): ConversationDTO[] {
    const conds = [eq(conversations.workspaceId, workspaceId)]
    if (opts.status) conds.push(eq(conversations.status, opts.status))
    const search = opts.q ? contactSearch(opts.q) : undefined
    if (search) conds.push(search)
    if (opts.before) {
      conds.push(
        or(
          lt(conversations.lastActivityAt, opts.before.at),
          and(eq(conversations.lastActivityAt, opts.before.at), lt(conversations.id, opts.before.id)),
        )!,
      )
    }
    return this.conversationQuery()
      .where(and(...conds))
      .orderBy(desc(conversations.lastActivityAt), desc(conversations.id))
      .limit(opts.limit)
      .all()
      .map(toConversationDTO)
  }

  /** Newest first; keyset pagination on id. */
  listMessages(workspaceId: number, conversationId: number, opts: { limit: number; beforeId?: number }): MessageRow[] {
    const conds = [eq(messages.workspaceId, workspaceId), eq(messages.conversationId, conversationId)]
    if (opts.beforeId !== undefined) conds.push(lt(messages.id, opts.beforeId))
    return this.db
      .select()
      .from(messages)
      .where(and(...conds))
      .orderBy(desc(messages.id))
      .limit(opts.limit)
      .all()
  }

  private conversationQuery() {
    return this.db
      .select({
        c: conversations,
        contact: { id: contacts.id, externalId: contacts.externalId, name: contacts.name, phone: contacts.phone },
        channelKind: channels.kind,
      })
      .from(conversations)
      .innerJoin(contacts, eq(contacts.id, conversations.contactId))
      .innerJoin(channels, eq(channels.id, conversations.channelId))
  }

  /** Clears the unread count; returns undefined if not in this workspace. */
  markRead(workspaceId: number, id: number, now: number): ConversationRow | undefined {
    return this.db
      .update(conversations)
      .set({ unreadCount: 0, updatedAt: now })
      .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.id, id), sql`unread_count > 0`))
      .returning()
      .get()
  }
}

/**
 * Search by contact name or number. A query that looks like a phone number matches
 * on its digits ("+49 151-23" finds 4915123…); LIKE wildcards typed by the agent are
 * matched literally.
 */
function contactSearch(raw: string) {
  const q = raw.trim()
  if (!q) return undefined
  const like = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
  const digits = q.replace(/\D/g, '')
  const byName = sql`${contacts.name} LIKE ${like(q)} ESCAPE '\\'`
  if (/^[\d\s+()./-]+$/.test(q) && digits) {
    return or(byName, sql`${contacts.phone} LIKE ${like(digits)}`, sql`${contacts.externalId} LIKE ${like(digits)}`)
  }
  return byName
}

function toConversationDTO(r: {
  c: ConversationRow
  contact: { id: number; externalId: string; name: string | null; phone: string | null }
  channelKind: 'whatsapp' | 'messenger'
}): ConversationDTO {
  const c = r.c
  return {
    id: c.id,
    channelId: c.channelId,
    channelKind: r.channelKind,
    status: c.status,
    unreadCount: c.unreadCount,
    lastMessageId: c.lastMessageId,
    lastMessagePreview: c.lastMessagePreview,
    lastMessageDirection: c.lastMessageDirection,
    lastMessageAt: c.lastMessageAt,
    lastActivityAt: c.lastActivityAt,
    windowExpiresAt: c.windowExpiresAt,
    contact: r.contact,
  }
}

export function toMessageDTO(m: MessageRow): MessageDTO {
  return {
    id: m.id,
    conversationId: m.conversationId,
    direction: m.direction,
    type: m.type,
    text: m.text,
    media: m.media ?? null,
    data: m.data ?? null,
    context: m.context ?? null,
    replyToMessageId: m.replyToMessageId,
    reactions: m.reactions ?? null,
    providerMessageId: m.providerMessageId,
    clientMessageId: m.clientMessageId,
    senderUserId: m.senderUserId,
    status: m.status,
    sentAt: m.sentAt,
    deliveredAt: m.deliveredAt,
    readAt: m.readAt,
    failedAt: m.failedAt,
    error:
      m.errorCode !== null || m.errorTitle !== null
        ? { code: m.errorCode, title: m.errorTitle, detail: m.errorDetail }
        : null,
    timestamp: m.timestamp,
  }
}
