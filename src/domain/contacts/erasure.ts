// A contact's data (issue 16), for a GDPR access or erasure request: `exportOf` gathers all
// Parley keeps of one contact as JSON; `erase` deletes it all in one transaction (messages and
// their search rows, media rows, campaign rows, conversations, report facts, mentions, tags,
// raw payloads naming it) and scrubs the event log's payloads that carried its text — their ids
// stay, so every cursor stays valid. The media files go after the commit. Open streams get
// `conversation.deleted` and `contact.deleted`, and are reset so browsers drop what they show.
// Both are audited; the audit entry has counts, never content. Units of work for both
// databases (issue 17): the erasure is one transaction on either.
import { unlink } from 'node:fs/promises'
import path from 'node:path'
import { Errors } from '../../errors.ts'
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import type { Q } from '../../store/unit.ts'
import type { ContactErasureRepo, ErasureCounts } from '../../store/contact-erasure.ts'
import type { AuditActor, AuditLog } from '../audit/audit-log.ts'

export type { ErasureCounts }

export interface ContactDataDeps {
  repo: ContactErasureRepo
  /** The erasure's transaction, with its events (issue 17: SQLite's or PostgreSQL's log). */
  unitLog: UnitLog
  audit: AuditLog
  /** Where media files live (DATA_DIR/media). */
  mediaDir: string
  now: () => number
  /** After an erasure commits: the workspace's open streams refetch (hub.resetUser for each person). */
  afterErase?: (workspaceId: number) => void | Promise<void>
  onFileError?: (err: unknown) => void
}

const digits = (s: string) => s.replace(/\D/g, '')

/** Whether `typed` names the contact: its name or profile name (any case), or its number. */
export function confirmsContact(
  typed: string,
  c: { name?: unknown; profileName?: unknown; phone?: unknown; externalId?: unknown },
): boolean {
  const t = typed.trim()
  if (t === '') return false
  for (const n of [c.name, c.profileName])
    if (typeof n === 'string' && n.trim() !== '' && n.trim().toLowerCase() === t.toLowerCase()) return true
  const d = digits(t)
  if (d.length < 5) return false
  return [c.phone, c.externalId].some((p) => typeof p === 'string' && digits(p) === d)
}

export class ContactData {
  constructor(private readonly d: ContactDataDeps) {}

  /** Everything of the contact, or 404. Audited `contact.exported` (a write: run it with `units.transact`). */
  *exportUnit(workspaceId: number, contactId: number, actor: AuditActor): Q<Record<string, unknown>> {
    const data = yield* this.d.repo.exportOf(workspaceId, contactId)
    if (!data) throw Errors.notFound('Contact')
    const conversations = data.conversations as Array<{ messages: unknown[] }>
    yield* this.d.audit.recordUnit({
      workspaceId,
      actor,
      action: 'contact.exported',
      target: { type: 'contact', id: contactId },
      detail: { conversations: conversations.length, messages: conversations.reduce((n, v) => n + v.messages.length, 0) },
    })
    return { exportedAt: new Date(this.d.now()).toISOString(), ...data }
  }

  /**
   * The erasure's one transaction: the contact is read, the confirmation checked, every row
   * deleted, the events emitted and the audit line written — all of it commits, or none.
   */
  *eraseUnit(
    workspaceId: number,
    contactId: number,
    confirm: string,
    actor: AuditActor,
    batch: Emitter,
  ): Q<{ counts: ErasureCounts; files: string[] }> {
    const { repo, audit } = this.d
    // Locked for the erasure (PostgreSQL): a status kept meanwhile naming it is deleted with it, or kept without its name.
    const contact = yield* repo.contact(workspaceId, contactId, true)
    if (!contact) throw Errors.notFound('Contact')
    if (!confirmsContact(confirm, contact)) throw Errors.eraseConfirmMismatch()
    const convs = yield* repo.conversationsOf(workspaceId, contactId)
    const result = yield* repo.erase(workspaceId, contactId, String(contact.externalId ?? ''))
    for (const v of convs) batch.emit(workspaceId, 'conversation.deleted', { conversationId: v.id }, { channelId: v.channelId })
    batch.emit(workspaceId, 'contact.deleted', { contactId })
    yield* audit.recordUnit({
      workspaceId,
      actor,
      action: 'contact.erased',
      target: { type: 'contact', id: contactId },
      detail: { ...result.counts },
    })
    return result
  }

  /** Erases the contact once `confirm` names it (its name or number). Audited `contact.erased` with counts. */
  async erase(workspaceId: number, contactId: number, confirm: string, actor: AuditActor): Promise<ErasureCounts> {
    const { counts, files } = await this.d.unitLog.transact((batch) => this.eraseUnit(workspaceId, contactId, confirm, actor, batch))
    // Files after the commit: a failed transaction leaves every file in place.
    for (const f of files) {
      await unlink(path.join(this.d.mediaDir, path.basename(f))).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') this.d.onFileError?.(err)
      })
    }
    await this.d.afterErase?.(workspaceId)
    return counts
  }
}
