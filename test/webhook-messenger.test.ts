// /webhooks/messenger and channels as data, over real HTTP into real SQLite.
import t from 'tap'
import { startServer, APP_SECRET, VERIFY_TOKEN, type TestServer } from './helpers/server.ts'
import { connectSse } from './helpers/sse.ts'
import { PAGE_ID, echoItem, item, mid, pageWebhook, postMessenger } from './helpers/ms.ts'

const PSID = '7000000000000001'

async function withPage(s: TestServer, token: string, body: Record<string, unknown> = {}) {
  const res = await fetch(`${s.url}/api/channels`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'messenger', externalId: PAGE_ID, name: 'Our Page', accessToken: 'EAAPAGE-TOKEN', ...body }),
  })
  if (res.status !== 201) throw new Error(`channel: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { channel: { id: number } }).channel
}

const rows = (s: TestServer, sql: string, ...args: unknown[]) => s.sql.all<Record<string, unknown>>(sql, args)

t.test('channels API: admins add and edit; secrets are never returned', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const ch = await withPage(s, token, { appSecret: 'page-app-secret', verifyToken: 'page-verify' })
  const list = (await (await s.get('/api/channels', token)).json()) as { channels: Array<Record<string, unknown>> }
  t.equal(list.channels.length, 2, 'the env WhatsApp number and the page')
  const page = list.channels.find((c) => c.kind === 'messenger')!
  t.match(page, { externalId: PAGE_ID, hasAccessToken: true, hasAppSecret: true, hasVerifyToken: true, enabled: true })
  const text = JSON.stringify(list)
  for (const secret of ['EAAPAGE-TOKEN', 'page-app-secret', 'page-verify']) t.notMatch(text, secret, `${secret} not returned`)

  const dup = await fetch(`${s.url}/api/channels`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'messenger', externalId: PAGE_ID, name: 'Again' }),
  })
  t.equal(dup.status, 409)
  t.match(await dup.json(), { error: { code: 'CHANNEL_EXISTS' } })

  const edit = await fetch(`${s.url}/api/channels/${ch.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Renamed', accessToken: '' }),
  })
  t.equal(edit.status, 200)
  t.match(await edit.json(), { channel: { name: 'Renamed', hasAccessToken: false } })

  // Agents see channels but cannot change them.
  await s.app.services.auth.createUser({
    workspaceId: 1,
    email: 'agent@example.com',
    name: 'Agent',
    password: 'agent password',
    role: 'agent',
  })
  const agent = await s.login({ email: 'agent@example.com', password: 'agent password' })
  t.equal((await s.get('/api/channels', agent.token)).status, 200)
  const denied = await fetch(`${s.url}/api/channels/${ch.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: false }),
  })
  t.equal(denied.status, 403)

  // The page's own verify token passes the handshake; so does the app-wide one.
  for (const tok of ['page-verify', VERIFY_TOKEN]) {
    const res = await fetch(`${s.url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=${tok}&hub.challenge=42`)
    t.equal(await res.text(), '42')
  }
  t.equal((await fetch(`${s.url}/webhooks/messenger?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=42`)).status, 403)
})

t.test('signature: app secret or the page’s own; a secret cannot speak for another page', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  await withPage(s, token, { appSecret: 'page-app-secret' })
  const payload = pageWebhook(item(PSID, { message: { mid: mid(), text: 'hi' } }))
  t.equal((await postMessenger(s.url, payload, 'wrong')).status, 401)
  t.equal((await rows(s, 'SELECT * FROM messages')).length, 0, 'nothing stored')
  t.equal((await rows(s, 'SELECT * FROM raw_webhooks')).length, 0)
  // Signed with the app-wide secret, but this page has its own: kept aside, not ingested.
  t.equal((await postMessenger(s.url, payload, APP_SECRET)).status, 200)
  t.equal((await rows(s, 'SELECT * FROM messages')).length, 0)
  t.match(await rows(s, 'SELECT reason FROM raw_webhooks'), [{ reason: `secret_mismatch:${PAGE_ID}` }])
  t.equal((await postMessenger(s.url, payload, 'page-app-secret')).status, 200)
  t.equal((await rows(s, 'SELECT * FROM messages')).length, 1)
})

t.test('every event type, batched across entries and messaging items', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  await withPage(s, token)
  const first = mid()
  const base = Date.now() - 60_000
  const payload = {
    object: 'page',
    entry: [
      {
        id: PAGE_ID,
        time: base,
        messaging: [
          item(PSID, { message: { mid: first, text: 'Hello, do you ship to Canada?' } }, PAGE_ID, base),
          item(
            PSID,
            { message: { mid: mid(), attachments: [{ type: 'image', payload: { url: 'https://cdn.example/p.jpg' } }] } },
            PAGE_ID,
            base + 1,
          ),
          item(
            PSID,
            { message: { mid: mid(), attachments: [{ type: 'file', payload: { url: 'https://cdn.example/f.pdf' } }] } },
            PAGE_ID,
            base + 2,
          ),
          item(
            PSID,
            { message: { mid: mid(), attachments: [{ type: 'audio', payload: { url: 'https://cdn.example/a.mp4' } }] } },
            PAGE_ID,
            base + 3,
          ),
          item(
            PSID,
            { message: { mid: mid(), attachments: [{ type: 'video', payload: { url: 'https://cdn.example/v.mp4' } }] } },
            PAGE_ID,
            base + 4,
          ),
        ],
      },
      {
        id: PAGE_ID,
        time: base,
        messaging: [
          item(
            PSID,
            {
              message: { mid: mid(), attachments: [{ type: 'fallback', title: 'A shared link', payload: { url: 'https://example.com' } }] },
            },
            PAGE_ID,
            base + 5,
          ),
          item(PSID, { message: { mid: mid(), text: 'Red', quick_reply: { payload: 'COLOR_RED' } } }, PAGE_ID, base + 6),
          item(PSID, { message: { mid: mid(), text: 'about that', reply_to: { mid: first } } }, PAGE_ID, base + 7),
          item(PSID, { postback: { mid: mid(), title: 'Get started', payload: 'GET_STARTED' } }, PAGE_ID, base + 8),
          item(PSID, { message: { mid: mid(), attachments: [{ type: 'ig_reel', payload: { url: 'https://x' } }] } }, PAGE_ID, base + 9),
        ],
      },
    ],
  }
  t.equal((await postMessenger(s.url, payload, APP_SECRET)).status, 200)
  const msgs = await rows(s, 'SELECT type, text, reply_to_message_id AS "replyTo", data, media FROM messages ORDER BY id')
  t.same(
    msgs.map((m) => m.type),
    ['text', 'image', 'document', 'audio', 'video', 'link', 'text', 'text', 'postback', 'unsupported'],
  )
  t.equal(msgs[0]!.text, 'Hello, do you ship to Canada?')
  t.match(JSON.parse(msgs[1]!.media as string), { url: 'https://cdn.example/p.jpg' })
  t.equal(msgs[5]!.text, 'A shared link')
  t.match(JSON.parse(msgs[6]!.data as string), { quickReply: 'COLOR_RED' })
  t.equal(msgs[7]!.replyTo, 1, 'reply_to resolved')
  t.match(JSON.parse(msgs[8]!.data as string), { payload: 'GET_STARTED' })
  const conv = await rows(s, `SELECT unread_count AS n, c.kind FROM conversations v JOIN contacts c ON c.id = v.contact_id`)
  t.same(conv, [{ n: 10, kind: 'messenger' }])
  const list = (await (await s.get('/api/conversations', token)).json()) as { conversations: Array<{ channelKind: string }> }
  t.equal(list.conversations[0]!.channelKind, 'messenger', 'the conversation says its channel')
})

t.test('reactions and unreactions; duplicates change nothing', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  await withPage(s, token)
  const target = mid()
  await postMessenger(s.url, pageWebhook(item(PSID, { message: { mid: target, text: 'love this' } })), APP_SECRET)
  const sse = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => sse.close())
  const react = pageWebhook(item(PSID, { reaction: { reaction: 'love', emoji: '❤', action: 'react', mid: target } }))
  await Promise.all([postMessenger(s.url, react, APP_SECRET), postMessenger(s.url, react, APP_SECRET)])
  await postMessenger(s.url, pageWebhook(item(PSID, { reaction: { reaction: 'love', action: 'unreact', mid: target } })), APP_SECRET)
  await postMessenger(s.url, pageWebhook(item(PSID, { message: { mid: mid(), text: 'marker' } })), APP_SECRET)
  await sse.waitFor((ev) => ev.some((e) => e.data.includes('marker')))
  const updates = sse.data<{ message: { reactions: Record<string, string> } }>('message.updated')
  t.same(
    updates.map((u) => u.message.reactions),
    [{ 'contact:1': '❤' }, {}],
  )
})

t.test('delivery and read watermarks, out of order, with and without mids', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const ch = await withPage(s, token)
  await postMessenger(s.url, pageWebhook(item(PSID, { message: { mid: mid(), text: 'hi' } })), APP_SECRET)
  // Three messages the Page sent (as the outbox stores them once Meta accepted them).
  const t0 = Date.now()
  // Into the one conversation (the customer's, on the Page).
  const ins = (...args: unknown[]) =>
    s.sql.run(
      `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, provider_message_id, status, sent_at, timestamp)
       SELECT workspace_id, id, ?, 'out', 'text', ?, ?, 'sent', ?, ? FROM conversations`,
      args,
    )
  const mids = [mid(), mid(), mid()]
  for (const [i, m] of mids.entries()) await ins(ch.id, `out ${i}`, m, t0 + i * 1000, t0 + i * 1000)
  const status = async () => (await rows(s, `SELECT status FROM messages WHERE direction = 'out' ORDER BY id`)).map((r) => r.status)

  // Read arrives before delivery, covering the first two.
  await postMessenger(s.url, pageWebhook(item(PSID, { read: { watermark: t0 + 1000 } })), APP_SECRET)
  t.same(await status(), ['read', 'read', 'sent'])
  // A late delivery watermark (no mids) never downgrades read; it delivers the third.
  await postMessenger(
    s.url,
    pageWebhook({ sender: { id: PSID }, recipient: { id: PAGE_ID }, delivery: { watermark: t0 + 2000 } }),
    APP_SECRET,
  )
  t.same(await status(), ['read', 'read', 'delivered'])
  // An older read watermark changes nothing.
  await postMessenger(s.url, pageWebhook(item(PSID, { read: { watermark: t0 } })), APP_SECRET)
  t.same(await status(), ['read', 'read', 'delivered'])
  // Delivery by mids, even past the watermark's time.
  const late = mid()
  await ins(ch.id, 'out 3', late, t0 + 9000, t0 + 9000)
  await postMessenger(
    s.url,
    pageWebhook({ sender: { id: PSID }, recipient: { id: PAGE_ID }, delivery: { mids: [late], watermark: t0 } }),
    APP_SECRET,
  )
  t.same(await status(), ['read', 'read', 'delivered', 'delivered'])
})

t.test('echoes: the Page’s messages from elsewhere appear once; Parley’s own are not duplicated', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const ch = await withPage(s, token)
  await postMessenger(s.url, pageWebhook(item(PSID, { message: { mid: mid(), text: 'hi' } })), APP_SECRET)
  // Parley's own send, accepted but whose answer has not been stored yet.
  const own = (await s.sql.get<{ id: number }>(
    `INSERT INTO messages (workspace_id, conversation_id, channel_id, direction, type, text, status, timestamp)
     SELECT workspace_id, id, ?, 'out', 'text', 'from parley', 'sending', ? FROM conversations RETURNING id`,
    [ch.id, Date.now()],
  ))!
  const ownMid = mid()
  const fromElsewhere = mid()
  const echoes = pageWebhook(
    echoItem(PSID, { mid: ownMid, text: 'from parley', metadata: `parley:${own.id}` }),
    echoItem(PSID, { mid: fromElsewhere, text: 'answered from Business Suite' }),
  )
  t.equal((await postMessenger(s.url, echoes, APP_SECRET)).status, 200)
  t.equal((await postMessenger(s.url, echoes, APP_SECRET)).status, 200, 'redelivered')
  const out = await rows(s, `SELECT id, text, status, provider_message_id AS mid FROM messages WHERE direction = 'out' ORDER BY id`)
  t.same(out, [
    { id: own.id, text: 'from parley', status: 'sent', mid: ownMid },
    { id: own.id + 1, text: 'answered from Business Suite', status: 'sent', mid: fromElsewhere },
  ])
  const conv = await rows(s, 'SELECT last_message_preview AS p, last_message_direction AS d, unread_count AS n FROM conversations')
  t.same(conv, [{ p: 'answered from Business Suite', d: 'out', n: 1 }])
})

t.test('routing among pages and isolation between workspaces', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  await withPage(s, token)
  const ws2 = (await s.sql.get<{ id: number }>(`INSERT INTO workspaces(name) VALUES ('Other') RETURNING id`))!
  await s.app.services.auth.createUser({
    workspaceId: ws2.id,
    email: 'o@example.com',
    name: 'O',
    password: 'other password',
    role: 'admin',
  })
  const other = await s.login({ email: 'o@example.com', password: 'other password' })
  const res = await fetch(`${s.url}/api/channels`, {
    method: 'POST',
    headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'messenger', externalId: '100000000000020', name: 'Their Page' }),
  })
  t.equal(res.status, 201)
  const theirs = await connectSse(`${s.url}/stream`, { token: other.token })
  const mine = await connectSse(`${s.url}/stream`, { token })
  t.teardown(() => (theirs.close(), mine.close()))
  await postMessenger(
    s.url,
    {
      object: 'page',
      entry: [
        { id: PAGE_ID, time: Date.now(), messaging: [item(PSID, { message: { mid: mid(), text: 'to my page' } })] },
        {
          id: '100000000000020',
          time: Date.now(),
          messaging: [item('7000000000000009', { message: { mid: mid(), text: 'to their page' } }, '100000000000020')],
        },
        {
          id: '100000000000099',
          time: Date.now(),
          messaging: [item(PSID, { message: { mid: mid(), text: 'to nobody' } }, '100000000000099')],
        },
      ],
    },
    APP_SECRET,
  )
  await mine.waitFor((ev) => ev.length === 1)
  await theirs.waitFor((ev) => ev.length === 1)
  t.match(mine.events[0]!.data, /to my page/)
  t.match(theirs.events[0]!.data, /to their page/)
  t.same(
    await rows(s, `SELECT reason FROM raw_webhooks`),
    [{ reason: 'unknown_channel:100000000000099' }],
    'unknown page kept, not stored as a message',
  )
  // Their channel is invisible and unchangeable from my workspace.
  const myList = (await (await s.get('/api/channels', token)).json()) as { channels: Array<{ externalId: string }> }
  t.notOk(myList.channels.some((c) => c.externalId === '100000000000020'))
  const theirId = (await s.sql.get<{ id: number }>(`SELECT id FROM channels WHERE external_id = '100000000000020'`))!.id
  const patch = await fetch(`${s.url}/api/channels/${theirId}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: false }),
  })
  t.equal(patch.status, 404)

  // A disabled page's webhooks are acknowledged and kept aside.
  const myPage = (await s.sql.get<{ id: number }>(`SELECT id FROM channels WHERE external_id = ?`, [PAGE_ID]))!.id
  await fetch(`${s.url}/api/channels/${myPage}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: false }),
  })
  t.equal(
    (await postMessenger(s.url, pageWebhook(item(PSID, { message: { mid: mid(), text: 'while disabled' } })), APP_SECRET)).status,
    200,
  )
  t.equal((await rows(s, `SELECT * FROM messages WHERE text = 'while disabled'`)).length, 0)
})
