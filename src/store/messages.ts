// Messages: the inbox's reads and writes of the `messages` table. Synchronous, over one
// connection: callers run the writes inside their transaction.
import type Database from 'better-sqlite3'
import type { MessageDTO } from '../events/types.ts'
import type { Db } from './db.ts'
import { MESSAGE_DTO_COLUMNS, rowToMessageDTO } from './dto.ts'
import { Statements, TableCodec } from './prepared.ts'
import type { MessageRow, NewMessage } from './rows.ts'
import { messages } from './schema.ts'

export class MessagesRepo {
  private readonly sql: Statements
  private readonly codec = new TableCodec<MessageRow>(messages)
  // Statements prepared once (a typo in their SQL fails at startup).
  private readonly byProviderIdStmt: Database.Statement
  private readonly byIdInWorkspaceStmt: Database.Statement
  private readonly byIdStmt: Database.Statement
  private readonly dtoNewestStmt: Database.Statement
  private readonly dtoBeforeStmt: Database.Statement
  private readonly byClientIdStmt: Database.Statement
  private readonly lastInboundStmt: Database.Statement
  private readonly deleteNoteStmt: Database.Statement
  private readonly dtoAfterStmt: Database.Statement
  // Issue 15: history around a message (a search result), paged both ways.
  private readonly dtoOneStmt: Database.Statement
  private readonly newerExistsStmt: Database.Statement

  constructor(db: Db) {
    const c = db.$client
    this.sql = new Statements(c)
    const all = this.codec.select()
    this.byProviderIdStmt = c.prepare(`SELECT ${all} FROM messages WHERE channel_id = ? AND provider_message_id = ?`)
    this.byIdInWorkspaceStmt = c.prepare(`SELECT ${all} FROM messages WHERE workspace_id = ? AND id = ?`)
    this.byIdStmt = c.prepare(`SELECT ${all} FROM messages WHERE id = ?`)
    this.byClientIdStmt = c.prepare(`SELECT ${all} FROM messages WHERE workspace_id = ? AND client_message_id = ?`)
    this.lastInboundStmt = c.prepare(
      `SELECT provider_message_id AS id FROM messages
        WHERE conversation_id = ? AND direction = 'in' AND provider_message_id IS NOT NULL AND type <> 'reaction'
        ORDER BY id DESC LIMIT 1`,
    )
    // Issue 14: only a note is ever deleted (its author's choice); every other row is history.
    this.deleteNoteStmt = c.prepare(`DELETE FROM messages WHERE id = ? AND direction = 'system' AND type = 'note'`)
    this.dtoNewestStmt = c
      .prepare(`SELECT ${MESSAGE_DTO_COLUMNS} FROM messages WHERE workspace_id = ? AND conversation_id = ? ORDER BY id DESC LIMIT ?`)
      .raw()
    this.dtoBeforeStmt = c
      .prepare(
        `SELECT ${MESSAGE_DTO_COLUMNS} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id < ?
          ORDER BY id DESC LIMIT ?`,
      )
      .raw()
    // Issue 15: oldest first after an id, up to another (a transcript: the newest id when it
    // began; the history's newer pages: no bound).
    this.dtoAfterStmt = c
      .prepare(
        `SELECT ${MESSAGE_DTO_COLUMNS} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id > ? AND id <= ?
          ORDER BY id LIMIT ?`,
      )
      .raw()
    this.dtoOneStmt = c
      .prepare(`SELECT ${MESSAGE_DTO_COLUMNS} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id = ?`)
      .raw()
    this.newerExistsStmt = c.prepare('SELECT 1 FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id > ? LIMIT 1').pluck()
  }

  /** Inserts unless the provider id (or client id) is already stored; undefined means duplicate. */
  insertMessage(values: NewMessage): MessageRow | undefined {
    return this.sql.insert(this.codec, values, 'DO NOTHING')
  }

  /** Deletes an internal note (nothing else); false when the id is not a note. Its mentions go first. */
  deleteNote(id: number): boolean {
    return this.deleteNoteStmt.run(id).changes === 1
  }

  updateMessage(id: number, set: Partial<NewMessage>): MessageRow {
    return this.sql.updateById(this.codec, id, set)!
  }

  messageByProviderId(channelId: number, providerMessageId: string): MessageRow | undefined {
    return this.decode(this.byProviderIdStmt.get(channelId, providerMessageId))
  }

  /** A message of this workspace (a read that serves a user). */
  messageById(workspaceId: number, id: number): MessageRow | undefined {
    return this.decode(this.byIdInWorkspaceStmt.get(workspaceId, id))
  }

  /** A message by id alone, for background work that holds an id from its own row (media, outbox). */
  messageRowById(id: number): MessageRow | undefined {
    return this.decode(this.byIdStmt.get(id))
  }

  /** Outbound messages sent at or before `at` (ms) still in one of `statuses` (watermarks). */
  outboundUpTo(conversationId: number, at: number, statuses: readonly string[]): MessageRow[] {
    const marks = statuses.map(() => '?').join(', ')
    return this.sql
      .get(
        `SELECT ${this.codec.select()} FROM messages
          WHERE conversation_id = ? AND direction = 'out' AND status IN (${marks})
            AND coalesce(sent_at, timestamp) <= ?
          ORDER BY id`,
      )
      .all(conversationId, ...statuses, at)
      .map((r) => this.codec.decode(r))
  }

  /** Newest first; keyset pagination on id. Only the DTO's columns (not `raw`, the webhook as received). */
  listMessageDTOs(workspaceId: number, conversationId: number, opts: { limit: number; beforeId?: number }): MessageDTO[] {
    const rows = (
      opts.beforeId === undefined
        ? this.dtoNewestStmt.all(workspaceId, conversationId, opts.limit)
        : this.dtoBeforeStmt.all(workspaceId, conversationId, opts.beforeId, opts.limit)
    ) as unknown[][]
    return rows.map(rowToMessageDTO)
  }

  /** Oldest first from after `afterId` through `throughId`: a transcript's pages (keyset on id). */
  messageDTOsAfter(workspaceId: number, conversationId: number, afterId: number, throughId: number, limit: number): MessageDTO[] {
    return (this.dtoAfterStmt.all(workspaceId, conversationId, afterId, throughId, limit) as unknown[][]).map(rowToMessageDTO)
  }

  /** The conversation's newest message id (any kind, notes too); 0 without any. */
  newestIdOf(conversationId: number): number {
    return (this.sql.get('SELECT coalesce(max(id), 0) AS id FROM messages WHERE conversation_id = ?').get(conversationId) as { id: number })
      .id
  }

  /** Oldest first: the messages after `afterId` (the newer direction of the keyset, issue 15). */
  listMessageDTOsAfter(workspaceId: number, conversationId: number, opts: { limit: number; afterId: number }): MessageDTO[] {
    return this.messageDTOsAfter(workspaceId, conversationId, opts.afterId, Number.MAX_SAFE_INTEGER, opts.limit)
  }

  /** One message of this conversation as the history shows it; undefined when it is not one of its messages. */
  messageDTOIn(workspaceId: number, conversationId: number, id: number): MessageDTO | undefined {
    const row = this.dtoOneStmt.get(workspaceId, conversationId, id) as unknown[] | undefined
    return row === undefined ? undefined : rowToMessageDTO(row)
  }

  /** Whether the conversation has a message newer than `id`. */
  hasMessageAfter(workspaceId: number, conversationId: number, id: number): boolean {
    return this.newerExistsStmt.get(workspaceId, conversationId, id) !== undefined
  }

  /** The message an agent's send with this clientMessageId stored, if any (a send's idempotency key). */
  byClientId(workspaceId: number, clientMessageId: string): MessageRow | undefined {
    return this.decode(this.byClientIdStmt.get(workspaceId, clientMessageId))
  }

  /** The provider's id of the customer's latest message (not a reaction): marking it read marks the earlier ones. */
  lastInboundProviderId(conversationId: number): string | null {
    const row = this.lastInboundStmt.get(conversationId) as { id: string } | undefined
    return row?.id ?? null
  }

  private decode(row: unknown): MessageRow | undefined {
    return row === undefined ? undefined : this.codec.decode(row)
  }
}
