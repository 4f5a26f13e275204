// The channel reads the inbox, the outbox and the background fetchers need: by the id
// Meta names (a webhook's number or Page), and by Parley's id. Channel management
// (create, edit, credentials) is not here.
import type Database from 'better-sqlite3'
import type { ChannelKind } from '../events/types.ts'
import type { Db } from './db.ts'
import { TableCodec } from './prepared.ts'
import type { ChannelRow } from './rows.ts'
import { channels } from './schema.ts'

export class ChannelLookup {
  private readonly codec = new TableCodec<ChannelRow>(channels)
  private readonly byExternalIdStmt: Database.Statement
  private readonly byIdStmt: Database.Statement
  private readonly kindStmt: Database.Statement

  constructor(db: Db) {
    const c = db.$client
    this.byExternalIdStmt = c.prepare(`SELECT ${this.codec.select()} FROM channels WHERE kind = ? AND external_id = ?`)
    this.byIdStmt = c.prepare(`SELECT ${this.codec.select()} FROM channels WHERE id = ?`)
    this.kindStmt = c.prepare('SELECT kind FROM channels WHERE id = ?')
  }

  channelByExternalId(kind: ChannelKind, externalId: string): ChannelRow | undefined {
    const row = this.byExternalIdStmt.get(kind, externalId)
    return row === undefined ? undefined : this.codec.decode(row)
  }

  /** By Parley's id alone, for background work that holds the id from its own row. */
  channelById(id: number): ChannelRow | undefined {
    const row = this.byIdStmt.get(id)
    return row === undefined ? undefined : this.codec.decode(row)
  }

  channelKind(id: number): ChannelKind | undefined {
    return (this.kindStmt.get(id) as { kind: ChannelKind } | undefined)?.kind
  }
}
