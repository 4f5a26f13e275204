// The inbox's data access in one object, for the code that takes one: each method is a
// repository's (conversations.ts, messages.ts, contact-identities.ts, channels.ts,
// users.ts), and the DTO mapping is dto.ts. The repositories are units of work (issue 17);
// these synchronous methods run them now on the SQLite connection: callers run them
// inside a transaction. Every read that serves a user
// takes the workspace id, which comes from the session, never from the request.
import type { ChannelKind, ConversationDTO, MessageDTO } from '../events/types.ts'
import { ChannelsRepo } from './channels.ts'
import { secretBoxOf } from './sealed-columns.ts'
import { ContactIdentities } from './contact-identities.ts'
import { ConversationsRepo, type ConversationListOptions } from './conversations.ts'
import type { Db } from './db.ts'
import { LabelsNow, LabelsRepo } from './labels.ts'
import { MessagesRepo } from './messages.ts'
import type { ChannelRow, ContactRow, ConversationRow, MessageRow, NewConversation, NewMessage } from './rows.ts'
import { sqliteConn } from './conn.ts'
import { runSync, type Q } from './unit.ts'
import { UsersRepo } from './users.ts'

export type { ChannelRow, ContactRow, ConversationRow, MessageRow, NewConversation, NewMessage } from './rows.ts'
export { toConversationDTO, toMessageDTO } from './dto.ts'

/**
 * The repositories the inbox's units of work use (issue 17): no connection of their own, so
 * the same objects serve SQLite and PostgreSQL. InboxStore is one of these plus SQLite's
 * synchronous methods.
 */
export interface InboxRepos {
  readonly conversations: ConversationsRepo
  readonly messages: MessagesRepo
  readonly users: UsersRepo
}

export function inboxRepos(): InboxRepos {
  return { conversations: new ConversationsRepo(), messages: new MessagesRepo(), users: new UsersRepo() }
}

export class InboxStore implements InboxRepos {
  readonly channels: ChannelsRepo
  readonly contacts: ContactIdentities
  readonly conversations: ConversationsRepo
  readonly messages: MessagesRepo
  /** Labels and the conversations carrying them (issue 14). */
  readonly labels: LabelsNow
  readonly users: UsersRepo

  constructor(readonly db: Db) {
    this.channels = new ChannelsRepo(secretBoxOf(db))
    this.contacts = new ContactIdentities()
    this.conversations = new ConversationsRepo()
    this.messages = new MessagesRepo()
    this.labels = new LabelsNow(new LabelsRepo(), (unit) => this.runNow(unit))
    this.users = new UsersRepo()
  }

  /**
   * Runs a repository unit now on this connection (issue 17: repositories written as units;
   * the inbox's own callers are still synchronous, inside a better-sqlite3 transaction).
   */
  runNow<T>(unit: Q<T>): T {
    return runSync(unit, sqliteConn(this.db.$client))
  }

  channelByExternalId(kind: ChannelKind, externalId: string): ChannelRow | undefined {
    return this.runNow(this.channels.byExternalId(kind, externalId))
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
    return this.runNow(this.contacts.upsertContact(workspaceId, kind, externalId, profileName, phone, now))
  }

  contactByExternalId(workspaceId: number, kind: 'whatsapp' | 'messenger', externalId: string): ContactRow | undefined {
    return this.runNow(this.contacts.contactByExternalId(workspaceId, kind, externalId))
  }

  findOrOpenConversation(workspaceId: number, channelId: number, contactId: number, now: number): ConversationRow {
    return this.runNow(this.conversations.findOrOpenConversation(workspaceId, channelId, contactId, now))
  }

  updateConversation(id: number, set: Partial<NewConversation>): ConversationRow {
    return this.runNow(this.conversations.updateConversation(id, set))
  }

  conversationByChannelContact(channelId: number, contactId: number): ConversationRow | undefined {
    return this.runNow(this.conversations.conversationByChannelContact(channelId, contactId))
  }

  /** Inserts unless the provider id (or client id) is already stored; undefined means duplicate. */
  insertMessage(values: NewMessage): MessageRow | undefined {
    return this.runNow(this.messages.insertMessage(values))
  }

  messageByProviderId(channelId: number, providerMessageId: string): MessageRow | undefined {
    return this.runNow(this.messages.messageByProviderId(channelId, providerMessageId))
  }

  updateMessage(id: number, set: Partial<NewMessage>): MessageRow {
    return this.runNow(this.messages.updateMessage(id, set))
  }

  messageById(workspaceId: number, id: number): MessageRow | undefined {
    return this.runNow(this.messages.messageById(workspaceId, id))
  }

  /** Outbound messages sent at or before `at` (ms) still in one of `statuses` (watermarks). */
  outboundUpTo(conversationId: number, at: number, statuses: readonly string[]): MessageRow[] {
    return this.runNow(this.messages.outboundUpTo(conversationId, at, statuses))
  }

  conversation(workspaceId: number, id: number): ConversationDTO | undefined {
    return this.runNow(this.conversations.conversationDTO(workspaceId, id))
  }

  /** Whether the conversation exists in this workspace (the message list's 404 check). */
  conversationExists(workspaceId: number, id: number): boolean {
    return this.runNow(this.conversations.conversationExists(workspaceId, id))
  }

  /** Most recent activity first; keyset pagination on (last_activity_at, id). */
  listConversations(workspaceId: number, opts: ConversationListOptions): ConversationDTO[] {
    return this.runNow(this.conversations.listConversationDTOs(workspaceId, opts))
  }

  /** Newest first; keyset pagination on id. Only the DTO's columns (not `raw`, the webhook as received). */
  listMessages(workspaceId: number, conversationId: number, opts: { limit: number; beforeId?: number }): MessageDTO[] {
    return this.runNow(this.messages.listMessageDTOs(workspaceId, conversationId, opts))
  }

  /**
   * Sets open / resolved; undefined when the conversation is not in this workspace or
   * already has that status (nothing to record). Only status: the preview, unread count,
   * window and ordering stay as they are.
   */
  setConversationStatus(
    workspaceId: number,
    id: number,
    status: 'open' | 'pending' | 'resolved',
    now: number,
  ): ConversationRow | undefined {
    return this.runNow(this.conversations.setConversationStatus(workspaceId, id, status, now))
  }

  /** The name a system line gives an agent (their own workspace's users only). */
  userName(workspaceId: number, userId: number): string | undefined {
    return this.runNow(this.users.nameInWorkspace(workspaceId, userId))
  }

  /** Clears the unread count; returns undefined if not in this workspace. */
  markRead(workspaceId: number, id: number, now: number): ConversationRow | undefined {
    return this.runNow(this.conversations.markConversationRead(workspaceId, id, now))
  }
}
