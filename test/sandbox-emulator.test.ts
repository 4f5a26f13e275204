// The emulator as Meta, at its HTTP boundary: success bodies, Meta's error envelope with
// real codes, throughput, templates, the media flow, and signed webhooks that Parley's
// own verifier accepts over the raw bytes.
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startEmulator, GRAPH_TOKEN, WABA_ID } from './helpers/emulator.ts'
import { APP_SECRET, PHONE_NUMBER_ID, type TestLike } from './helpers/server.ts'
import { verifySignature } from '../src/channels/meta-signature.ts'

async function graph(base: string, method: string, p: string, body?: unknown, token: string | null = GRAPH_TOKEN) {
  const res = await fetch(`${base}/${p}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as any }
}

/** A webhook receiver that records raw bodies and headers and answers 200. */
async function receiver(t: TestLike) {
  const got: { body: Buffer; signature: string | undefined }[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      got.push({ body: Buffer.concat(chunks), signature: req.headers['x-hub-signature-256'] as string | undefined })
      res.writeHead(200).end('EVENT_RECEIVED')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got }
}

const text = (to: string, body: string) => ({
  messaging_product: 'whatsapp',
  recipient_type: 'individual',
  to,
  type: 'text',
  text: { body },
})

t.test('send: Meta’s success body, then its error envelope for bad requests', async (t) => {
  const emu = await startEmulator(t)
  await emu.customer('Maria', '15550001111')
  const ok = await graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, text('+1 (555) 000-1111', 'hi'))
  t.equal(ok.status, 200)
  t.equal(ok.body.messaging_product, 'whatsapp')
  t.same(ok.body.contacts, [{ input: '+1 (555) 000-1111', wa_id: '15550001111' }])
  t.match(ok.body.messages[0].id, /^wamid\.HBgL/)

  const noToken = await graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, text('15550001111', 'x'), null)
  t.equal(noToken.status, 401)
  t.match(noToken.body.error, { code: 190, type: 'OAuthException' })
  t.match(noToken.body.error.fbtrace_id, /^A/)
  const otherNumber = await graph(emu.graphUrl, 'POST', '999/messages', text('15550001111', 'x'))
  t.match(otherNumber.body.error, { code: 100, error_subcode: 33 })
  const noBody = await graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, {
    messaging_product: 'whatsapp',
    to: '15550001111',
    type: 'text',
    text: {},
  })
  t.match(noBody.body.error, { code: 100, message: '(#100) Invalid parameter', error_data: { messaging_product: 'whatsapp' } })
  const tooLong = await graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, text('15550001111', 'x'.repeat(4097)))
  t.equal(tooLong.body.error.code, 100)
  const badTemplate = await graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, {
    messaging_product: 'whatsapp',
    to: '15550001111',
    type: 'template',
    template: {
      name: 'order_update',
      language: { code: 'en' },
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'only one' }] }],
    },
  })
  t.match(badTemplate.body.error, { code: 132000 })
  const noTemplate = await graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, {
    messaging_product: 'whatsapp',
    to: '15550001111',
    type: 'template',
    template: { name: 'spring_sale', language: { code: 'en' } },
  })
  t.match(noTemplate.body.error, { code: 132001 })
  t.equal((await emu.stats()).accepted, 1)
})

t.test('throughput: over the number’s rate Meta answers 130429', async (t) => {
  const emu = await startEmulator(t, { ratePerSecond: 3 })
  await emu.customer('Maria', '15550001111')
  // Sent at once; a second boundary in the middle could let a few more through.
  const answers = await Promise.all(
    Array.from({ length: 8 }, () => graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, text('15550001111', 'x'))),
  )
  const refused = answers.filter((a) => a.status === 429)
  t.ok(refused.length >= 2, `${refused.length} refused`)
  t.match(refused[0]!.body.error, { code: 130429, error_subcode: 2494055 })
  const perSecond = Object.values((await emu.stats()).requestsPerSecond[PHONE_NUMBER_ID]!)
  t.equal(
    perSecond.reduce((a, b) => a + b, 0),
    8,
  )
})

t.test('templates list with paging, and the media flow with its Bearer and 5-minute URL', async (t) => {
  const emu = await startEmulator(t)
  const page1 = await graph(emu.graphUrl, 'GET', `${WABA_ID}/message_templates?limit=4`)
  t.equal(page1.body.data.length, 4)
  t.ok(page1.body.paging.next, 'a next page')
  const page2 = await fetch(page1.body.paging.next, { headers: { authorization: `Bearer ${GRAPH_TOKEN}` } }).then((r) => r.json() as any)
  t.equal(page2.data.length, 2)
  t.notOk(page2.paging.next)
  t.ok(
    [...page1.body.data, ...page2.data].some((x: any) => x.status === 'PENDING'),
    'unapproved ones are listed too, as Meta does',
  )

  const form = new FormData()
  form.set('messaging_product', 'whatsapp')
  form.set('type', 'image/png')
  const bytes = Buffer.from('89504e470d0a1a0a0000', 'hex')
  form.set('file', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), 'x.png')
  const up = await fetch(`${emu.graphUrl}/${PHONE_NUMBER_ID}/media`, {
    method: 'POST',
    headers: { authorization: `Bearer ${GRAPH_TOKEN}` },
    body: form,
  })
  const { id } = (await up.json()) as { id: string }
  t.match(id, /^\d{15,16}$/)
  const info = await graph(emu.graphUrl, 'GET', id)
  t.match(info.body, { messaging_product: 'whatsapp', mime_type: 'image/png', file_size: bytes.length, id })
  const noBearer = await fetch(info.body.url)
  t.equal(noBearer.status, 401, 'the URL alone is not enough')
  const got = await fetch(info.body.url, { headers: { authorization: `Bearer ${GRAPH_TOKEN}` } })
  t.same(Buffer.from(await got.arrayBuffer()), bytes)
  const expired = info.body.url.replace(/ext=\d+/, `ext=${Date.now() - 1}`)
  t.equal((await fetch(expired, { headers: { authorization: `Bearer ${GRAPH_TOKEN}` } })).status, 404, 'an old URL: ask again')
})

t.test('webhooks are compact, escaped like Meta’s and signed over those bytes', async (t) => {
  const hook = await receiver(t)
  const emu = await startEmulator(t, { webhookUrl: hook.url })
  await emu.customer('Zoë', '15550001111')
  await emu.send('15550001111', { type: 'text', text: 'Café at 10/11? email@me' })
  const sent = await graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, {
    ...text('15550001111', 'Sure!'),
    biz_opaque_callback_data: 'parley:x:1',
  })
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (hook.got.length >= 3) clearInterval(check), resolve()
    }, 20)
  })
  for (const h of hook.got) t.ok(verifySignature(APP_SECRET, h.body, h.signature), 'verifies with Parley’s checker')
  const raw = hook.got[0]!.body.toString('utf8')
  t.match(raw, /Caf\\u00e9 at 10\\\/11\? email\\u0040me/, 'non-ASCII, "/" and "@" escaped as Meta does')
  t.match(raw, /"name":"Zo\\u00eb"/)
  const inbound = JSON.parse(raw)
  t.match(inbound.entry[0].changes[0], { field: 'messages', value: { metadata: { phone_number_id: PHONE_NUMBER_ID } } })
  const statuses = hook.got.slice(1).map((h) => JSON.parse(h.body.toString()).entry[0].changes[0].value.statuses[0])
  t.same(
    statuses.map((s: any) => s.status),
    ['sent', 'delivered'],
  )
  t.ok(
    statuses.every((s: any) => s.id === sent.body.messages[0].id && s.biz_opaque_callback_data === 'parley:x:1'),
    'callback data echoed',
  )
  t.match(statuses[0], { pricing: { pricing_model: 'PMP' } })

  // A number that is not on WhatsApp: accepted, then failed with 131026.
  const ghost = await graph(emu.graphUrl, 'POST', `${PHONE_NUMBER_ID}/messages`, text('15559999999', 'hello?'))
  t.equal(ghost.status, 200)
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (hook.got.length >= 4) clearInterval(check), resolve()
    }, 20)
  })
  const failed = JSON.parse(hook.got[3]!.body.toString()).entry[0].changes[0].value.statuses[0]
  t.match(failed, { status: 'failed', errors: [{ code: 131026, title: 'Message undeliverable' }] })
})
