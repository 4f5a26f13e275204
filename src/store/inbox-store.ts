// The inbox's data access in one object, for the code that takes one: its repositories
// (conversations.ts, messages.ts, contact-identities.ts, channels.ts, labels.ts, users.ts),
// each written as units of work for both databases (issue 17); the DTO mapping is dto.ts.
// `runNow` runs a unit at once on the SQLite connection, for the synchronous callers left.
// Every read that serves a user takes the workspace id, which comes from the session,
// never from the request.
import { ChannelsRepo } from './channels.ts'
import type { SecretBox } from './secret-box.ts'
import { ContactIdentities } from './contact-identities.ts'
import { ConversationsRepo } from './conversations.ts'
import type { Db } from './db.ts'
import { LabelsRepo } from './labels.ts'
import { MessagesRepo } from './messages.ts'
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
  readonly labels: LabelsRepo
  readonly users: UsersRepo

  /** `db`: SQLite's, for `runNow` (absent on PostgreSQL). */
  constructor(
    box: SecretBox,
    private readonly db?: Db,
  ) {
    this.channels = new ChannelsRepo(box)
    this.contacts = new ContactIdentities()
    this.conversations = new ConversationsRepo()
    this.messages = new MessagesRepo()
    this.labels = new LabelsRepo()
    this.users = new UsersRepo()
  }

  /**
   * Runs a repository unit now on this connection (issue 17: repositories written as units;
   * the inbox's own callers are still synchronous, inside a better-sqlite3 transaction).
   */
  runNow<T>(unit: Q<T>): T {
    if (!this.db) throw new Error('runNow: SQLite only (on PostgreSQL run units through services.units)')
    return runSync(unit, sqliteConn(this.db.$client))
  }
}
