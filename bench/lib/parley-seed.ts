// Direct SQLite inserts into Parley's migrated schema, for state a workload needs to
// exist before it starts (outbound messages that statuses refer to). One transaction.
import { mkdirSync, rmSync } from 'node:fs'
import type Database from 'better-sqlite3'
import { loadConfig } from '../../src/config.ts'
import { openDatabase } from '../../src/store/db.ts'
import { buildApp } from '../../src/app.ts'
import { ADMIN, APP_SECRET, JWT_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN } from './wa.ts'

export function channelOf(sqlite: Database.Database): { channelId: number; workspaceId: number } {
  const row = sqlite
    .prepare(`SELECT id, workspace_id AS workspaceId FROM channels WHERE kind = 'whatsapp' AND external_id = ?`)
    .get(PHONE_NUMBER_ID) as { id: number; workspaceId: number } | undefined
  if (!row) throw new Error('the bench channel is missing: was WHATSAPP_PHONE_NUMBER_ID set?')
  return { channelId: row.id, workspaceId: row.workspaceId }
}

/** Outbound text messages in status `sent`, one conversation per recipient. */
export function seedOutbound(sqlite: Database.Database, targets: Array<{ wamid: string; to: string }>): number {
  const { channelId, workspaceId } = channelOf(sqlite)
  const now = Date.now()
  const contact = sqlite.prepare(
    `INSERT INTO contacts (workspace_id, kind, external_id, phone, name, profile_name, created_at, updated_at)
     VALUES (?, 'whatsapp', ?, ?, ?, ?, ?, ?)
     ON CONFLICT DO UPDATE SET updated_at = excluded.updated_at RETURNING id`,
  )
  const conv = sqlite.prepare(
    `INSERT INTO conversations (workspace_id, channel_id, contact_id, status, unread_count, last_activity_at, created_at, updated_at)
     VALUES (?, ?, ?, 'open', 0, ?, ?, ?)
     ON CONFLICT DO UPDATE SET updated_at = excluded.updated_at RETURNING id`,
  )
  const msg = sqlite.prepare(
    `INSERT OR IGNORE INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, provider_message_id,
       status, sent_at, timestamp, created_at, updated_at)
     VALUES (?, ?, ?, 'out', 'text', ?, ?, 'sent', ?, ?, ?, ?)`,
  )
  const convOf = new Map<string, number>()
  let n = 0
  sqlite.transaction(() => {
    for (const t of targets) {
      let c = convOf.get(t.to)
      if (c === undefined) {
        const contactId = (contact.get(workspaceId, t.to, t.to, `Customer ${t.to.slice(-4)}`, null, now, now) as { id: number }).id
        c = (conv.get(workspaceId, channelId, contactId, now, now, now) as { id: number }).id
        convOf.set(t.to, c)
      }
      n += msg.run(workspaceId, c, channelId, 'Your order has shipped 📦', t.wamid, now, now, now, now).changes
    }
  })()
  return n
}

/** A deterministic PRNG in [0, 1): the same seed builds the same database. */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    s ^= s + Math.imul(s ^ (s >>> 7), s | 61)
    return ((s ^ (s >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A fresh DATA_DIR bootstrapped by the real app (migrations, workspace, admin, the bench's
 * channel), returned open for the caller's direct inserts, for a cached bench database.
 */
export async function bootstrapBenchDb(dir: string): Promise<Database.Database> {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const config = loadConfig({
    DATA_DIR: dir,
    META_APP_SECRET: APP_SECRET,
    META_VERIFY_TOKEN: VERIFY_TOKEN,
    WHATSAPP_PHONE_NUMBER_ID: PHONE_NUMBER_ID,
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    JWT_SECRET,
    LOG_LEVEL: 'silent',
  })
  const db = openDatabase(config.databaseFile, { busyTimeoutMs: 5000 })
  const app = await buildApp({ config, db, logger: false })
  await app.ready()
  await app.close()
  return db.$client
}
