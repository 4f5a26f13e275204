// The transcript written once for both databases (issue 17): the header and every page are
// read units, and a page's read takes along what its entries quote (a reply's target by id,
// a reaction's by the provider's id) and who wrote them. The same rows, stored with plain SQL
// on a fresh SQLite and a fresh PostgreSQL, give the same file, byte for byte, in both formats;
// a quote of another conversation's message is never shown, and notes only when asked for.
import t from 'tap'
import { Transcripts, type TranscriptFile, type TranscriptRequest } from '../src/domain/transcript/transcript.ts'
import { ChannelsRepo } from '../src/store/channels.ts'
import { inboxRepos } from '../src/store/inbox-store.ts'
import { SecretBox } from '../src/store/secret-box.ts'
import { WorkspaceSettingsRepo } from '../src/store/workspace-settings.ts'
import { type DialectDb, insertId, onBoth } from './helpers/dialects.ts'

const WS = 1
const OTHER_WS = 2
const NOW = Date.parse('2026-03-10T12:00:00Z')
const at = (hhmm: string) => Date.parse(`2026-03-09T${hhmm}:00Z`)

async function text(file: TranscriptFile | undefined): Promise<string | undefined> {
  if (!file) return undefined
  let out = ''
  for await (const chunk of file.body) out += chunk
  return out
}

/** A WhatsApp conversation with a quoted reply, a reaction, a note, an agent's reply; another conversation besides. */
async function seed(db: DialectDb) {
  await db.exec(`UPDATE workspaces SET timezone = 'America/Sao_Paulo' WHERE id = ?`, [WS])
  const channel = await insertId(
    db,
    `INSERT INTO channels (workspace_id, kind, external_id, name, display_phone_number) VALUES (?, 'whatsapp', 'p1', 'Support line', '+1 555 000 3000')`,
    [WS],
  )
  const ana = await insertId(
    db,
    `INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, 'ana@x', 'Ana Lima', 'h', 'admin')`,
    [WS],
  )
  const ben = await insertId(
    db,
    `INSERT INTO users (workspace_id, email, name, password_hash, role) VALUES (?, 'ben@x', 'Ben', 'h', 'agent')`,
    [WS],
  )
  const contact = await insertId(
    db,
    `INSERT INTO contacts (workspace_id, kind, external_id, phone, name) VALUES (?, 'whatsapp', '5511987654321', '5511987654321', 'Maria')`,
    [WS],
  )
  const other = await insertId(
    db,
    `INSERT INTO contacts (workspace_id, kind, external_id, phone, name) VALUES (?, 'whatsapp', '5511911112222', '5511911112222', 'José')`,
    [WS],
  )
  const conv = await insertId(
    db,
    `INSERT INTO conversations (workspace_id, channel_id, contact_id, status, last_activity_at) VALUES (?, ?, ?, 'open', 0)`,
    [WS, channel, contact],
  )
  const conv2 = await insertId(
    db,
    `INSERT INTO conversations (workspace_id, channel_id, contact_id, status, last_activity_at) VALUES (?, ?, ?, 'open', 0)`,
    [WS, channel, other],
  )
  const msg = (
    c: number,
    direction: string,
    type: string,
    txt: string | null,
    o: { sender?: number; pid?: string; replyTo?: number; data?: unknown } = {},
  ) =>
    insertId(
      db,
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, sender_user_id, provider_message_id, reply_to_message_id, data, status, "timestamp", created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'delivered', ?, ?, ?)`,
      [
        WS,
        c,
        channel,
        direction,
        type,
        txt,
        o.sender ?? null,
        o.pid ?? null,
        o.replyTo ?? null,
        o.data === undefined ? null : JSON.stringify(o.data),
        at('12:00'),
        at('12:00'),
        at('12:00'),
      ],
    )
  const elsewhere = await msg(conv2, 'in', 'text', 'a message of another conversation', { pid: 'wamid.X' })
  const hello = await msg(conv, 'in', 'text', 'Hello, is the blue sofa in stock?', { pid: 'wamid.A' })
  await msg(conv, 'out', 'text', 'It is: it ships tomorrow', { sender: ben, pid: 'wamid.B', replyTo: hello })
  await msg(conv, 'in', 'reaction', '👍', { pid: 'wamid.C', data: { message_id: 'wamid.B', emoji: '👍' } })
  await msg(conv, 'system', 'note', 'VIP: offer free delivery', { sender: ana })
  await msg(conv, 'in', 'text', 'Quoting something I should not see', { pid: 'wamid.D', replyTo: elsewhere })
  await msg(conv, 'in', 'reaction', '❤️', { pid: 'wamid.E', data: { message_id: 'wamid.X', emoji: '❤️' } })
  return { conv, conv2, ana }
}

t.test('a transcript: the same file from SQLite and PostgreSQL, quotes and names read with each page', async (t) => {
  const { sqlite, pg } = await onBoth(t, async (db) => {
    const s = await seed(db)
    const transcripts = new Transcripts({
      units: db.runner,
      repos: { ...inboxRepos(), channels: new ChannelsRepo(new SecretBox(Buffer.alloc(32, 7))) },
      settings: new WorkspaceSettingsRepo(),
      now: () => NOW,
    })
    const req = (r: Partial<TranscriptRequest>): TranscriptRequest => ({
      workspaceId: WS,
      userId: s.ana,
      conversationId: s.conv,
      format: 'text',
      notes: true,
      ...r,
    })
    const file = await transcripts.export(req({}))
    return {
      filename: file?.filename,
      text: await text(file),
      withoutNotes: await text(await transcripts.export(req({ notes: false }))),
      html: await text(await transcripts.export(req({ format: 'html' }))),
      otherWorkspace: await transcripts.export(req({ workspaceId: OTHER_WS })),
    }
  })
  const body = sqlite.text!
  t.equal(sqlite.filename, 'conversation-1-2026-03-10.txt', 'named for the conversation and the day')
  t.match(body, /Conversation with Maria/)
  t.match(body, /WhatsApp · Support line \(\+1 555 000 3000\)/, "the channel's label")
  t.match(body, /Ana Lima/, 'exported by (the header) and the note’s author')
  t.match(body, /Ben/, "the agent's name, read with the page")
  t.match(body, /Hello, is the blue sofa in stock\?/, 'the quoted message, read with the page')
  t.match(body, /\[Reaction: 👍 to “It is: it ships tomorrow”\]/, "a reaction's target by the provider's id")
  t.notMatch(body, /a message of another conversation/, "another conversation's message is never quoted")
  t.match(body, /\[Reaction: ❤️\]/, "a reaction to another conversation's message says only the emoji")
  t.match(body, /VIP: offer free delivery/)
  t.notMatch(sqlite.withoutNotes!, /VIP: offer free delivery/, 'notes only when asked for')
  t.match(sqlite.html!, /It is: it ships tomorrow/)
  t.equal(sqlite.otherWorkspace, undefined, "another workspace's conversation: no file")
  if (pg) t.same(pg, sqlite, 'PostgreSQL gives exactly the same files')
})
