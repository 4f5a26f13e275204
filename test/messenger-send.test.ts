// Messenger's sending rules, decided before any call to Meta: RESPONSE inside 24 h,
// the HUMAN_AGENT tag up to 7 days, a clear refusal after (attachments:
// messenger-media-send.test.ts); failures are worded for Messenger, not WhatsApp.
import t from 'tap'
import { startServer, APP_SECRET } from './helpers/server.ts'
import { PAGE_ID, item, mid, pageWebhook, postMessenger } from './helpers/ms.ts'
import { localReasons, plainReason } from '../src/domain/sending/meta-errors.ts'

const HOUR = 3600_000

t.test('window rules and the payload that goes to the Send API', async (t) => {
  const s = await startServer(t)
  const { token } = await s.login()
  const res = await fetch(`${s.url}/api/channels`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'messenger', externalId: PAGE_ID, name: 'Our Page', accessToken: 'EAAPAGE' }),
  })
  t.equal(res.status, 201)
  const send = (conv: number, body: Record<string, unknown>) =>
    fetch(`${s.url}/api/conversations/${conv}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ clientMessageId: `c-${Math.random()}`, ...body }),
    })
  const payloadOf = async (messageId: number) =>
    JSON.parse((await s.sql.get<{ payload: string }>('SELECT payload FROM outbox WHERE message_id = ?', [messageId]))!.payload)

  // Three customers who last wrote 1 hour, 3 days and 8 days ago.
  const ages = [1 * HOUR, 72 * HOUR, 192 * HOUR]
  for (const [i, age] of ages.entries()) {
    await postMessenger(
      s.url,
      pageWebhook(item(`700000000000010${i}`, { message: { mid: mid(), text: `hello ${i}` } }, PAGE_ID, Date.now() - age)),
      APP_SECRET,
    )
  }
  const convs = await s.sql.all<{ id: number; psid: string }>(
    `SELECT v.id, c.external_id AS psid FROM conversations v JOIN contacts c ON c.id = v.contact_id WHERE c.kind = 'messenger' ORDER BY v.id`,
  )
  t.equal(convs.length, 3)

  const fresh = await send(convs[0]!.id, { text: 'Yes, we ship to Canada.' })
  t.equal(fresh.status, 202)
  const m1 = ((await fresh.json()) as { message: { id: number } }).message
  t.same(await payloadOf(m1.id), {
    recipient: { id: convs[0]!.psid },
    messaging_type: 'RESPONSE',
    message: { text: 'Yes, we ship to Canada.', metadata: `parley:${m1.id}` },
  })

  const tagged = await send(convs[1]!.id, { text: 'Following up on your question.' })
  t.equal(tagged.status, 202, 'a human agent may follow up within 7 days')
  const m2 = ((await tagged.json()) as { message: { id: number } }).message
  t.match(await payloadOf(m2.id), { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' })

  const late = await send(convs[2]!.id, { text: 'Too late?' })
  t.equal(late.status, 422)
  t.match(await late.json(), { error: { code: 'MESSENGER_WINDOW_CLOSED' } })

  const template = await send(convs[0]!.id, { template: { name: 'order_update', language: 'en_US', parameters: [] } })
  t.equal(template.status, 422)
  t.match(await template.json(), { error: { code: 'MESSENGER_UNSUPPORTED' } })
  t.equal((await s.sql.get<{ n: number }>(`SELECT count(*) AS n FROM messages WHERE direction = 'out'`))!.n, 2, 'refusals store nothing')
})

t.test('failure reasons name the channel the agent sent on', async (t) => {
  for (const r of Object.values(localReasons('messenger'))) t.notMatch(r, /WhatsApp/, r)
  t.match(localReasons('messenger').network, /could not reach Messenger/)
  t.match(localReasons('whatsapp').network, /could not reach WhatsApp/)
  t.equal(plainReason(999_999, null, 'messenger'), 'Messenger refused the message.')
  t.equal(plainReason(999_999, 'Meta says why', 'messenger'), 'Meta says why', "Meta's own text when the code is unknown")
})
