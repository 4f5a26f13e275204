// GET /api/conversations?channel=<id> and ?kind=<whatsapp|messenger>: the inbox's
// channel filter, over real HTTP with conversations on two WhatsApp numbers and a
// Messenger page, combined with status, search and keyset paging, and never across
// workspaces.
import t from 'tap'
import { APP_SECRET, startServer, type TestServer } from './helpers/server.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'
import { item, mid, pageWebhook, postMessenger, PAGE_ID } from './helpers/ms.ts'
import type { ConversationDTO } from '../src/events/types.ts'

const SECOND_NUMBER = '100000000000003'

async function addChannel(s: TestServer, token: string, body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${s.url}/api/channels`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (res.status !== 201) throw new Error(`channel: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { channel: { id: number } }).channel.id
}

t.test('the list narrows to one channel or one kind; paging, status and search still apply', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const second = await addChannel(s, token, { kind: 'whatsapp', externalId: SECOND_NUMBER, name: 'Support line' })
  const page = await addChannel(s, token, { kind: 'messenger', externalId: PAGE_ID, name: 'Our Page' })

  // Two customers on the first number, one on the second, two on the page.
  const wa = (phoneNumberId: string | undefined, from: string, name: string, body: string) =>
    s.webhook(
      envelope(value({ ...(phoneNumberId ? { phoneNumberId } : {}), contacts: [contact(from, name)], messages: [text(from, body)] })),
    )
  t.equal((await wa(undefined, '4915100000801', 'Ana', 'first number')).status, 200)
  t.equal((await wa(undefined, '4915100000802', 'Ben', 'first number')).status, 200)
  t.equal((await wa(SECOND_NUMBER, '4915100000801', 'Ana', 'second number')).status, 200)
  for (const psid of ['7000000000000801', '7000000000000802']) {
    const res = await postMessenger(s.url, pageWebhook(item(psid, { message: { mid: mid(), text: 'page' } })), APP_SECRET)
    t.equal(res.status, 200)
  }

  const get = async (query: string) => {
    const res = await s.get(`/api/conversations?${query}`, token)
    t.equal(res.status, 200, query)
    return (await res.json()) as { conversations: ConversationDTO[]; nextCursor: string | null }
  }
  const kinds = (cs: ConversationDTO[]) => cs.map((c) => `${c.channelKind}:${c.channelId}`).sort()

  t.same(
    kinds((await get('')).conversations),
    ['messenger:' + page, 'messenger:' + page, 'whatsapp:1', 'whatsapp:1', `whatsapp:${second}`],
    'no filter: all five',
  )
  t.same(kinds((await get(`channel=${second}`)).conversations), [`whatsapp:${second}`], 'one number')
  t.same(kinds((await get('channel=1')).conversations), ['whatsapp:1', 'whatsapp:1'], 'the env number')
  t.same(kinds((await get(`channel=${page}`)).conversations), ['messenger:' + page, 'messenger:' + page], 'the page')
  t.same(kinds((await get('kind=messenger')).conversations), ['messenger:' + page, 'messenger:' + page], 'every page')
  t.same(kinds((await get('kind=whatsapp')).conversations), ['whatsapp:1', 'whatsapp:1', `whatsapp:${second}`], 'every number')
  t.same((await get(`kind=messenger&channel=${second}`)).conversations, [], 'kind and channel together must both hold')

  // Combined with search and status.
  t.same((await get('kind=whatsapp&q=ana')).conversations.map((c) => c.channelId).sort(), [1, second].sort(), 'search within a kind')
  t.same((await get(`channel=${second}&status=resolved`)).conversations, [], 'status still applies')

  // Keyset paging stays within the filter.
  const p1 = await get('kind=whatsapp&limit=2')
  t.equal(p1.conversations.length, 2)
  t.ok(p1.nextCursor)
  const p2 = await get(`kind=whatsapp&limit=2&cursor=${p1.nextCursor}`)
  t.same(kinds([...p1.conversations, ...p2.conversations]), ['whatsapp:1', 'whatsapp:1', `whatsapp:${second}`])
  t.equal(p2.nextCursor, null)

  // Bad values are named errors.
  for (const q of ['kind=telegram', 'channel=0', 'channel=abc']) {
    const res = await s.get(`/api/conversations?${q}`, token)
    t.equal(res.status, 400, q)
    t.match(await res.json(), { error: { code: 'VALIDATION_FAILED' } })
  }
})

t.test("another workspace's channel id filters to nothing, never to their conversations", async (t) => {
  const s = await startServer(t)
  const ws2 = (await s.sql.get<{ id: number }>(`INSERT INTO workspaces(name) VALUES ('Other') RETURNING id`))!
  await s.app.services.auth.createUser({
    workspaceId: ws2.id,
    email: 'o@example.com',
    name: 'O',
    password: 'other password',
    role: 'admin',
  })
  const other = await s.login({ email: 'o@example.com', password: 'other password' })
  const theirPage = await addChannel(s, other.token, { kind: 'messenger', externalId: PAGE_ID, name: 'Their Page' })
  t.equal(
    (await postMessenger(s.url, pageWebhook(item('7000000000000809', { message: { mid: mid(), text: 'theirs' } })), APP_SECRET)).status,
    200,
  )
  const theirs = (await (await s.get(`/api/conversations?channel=${theirPage}`, other.token)).json()) as {
    conversations: ConversationDTO[]
  }
  t.equal(theirs.conversations.length, 1, 'they see their page')

  const { token } = await s.login()
  for (const q of [`channel=${theirPage}`, 'kind=messenger']) {
    const mine = (await (await s.get(`/api/conversations?${q}`, token)).json()) as { conversations: ConversationDTO[] }
    t.same(mine.conversations, [], q)
  }
})
