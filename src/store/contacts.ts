// Contacts as the campaigns see them (issue 7): the contact rows, their tags, imported
// lists and the opt-out bookkeeping. Synchronous operations over one connection: the
// domain (domain/contacts/) runs them inside its transactions. Reads that serve a user
// take the workspace id, which comes from the session, never from the request.
import type { Db } from './db.ts'
import { contacts } from './schema.ts'
import { Statements, TableCodec } from './prepared.ts'
import type { ContactRow } from './inbox-store.ts'

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

export class ContactsRepo {
  private readonly codec = new TableCodec<ContactRow>(contacts)
  private readonly sql: Statements

  constructor(db: Db) {
    this.sql = new Statements(db.$client)
  }

  private decode(r: unknown): ContactRow | undefined {
    return r === undefined ? undefined : this.codec.decode(r)
  }

  // ---- contacts ---------------------------------------------------------------------

  byId(workspaceId: number, id: number): ContactRow | undefined {
    return this.decode(this.sql.get(`SELECT ${this.codec.select()} FROM contacts WHERE workspace_id = ? AND id = ?`).get(workspaceId, id))
  }

  /** By id alone: for writes inside a transaction that already knows the workspace. */
  byIdUnscoped(id: number): ContactRow | undefined {
    return this.decode(this.sql.get(`SELECT ${this.codec.select()} FROM contacts WHERE id = ?`).get(id))
  }

  /** The workspace's WhatsApp contact with this number. */
  byPhone(workspaceId: number, externalId: string): ContactRow | undefined {
    return this.decode(
      this.sql
        .get(`SELECT ${this.codec.select()} FROM contacts WHERE workspace_id = ? AND kind = 'whatsapp' AND external_id = ?`)
        .get(workspaceId, externalId),
    )
  }

  /** Which of these numbers are already WhatsApp contacts of the workspace (one statement per thousand). */
  existingPhones(workspaceId: number, phones: string[]): Set<string> {
    const existing = new Set<string>()
    const stmt = this.sql.get(
      `SELECT external_id AS e FROM contacts WHERE workspace_id = ? AND kind = 'whatsapp' AND external_id IN (SELECT value FROM json_each(?))`,
    )
    for (let i = 0; i < phones.length; i += 1000) {
      for (const r of stmt.all(workspaceId, JSON.stringify(phones.slice(i, i + 1000))) as { e: string }[]) existing.add(r.e)
    }
    return existing
  }

  /** Newest first, keyset by id. */
  search(workspaceId: number, f: ContactSearch): ContactRow[] {
    const where = ['c.workspace_id = @ws']
    const params: Record<string, unknown> = { ws: workspaceId, limit: f.limit }
    if (f.beforeId !== undefined) {
      where.push('c.id < @beforeId')
      params.beforeId = f.beforeId
    }
    if (f.kind) {
      where.push('c.kind = @kind')
      params.kind = f.kind
    }
    if (f.optedOut !== undefined) where.push(f.optedOut ? 'c.opted_out_at IS NOT NULL' : 'c.opted_out_at IS NULL')
    if (f.tag !== undefined) {
      where.push('EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = @tag)')
      params.tag = f.tag
    }
    if (f.listId !== undefined) {
      where.push('EXISTS (SELECT 1 FROM contact_list_members m WHERE m.contact_id = c.id AND m.list_id = @listId)')
      params.listId = f.listId
    }
    const q = f.q?.trim()
    if (q) {
      // LIKE wildcards typed by the user match literally; a number matches on its digits.
      const like = (s: string) => `%${s.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`
      const digits = q.replace(/\D/g, '')
      params.q = like(q)
      if (/^[\d\s+()./-]+$/.test(q) && digits) {
        params.digits = like(digits)
        where.push(`(c.name LIKE @q ESCAPE '\\' OR c.phone LIKE @digits ESCAPE '\\' OR c.external_id LIKE @digits ESCAPE '\\')`)
      } else {
        where.push(`(c.name LIKE @q ESCAPE '\\' OR c.profile_name LIKE @q ESCAPE '\\')`)
      }
    }
    return this.sql
      .get(`SELECT ${this.codec.select('c')} FROM contacts c WHERE ${where.join(' AND ')} ORDER BY c.id DESC LIMIT @limit`)
      .all(params)
      .map((r) => this.codec.decode(r))
  }

  insert(values: NewContact): ContactRow {
    return this.sql.insert(this.codec, values as Record<string, unknown>)!
  }

  /** Sets the given columns; the updated row (undefined when there is none). */
  update(id: number, set: ContactPatch): ContactRow | undefined {
    return this.sql.updateById(this.codec, id, set as Record<string, unknown>)
  }

  // ---- tags ---------------------------------------------------------------------------

  /** Each contact's tags, alphabetically. */
  tagsOf(ids: number[]): Map<number, string[]> {
    const out = new Map<number, string[]>()
    if (ids.length === 0) return out
    // json_each keeps one prepared statement for any number of ids.
    const rows = this.sql
      .get(`SELECT contact_id AS id, tag FROM contact_tags WHERE contact_id IN (SELECT value FROM json_each(?)) ORDER BY tag`)
      .all(JSON.stringify(ids)) as { id: number; tag: string }[]
    for (const r of rows) out.set(r.id, [...(out.get(r.id) ?? []), r.tag])
    return out
  }

  tagCount(contactId: number): number {
    return (this.sql.get(`SELECT count(*) AS n FROM contact_tags WHERE contact_id = ?`).get(contactId) as { n: number }).n
  }

  /** Adds tags (cleaned already); one the contact has is kept. */
  addTags(workspaceId: number, contactId: number, tags: readonly string[]): void {
    const ins = this.sql.get(`INSERT INTO contact_tags (workspace_id, contact_id, tag) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
    for (const t of tags) ins.run(workspaceId, contactId, t)
  }

  removeTag(contactId: number, tag: string): void {
    this.sql.get(`DELETE FROM contact_tags WHERE contact_id = ? AND tag = ?`).run(contactId, tag)
  }

  clearTags(contactId: number): void {
    this.sql.get(`DELETE FROM contact_tags WHERE contact_id = ?`).run(contactId)
  }

  /** The workspace's tags with how many contacts carry each, alphabetically. */
  tagCounts(workspaceId: number): { tag: string; count: number }[] {
    return this.sql
      .get(`SELECT tag, count(*) AS count FROM contact_tags WHERE workspace_id = ? GROUP BY tag ORDER BY tag`)
      .all(workspaceId) as { tag: string; count: number }[]
  }

  // ---- lists --------------------------------------------------------------------------

  /** The workspace's imported lists, newest first, with their sizes and import reports. */
  lists(workspaceId: number): ContactListSummary[] {
    return this.sql
      .get(
        `SELECT l.id, l.name, l.created_at AS createdAt, l.report,
                (SELECT count(*) FROM contact_list_members m WHERE m.list_id = l.id) AS size
           FROM contact_lists l WHERE l.workspace_id = ? ORDER BY l.id DESC`,
      )
      .all(workspaceId)
      .map((r) => {
        const x = r as { id: number; name: string; size: number; createdAt: number; report: string | null }
        return { ...x, report: x.report ? (JSON.parse(x.report) as unknown) : null }
      })
  }

  listById(workspaceId: number, listId: number): { id: number; name: string } | undefined {
    return this.sql.get(`SELECT id, name FROM contact_lists WHERE workspace_id = ? AND id = ?`).get(workspaceId, listId) as
      | { id: number; name: string }
      | undefined
  }

  /** A new list (an import); returns its id. */
  createList(workspaceId: number, name: string, report: unknown, createdBy: number | null, now: number): number {
    const list = this.sql
      .get(`INSERT INTO contact_lists (workspace_id, name, report, created_by, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`)
      .get(workspaceId, name, JSON.stringify(report), createdBy, now) as { id: number }
    return list.id
  }

  /** Adds the contact to the list; a member already in it stays once. */
  addToList(listId: number, contactId: number): void {
    this.sql.get(`INSERT INTO contact_list_members (list_id, contact_id) VALUES (?, ?) ON CONFLICT DO NOTHING`).run(listId, contactId)
  }

  // ---- opt-out from Meta's 131050 -------------------------------------------------------

  /** The contact a send went to, with the send's failure time and code. */
  recipientOfMessage(messageId: number): { contactId: number; failedAt: number | null; code: number | null } | undefined {
    return this.sql
      .get(
        `SELECT v.contact_id AS contactId, m.failed_at AS failedAt, m.error_code AS code
           FROM messages m JOIN conversations v ON v.id = m.conversation_id WHERE m.id = ?`,
      )
      .get(messageId) as { contactId: number; failedAt: number | null; code: number | null } | undefined
  }

  /**
   * Sends refused with `code` (Meta's opted-out code) whose contact is not marked and
   * has not reversed an opt-out since the failure.
   */
  unmarkedRefusals(code: number): number[] {
    return (
      this.sql
        .get(
          `SELECT m.id FROM messages m
         JOIN conversations v ON v.id = m.conversation_id
         JOIN contacts c ON c.id = v.contact_id
        WHERE m.direction = 'out' AND m.status = 'failed' AND m.error_code = ${Math.trunc(code)}
          AND c.opted_out_at IS NULL
          AND (c.opt_out_reversed_at IS NULL OR c.opt_out_reversed_at < coalesce(m.failed_at, m.updated_at))`,
        )
        .all() as { id: number }[]
    ).map((r) => r.id)
  }

  /** The contact a conversation is with. */
  contactOfConversation(conversationId: number): number | undefined {
    return (this.sql.get(`SELECT contact_id AS id FROM conversations WHERE id = ?`).get(conversationId) as { id: number } | undefined)?.id
  }
}
