// Contacts as the inbox meets them: by the id their channel gives them (a WhatsApp
// number, a Messenger PSID), found or created as messages arrive. Contact management
// (the contacts page, import, opt-out) is not here. Units of work (store/unit.ts): the
// same SQL on SQLite and PostgreSQL (issue 17).
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import type { ContactRow } from './rows.ts'
import { contacts } from './schema.ts'
import { get, type Q } from './unit.ts'

const codec = new TableCodec<ContactRow>(contacts)
const BY_EXTERNAL_ID = `SELECT ${codec.selectQuoted('contacts')} FROM contacts WHERE workspace_id = ? AND kind = ? AND external_id = ?`

export class ContactIdentities {
  *contactByExternalId(workspaceId: number, kind: 'whatsapp' | 'messenger', externalId: string): Q<ContactRow | undefined> {
    const row = yield* get(BY_EXTERNAL_ID, [workspaceId, kind, externalId])
    return row === undefined ? undefined : codec.decodeAny(row)
  }

  /**
   * Finds or creates the contact; refreshes the profile name only when it changed. On every
   * inbound webhook, so one statement for a known contact (two when its name changed), two
   * for a new one.
   */
  *upsertContact(
    workspaceId: number,
    kind: 'whatsapp' | 'messenger',
    externalId: string,
    profileName: string | null,
    phone: string | null,
    now: number,
  ): Q<ContactRow> {
    let existing = yield* this.contactByExternalId(workspaceId, kind, externalId)
    if (existing === undefined) {
      // Another process may create the same contact at the same moment (PostgreSQL, several
      // processes): DO NOTHING instead of a unique violation, which would abort the
      // transaction, then the row the other one committed.
      const created = yield* insertRow(
        codec,
        { workspaceId, kind, externalId, phone, profileName, name: profileName, createdAt: now, updatedAt: now },
        '(workspace_id, kind, external_id) DO NOTHING',
      )
      if (created !== undefined) return created
      existing = yield* this.contactByExternalId(workspaceId, kind, externalId)
      if (existing === undefined) throw new Error(`contact ${kind}:${externalId} conflicted on insert but cannot be read`)
    }
    if (profileName && profileName !== existing.profileName) {
      // An agent-set name wins over the WhatsApp profile name.
      const name = existing.name === null || existing.name === existing.profileName ? profileName : existing.name
      return (yield* updateRowById(codec, existing.id, { profileName, name, updatedAt: now }))!
    }
    return existing
  }
}
