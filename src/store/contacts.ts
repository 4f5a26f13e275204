// Contacts as the campaigns see them (issue 7): the contact rows, their tags, imported
// lists and the opt-out bookkeeping. Written as units of work (store/unit.ts): the same SQL
// on SQLite and PostgreSQL (issue 17); the domain (domain/contacts/) runs them inside its
// transactions. Reads that serve a user take the workspace id, which comes from the session,
// never from the request.
import { contacts } from './schema.ts'
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import type { ContactRow } from './inbox-store.ts'
import { all, dialect, get, type Q, run } from './unit.ts'

export type NewContact = typeof contacts.$inferInsert
export type ContactPatch = Partial<NewContact>

/** A contacts page's filters, as the domain cleaned them. */
export interface ContactSearch {
  q?: string
  /** Cleaned already (lower-case); '' matches nothing. */
  tag?: string
  listId?: number
  optedOut?: boolean
  kind?: 'whatsapp' | 'messenger'
  beforeId?: number
  /** Rows to read (the caller asks one more than a page, to know whether one follows). */
  limit: number
}

export interface ContactListSummary {
  id: number
  name: string
  size: number
  createdAt: number
  report: unknown
}

const codec = new TableCodec<ContactRow>(contacts)
const COLS = codec.selectQuoted('contacts')
const COLS_C = codec.selectQuoted('c')

const BY_ID = `SELECT ${COLS} FROM contacts WHERE workspace_id = ? AND id = ?`
const BY_ID_UNSCOPED = `SELECT ${COLS} FROM contacts WHERE id = ?`
const BY_PHONE = `SELECT ${COLS} FROM contacts WHERE workspace_id = ? AND kind = 'whatsapp' AND external_id = ?`
// A list as a parameter: json_each on SQLite (one prepared statement for any length), an array on PostgreSQL.
const EXISTING_PHONES_SQLITE = `SELECT external_id AS e FROM contacts WHERE workspace_id = ? AND kind = 'whatsapp' AND external_id IN (SELECT value FROM json_each(?))`
const EXISTING_PHONES_PG = `SELECT external_id AS e FROM contacts WHERE workspace_id = ? AND kind = 'whatsapp' AND external_id = ANY(?::text[])`
const TAGS_OF_SQLITE = `SELECT contact_id AS id, tag FROM contact_tags WHERE contact_id IN (SELECT value FROM json_each(?)) ORDER BY tag`
// Tags in code-point order on both: SQLite compares bytes, PostgreSQL its column's collation unless told "C".
const TAGS_OF_PG = `SELECT contact_id AS id, tag FROM contact_tags WHERE contact_id = ANY(?::bigint[]) ORDER BY tag COLLATE "C"`
const TAG_COUNT = `SELECT count(*) AS n FROM contact_tags WHERE contact_id = ?`
const ADD_TAG = `INSERT INTO contact_tags (workspace_id, contact_id, tag) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`
const REMOVE_TAG = `DELETE FROM contact_tags WHERE contact_id = ? AND tag = ?`
const CLEAR_TAGS = `DELETE FROM contact_tags WHERE contact_id = ?`
const TAG_COUNTS_SQLITE = `SELECT tag, count(*) AS count FROM contact_tags WHERE workspace_id = ? GROUP BY tag ORDER BY tag`
const TAG_COUNTS_PG = `SELECT tag, count(*) AS count FROM contact_tags WHERE workspace_id = ? GROUP BY tag ORDER BY tag COLLATE "C"`
const LISTS = `SELECT l.id, l.name, l.created_at AS "createdAt", l.report,
       (SELECT count(*) FROM contact_list_members m WHERE m.list_id = l.id) AS size
  FROM contact_lists l WHERE l.workspace_id = ? ORDER BY l.id DESC`
const LIST_BY_ID = `SELECT id, name FROM contact_lists WHERE workspace_id = ? AND id = ?`
const CREATE_LIST = `INSERT INTO contact_lists (workspace_id, name, report, created_by, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`
const ADD_TO_LIST = `INSERT INTO contact_list_members (list_id, contact_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
const RECIPIENT_OF_MESSAGE = `SELECT v.contact_id AS "contactId", m.failed_at AS "failedAt", m.error_code AS code
  FROM messages m JOIN conversations v ON v.id = m.conversation_id WHERE m.id = ?`
const UNMARKED_REFUSALS = `SELECT m.id FROM messages m
  JOIN conversations v ON v.id = m.conversation_id
  JOIN contacts c ON c.id = v.contact_id
 WHERE m.direction = 'out' AND m.status = 'failed' AND m.error_code = ?
   AND c.opted_out_at IS NULL
   AND (c.opt_out_reversed_at IS NULL OR c.opt_out_reversed_at < coalesce(m.failed_at, m.updated_at))`
const CONTACT_OF_CONVERSATION = `SELECT contact_id AS id FROM conversations WHERE id = ?`

// The search's WHERE is built from a fixed set of clauses: a bounded set of SQL texts.
const LIKE_TEXT = `(lower(c.name) LIKE lower(?) ESCAPE '\\' OR lower(c.profile_name) LIKE lower(?) ESCAPE '\\')`
const LIKE_DIGITS = `(lower(c.name) LIKE lower(?) ESCAPE '\\' OR c.phone LIKE ? ESCAPE '\\' OR c.external_id LIKE ? ESCAPE '\\')`

const decode = (r: unknown): ContactRow | undefined => (r === undefined ? undefined : codec.decodeAny(r))

export class ContactsRepo {
  // ---- contacts ---------------------------------------------------------------------

  *byId(workspaceId: number, id: number): Q<ContactRow | undefined> {
    return decode(yield* get(BY_ID, [workspaceId, id]))
  }

  /** By id alone: for writes inside a transaction that already knows the workspace. */
  *byIdUnscoped(id: number): Q<ContactRow | undefined> {
    return decode(yield* get(BY_ID_UNSCOPED, [id]))
  }

  /** The workspace's WhatsApp contact with this number. */
  *byPhone(workspaceId: number, externalId: string): Q<ContactRow | undefined> {
    return decode(yield* get(BY_PHONE, [workspaceId, externalId]))
  }

  /** Which of these numbers are already WhatsApp contacts of the workspace (one statement per thousand). */
  *existingPhones(workspaceId: number, phones: string[]): Q<Set<string>> {
    const existing = new Set<string>()
    const pg = (yield* dialect()) === 'postgres'
    for (let i = 0; i < phones.length; i += 1000) {
      const chunk = phones.slice(i, i + 1000)
      const rows = pg
        ? yield* all<{ e: string }>(EXISTING_PHONES_PG, [workspaceId, chunk])
        : yield* all<{ e: string }>(EXISTING_PHONES_SQLITE, [workspaceId, JSON.stringify(chunk)])
      for (const r of rows) existing.add(r.e)
    }
    return existing
  }

  /** Newest first, keyset by id. */
  *search(workspaceId: number, f: ContactSearch): Q<ContactRow[]> {
    const where = ['c.workspace_id = ?']
    const params: unknown[] = [workspaceId]
    if (f.beforeId !== undefined) {
      where.push('c.id < ?')
      params.push(f.beforeId)
    }
    if (f.kind) {
      where.push('c.kind = ?')
      params.push(f.kind)
    }
    if (f.optedOut !== undefined) where.push(f.optedOut ? 'c.opted_out_at IS NOT NULL' : 'c.opted_out_at IS NULL')
    if (f.tag !== undefined) {
      where.push('EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = ?)')
      params.push(f.tag)
    }
    if (f.listId !== undefined) {
      where.push('EXISTS (SELECT 1 FROM contact_list_members m WHERE m.contact_id = c.id AND m.list_id = ?)')
      params.push(f.listId)
    }
    const q = f.q?.trim()
    if (q) {
      // LIKE wildcards typed by the user match literally; a number matches on its digits.
      // lower() on both sides: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
      const like = (s: string) => `%${s.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`
      const digits = q.replace(/\D/g, '')
      if (/^[\d\s+()./-]+$/.test(q) && digits) {
        where.push(LIKE_DIGITS)
        params.push(like(q), like(digits), like(digits))
      } else {
        where.push(LIKE_TEXT)
        params.push(like(q), like(q))
      }
    }
    params.push(f.limit)
    const rows = yield* all(`SELECT ${COLS_C} FROM contacts c WHERE ${where.join(' AND ')} ORDER BY c.id DESC LIMIT ?`, params)
    return rows.map((r) => codec.decodeAny(r))
  }

  *insert(values: NewContact): Q<ContactRow> {
    return (yield* insertRow(codec, values as Record<string, unknown>))!
  }

  /** Sets the given columns; the updated row (undefined when there is none). */
  update(id: number, set: ContactPatch): Q<ContactRow | undefined> {
    return updateRowById(codec, id, set as Record<string, unknown>)
  }

  // ---- tags ---------------------------------------------------------------------------

  /** Each contact's tags, alphabetically. */
  *tagsOf(ids: number[]): Q<Map<number, string[]>> {
    const out = new Map<number, string[]>()
    if (ids.length === 0) return out
    const rows =
      (yield* dialect()) === 'postgres'
        ? yield* all<{ id: number; tag: string }>(TAGS_OF_PG, [ids])
        : yield* all<{ id: number; tag: string }>(TAGS_OF_SQLITE, [JSON.stringify(ids)])
    for (const r of rows) out.set(r.id, [...(out.get(r.id) ?? []), r.tag])
    return out
  }

  *tagCount(contactId: number): Q<number> {
    return (yield* get<{ n: number }>(TAG_COUNT, [contactId]))!.n
  }

  /** Adds tags (cleaned already); one the contact has is kept. */
  *addTags(workspaceId: number, contactId: number, tags: readonly string[]): Q<void> {
    for (const t of tags) yield* run(ADD_TAG, [workspaceId, contactId, t])
  }

  *removeTag(contactId: number, tag: string): Q<void> {
    yield* run(REMOVE_TAG, [contactId, tag])
  }

  *clearTags(contactId: number): Q<void> {
    yield* run(CLEAR_TAGS, [contactId])
  }

  /** The workspace's tags with how many contacts carry each, alphabetically. */
  *tagCounts(workspaceId: number): Q<{ tag: string; count: number }[]> {
    const sql = (yield* dialect()) === 'postgres' ? TAG_COUNTS_PG : TAG_COUNTS_SQLITE
    return yield* all<{ tag: string; count: number }>(sql, [workspaceId])
  }

  // ---- lists --------------------------------------------------------------------------

  /** The workspace's imported lists, newest first, with their sizes and import reports. */
  *lists(workspaceId: number): Q<ContactListSummary[]> {
    const rows = yield* all<{ id: number; name: string; size: number; createdAt: number; report: string | null }>(LISTS, [workspaceId])
    return rows.map((x) => ({
      id: x.id,
      name: x.name,
      createdAt: x.createdAt,
      report: x.report ? (JSON.parse(x.report) as unknown) : null,
      size: x.size,
    }))
  }

  listById(workspaceId: number, listId: number): Q<{ id: number; name: string } | undefined> {
    return get<{ id: number; name: string }>(LIST_BY_ID, [workspaceId, listId])
  }

  /** A new list (an import); returns its id. */
  *createList(workspaceId: number, name: string, report: unknown, createdBy: number | null, now: number): Q<number> {
    return (yield* get<{ id: number }>(CREATE_LIST, [workspaceId, name, JSON.stringify(report), createdBy, now]))!.id
  }

  /** Adds the contact to the list; a member already in it stays once. */
  *addToList(listId: number, contactId: number): Q<void> {
    yield* run(ADD_TO_LIST, [listId, contactId])
  }

  // ---- opt-out from Meta's 131050 -------------------------------------------------------

  /** The contact a send went to, with the send's failure time and code. */
  recipientOfMessage(messageId: number): Q<{ contactId: number; failedAt: number | null; code: number | null } | undefined> {
    return get(RECIPIENT_OF_MESSAGE, [messageId])
  }

  /**
   * Sends refused with `code` (Meta's opted-out code) whose contact is not marked and
   * has not reversed an opt-out since the failure.
   */
  *unmarkedRefusals(code: number): Q<number[]> {
    return (yield* all<{ id: number }>(UNMARKED_REFUSALS, [Math.trunc(code)])).map((r) => r.id)
  }

  /** The contact a conversation is with. */
  *contactOfConversation(conversationId: number): Q<number | undefined> {
    return (yield* get<{ id: number }>(CONTACT_OF_CONVERSATION, [conversationId]))?.id
  }
}
