// The two schemas (issue 17) are one schema in two dialects: the same exported names, SQL tables,
// columns, keys, indexes and defaults, with each column's type translated by one rule (see the
// header of src/store/pg/schema.ts). Every difference allowed is listed here with its reason.
// With a real PostgreSQL, migrations/pg is applied and the database compared with the pg schema.
import t from 'tap'
import path from 'node:path'
import { is, type SQL } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { migrate } from 'drizzle-orm/node-postgres/migrator'
import { getTableConfig as pgTableConfig, PgDialect, PgTable } from 'drizzle-orm/pg-core'
import { SQLiteSyncDialect, SQLiteTable, getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core'
import pg from 'pg'
import * as pgSchema from '../src/store/pg/schema.ts'
import * as sqliteSchema from '../src/store/schema.ts'
import { freshPgDatabase } from './helpers/pg.ts'

// Tables only on PostgreSQL, and why.
const PG_ONLY: Record<string, string> = {
  eventSeq:
    "event_seq: the event log's counter, taking ids in commit order (SQLite has one writer, so AUTOINCREMENT is in commit order; its epoch is in meta)",
}
// Tables only on SQLite, and why (the FTS5 tables and report triggers are custom SQL migrations,
// outside the drizzle schemas; none is a drizzle table today).
const SQLITE_ONLY: Record<string, string> = {}
// Columns whose default differs, and why ("table.column").
const DEFAULT_DIFFERS: Record<string, string> = {
  'events.id': 'PostgreSQL takes event ids from event_seq (commit order, dense); SQLite uses AUTOINCREMENT',
  // An INTEGER PRIMARY KEY is SQLite's rowid, which drizzle counts as a default; the app always
  // gives these (a user's, a workspace's id), so PostgreSQL has no default for them.
  'two_factor.user_id': "SQLite's rowid alias; always given by the app",
  'two_factor_policy.workspace_id': "SQLite's rowid alias; always given by the app",
}
// SQLite integers that stay integer (4 bytes) on PostgreSQL: counts, small codes and numbers
// that cannot reach 2^31. Every other SQLite integer (ids, times in Unix ms, byte sizes) is bigint.
const SMALL_INTEGERS = new Set([
  'workspaces.assignment_cap',
  'conversations.unread_count',
  'messages.error_code', // Meta's error codes (e.g. 131050)
  'outbox.attempts',
  'outbox.last_error_code',
  'outbox.priority', // 0 | 1
  'media.attempts',
  'report_episodes.reopened', // 0 | 1, an integer on SQLite too (the triggers count it)
  'report_message_counts.messages_in',
  'report_message_counts.messages_out',
  'two_factor.last_step', // TOTP 30 s steps since 1970: ~5.9e7, 2^31 only in the year 4011
  'webhook_endpoints.attempts',
  'webhook_deliveries.attempt',
  'webhook_deliveries.status_code',
  'webhook_deliveries.duration_ms',
])

const sqliteTables = Object.entries(sqliteSchema).filter(([, v]) => is(v, SQLiteTable)) as [string, SQLiteTable][]
const pgTables = Object.entries(pgSchema).filter(([, v]) => is(v, PgTable)) as [string, PgTable][]
const sqliteDialect = new SQLiteSyncDialect()
const pgDialect = new PgDialect()

const sqliteWhere = (w: SQL | undefined) => (w ? sqliteDialect.sqlToQuery(w).sql : null)
const pgWhere = (w: SQL | undefined) => (w ? pgDialect.sqlToQuery(w).sql : null)

t.test('the same exported tables', async (t) => {
  const s = sqliteTables.map(([k]) => k).filter((k) => !(k in SQLITE_ONLY))
  const p = pgTables.map(([k]) => k).filter((k) => !(k in PG_ONLY))
  t.same(p.sort(), s.sort(), 'every table const exported by one schema is exported by the other')
  for (const k of Object.keys(PG_ONLY))
    t.ok(
      pgTables.some(([n]) => n === k),
      `${k} is still PostgreSQL-only`,
    )
  t.ok(sqliteTables.length > 20, 'the schemas were read')
})

t.test('the same exported names (tables and types alike)', async (t) => {
  const s = Object.keys(sqliteSchema).filter((k) => !(k in SQLITE_ONLY))
  const p = Object.keys(pgSchema).filter((k) => !(k in PG_ONLY))
  t.same(p.sort(), s.sort())
})

for (const [key, sTable] of sqliteTables) {
  const pTable = (pgSchema as Record<string, unknown>)[key]
  if (!is(pTable, PgTable)) continue // reported above
  t.test(`table ${key}`, async (t) => {
    const s = sqliteTableConfig(sTable)
    const p = pgTableConfig(pTable)
    t.equal(p.name, s.name, 'SQL name')

    // Columns: same SQL names under the same TS property names, in the same order.
    const sProps = Object.entries(sTable).filter(([, c]) => c && typeof c === 'object' && 'columnType' in c)
    const pProps = Object.entries(pTable).filter(([, c]) => c && typeof c === 'object' && 'columnType' in c)
    t.same(
      pProps.map(([k, c]) => [k, (c as { name: string }).name]),
      sProps.map(([k, c]) => [k, (c as { name: string }).name]),
      'TS properties → column names',
    )
    t.same(
      p.columns.map((c) => c.name),
      s.columns.map((c) => c.name),
      'columns',
    )
    for (const sc of s.columns) {
      const pc = p.columns.find((c) => c.name === sc.name)
      if (!pc) continue
      const id = `${s.name}.${sc.name}`
      t.equal(pc.notNull, sc.notNull, `${id} not null`)
      t.equal(pc.primary, sc.primary, `${id} primary key`)
      if (!(id in DEFAULT_DIFFERS)) t.equal(pc.hasDefault, sc.hasDefault, `${id} has a default`)
      // A literal default is the same value on both (the `now` expression differs by dialect).
      if (sc.default !== undefined && typeof sc.default !== 'object') {
        t.equal(pc.default, sc.default, `${id} default value`)
      }
      t.same(pc.enumValues ?? null, sc.enumValues ?? null, `${id} enum values`)
      const autoIncrement = (sc as unknown as { autoIncrement?: boolean }).autoIncrement === true
      const identity = (pc as unknown as { generatedIdentity?: { type: string } }).generatedIdentity?.type
      if (autoIncrement && !(id in DEFAULT_DIFFERS)) t.equal(identity, 'byDefault', `${id}: an AUTOINCREMENT id is an identity BY DEFAULT`)
      if (!autoIncrement) t.equal(identity, undefined, `${id}: no identity`)

      // The type, by family.
      switch (sc.columnType) {
        case 'SQLiteBoolean':
          t.equal(pc.columnType, 'PgBoolean', `${id}: boolean`)
          break
        case 'SQLiteTextJson':
          t.equal(pc.columnType, 'PgCustomColumn', `${id}: JSON kept as text (jsonText)`)
          t.equal(pc.getSQLType(), 'text', `${id}: JSON kept as text`)
          t.equal(pc.mapToDriverValue({ a: [1] }), '{"a":[1]}', `${id}: written as JSON text`)
          t.same(pc.mapFromDriverValue('{"a":[1]}'), { a: [1] }, `${id}: read from JSON text`)
          break
        case 'SQLiteText':
          t.equal(pc.columnType, 'PgText', `${id}: text`)
          break
        case 'SQLiteInteger': {
          const small = SMALL_INTEGERS.has(id)
          t.equal(
            pc.columnType,
            small ? 'PgInteger' : 'PgBigInt53',
            `${id}: ${small ? 'integer (a small number)' : 'bigint (an id, a time or a size)'}`,
          )
          if (/(_at|_until|_since|^timestamp|^hour|^id|_id|_by)$/.test(sc.name))
            t.notOk(small, `${id}: an id or a time is never a small integer`)
          break
        }
        default:
          t.fail(`${id}: no rule for the SQLite type ${sc.columnType} (add one to this test and to the pg schema)`)
      }
    }
    for (const name of SMALL_INTEGERS) {
      if (name.startsWith(`${s.name}.`))
        t.ok(
          s.columns.some((c) => `${s.name}.${c.name}` === name),
          `${name} exists`,
        )
    }

    // Keys.
    t.same(
      p.primaryKeys.map((k) => k.columns.map((c) => c.name)),
      s.primaryKeys.map((k) => k.columns.map((c) => c.name)),
      'composite primary keys',
    )
    const fks = (
      list: {
        reference(): { columns: { name: string }[]; foreignColumns: { name: string }[]; foreignTable: unknown }
        onDelete?: string
        onUpdate?: string
      }[],
      config: (table: never) => { name: string },
    ) =>
      list
        .map((f) => {
          const r = f.reference()
          return `${r.columns.map((c) => c.name).join(',')} → ${config(r.foreignTable as never).name}(${r.foreignColumns.map((c) => c.name).join(',')}) on delete ${f.onDelete ?? 'no action'}`
        })
        .sort()
    t.same(fks(p.foreignKeys, pgTableConfig), fks(s.foreignKeys, sqliteTableConfig), 'foreign keys')
    t.same(
      p.uniqueConstraints.map((u) => u.getName()),
      s.uniqueConstraints.map((u) => u.getName()),
      'unique constraints',
    )

    // Indexes: names, unique or not, columns, partial predicate.
    const pIdx = p.indexes.map((i) => ({
      name: i.config.name,
      unique: i.config.unique,
      columns: i.config.columns.map((c) => (c as { name?: string }).name ?? '(expression)'),
      where: pgWhere(i.config.where),
    }))
    const sIdx = s.indexes.map((i) => ({
      name: i.config.name,
      unique: i.config.unique,
      columns: i.config.columns.map((c) => (c as { name?: string }).name ?? '(expression)'),
      where: sqliteWhere(i.config.where),
    }))
    t.same(pIdx, sIdx, 'indexes (the partial predicates are written the same: no boolean column in any)')

    const checks = p.checks.map((c) => c.name)
    if (s.name === 'event_seq') t.same(checks, ['event_seq_one'])
    else
      t.same(
        checks,
        s.checks.map((c) => c.name),
        'check constraints',
      )
  })
}

t.test('the PostgreSQL-only event_seq is what the event log expects', async (t) => {
  const p = pgTableConfig(pgSchema.eventSeq)
  t.equal(p.name, 'event_seq')
  t.same(
    p.columns.map((c) => [c.name, c.getSQLType(), c.notNull, c.primary, c.hasDefault]),
    [
      ['one', 'boolean', true, true, true],
      ['epoch', 'text', true, false, false],
      ['last', 'bigint', true, false, true],
    ],
  )
  const events = pgTableConfig(pgSchema.events).columns.find((c) => c.name === 'id')
  t.equal(events?.hasDefault, false, 'events.id has no default: ids come from event_seq')
  t.equal(events?.getSQLType(), 'bigint')
})

t.test('migrations/pg applied to a real PostgreSQL is the pg schema', async (t) => {
  const url = await freshPgDatabase(t)
  if (!url) return
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  await migrate(drizzle(client), { migrationsFolder: path.join(import.meta.dirname, '..', 'migrations', 'pg') })

  type Col = {
    table_name: string
    column_name: string
    data_type: string
    is_nullable: string
    column_default: string | null
    is_identity: string
  }
  const cols = (
    await client.query<Col>(
      `SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    )
  ).rows
  const dbTables = [...new Set(cols.map((c) => c.table_name))].sort()
  const configs = pgTables.map(([, table]) => pgTableConfig(table))
  t.same(dbTables, configs.map((c) => c.name).sort(), 'the same tables')
  for (const config of configs) {
    const actual = cols
      .filter((c) => c.table_name === config.name)
      .map((c) => ({
        column: c.column_name,
        type: c.data_type,
        notNull: c.is_nullable === 'NO',
        hasDefault: c.column_default !== null || c.is_identity === 'YES',
        identity: c.is_identity === 'YES',
      }))
    const expected = config.columns.map((c) => ({
      column: c.name,
      type: c.getSQLType(),
      notNull: c.notNull,
      hasDefault: c.hasDefault,
      identity: (c as unknown as { generatedIdentity?: unknown }).generatedIdentity !== undefined,
    }))
    t.same(actual, expected, `${config.name}: columns`)
  }

  const idx = (
    await client.query<{ indexname: string }>(
      `SELECT c.relname AS indexname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT i.indisprimary ORDER BY c.relname`,
    )
  ).rows.map((r) => r.indexname)
  t.same(idx, configs.flatMap((c) => c.indexes.map((i) => i.config.name ?? '')).sort(), 'the same indexes')

  // The `now` default gives Unix milliseconds, and the JSON columns round-trip through text.
  const before = Date.now()
  const ws = await client.query<{ created_at: string }>(`INSERT INTO workspaces (name) VALUES ('w') RETURNING created_at`)
  const created = Number(ws.rows[0]?.created_at)
  t.ok(created >= before - 5000 && created <= Date.now() + 5000, `created_at defaults to now in ms (${created})`)
  const db = drizzle(client, { schema: pgSchema })
  await db.update(pgSchema.workspaces).set({ businessHours: { mon: [[540, 1020]] } })
  const [row] = await db.select().from(pgSchema.workspaces)
  t.same(row?.businessHours, { mon: [[540, 1020]] })
  t.equal(typeof row?.createdAt, 'number', 'bigint columns read as numbers')
  t.equal(
    (await client.query(`SELECT business_hours FROM workspaces`)).rows[0]?.business_hours,
    '{"mon":[[540,1020]]}',
    'stored as JSON text',
  )
})
