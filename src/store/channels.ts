// Channels: a workspace's WhatsApp numbers and Messenger pages with their credentials.
// (kind, external id) is unique across workspaces: a webhook routes to one place.
import type Database from 'better-sqlite3'
import { and, eq } from 'drizzle-orm'
import type { Db } from './db.ts'
import { Statements, TableCodec } from './prepared.ts'
import { channels } from './schema.ts'
import { SecretBox } from './secret-box.ts'
import { secretBoxOf } from './sealed-columns.ts'

// The same row type as inbox-store's ChannelRow; defined here so the channel directory
// does not import the inbox store (whose DTO types import the directory's).
export type ChannelRow = typeof channels.$inferSelect
export type NewChannel = typeof channels.$inferInsert

// Issue 16: these columns are stored sealed (store/secret-box.ts) and opened on every
// read, so callers only ever see plain values and a copied database file reveals none.
const SECRET_KEYS = ['accessToken', 'appSecret', 'verifyToken'] as const
const SECRET_COLUMNS = ['access_token', 'app_secret', 'verify_token'] as const

export class ChannelsRepo {
  private readonly codec: TableCodec<ChannelRow>
  private readonly box: SecretBox
  private readonly sql: Statements
  // The lookups webhooks and background work make, prepared once (ingest's hot path).
  private readonly byExternalIdStmt: Database.Statement
  private readonly byIdStmt: Database.Statement
  private readonly kindStmt: Database.Statement

  constructor(private readonly db: Db) {
    this.box = secretBoxOf(db)
    this.codec = new OpeningCodec(this.box)
    this.sql = new Statements(db.$client as Database.Database)
    this.byExternalIdStmt = db.$client.prepare(`SELECT ${this.codec.select()} FROM channels WHERE kind = ? AND external_id = ?`)
    this.byIdStmt = db.$client.prepare(`SELECT ${this.codec.select()} FROM channels WHERE id = ?`)
    this.kindStmt = db.$client.prepare('SELECT kind FROM channels WHERE id = ?')
  }

  /** The channel a webhook names (a WhatsApp number id, a Page id). */
  byExternalId(kind: ChannelRow['kind'], externalId: string): ChannelRow | undefined {
    const r = this.byExternalIdStmt.get(kind, externalId)
    return r === undefined ? undefined : this.codec.decode(r)
  }

  /** By id alone, for background work that holds the id from its own row (media, profiles). */
  byId(id: number): ChannelRow | undefined {
    const r = this.byIdStmt.get(id)
    return r === undefined ? undefined : this.codec.decode(r)
  }

  /** The workspace's first enabled channel of a kind (its WhatsApp number, for templates and campaigns). */
  firstEnabled(workspaceId: number, kind: ChannelRow['kind']): ChannelRow | undefined {
    const r = this.sql
      .get(`SELECT ${this.codec.select()} FROM channels WHERE workspace_id = ? AND kind = ? AND enabled = 1 ORDER BY id LIMIT 1`)
      .get(workspaceId, kind)
    return r === undefined ? undefined : this.codec.decode(r)
  }

  kindOf(id: number): ChannelRow['kind'] | undefined {
    return (this.kindStmt.get(id) as { kind: ChannelRow['kind'] } | undefined)?.kind
  }

  list(workspaceId: number): ChannelRow[] {
    return this.sql
      .get(`SELECT ${this.codec.select()} FROM channels WHERE workspace_id = ? ORDER BY id`)
      .all(workspaceId)
      .map((r) => this.codec.decode(r))
  }

  get(workspaceId: number, id: number): ChannelRow | undefined {
    const r = this.sql.get(`SELECT ${this.codec.select()} FROM channels WHERE workspace_id = ? AND id = ?`).get(workspaceId, id)
    return r === undefined ? undefined : this.codec.decode(r)
  }

  /** The new channel, or undefined when its (kind, external id) is already connected. */
  insertIfNew(values: Record<string, unknown>): ChannelRow | undefined {
    return this.sql.insert(this.codec, this.seal(values), 'DO NOTHING')
  }

  /** Sets the given columns (empty: not allowed) and returns the updated row. */
  update(id: number, set: Record<string, unknown>): ChannelRow | undefined {
    return this.sql.updateById(this.codec, id, this.seal(set))
  }

  /** Who works each of the workspace's channels (issue 13): channel id → member user ids, ascending. */
  membersByChannel(workspaceId: number): Map<number, number[]> {
    const rows = this.sql
      .get(
        `SELECT m.channel_id, m.user_id FROM channel_members m JOIN channels ch ON ch.id = m.channel_id
          WHERE ch.workspace_id = ? ORDER BY m.channel_id, m.user_id`,
      )
      .raw()
      .all(workspaceId) as [number, number][]
    const out = new Map<number, number[]>()
    for (const [channelId, userId] of rows) {
      const list = out.get(channelId)
      if (list) list.push(userId)
      else out.set(channelId, [userId])
    }
    return out
  }

  /** Every workspace's channels with a token Meta has not judged yet. */
  uncheckedWithToken(): ChannelRow[] {
    return this.sql
      .get(`SELECT ${this.codec.select()} FROM channels WHERE credentials_status IS NULL AND access_token IS NOT NULL ORDER BY id`)
      .all()
      .map((r) => this.codec.decode(r))
  }

  /** The app secrets and verify tokens saved on the enabled channels of this kind (nulls included). */
  webhookSecrets(kind: ChannelRow['kind']): { appSecret: string | null; verifyToken: string | null }[] {
    const rows = this.sql
      .get(`SELECT app_secret AS appSecret, verify_token AS verifyToken FROM channels WHERE kind = ? AND enabled = 1`)
      .all(kind) as {
      appSecret: string | null
      verifyToken: string | null
    }[]
    return rows.map((r) => ({ appSecret: this.box.openOrNull(r.appSecret), verifyToken: this.box.openOrNull(r.verifyToken) }))
  }

  /**
   * Start-up migration (issue 16): seals every secret still stored in clear (saved before
   * encryption at rest). Idempotent; the caller runs it in a transaction. Returns how many
   * values were sealed. With `secure_delete` the clear bytes are overwritten, not just
   * unlinked, so they do not survive in free space of the database file.
   */
  sealClearSecrets(): number {
    const c = this.db.$client
    const rows = c.prepare(`SELECT id, ${SECRET_COLUMNS.join(', ')} FROM channels`).all() as Record<string, string | number | null>[]
    let sealed = 0
    for (const r of rows) {
      for (const col of SECRET_COLUMNS) {
        const v = r[col]
        if (typeof v !== 'string' || SecretBox.isSealed(v)) continue
        c.prepare(`UPDATE channels SET ${col} = ? WHERE id = ?`).run(this.box.seal(v), r.id)
        sealed++
      }
    }
    return sealed
  }

  /** One sealed secret of any channel, to prove the key opens this database's secrets. */
  anySealed(): string | undefined {
    const c = this.db.$client
    for (const col of SECRET_COLUMNS) {
      const v = c.prepare(`SELECT ${col} FROM channels WHERE ${col} LIKE 'enc:%' LIMIT 1`).pluck().get() as string | undefined
      if (v !== undefined) return v
    }
    return undefined
  }

  /**
   * Start-up: the channel the environment names is created when missing; when present it
   * gets `set` (what the environment sets; nothing when empty).
   */
  ensure(values: NewChannel, set: Partial<NewChannel>): void {
    const existing = this.db
      .select()
      .from(channels)
      .where(and(eq(channels.kind, values.kind), eq(channels.externalId, values.externalId)))
      .get()
    if (!existing) this.db.insert(channels).values(this.seal(values)).run()
    else if (Object.keys(set).length > 0) this.db.update(channels).set(this.seal(set)).where(eq(channels.id, existing.id)).run()
  }

  /** The values with their secret fields sealed (null and absent stay so). */
  private seal<T extends Record<string, unknown>>(values: T): T {
    const out: Record<string, unknown> = { ...values }
    for (const k of SECRET_KEYS) if (typeof out[k] === 'string') out[k] = this.box.seal(out[k] as string)
    return out as T
  }
}

/** Every row read through it comes out with its secrets opened. */
class OpeningCodec extends TableCodec<ChannelRow> {
  constructor(private readonly box: SecretBox) {
    super(channels)
  }

  override decode(raw: unknown): ChannelRow {
    const row = super.decode(raw)
    for (const k of SECRET_KEYS) row[k] = this.box.openOrNull(row[k])
    return row
  }
}
