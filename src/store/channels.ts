// Channels: a workspace's WhatsApp numbers and Messenger pages with their credentials.
// (kind, external id) is unique across workspaces: a webhook routes to one place.
// Written as units of work (store/unit.ts): the same SQL on SQLite and PostgreSQL (issue 17).
import { insertRow, TableCodec, updateRowById } from './prepared.ts'
import { channels } from './schema.ts'
import { SecretBox } from './secret-box.ts'
import { all, get, run, type Q } from './unit.ts'

// The same row type as inbox-store's ChannelRow; defined here so the channel directory
// does not import the inbox store (whose DTO types import the directory's).
export type ChannelRow = typeof channels.$inferSelect
export type NewChannel = typeof channels.$inferInsert

// Issue 16: these columns are stored sealed (store/secret-box.ts) and opened on every
// read, so callers only ever see plain values and a copied database file reveals none.
const SECRET_KEYS = ['accessToken', 'appSecret', 'verifyToken'] as const
const SECRET_COLUMNS = ['access_token', 'app_secret', 'verify_token'] as const

const plainCodec = new TableCodec<ChannelRow>(channels)
const COLS = plainCodec.selectQuoted('channels')

// Constant texts: SQLite caches one prepared statement per text, so the webhook's lookup by
// external id (ingest's hot path) stays one prepared statement.
const BY_EXTERNAL_ID = `SELECT ${COLS} FROM channels WHERE kind = ? AND external_id = ?`
const BY_ID = `SELECT ${COLS} FROM channels WHERE id = ?`
const KIND_OF = 'SELECT kind FROM channels WHERE id = ?'
const FIRST_ENABLED = `SELECT ${COLS} FROM channels WHERE workspace_id = ? AND kind = ? AND enabled = ? ORDER BY id LIMIT 1`
const LIST = `SELECT ${COLS} FROM channels WHERE workspace_id = ? ORDER BY id`
const GET = `SELECT ${COLS} FROM channels WHERE workspace_id = ? AND id = ?`
const MEMBERS_BY_CHANNEL = `SELECT m.channel_id AS "channelId", m.user_id AS "userId" FROM channel_members m
  JOIN channels ch ON ch.id = m.channel_id WHERE ch.workspace_id = ? ORDER BY m.channel_id, m.user_id`
const UNCHECKED_WITH_TOKEN = `SELECT ${COLS} FROM channels WHERE credentials_status IS NULL AND access_token IS NOT NULL ORDER BY id`
const WEBHOOK_SECRETS = `SELECT app_secret AS "appSecret", verify_token AS "verifyToken" FROM channels WHERE kind = ? AND enabled = ? ORDER BY id`
const EVERY_CHANNEL = 'SELECT id, kind, external_id AS "externalId" FROM channels ORDER BY id'
const AUTO_ASSIGN_IDS = 'SELECT id FROM channels WHERE auto_assign = ? ORDER BY id'
const ALL_SECRETS = `SELECT id, ${SECRET_COLUMNS.join(', ')} FROM channels ORDER BY id`
const SEAL_ONE = Object.fromEntries(SECRET_COLUMNS.map((col) => [col, `UPDATE channels SET ${col} = ? WHERE id = ?`])) as Record<
  (typeof SECRET_COLUMNS)[number],
  string
>
const ANY_SEALED = Object.fromEntries(
  SECRET_COLUMNS.map((col) => [col, `SELECT ${col} AS v FROM channels WHERE ${col} LIKE 'enc:%' ORDER BY id LIMIT 1`]),
) as Record<(typeof SECRET_COLUMNS)[number], string>
const ID_BY_EXTERNAL_ID = 'SELECT id FROM channels WHERE kind = ? AND external_id = ?'

export class ChannelsRepo {
  private readonly codec: TableCodec<ChannelRow>

  /** `box` seals and opens the secret columns (the database's, sealed-columns.ts `secretBoxOf`). */
  constructor(private readonly box: SecretBox) {
    this.codec = new OpeningCodec(box)
  }

  /** The channel a webhook names (a WhatsApp number id, a Page id). */
  *byExternalId(kind: ChannelRow['kind'], externalId: string): Q<ChannelRow | undefined> {
    return this.one(yield* get(BY_EXTERNAL_ID, [kind, externalId]))
  }

  /** By id alone, for background work that holds the id from its own row (media, profiles). */
  *byId(id: number): Q<ChannelRow | undefined> {
    return this.one(yield* get(BY_ID, [id]))
  }

  /** The workspace's first enabled channel of a kind (its WhatsApp number, for templates and campaigns). */
  *firstEnabled(workspaceId: number, kind: ChannelRow['kind']): Q<ChannelRow | undefined> {
    return this.one(yield* get(FIRST_ENABLED, [workspaceId, kind, true]))
  }

  *kindOf(id: number): Q<ChannelRow['kind'] | undefined> {
    return (yield* get<{ kind: ChannelRow['kind'] }>(KIND_OF, [id]))?.kind
  }

  *list(workspaceId: number): Q<ChannelRow[]> {
    return (yield* all(LIST, [workspaceId])).map((r) => this.codec.decodeAny(r))
  }

  *get(workspaceId: number, id: number): Q<ChannelRow | undefined> {
    return this.one(yield* get(GET, [workspaceId, id]))
  }

  /** The new channel, or undefined when its (kind, external id) is already connected. */
  *insertIfNew(values: Record<string, unknown>): Q<ChannelRow | undefined> {
    // ON CONFLICT, not a caught unique violation: PostgreSQL would abort the whole transaction.
    const row = yield* insertRow(plainCodec, this.seal(values), 'DO NOTHING')
    return row === undefined ? undefined : this.open(row)
  }

  /** Sets the given columns (empty: not allowed) and returns the updated row. */
  *update(id: number, set: Record<string, unknown>): Q<ChannelRow | undefined> {
    const row = yield* updateRowById(plainCodec, id, this.seal(set))
    return row === undefined ? undefined : this.open(row)
  }

  /** Who works each of the workspace's channels (issue 13): channel id → member user ids, ascending. */
  *membersByChannel(workspaceId: number): Q<Map<number, number[]>> {
    const rows = yield* all<{ channelId: number; userId: number }>(MEMBERS_BY_CHANNEL, [workspaceId])
    const out = new Map<number, number[]>()
    for (const { channelId, userId } of rows) {
      const list = out.get(channelId)
      if (list) list.push(userId)
      else out.set(channelId, [userId])
    }
    return out
  }

  /** Every workspace's channels with a token Meta has not judged yet. */
  *uncheckedWithToken(): Q<ChannelRow[]> {
    return (yield* all(UNCHECKED_WITH_TOKEN)).map((r) => this.codec.decodeAny(r))
  }

  /** The app secrets and verify tokens saved on the enabled channels of this kind (nulls included). */
  *webhookSecrets(kind: ChannelRow['kind']): Q<{ appSecret: string | null; verifyToken: string | null }[]> {
    const rows = yield* all<{ appSecret: string | null; verifyToken: string | null }>(WEBHOOK_SECRETS, [kind, true])
    return rows.map((r) => ({ appSecret: this.box.openOrNull(r.appSecret), verifyToken: this.box.openOrNull(r.verifyToken) }))
  }

  /** Every workspace's channels, by kind and Meta's id (issue 17: ownership names, the health tracker's lookups). */
  *everyChannel(): Q<{ id: number; kind: ChannelRow['kind']; externalId: string }[]> {
    const rows = yield* all<{ id: number; kind: ChannelRow['kind']; externalId: string }>(EVERY_CHANNEL)
    return rows.map((r) => ({ ...r, id: Number(r.id) }))
  }

  /** Every workspace's channels that assign automatically (issue 13), ascending. */
  *autoAssignIds(): Q<number[]> {
    return (yield* all<{ id: number }>(AUTO_ASSIGN_IDS, [true])).map((r) => Number(r.id))
  }

  /**
   * Start-up migration (issue 16): seals every secret still stored in clear (saved before
   * encryption at rest). Idempotent; the caller runs it in a transaction. Returns how many
   * values were sealed. With `secure_delete` the clear bytes are overwritten, not just
   * unlinked, so they do not survive in free space of the database file.
   */
  *sealClearSecrets(): Q<number> {
    const rows = yield* all<Record<string, string | number | null>>(ALL_SECRETS)
    let sealed = 0
    for (const r of rows) {
      for (const col of SECRET_COLUMNS) {
        const v = r[col]
        if (typeof v !== 'string' || SecretBox.isSealed(v)) continue
        yield* run(SEAL_ONE[col], [this.box.seal(v), r.id])
        sealed++
      }
    }
    return sealed
  }

  /** One sealed secret of any channel, to prove the key opens this database's secrets. */
  *anySealed(): Q<string | undefined> {
    for (const col of SECRET_COLUMNS) {
      const v = (yield* get<{ v: string }>(ANY_SEALED[col]))?.v
      if (v !== undefined) return v
    }
    return undefined
  }

  /**
   * Start-up: the channel the environment names is created when missing; when present it
   * gets `set` (what the environment sets; nothing when empty).
   */
  *ensure(values: NewChannel, set: Partial<NewChannel>): Q<void> {
    const existing = yield* get<{ id: number }>(ID_BY_EXTERNAL_ID, [values.kind, values.externalId])
    if (!existing) yield* insertRow(plainCodec, this.seal(values))
    else if (Object.keys(set).length > 0) yield* updateRowById(plainCodec, existing.id, this.seal(set))
  }

  private one(raw: unknown): ChannelRow | undefined {
    return raw === undefined ? undefined : this.codec.decodeAny(raw)
  }

  /** A row read with the plain codec, its secrets opened. */
  private open(row: ChannelRow): ChannelRow {
    for (const k of SECRET_KEYS) row[k] = this.box.openOrNull(row[k])
    return row
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

  override decodeAny(raw: unknown): ChannelRow {
    const row = super.decodeAny(raw)
    for (const k of SECRET_KEYS) row[k] = this.box.openOrNull(row[k])
    return row
  }
}
