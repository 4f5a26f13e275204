// Several WhatsApp numbers in one workspace, each with its own app secret and verify
// token where they differ; webhooks route by phone_number_id.
import t from 'tap'
import { startServer, APP_SECRET } from './helpers/server.ts'
import { contact, envelope, text, value } from './helpers/wa.ts'

t.test('a second number with its own app: routed by phone_number_id, verified by its own secret', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const res = await fetch(`${s.url}/api/channels`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      kind: 'whatsapp',
      externalId: '100000000000003',
      name: 'Support line',
      displayPhoneNumber: '15550003000',
      accessToken: 'EAA-second',
      appSecret: 'second-app-secret',
      verifyToken: 'second-verify',
    }),
  })
  t.equal(res.status, 201)
  const second = ((await res.json()) as { channel: { id: number } }).channel

  const toSecond = envelope(
    value({ phoneNumberId: '100000000000003', contacts: [contact('15550004444', 'Dana')], messages: [text('15550004444', 'to support')] }),
  )
  const toFirst = envelope(value({ contacts: [contact('15550004444', 'Dana')], messages: [text('15550004444', 'to sales')] }))

  t.equal((await s.webhook(toSecond, { secret: 'second-app-secret' })).status, 200)
  t.equal((await s.webhook(toFirst)).status, 200)
  // The first number's app cannot post for the second number.
  const forged = envelope(
    value({ phoneNumberId: '100000000000003', contacts: [contact('15550004444', 'Dana')], messages: [text('15550004444', 'forged')] }),
  )
  t.equal((await s.webhook(forged, { secret: APP_SECRET })).status, 200, 'acknowledged…')
  t.equal((await s.webhook(toFirst, { secret: 'nobody' })).status, 401)

  const rows = await s.sql.all<{ text: string; ch: number }>('SELECT m.text, m.channel_id AS ch FROM messages m ORDER BY m.id')
  t.same(
    rows,
    [
      { text: 'to support', ch: second.id },
      { text: 'to sales', ch: 1 },
    ],
    '…but the forged one is not stored',
  )
  const kept = await s.sql.all('SELECT reason FROM raw_webhooks')
  t.same(kept, [{ reason: 'secret_mismatch:100000000000003' }])
  // Same customer, two numbers: two conversations, each marked with its channel.
  const list = (await (await s.get('/api/conversations', token)).json()) as { conversations: Array<{ channelId: number }> }
  t.same(list.conversations.map((c) => c.channelId).sort(), [1, second.id].sort())

  const hs = await fetch(`${s.url}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=second-verify&hub.challenge=7`)
  t.equal(await hs.text(), '7')
})
