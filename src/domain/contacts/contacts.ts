// Contacts as the campaigns see them (issue 7): search and filters, tags, attributes,
// imported lists and the opt-out state. The inbox creates contacts as customers write
// (inbox-store.ts); this module reads and edits the same rows. Every query is scoped by
// the workspace id from the session.
import type Database from 'better-sqlite3'
import type { EventBatch, EventLog } from '../../events/event-log.ts'
import type { ContactDetailDTO } from '../../events/types.ts'
import type { Db } from '../../store/db.ts'
import { contacts } from '../../store/schema.ts'
import { Statements, TableCodec } from '../../store/prepared.ts'
import type { ContactRow } from '../../store/inbox-store.ts'
import { Errors } from '../../errors.ts'
import { normalizePhone } from './contacts-phone.ts'

export type OptOutSource = 'keyword' | 'meta_131050' | 'agent' | 'whatsapp_stop'
/** Who reversed an opt-out: an agent, or the customer resuming marketing in WhatsApp. */
export type OptInSource = 'agent' | 'whatsapp_resume'
// Sources stamped by Meta in whole seconds (see optOutInTx).
const META_STAMPED: ReadonlySet<OptOutSource> = new Set(['keyword', 'whatsapp_stop'])

export interface ContactFilter {
  q?: string
  tag?: string
  listId?: number
  optedOut?: boolean
  kind?: 'whatsapp' | 'messenger'
  /** Keyset: contacts with a smaller id (newest first). */
  beforeId?: number
  limit: number
}

// Tags are labels people type: trimmed, at most this long, compared case-insensitively
// by storing them lower-case (so "VIP" and "vip" are one audience).
export const MAX_TAG_LENGTH = 40
export const MAX_TAGS_PER_CONTACT = 50
const MAX_ATTRIBUTES = 50
const MAX_ATTRIBUTE_LENGTH = 1024

export function cleanTag(raw: string): string | undefined {
  const t = raw.trim().replace(/\s+/g, ' ').toLowerCase()
  if (!t || t.length > MAX_TAG_LENGTH) return undefined
  return t
}

export function cleanAttributes(raw: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(raw)) {
    const key = k.trim()
    if (!key || key.length > 100 || key === '__proto__' || typeof v !== 'string') continue
    const value = v.trim()
    if (value.length > MAX_ATTRIBUTE_LENGTH)
      throw Errors.contactInvalid(`The attribute ${key} is longer than ${MAX_ATTRIBUTE_LENGTH} characters`)
    if (value) out[key] = value
  }
  if (Object.keys(out).length > MAX_ATTRIBUTES) throw Errors.contactInvalid(`A contact can hold at most ${MAX_ATTRIBUTES} attributes`)
  return out
}

export class ContactsService {
  readonly codec = new TableCodec<ContactRow>(contacts)
  readonly sql: Statements

  constructor(
    private readonly db: Db,
    private readonly events: EventLog,
    private readonly now: () => number,
  ) {
    this.sql = new Statements(db.$client as Database.Database)
  }

  row(workspaceId: number, id: number): ContactRow | undefined {
    const r = this.sql.get(`SELECT ${this.codec.select()} FROM contacts WHERE workspace_id = ? AND id = ?`).get(workspaceId, id)
    return r === undefined ? undefined : this.codec.decode(r)
  }

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

  dto(row: ContactRow, tags?: string[]): ContactDetailDTO {
    return {
      id: row.id,
      externalId: row.externalId,
      name: row.name,
      phone: row.phone,
      kind: row.kind,
      profileName: row.profileName,
      attributes: row.attributes ?? {},
      tags: tags ?? this.tagsOf([row.id]).get(row.id) ?? [],
      optOut: row.optedOutAt !== null ? { at: row.optedOutAt, source: row.optOutSource ?? 'agent', text: row.optOutText } : null,
      optIn:
        row.optedOutAt === null && row.optOutReversedAt !== null
          ? { at: row.optOutReversedAt, source: row.optOutReversedSource ?? 'agent' }
          : null,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    }
  }

  get(workspaceId: number, id: number): ContactDetailDTO {
    const row = this.row(workspaceId, id)
    if (!row) throw Errors.notFound('Contact')
    return this.dto(row)
  }

  list(workspaceId: number, f: ContactFilter): { contacts: ContactDetailDTO[]; nextBeforeId: number | null } {
    const where = ['c.workspace_id = @ws']
    const params: Record<string, unknown> = { ws: workspaceId, limit: f.limit + 1 }
    if (f.beforeId !== undefined) {
      where.push('c.id < @beforeId')
      params.beforeId = f.beforeId
    }
    if (f.kind) {
      where.push('c.kind = @kind')
      params.kind = f.kind
    }
    if (f.optedOut !== undefined) where.push(f.optedOut ? 'c.opted_out_at IS NOT NULL' : 'c.opted_out_at IS NULL')
    if (f.tag) {
      const tag = cleanTag(f.tag)
      where.push('EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = @tag)')
      params.tag = tag ?? ''
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
    const rows = this.sql
      .get(`SELECT ${this.codec.select('c')} FROM contacts c WHERE ${where.join(' AND ')} ORDER BY c.id DESC LIMIT @limit`)
      .all(params)
      .map((r) => this.codec.decode(r))
    const page = rows.slice(0, f.limit)
    const tags = this.tagsOf(page.map((r) => r.id))
    return {
      contacts: page.map((r) => this.dto(r, tags.get(r.id) ?? [])),
      nextBeforeId: rows.length > f.limit ? page[page.length - 1]!.id : null,
    }
  }

  /** A contact added by hand (the import does the same for many rows). */
  create(
    workspaceId: number,
    input: { phone: string; name?: string; tags?: string[]; attributes?: Record<string, string> },
  ): ContactDetailDTO {
    const phone = normalizePhone(input.phone)
    if (!phone.ok) throw Errors.contactInvalid(`The phone number is not valid: ${phone.reason}`)
    return this.events.transact((batch) => {
      const now = this.now()
      let row = this.byExternalId(workspaceId, phone.digits)
      const attributes = cleanAttributes(input.attributes ?? {})
      if (row) {
        row = this.sql.updateById(this.codec, row.id, {
          ...(input.name?.trim() ? { name: input.name.trim() } : {}),
          attributes: { ...(row.attributes ?? {}), ...attributes },
          updatedAt: now,
        })!
      } else {
        row = this.sql.insert(this.codec, {
          workspaceId,
          kind: 'whatsapp',
          externalId: phone.digits,
          phone: phone.digits,
          name: input.name?.trim() || null,
          attributes,
          createdAt: now,
          updatedAt: now,
        })!
      }
      this.addTags(workspaceId, row.id, input.tags ?? [])
      const dto = this.dto(row)
      batch.emit(workspaceId, 'contact.updated', { contact: dto })
      return dto
    })
  }

  update(
    workspaceId: number,
    id: number,
    patch: { name?: string | null; attributes?: Record<string, string>; tags?: string[] },
  ): ContactDetailDTO {
    return this.events.transact((batch) => {
      const row = this.row(workspaceId, id)
      if (!row) throw Errors.notFound('Contact')
      const set: Record<string, unknown> = { updatedAt: this.now() }
      if (patch.name !== undefined) set.name = patch.name?.trim() || null
      if (patch.attributes !== undefined) set.attributes = cleanAttributes(patch.attributes)
      const updated = this.sql.updateById(this.codec, id, set)!
      if (patch.tags !== undefined) {
        this.sql.get(`DELETE FROM contact_tags WHERE contact_id = ?`).run(id)
        this.addTags(workspaceId, id, patch.tags)
      }
      const dto = this.dto(updated)
      batch.emit(workspaceId, 'contact.updated', { contact: dto })
      return dto
    })
  }

  /** Inside the caller's transaction. Tags are cleaned; past the limit they are refused. */
  addTags(workspaceId: number, contactId: number, tags: string[]): void {
    const clean = [...new Set(tags.map(cleanTag).filter((t): t is string => t !== undefined))]
    if (clean.length === 0) return
    const have = (this.sql.get(`SELECT count(*) AS n FROM contact_tags WHERE contact_id = ?`).get(contactId) as { n: number }).n
    if (have + clean.length > MAX_TAGS_PER_CONTACT) throw Errors.contactInvalid(`A contact can hold at most ${MAX_TAGS_PER_CONTACT} tags`)
    const ins = this.sql.get(`INSERT INTO contact_tags (workspace_id, contact_id, tag) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
    for (const t of clean) ins.run(workspaceId, contactId, t)
  }

  /** Adds and removes tags on many contacts at once (the contacts page's bulk action). */
  bulkTag(workspaceId: number, ids: number[], add: string[], remove: string[]): number {
    return this.events.transact((batch) => {
      let n = 0
      const del = this.sql.get(`DELETE FROM contact_tags WHERE contact_id = ? AND tag = ?`)
      for (const id of new Set(ids)) {
        const row = this.row(workspaceId, id)
        if (!row) continue
        for (const t of remove.map(cleanTag)) if (t) del.run(id, t)
        this.addTags(workspaceId, id, add)
        batch.emit(workspaceId, 'contact.updated', { contact: this.dto(row) })
        n++
      }
      return n
    })
  }

  byExternalId(workspaceId: number, externalId: string): ContactRow | undefined {
    const r = this.sql
      .get(`SELECT ${this.codec.select()} FROM contacts WHERE workspace_id = ? AND kind = 'whatsapp' AND external_id = ?`)
      .get(workspaceId, externalId)
    return r === undefined ? undefined : this.codec.decode(r)
  }

  tags(workspaceId: number): { tag: string; count: number }[] {
    return this.sql
      .get(`SELECT tag, count(*) AS count FROM contact_tags WHERE workspace_id = ? GROUP BY tag ORDER BY tag`)
      .all(workspaceId) as { tag: string; count: number }[]
  }

  lists(workspaceId: number): { id: number; name: string; size: number; createdAt: number; report: unknown }[] {
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

  // ---- opt-out --------------------------------------------------------------------

  /** An agent sets or reverses the opt-out. */
  setOptOut(workspaceId: number, id: number, optedOut: boolean): ContactDetailDTO {
    return this.events.transact((batch) => {
      const row = this.row(workspaceId, id)
      if (!row) throw Errors.notFound('Contact')
      const now = this.now()
      const updated = optedOut
        ? row.optedOutAt !== null
          ? row
          : this.sql.updateById(this.codec, id, { optedOutAt: now, optOutSource: 'agent', optOutText: null, updatedAt: now })!
        : this.sql.updateById(this.codec, id, {
            optedOutAt: null,
            optOutSource: null,
            optOutText: null,
            optOutReversedAt: now,
            optOutReversedSource: 'agent',
            updatedAt: now,
          })!
      const dto = this.dto(updated)
      batch.emit(workspaceId, 'contact.updated', { contact: dto })
      return dto
    })
  }

  /**
   * Inside the caller's transaction (the webhook's, for a keyword): marks the contact
   * opted out unless it already is, or an agent reversed it after `at`.
   */
  optOutInTx(contactId: number, source: OptOutSource, text: string | null, at: number, batch: EventBatch): boolean {
    const r = this.sql.get(`SELECT ${this.codec.select()} FROM contacts WHERE id = ?`).get(contactId)
    if (r === undefined) return false
    const row = this.codec.decode(r)
    // Already out. A newer stop in WhatsApp still becomes the opt-out (its time): the
    // resume it competes with may be older and delivered later, and must not reverse it.
    if (row.optedOutAt !== null && (source !== 'whatsapp_stop' || at <= row.optedOutAt)) return false
    // Meta's timestamps are whole seconds: a STOP stamped in the second of the reversal
    // may have been written after it, and a customer's STOP is honoured when in doubt.
    const slack = META_STAMPED.has(source) ? 1000 : 0
    if (row.optOutReversedAt !== null && row.optOutReversedAt >= at + slack) return false
    const updated = this.sql.updateById(this.codec, contactId, {
      optedOutAt: at,
      optOutSource: source,
      optOutText: text ? text.slice(0, 500) : null,
      updatedAt: this.now(),
    })!
    batch.emit(row.workspaceId, 'contact.updated', { contact: this.dto(updated) })
    return true
  }

  /**
   * Inside the caller's transaction (the webhook's): the customer opted back in at `at`.
   * Reverses an opt-out older than that (a newer one stands — also in the same second:
   * when in doubt the opt-out is honoured) and remembers the time, so a stop delivered
   * late, older than it, does not opt the contact out again. A duplicate changes nothing.
   */
  optInInTx(contactId: number, source: OptInSource, at: number, batch: EventBatch): boolean {
    const r = this.sql.get(`SELECT ${this.codec.select()} FROM contacts WHERE id = ?`).get(contactId)
    if (r === undefined) return false
    const row = this.codec.decode(r)
    const stale = row.optedOutAt !== null ? row.optedOutAt >= at : row.optOutReversedAt !== null && row.optOutReversedAt >= at
    if (stale) return false
    const updated = this.sql.updateById(this.codec, contactId, {
      optedOutAt: null,
      optOutSource: null,
      optOutText: null,
      optOutReversedAt: at,
      optOutReversedSource: source,
      updatedAt: this.now(),
    })!
    batch.emit(row.workspaceId, 'contact.updated', { contact: this.dto(updated) })
    return true
  }
}
