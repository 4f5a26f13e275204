// Child entry: builds (once, cached under bench/.work/) a Parley database of N
// conversations and M messages — the real migrated schema, bootstrapped by the real
// app, then filled with direct inserts in one transaction — and runs the bare-SQLite
// baseline of the read queries.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { MIGRATIONS_DIR } from '../../src/store/db.ts'
import { SearchIndexWriter } from '../../src/store/search-index.ts'
import { serve } from './proc.ts'
import { bootstrapBenchDb, channelOf, rng } from './parley-seed.ts'
import { Hist, nowMs } from './hist.ts'
import { customer } from './wa.ts'

// Bump when the generated data changes shape.
const SEED_VERSION = 1

export interface ReadSample {
  /** Paths for the reader, by kind. */
  paths: Record<string, string[]>
  conversations: number
  messages: number
  biggestConversation: { id: number; messages: number }
}

function migrationsHash(): string {
  const h = createHash('sha256')
  const walk = (dir: string) => {
    for (const f of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, f.name)
      if (f.isDirectory()) walk(p)
      else h.update(f.name).update(readFileSync(p))
    }
  }
  walk(MIGRATIONS_DIR)
  return h.digest('hex').slice(0, 12)
}

const b64 = (s: string) => Buffer.from(s).toString('base64url')

async function build(dir: string, C: number, M: number): Promise<ReadSample> {
  // The real app bootstraps the workspace, the admin and the channel.
  const sqlite = await bootstrapBenchDb(dir)
  const { channelId, workspaceId } = channelOf(sqlite)
  const rand = rng(42)

  // Pass 1: which conversation each message belongs to, and each conversation's tail.
  // Every conversation gets one message; the rest follow a heavy head (a few very long
  // threads, a long tail of short ones), in time order.
  const convOf = new Int32Array(M)
  for (let m = 0; m < M; m++) {
    convOf[m] = m < C ? 1 + ((m * 48271) % C) : 1 + Math.min(C - 1, Math.floor(C * rand() ** 3))
  }
  const T0 = Date.now() - 30 * 86400_000
  const step = (30 * 86400_000) / M
  const last = new Int32Array(C + 1)
  const lastIn = new Int32Array(C + 1).fill(-1)
  const counts = new Int32Array(C + 1)
  for (let m = 0; m < M; m++) {
    const c = convOf[m]!
    last[c] = m
    counts[c]!++
    if (m % 5 < 3) lastIn[c] = m
  }
  const TEXTS = [
    'Olá, meu pedido chegou?',
    'Thanks, that works',
    'Can I pay by card?',
    'Your order has shipped',
    'ok 👍',
    'We open at 9:00',
  ]

  const insContact = sqlite.prepare(
    `INSERT INTO contacts (id, workspace_id, kind, external_id, phone, name, profile_name, created_at, updated_at)
     VALUES (?, ?, 'whatsapp', ?, ?, ?, ?, ?, ?)`,
  )
  const insConv = sqlite.prepare(
    `INSERT INTO conversations (id, workspace_id, channel_id, contact_id, status, unread_count, last_message_id,
       last_message_preview, last_message_direction, last_message_at, last_activity_at, last_inbound_at, window_expires_at,
       created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const insMsg = sqlite.prepare(
    `INSERT INTO messages (id, workspace_id, conversation_id, channel_id, direction, type, text, data, provider_message_id,
       status, sent_at, delivered_at, read_at, timestamp, raw, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 'text', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const t0 = nowMs()
  sqlite.transaction(() => {
    for (let c = 1; c <= C; c++) {
      const phone = customer(c)
      const created = T0 + Math.floor(step * (c - 1))
      insContact.run(c, workspaceId, phone, phone, `Customer ${c}`, `Customer ${c}`, created, created)
    }
    for (let c = 1; c <= C; c++) {
      const m = last[c]!
      const at = Math.floor(T0 + m * step)
      const li = lastIn[c]!
      const inAt = li >= 0 ? Math.floor(T0 + li * step) : null
      const open = at > Date.now() - 3 * 86400_000 || c % 10 < 2
      insConv.run(
        c,
        workspaceId,
        channelId,
        c,
        open ? 'open' : 'resolved',
        open ? c % 4 : 0,
        m + 1,
        TEXTS[m % TEXTS.length]!,
        m % 5 < 3 ? 'in' : 'out',
        at,
        at,
        inAt,
        inAt === null ? null : inAt + 86400_000,
        T0,
        at,
      )
    }
    for (let m = 0; m < M; m++) {
      const c = convOf[m]!
      const at = Math.floor(T0 + m * step)
      const inbound = m % 5 < 3
      const text = TEXTS[m % TEXTS.length]!
      const wamid = `wamid.HBgLSEED${m}Z`
      const from = customer(c)
      const raw = inbound
        ? JSON.stringify({ from, id: wamid, timestamp: String(Math.floor(at / 1000)), type: 'text', text: { body: text } })
        : null
      insMsg.run(
        m + 1,
        workspaceId,
        c,
        channelId,
        inbound ? 'in' : 'out',
        text,
        JSON.stringify({ body: text }),
        wamid,
        inbound ? 'received' : 'read',
        inbound ? null : at,
        inbound ? null : at + 1000,
        inbound ? null : at + 5000,
        at,
        raw,
        at,
        at,
      )
    }
    new SearchIndexWriter(sqlite).flush() // the index's last step of a commit (migration 0019)
  })()
  const seedMs = nowMs() - t0
  sqlite.pragma('wal_checkpoint(TRUNCATE)')

  // What the reader asks for: the first pages, deep pages by keyset cursor, and
  // message pages of random conversations (and of the longest one), newest and older.
  const pick = (n: number) => Array.from({ length: n }, () => 1 + Math.floor(rand() * C))
  let biggest = 1
  for (let c = 1; c <= C; c++) if (counts[c]! > counts[biggest]!) biggest = c
  const convRow = sqlite.prepare('SELECT last_activity_at AS at, id FROM conversations WHERE id = ?')
  const olderId = sqlite.prepare('SELECT id FROM messages WHERE conversation_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?')
  const paths: Record<string, string[]> = {
    'conversations: first page': ['/api/conversations?limit=50', '/api/conversations?status=open&limit=50'],
    'conversations: deep page': pick(500).map((c) => {
      const r = convRow.get(c) as { at: number; id: number }
      return `/api/conversations?limit=50&cursor=${b64(`${r.at}:${r.id}`)}`
    }),
    'messages: newest page': [...pick(500), biggest].map((c) => `/api/conversations/${c}/messages?limit=50`),
    'messages: older page': [...pick(499), biggest, biggest].map((c, i) => {
      const n = counts[c]!
      const off = i === 500 ? Math.floor(n / 2) : Math.floor(rand() * n)
      const r = olderId.get(c, off) as { id: number } | undefined
      return `/api/conversations/${c}/messages?limit=50${r ? `&cursor=${b64(String(r.id))}` : ''}`
    }),
  }
  sqlite.close()
  const sample: ReadSample = {
    paths,
    conversations: C,
    messages: M,
    biggestConversation: { id: biggest, messages: counts[biggest]! },
  }
  writeFileSync(path.join(dir, 'sample.json'), JSON.stringify({ ...sample, seedMs }))
  writeFileSync(path.join(dir, 'complete'), '')
  return sample
}

let rawDb: Database.Database | undefined

serve({
  /** Returns the cached database (building it if needed): its file and the sample. */
  ensure: async (a: { workDir: string; conversations: number; messages: number }) => {
    const key = `reads-${a.conversations}x${a.messages}-v${SEED_VERSION}-${migrationsHash()}`
    const dir = path.join(a.workDir, key)
    let built = false
    const t0 = nowMs()
    if (!existsSync(path.join(dir, 'complete'))) {
      await build(dir, a.conversations, a.messages)
      built = true
    }
    const sample = JSON.parse(readFileSync(path.join(dir, 'sample.json'), 'utf8')) as ReadSample & { seedMs: number }
    return { dir, file: path.join(dir, 'parley.db'), sample, built, ms: nowMs() - t0 }
  },

  /** Bare better-sqlite3: the same queries Parley's list endpoints run, without HTTP. */
  raw: (a: { file: string; paths: string[]; seconds: number }) => {
    rawDb ??= new Database(a.file, { readonly: true })
    // The queries Parley runs (src/store/inbox-store.ts): the row-value keyset bound that
    // seeks the index, the last message's status by primary key, the DTO's columns only;
    // rows as arrays, as Parley reads them. The OR form measured here before scanned
    // from the top (4 ms at a deep page) and made the HTTP ÷ query ratio look < 1.
    const convs = rawDb
      .prepare(
        `SELECT c.id, c.channel_id, c.status, c.unread_count, c.last_message_id, c.last_message_preview,
                c.last_message_direction, c.last_message_at, c.last_activity_at, c.window_expires_at,
                ct.id, ct.external_id, ct.name, ct.phone, ch.kind, lm.status, lm.error_title, lm.error_detail
           FROM conversations c
           JOIN contacts ct ON ct.id = c.contact_id JOIN channels ch ON ch.id = c.channel_id
           LEFT JOIN messages lm ON lm.id = c.last_message_id
          WHERE c.workspace_id = 1 AND (c.last_activity_at, c.id) < (?, ?)
          ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 51`,
      )
      .raw()
    const msgs = rawDb
      .prepare(
        `SELECT id, conversation_id, direction, type, text, media, data, context, reply_to_message_id, reactions,
                provider_message_id, client_message_id, sender_user_id, status, sent_at, delivered_at, read_at,
                failed_at, error_code, error_title, error_detail, timestamp
           FROM messages WHERE workspace_id = 1 AND conversation_id = ? AND id < ? ORDER BY id DESC LIMIT 51`,
      )
      .raw()
    const MAX = Number.MAX_SAFE_INTEGER
    const calls = a.paths.map((p) => {
      const u = new URL(p, 'http://x')
      const cursor = u.searchParams.get('cursor')
      const parts = cursor ? Buffer.from(cursor, 'base64url').toString().split(':').map(Number) : []
      const m = /^\/api\/conversations\/(\d+)\/messages$/.exec(u.pathname)
      if (m) {
        const conv = Number(m[1])
        const before = parts[0] ?? MAX
        return () => msgs.all(conv, before)
      }
      const at = parts[0] ?? MAX
      const id = parts[1] ?? MAX
      return () => convs.all(at, id)
    })
    const hist = new Hist()
    const end = nowMs() + a.seconds * 1000
    let i = 0
    while (nowMs() < end) {
      const call = calls[i++ % calls.length]!
      const s = nowMs()
      call()
      hist.record(nowMs() - s)
    }
    return hist.toJSON()
  },
}).ready()
