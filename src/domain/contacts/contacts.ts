// Contacts as the campaigns see them (issue 7): search and filters, tags, attributes,
// imported lists and the opt-out state. The inbox creates contacts as customers write
// (inbox-store.ts); this module reads and edits the same rows. Every query is scoped by
// the workspace id from the session.
//
// Issue 17: each operation is a unit of work (`*…Unit`, store/unit.ts) for both databases;
// the routes, campaigns, opt-out and Messenger profiles run them.
import type { Emitter } from '../../events/event-log.ts'
import type { ContactDetailDTO } from '../../events/types.ts'
import type { ContactPatch, ContactSearch, ContactsRepo } from '../../store/contacts.ts'
import type { ContactRow } from '../../store/inbox-store.ts'
import type { Q } from '../../store/unit.ts'
import { Errors } from '../../errors.ts'
import { normalizePhone } from './contacts-phone.ts'

export type OptOutSource = 'keyword' | 'meta_131050' | 'agent' | 'whatsapp_stop'
/** Who reversed an opt-out: an agent, or the customer resuming marketing in WhatsApp. */
export type OptInSource = 'agent' | 'whatsapp_resume'
// Sources stamped by Meta in whole seconds (see optOutInTx).
const META_STAMPED: ReadonlySet<OptOutSource> = new Set(['keyword', 'whatsapp_stop'])

/** A contacts page's filters as the route passes them (the tag is cleaned here; keyset: ids below beforeId). */
export type ContactFilter = ContactSearch

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
  constructor(
    private readonly repo: ContactsRepo,
    private readonly now: () => number,
  ) {}

  // ---- units of work (issue 17) ----------------------------------------------------

  rowUnit(workspaceId: number, id: number): Q<ContactRow | undefined> {
    return this.repo.byId(workspaceId, id)
  }

  contactOfConversationUnit(conversationId: number): Q<number | undefined> {
    return this.repo.contactOfConversation(conversationId)
  }

  tagsOfUnit(ids: number[]): Q<Map<number, string[]>> {
    return this.repo.tagsOf(ids)
  }

  /** The DTO with the contact's tags read. */
  *dtoUnit(row: ContactRow): Q<ContactDetailDTO> {
    return this.dtoWith(row, (yield* this.repo.tagsOf([row.id])).get(row.id) ?? [])
  }

  *getUnit(workspaceId: number, id: number): Q<ContactDetailDTO> {
    const row = yield* this.repo.byId(workspaceId, id)
    if (!row) throw Errors.notFound('Contact')
    return yield* this.dtoUnit(row)
  }

  *listUnit(workspaceId: number, f: ContactFilter): Q<{ contacts: ContactDetailDTO[]; nextBeforeId: number | null }> {
    const rows = yield* this.repo.search(workspaceId, {
      q: f.q,
      tag: f.tag ? (cleanTag(f.tag) ?? '') : undefined,
      listId: f.listId,
      optedOut: f.optedOut,
      kind: f.kind,
      beforeId: f.beforeId,
      limit: f.limit + 1,
    })
    const page = rows.slice(0, f.limit)
    const tags = yield* this.repo.tagsOf(page.map((r) => r.id))
    return {
      contacts: page.map((r) => this.dtoWith(r, tags.get(r.id) ?? [])),
      nextBeforeId: rows.length > f.limit ? page[page.length - 1]!.id : null,
    }
  }

  /** A contact added by hand (the import does the same for many rows). Run with the event log's transact. */
  *createUnit(
    workspaceId: number,
    input: { phone: string; name?: string; tags?: string[]; attributes?: Record<string, string> },
    batch: Emitter,
  ): Q<ContactDetailDTO> {
    const phone = normalizePhone(input.phone)
    if (!phone.ok) throw Errors.contactInvalid(`The phone number is not valid: ${phone.reason}`)
    const now = this.now()
    let row = yield* this.repo.byPhone(workspaceId, phone.digits)
    const attributes = cleanAttributes(input.attributes ?? {})
    if (row) {
      row = (yield* this.repo.update(row.id, {
        ...(input.name?.trim() ? { name: input.name.trim() } : {}),
        attributes: { ...(row.attributes ?? {}), ...attributes },
        updatedAt: now,
      }))!
    } else {
      row = yield* this.repo.insert({
        workspaceId,
        kind: 'whatsapp',
        externalId: phone.digits,
        phone: phone.digits,
        name: input.name?.trim() || null,
        attributes,
        createdAt: now,
        updatedAt: now,
      })
    }
    yield* this.addTagsUnit(workspaceId, row.id, input.tags ?? [])
    const dto = yield* this.dtoUnit(row)
    batch.emit(workspaceId, 'contact.updated', { contact: dto })
    return dto
  }

  *updateUnit(
    workspaceId: number,
    id: number,
    patch: { name?: string | null; attributes?: Record<string, string>; tags?: string[] },
    batch: Emitter,
  ): Q<ContactDetailDTO> {
    const row = yield* this.repo.byId(workspaceId, id)
    if (!row) throw Errors.notFound('Contact')
    const set: ContactPatch = { updatedAt: this.now() }
    if (patch.name !== undefined) set.name = patch.name?.trim() || null
    if (patch.attributes !== undefined) set.attributes = cleanAttributes(patch.attributes)
    const updated = (yield* this.repo.update(id, set))!
    if (patch.tags !== undefined) {
      yield* this.repo.clearTags(id)
      yield* this.addTagsUnit(workspaceId, id, patch.tags)
    }
    const dto = yield* this.dtoUnit(updated)
    batch.emit(workspaceId, 'contact.updated', { contact: dto })
    return dto
  }

  /**
   * Inside the caller's transaction. Tags are cleaned; past the limit they are refused
   * (checked before any write, so a caller may catch the refusal and go on, on either database).
   */
  *addTagsUnit(workspaceId: number, contactId: number, tags: string[]): Q<void> {
    const clean = [...new Set(tags.map(cleanTag).filter((t): t is string => t !== undefined))]
    if (clean.length === 0) return
    const have = yield* this.repo.tagCount(contactId)
    if (have + clean.length > MAX_TAGS_PER_CONTACT) throw Errors.contactInvalid(`A contact can hold at most ${MAX_TAGS_PER_CONTACT} tags`)
    yield* this.repo.addTags(workspaceId, contactId, clean)
  }

  /** Adds and removes tags on many contacts at once (the contacts page's bulk action). */
  *bulkTagUnit(workspaceId: number, ids: number[], add: string[], remove: string[], batch: Emitter): Q<number> {
    let n = 0
    for (const id of new Set(ids)) {
      const row = yield* this.repo.byId(workspaceId, id)
      if (!row) continue
      for (const t of remove.map(cleanTag)) if (t) yield* this.repo.removeTag(id, t)
      yield* this.addTagsUnit(workspaceId, id, add)
      batch.emit(workspaceId, 'contact.updated', { contact: yield* this.dtoUnit(row) })
      n++
    }
    return n
  }

  byExternalIdUnit(workspaceId: number, externalId: string): Q<ContactRow | undefined> {
    return this.repo.byPhone(workspaceId, externalId)
  }

  tagsUnit(workspaceId: number): Q<{ tag: string; count: number }[]> {
    return this.repo.tagCounts(workspaceId)
  }

  listsUnit(workspaceId: number): Q<{ id: number; name: string; size: number; createdAt: number; report: unknown }[]> {
    return this.repo.lists(workspaceId)
  }

  listByIdUnit(workspaceId: number, listId: number): Q<{ id: number; name: string } | undefined> {
    return this.repo.listById(workspaceId, listId)
  }

  /** An agent sets or reverses the opt-out. */
  *setOptOutUnit(workspaceId: number, id: number, optedOut: boolean, batch: Emitter): Q<ContactDetailDTO> {
    const row = yield* this.repo.byId(workspaceId, id)
    if (!row) throw Errors.notFound('Contact')
    const now = this.now()
    const updated = optedOut
      ? row.optedOutAt !== null
        ? row
        : (yield* this.repo.update(id, { optedOutAt: now, optOutSource: 'agent', optOutText: null, updatedAt: now }))!
      : (yield* this.repo.update(id, {
          optedOutAt: null,
          optOutSource: null,
          optOutText: null,
          optOutReversedAt: now,
          optOutReversedSource: 'agent',
          updatedAt: now,
        }))!
    const dto = yield* this.dtoUnit(updated)
    batch.emit(workspaceId, 'contact.updated', { contact: dto })
    return dto
  }

  /**
   * Inside the caller's transaction (the webhook's, for a keyword): marks the contact
   * opted out unless it already is, or an agent reversed it after `at`.
   */
  *optOutUnit(contactId: number, source: OptOutSource, text: string | null, at: number, batch: Emitter): Q<boolean> {
    const row = yield* this.repo.byIdUnscoped(contactId)
    if (row === undefined) return false
    // Already out. A newer stop in WhatsApp still becomes the opt-out (its time): the
    // resume it competes with may be older and delivered later, and must not reverse it.
    if (row.optedOutAt !== null && (source !== 'whatsapp_stop' || at <= row.optedOutAt)) return false
    // Meta's timestamps are whole seconds: a STOP stamped in the second of the reversal
    // may have been written after it, and a customer's STOP is honoured when in doubt.
    const slack = META_STAMPED.has(source) ? 1000 : 0
    if (row.optOutReversedAt !== null && row.optOutReversedAt >= at + slack) return false
    const updated = (yield* this.repo.update(contactId, {
      optedOutAt: at,
      optOutSource: source,
      optOutText: text ? text.slice(0, 500) : null,
      updatedAt: this.now(),
    }))!
    batch.emit(row.workspaceId, 'contact.updated', { contact: yield* this.dtoUnit(updated) })
    return true
  }

  /**
   * Inside the caller's transaction (the webhook's): the customer opted back in at `at`.
   * Reverses an opt-out older than that (a newer one stands — also in the same second:
   * when in doubt the opt-out is honoured) and remembers the time, so a stop delivered
   * late, older than it, does not opt the contact out again. A duplicate changes nothing.
   */
  *optInUnit(contactId: number, source: OptInSource, at: number, batch: Emitter): Q<boolean> {
    const row = yield* this.repo.byIdUnscoped(contactId)
    if (row === undefined) return false
    const stale = row.optedOutAt !== null ? row.optedOutAt >= at : row.optOutReversedAt !== null && row.optOutReversedAt >= at
    if (stale) return false
    const updated = (yield* this.repo.update(contactId, {
      optedOutAt: null,
      optOutSource: null,
      optOutText: null,
      optOutReversedAt: at,
      optOutReversedSource: source,
      updatedAt: this.now(),
    }))!
    batch.emit(row.workspaceId, 'contact.updated', { contact: yield* this.dtoUnit(updated) })
    return true
  }

  /** The DTO of a row whose tags are known. */
  dtoWith(row: ContactRow, tags: string[]): ContactDetailDTO {
    return {
      id: row.id,
      externalId: row.externalId,
      name: row.name,
      phone: row.phone,
      kind: row.kind,
      profileName: row.profileName,
      attributes: row.attributes ?? {},
      tags,
      optOut: row.optedOutAt !== null ? { at: row.optedOutAt, source: row.optOutSource ?? 'agent', text: row.optOutText } : null,
      optIn:
        row.optedOutAt === null && row.optOutReversedAt !== null
          ? { at: row.optOutReversedAt, source: row.optOutReversedSource ?? 'agent' }
          : null,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    }
  }
}
