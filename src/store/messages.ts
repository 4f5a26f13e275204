// Messages: the inbox's reads and writes of the `messages` table. Units of work
// (store/unit.ts, issue 17): the same code on SQLite and PostgreSQL; callers still
// synchronous run them with InboxStore.runNow, inside their transaction.
import type { MessageDTO } from '../events/types.ts'
import { anyRowToMessageDTO, MESSAGE_DTO_SELECTS } from './dto.ts'
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import type { MessageRow, NewMessage } from './rows.ts'
import { messages } from './schema.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

const codec = new TableCodec<MessageRow>(messages)
type DTORow = Parameters<typeof anyRowToMessageDTO>[0]

// Fixed SQL texts: SQLite's connection caches its prepared statements by text.
const ALL = codec.selectQuoted()
const BY_PROVIDER_ID = `SELECT ${ALL} FROM messages WHERE channel_id = ? AND provider_message_id = ?`
// PostgreSQL: the row stays locked until the transaction ends, so two statuses of one message
// applied at once (Meta's duplicates, in two groups of webhooks) run one after the other and the
// second reads what the first wrote. SQLite's write transactions run one at a time anyway.
const BY_PROVIDER_ID_FOR_UPDATE = { sqlite: BY_PROVIDER_ID, postgres: `${BY_PROVIDER_ID} FOR UPDATE` }
const BY_ID_IN_WORKSPACE = `SELECT ${ALL} FROM messages WHERE workspace_id = ? AND id = ?`
const BY_ID = `SELECT ${ALL} FROM messages WHERE id = ?`
const BY_CLIENT_ID = `SELECT ${ALL} FROM messages WHERE workspace_id = ? AND client_message_id = ?`
// Ordered by the message's id (the order Parley stored them), under an alias of another
// name: `AS id` made ORDER BY id sort by the provider's id text.
const LAST_INBOUND = `SELECT provider_message_id AS "providerMessageId" FROM messages
  WHERE conversation_id = ? AND direction = 'in' AND provider_message_id IS NOT NULL AND type <> 'reaction'
  ORDER BY messages.id DESC LIMIT 1`
// Issue 14: only a note is ever deleted (its author's choice); every other row is history.
const DELETE_NOTE = `DELETE FROM messages WHERE id = ? AND direction = 'system' AND type = 'note'`
const DTO_NEWEST = {
  sqlite: `SELECT ${MESSAGE_DTO_SELECTS.sqlite} FROM messages WHERE workspace_id = ? AND conversation_id = ? ORDER BY id DESC LIMIT ?`,
  postgres: `SELECT ${MESSAGE_DTO_SELECTS.postgres} FROM messages WHERE workspace_id = ? AND conversation_id = ? ORDER BY id DESC LIMIT ?`,
}
const DTO_BEFORE = {
  sqlite: `SELECT ${MESSAGE_DTO_SELECTS.sqlite} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id < ?
  ORDER BY id DESC LIMIT ?`,
  postgres: `SELECT ${MESSAGE_DTO_SELECTS.postgres} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id < ?
  ORDER BY id DESC LIMIT ?`,
}
// Issue 15: oldest first after an id, up to another (a transcript: the newest id when it
// began; the history's newer pages: no bound).
const DTO_AFTER = {
  sqlite: `SELECT ${MESSAGE_DTO_SELECTS.sqlite} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id > ? AND id <= ?
  ORDER BY id LIMIT ?`,
  postgres: `SELECT ${MESSAGE_DTO_SELECTS.postgres} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id > ? AND id <= ?
  ORDER BY id LIMIT ?`,
}
const DTO_ONE = {
  sqlite: `SELECT ${MESSAGE_DTO_SELECTS.sqlite} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id = ?`,
  postgres: `SELECT ${MESSAGE_DTO_SELECTS.postgres} FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id = ?`,
}
const NEWER_EXISTS = 'SELECT 1 AS "one" FROM messages WHERE workspace_id = ? AND conversation_id = ? AND id > ? LIMIT 1'
const NEWEST_ID = 'SELECT coalesce(max(id), 0) AS "id" FROM messages WHERE conversation_id = ?'
// By the number of statuses (a few lengths): one text each.
const outboundSql = new Map<number, string>()

const decode = (row: unknown): MessageRow | undefined => (row === undefined ? undefined : codec.decodeAny(row))

export class MessagesRepo {
  /** Inserts unless the provider id (or client id) is already stored; undefined means duplicate. */
  *insertMessage(values: NewMessage): Q<MessageRow | undefined> {
    return yield* insertRow(codec, values, 'DO NOTHING')
  }

  /** Deletes an internal note (nothing else); false when the id is not a note. Its mentions go first. */
  *deleteNote(id: number): Q<boolean> {
    return (yield* run(DELETE_NOTE, [id])).changes === 1
  }

  *updateMessage(id: number, set: Partial<NewMessage>): Q<MessageRow> {
    return (yield* updateRowById(codec, id, set))!
  }

  *messageByProviderId(channelId: number, providerMessageId: string): Q<MessageRow | undefined> {
    return decode(yield* get(BY_PROVIDER_ID, [channelId, providerMessageId]))
  }

  /** messageByProviderId for a status transition: on PostgreSQL the row is locked until the transaction ends. */
  *lockByProviderId(channelId: number, providerMessageId: string): Q<MessageRow | undefined> {
    return decode(yield* get(BY_PROVIDER_ID_FOR_UPDATE[yield* dialect()], [channelId, providerMessageId]))
  }

  /** A message of this workspace (a read that serves a user). */
  *messageById(workspaceId: number, id: number): Q<MessageRow | undefined> {
    return decode(yield* get(BY_ID_IN_WORKSPACE, [workspaceId, id]))
  }

  /** A message by id alone, for background work that holds an id from its own row (media, outbox). */
  *messageRowById(id: number): Q<MessageRow | undefined> {
    return decode(yield* get(BY_ID, [id]))
  }

  /** Outbound messages sent at or before `at` (ms) still in one of `statuses` (watermarks). */
  *outboundUpTo(conversationId: number, at: number, statuses: readonly string[]): Q<MessageRow[]> {
    let sql = outboundSql.get(statuses.length)
    if (sql === undefined) {
      sql = `SELECT ${ALL} FROM messages
          WHERE conversation_id = ? AND direction = 'out' AND status IN (${statuses.map(() => '?').join(', ')})
            AND coalesce(sent_at, timestamp) <= ?
          ORDER BY id`
      outboundSql.set(statuses.length, sql)
    }
    return (yield* all(sql, [conversationId, ...statuses, at])).map((r) => codec.decodeAny(r))
  }

  /** Newest first; keyset pagination on id. Only the DTO's columns (not `raw`, the webhook as received). */
  *listMessageDTOs(workspaceId: number, conversationId: number, opts: { limit: number; beforeId?: number }): Q<MessageDTO[]> {
    const rows =
      opts.beforeId === undefined
        ? yield* all<DTORow>(DTO_NEWEST[yield* dialect()], [workspaceId, conversationId, opts.limit])
        : yield* all<DTORow>(DTO_BEFORE[yield* dialect()], [workspaceId, conversationId, opts.beforeId, opts.limit])
    return rows.map(anyRowToMessageDTO)
  }

  /** Oldest first from after `afterId` through `throughId`: a transcript's pages (keyset on id). */
  *messageDTOsAfter(workspaceId: number, conversationId: number, afterId: number, throughId: number, limit: number): Q<MessageDTO[]> {
    return (yield* all<DTORow>(DTO_AFTER[yield* dialect()], [workspaceId, conversationId, afterId, throughId, limit])).map(
      anyRowToMessageDTO,
    )
  }

  /** The conversation's newest message id (any kind, notes too); 0 without any. */
  *newestIdOf(conversationId: number): Q<number> {
    return (yield* get<{ id: number }>(NEWEST_ID, [conversationId]))!.id
  }

  /** Oldest first: the messages after `afterId` (the newer direction of the keyset, issue 15). */
  *listMessageDTOsAfter(workspaceId: number, conversationId: number, opts: { limit: number; afterId: number }): Q<MessageDTO[]> {
    return yield* this.messageDTOsAfter(workspaceId, conversationId, opts.afterId, Number.MAX_SAFE_INTEGER, opts.limit)
  }

  /** One message of this conversation as the history shows it; undefined when it is not one of its messages. */
  *messageDTOIn(workspaceId: number, conversationId: number, id: number): Q<MessageDTO | undefined> {
    const row = yield* get<DTORow>(DTO_ONE[yield* dialect()], [workspaceId, conversationId, id])
    return row === undefined ? undefined : anyRowToMessageDTO(row)
  }

  /** Whether the conversation has a message newer than `id`. */
  *hasMessageAfter(workspaceId: number, conversationId: number, id: number): Q<boolean> {
    return (yield* get(NEWER_EXISTS, [workspaceId, conversationId, id])) !== undefined
  }

  /** The message an agent's send with this clientMessageId stored, if any (a send's idempotency key). */
  *byClientId(workspaceId: number, clientMessageId: string): Q<MessageRow | undefined> {
    return decode(yield* get(BY_CLIENT_ID, [workspaceId, clientMessageId]))
  }

  /** The provider's id of the customer's latest message (not a reaction): marking it read marks the earlier ones. */
  *lastInboundProviderId(conversationId: number): Q<string | null> {
    return (yield* get<{ providerMessageId: string }>(LAST_INBOUND, [conversationId]))?.providerMessageId ?? null
  }
}
