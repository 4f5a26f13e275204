// A long history for the search and reports workloads (issue 15): C conversations and
// about M messages over 90 days, two channels and 20 agents, built on the real migrated
// schema (bootstrapped by the real app) with direct inserts in time order, so the
// database's own triggers note every message for the index (FTS5, written at the end as a commit does) and count it for reports, as a
// webhook's transaction would. Conversations come in episodes: the customer writes, an
// agent answers after a while (minutes, sometimes hours), they go back and forth and
// most episodes end resolved; some customers come back. The report facts of the episodes
// are then rebuilt by the migration's own backfill statement (the one an existing
// database runs), since the status changes that keep them were not replayed.
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { MIGRATIONS_DIR } from '../../src/store/db.ts'
import { SearchIndexWriter } from '../../src/store/search-index.ts'
import { bootstrapBenchDb, channelOf, rng } from './parley-seed.ts'
import { customer } from './wa.ts'

export const AGENTS = 20
export const DAYS = 90
/** Campaign recipients, queued over the last 30 days, a quarter of whom reply. */
export const CAMPAIGN_RECIPIENTS = 10_000

export interface HistorySample {
  conversations: number
  messages: number
  /** Search queries for the reader, by kind. */
  queries: Record<string, string[]>
  /** The history's last instant (ms): reports end there. */
  end: number
  seedMs: number
}

// A shop's words: a few very common, a long tail of rare ones (Zipf-like by rank), some with accents.
const PRODUCTS =
  'sofa chair table lamp cushion rug shelf desk bed mattress wardrobe mirror curtain blanket pillow stool bench cabinet dresser bookcase'.split(
    ' ',
  )
const ADJECTIVES = 'blue red green grey white black oak walnut velvet linen leather small large corner folding vintage'.split(' ')
const COMMON =
  'hello hi please thanks order delivery price when can you the my is it a do have still size colour stock tomorrow today'.split(' ')
const RARE = 'invoice refund warranty assembly installment voucher olá obrigado entrega sábado ação preço café'.split(' ')

function sentence(rand: () => number): string {
  const words: string[] = []
  const n = 4 + Math.floor(rand() * 9)
  for (let i = 0; i < n; i++) {
    const r = rand()
    if (r < 0.55) words.push(COMMON[Math.floor(COMMON.length * rand() ** 2)]!)
    else if (r < 0.75) words.push(PRODUCTS[Math.floor(PRODUCTS.length * rand() ** 2)]!)
    else if (r < 0.92) words.push(ADJECTIVES[Math.floor(ADJECTIVES.length * rand() ** 2)]!)
    else words.push(RARE[Math.floor(RARE.length * rand())]!)
  }
  return words.join(' ')
}

/** The migration's backfill statements for the report facts (migrations/sqlite/*_report_triggers.sql). */
function reportBackfill(): string[] {
  const file = readdirSync(MIGRATIONS_DIR)
    .sort()
    .find((f) => f.endsWith('_report_triggers.sql'))
  if (!file) throw new Error('no report_triggers migration')
  return readFileSync(path.join(MIGRATIONS_DIR, file), 'utf8')
    .split('--> statement-breakpoint')
    .map((s) => s.trim())
    .filter((s) => /^(--[^\n]*\n)*INSERT INTO report_/.test(s))
}

export async function buildHistory(dir: string, C: number, M: number): Promise<HistorySample> {
  const sqlite = await bootstrapBenchDb(dir)
  const { channelId, workspaceId } = channelOf(sqlite)
  const rand = rng(7)
  const end = Date.now()
  const T0 = end - DAYS * 86400_000

  // Every message as (time, conversation, kind, agent), generated per conversation, then
  // inserted in time order. kind: 0 customer, 1 agent, 2 resolved line.
  const times: number[] = []
  const convs: number[] = []
  const kinds: number[] = []
  const agents: number[] = []
  const perEpisode = Math.max(2, M / C / 1.5)
  const assignee = (c: number) => (c % (AGENTS + 1) === 0 ? 0 : 1 + (c % AGENTS))
  for (let c = 1; c <= C; c++) {
    const episodes = rand() < 0.5 ? 1 : 2
    let t = T0 + rand() * (DAYS - 2) * 86400_000
    for (let e = 0; e < episodes; e++) {
      const n = Math.max(2, Math.round(perEpisode * (0.5 + rand())))
      const agent = assignee(c) || 1 + Math.floor(rand() * AGENTS)
      for (let i = 0; i < n; i++) {
        const fromCustomer = i === 0 || rand() < 0.5
        // The first answer takes minutes, sometimes hours; the rest of the talk is quicker.
        t += i === 1 ? 60_000 * Math.exp(rand() * 6) : 20_000 + rand() * 600_000
        if (t >= end) break
        times.push(t)
        convs.push(c)
        kinds.push(fromCustomer ? 0 : 1)
        agents.push(agent)
      }
      // 85% end resolved (the last episode of a tenth of the customers stays open).
      const resolved = e < episodes - 1 || rand() < 0.85
      t += 60_000 * Math.exp(rand() * 7)
      if (resolved && t < end) {
        times.push(t)
        convs.push(c)
        kinds.push(2)
        agents.push(agent)
      }
      t += 86400_000 * (1 + rand() * 20)
    }
  }
  const order = Uint32Array.from(times.keys()).sort((a, b) => times[a]! - times[b]!)

  const insUser = sqlite.prepare(
    `INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, ?, ?, 'x', 'agent') RETURNING id`,
  )
  const insChannel = sqlite.prepare(
    `INSERT INTO channels (workspace_id, kind, external_id, name) VALUES (?, 'whatsapp', ?, 'Second number') RETURNING id`,
  )
  const insContact = sqlite.prepare(
    `INSERT INTO contacts (id, workspace_id, kind, external_id, phone, name, profile_name, created_at, updated_at)
     VALUES (?, ?, 'whatsapp', ?, ?, ?, ?, ?, ?)`,
  )
  const insConv = sqlite.prepare(
    `INSERT INTO conversations (id, workspace_id, channel_id, contact_id, assignee_id, status, last_activity_at, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?)`,
  )
  const insMsg = sqlite.prepare(
    `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, data, provider_message_id,
       sender_user_id, status, timestamp, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const FIRST = ['Ana', 'Ben', 'Carla', 'Davi', 'Eva', 'Fábio', 'Gil', 'Helena', 'Ivo', 'Júlia', 'Kai', 'Lia', 'Mateus', 'Nina']
  const LAST = ['Silva', 'Souza', 'Costa', 'Pereira', 'Lima', 'Gomes', 'Ribeiro', 'Martins', 'Araújo', 'Barros']
  const t0 = Date.now()
  let messages = 0
  sqlite.transaction(() => {
    const userIds: number[] = []
    for (let a = 1; a <= AGENTS; a++) {
      const u = insUser.get(workspaceId, `agent${a}@example.com`, `Agent ${FIRST[a % FIRST.length]} ${a}`) as { id: number }
      userIds.push(u.id)
    }
    const second = (insChannel.get(workspaceId, '100000000000099') as { id: number }).id
    const channelOfConv = (c: number) => (c % 3 === 0 ? second : channelId)
    for (let c = 1; c <= C; c++) {
      const phone = customer(c)
      const name = `${FIRST[c % FIRST.length]} ${LAST[Math.floor(c / FIRST.length) % LAST.length]} ${c}`
      insContact.run(c, workspaceId, phone, phone, name, name, T0, T0)
      const a = assignee(c)
      insConv.run(c, workspaceId, channelOfConv(c), c, a ? userIds[a - 1]! : null, T0, T0, T0)
    }
    for (const i of order) {
      const c = convs[i]!
      const at = Math.floor(times[i]!)
      const kind = kinds[i]!
      const agent = userIds[agents[i]! - 1]!
      if (kind === 2) {
        insMsg.run(
          workspaceId,
          c,
          channelOfConv(c),
          'system',
          'activity',
          null,
          JSON.stringify({ action: 'resolved' }),
          null,
          agent,
          'received',
          at,
          at,
          at,
        )
      } else {
        const text = sentence(rand)
        insMsg.run(
          workspaceId,
          c,
          channelOfConv(c),
          kind === 0 ? 'in' : 'out',
          'text',
          text,
          JSON.stringify({ body: text }),
          `wamid.HIST${messages}`,
          kind === 0 ? null : agent,
          kind === 0 ? 'received' : 'read',
          at,
          at,
          at,
        )
      }
      messages++
    }
    // Each conversation's state now: its newest message, resolved or open, waiting or not.
    sqlite.exec(`
      UPDATE conversations SET
        last_message_id = (SELECT max(id) FROM messages m WHERE m.conversation_id = conversations.id AND m.direction <> 'system'),
        last_activity_at = COALESCE((SELECT max(timestamp) FROM messages m WHERE m.conversation_id = conversations.id), created_at);
      UPDATE conversations SET
        last_message_at = (SELECT timestamp FROM messages WHERE id = last_message_id),
        last_message_direction = (SELECT direction FROM messages WHERE id = last_message_id),
        last_message_preview = (SELECT substr(text, 1, 80) FROM messages WHERE id = last_message_id),
        last_inbound_at = (SELECT max(timestamp) FROM messages m WHERE m.conversation_id = conversations.id AND m.direction = 'in');
      UPDATE conversations SET status = 'resolved'
        WHERE (SELECT direction FROM messages m WHERE m.conversation_id = conversations.id ORDER BY id DESC LIMIT 1) = 'system';
      UPDATE conversations SET waiting_since = last_message_at WHERE status = 'open' AND last_message_direction = 'in';
    `)
    // A campaign over the last 30 days: template messages, delivered or read, a quarter replied to.
    const campaign = sqlite
      .prepare(
        `INSERT INTO campaigns (workspace_id, channel_id, name, status, template_name, template_language, params, audience, created_by)
         VALUES (?, ?, 'Spring sale', 'completed', 'sale', 'en', '{}', '{}', ?) RETURNING id`,
      )
      .get(workspaceId, channelId, userIds[0]) as { id: number }
    const insRecipient = sqlite.prepare(
      `INSERT INTO campaign_recipients (campaign_id, workspace_id, contact_id, state, message_id, queued_at, replied_at)
       VALUES (?, ?, ?, 'sent', ?, ?, ?)`,
    )
    const setContext = sqlite.prepare(`UPDATE messages SET context = json_object('campaign', ?) WHERE id = ?`)
    const n = Math.min(CAMPAIGN_RECIPIENTS, C)
    for (let r = 0; r < n; r++) {
      const c = 1 + Math.floor((r * C) / n)
      const at = Math.floor(end - 30 * 86400_000 + (r * 30 * 86400_000) / n)
      const id = Number(
        insMsg.run(
          workspaceId,
          c,
          channelId,
          'out',
          'template',
          null,
          '{}',
          `wamid.CAMP${r}`,
          null,
          rand() < 0.7 ? 'read' : rand() < 0.8 ? 'delivered' : 'sent',
          at,
          at,
          at,
        ).lastInsertRowid,
      )
      setContext.run(campaign.id, id)
      insRecipient.run(campaign.id, workspaceId, c, id, at, rand() < 0.25 ? at + 3_600_000 : null)
    }
    // The report facts of the episodes, as the migration computes them for an existing
    // database; then the assignee the conversation had (the backfill cannot know it).
    sqlite.exec('DELETE FROM report_episodes; DELETE FROM report_message_counts;')
    for (const stmt of reportBackfill()) sqlite.exec(stmt)
    sqlite.exec(`UPDATE report_episodes SET
      opened_assignee_id = (SELECT assignee_id FROM conversations c WHERE c.id = report_episodes.conversation_id),
      resolved_assignee_id = CASE WHEN resolved_at IS NULL THEN NULL
        ELSE (SELECT assignee_id FROM conversations c WHERE c.id = report_episodes.conversation_id) END`)
    // The search index's last step of a commit, as the writer's transactions end (migration 0019).
    new SearchIndexWriter(sqlite).flush()
  })()
  const seedMs = Date.now() - t0
  sqlite.pragma('wal_checkpoint(TRUNCATE)')
  sqlite.close()
  return {
    conversations: C,
    messages,
    end,
    seedMs,
    queries: {
      'one common word': ['order', 'delivery', 'please', 'price'],
      'a rare word': ['invoice', 'refund', 'warranty', 'voucher'],
      'two words': ['blue sofa', 'walnut table', 'velvet chair', 'linen cushion'],
      'a phrase': ['"blue sofa"', '"oak table"', '"corner desk"', '"velvet chair"'],
      'a prefix': ['wardr', 'matt', 'book', 'vint'],
      'diacritics folded': ['sabado', 'acao', 'preco', 'ola'],
      'a phone fragment': ['5551000123', '1000777', '555100004'],
      'a word with filters': ['refund from:customer', 'sofa status:open', 'delivery in:"Second number"', 'price assignee:none'],
    },
  }
}
