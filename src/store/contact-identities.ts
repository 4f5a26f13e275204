// Contacts as the inbox meets them: by the id their channel gives them (a WhatsApp
// number, a Messenger PSID), found or created as messages arrive. Contact management
// (the contacts page, import, opt-out) is not here.
import type Database from 'better-sqlite3'
import type { Db } from './db.ts'
import { Statements, TableCodec } from './prepared.ts'
import type { ContactRow } from './rows.ts'
import { contacts } from './schema.ts'

export class ContactIdentities {
  private readonly sql: Statements
  private readonly codec = new TableCodec<ContactRow>(contacts)
  private readonly byExternalIdStmt: Database.Statement

  constructor(db: Db) {
    this.sql = new Statements(db.$client)
    this.byExternalIdStmt = db.$client.prepare(
      `SELECT ${this.codec.select()} FROM contacts WHERE workspace_id = ? AND kind = ? AND external_id = ?`,
    )
  }

  contactByExternalId(workspaceId: number, kind: 'whatsapp' | 'messenger', externalId: string): ContactRow | undefined {
    const row = this.byExternalIdStmt.get(workspaceId, kind, externalId)
    return row === undefined ? undefined : this.codec.decode(row)
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
    const existing = this.contactByExternalId(workspaceId, kind, externalId)
    if (existing === undefined) {
      return this.sql.insert(this.codec, {
        workspaceId,
        kind,
        externalId,
        phone,
        profileName,
        name: profileName,
        createdAt: now,
        updatedAt: now,
      })!
    }
    if (profileName && profileName !== existing.profileName) {
      // An agent-set name wins over the WhatsApp profile name.
      const name = existing.name === null || existing.name === existing.profileName ? profileName : existing.name
      return this.sql.updateById(this.codec, existing.id, { profileName, name, updatedAt: now })!
    }
    return existing
  }
}
