// Reply attribution (issue 7): a reply quoting the campaign message belongs to it
// whenever it comes; otherwise the customer's first message within the window after
// the campaign message was delivered. Times are Meta's (the emulator's clock), so the
// window is crossed by moving that clock, never by waiting.
import t from 'tap'
import { startPair } from './helpers/emulator.ts'
import { connectSse } from './helpers/sse.ts'
import {
  action,
  campaign,
  contactsCsv,
  createCampaign,
  importCsv,
  play,
  recipientPhone,
  recipients,
  waitCampaign,
} from './helpers/campaigns.ts'
import type { MessageDTO } from '../src/events/types.ts'

const HOUR = 3600_000

t.test('quote vs window: who replied to the campaign, counted once each', async (t) => {
  let offset = 0
  const p = await startPair(t, {
    env: { CAMPAIGN_REPLY_WINDOW_HOURS: '1' },
    emulator: { now: () => Date.now() + offset },
  })
  const sse = await connectSse(`${p.parley.url}/stream`, { token: p.token })
  t.teardown(() => sse.close())
  const phones = { ana: '15550003001', ben: '15550003002', cai: '15550003003', dia: '15550003004', eve: '15550003005' }
  for (const [name, phone] of Object.entries(phones)) await p.emu.customer(name, phone)
  await importCsv(p, ['phone,name,order,tags', ...Object.entries(phones).map(([n, ph]) => `+${ph},${n},#1,vip`)].join('\n'))
  // Eve wrote before the campaign: that message is not a reply to it.
  await p.emu.say(phones.eve, 'Do you open on Sundays?')

  const c = await createCampaign(p, { name: 'Autumn' })
  await action(p, c.id, 'start', {})
  await waitCampaign(p, c.id, (x) => x.status === 'completed' && x.counts.delivered === 5, 'delivered to all five')
  const wamid = async (phone: string) => (await p.emu.messages(phone)).find((m) => m.direction === 'out')!.id

  // Ana quotes the campaign message.
  const a = await p.emu.say(phones.ana, 'Yes, I want one', { contextId: await wamid(phones.ana) })
  // Ben writes without quoting, within the window — twice.
  const b1 = await p.emu.say(phones.ben, 'How much is it?')
  const b2 = await p.emu.say(phones.ben, 'Hello?')
  // Eve's first message after the delivery.
  const e = await p.emu.say(phones.eve, 'Nice offer')

  // Two hours later (Meta's clock): the window is over.
  offset = 2 * HOUR
  const late = await p.emu.say(phones.cai, 'Sorry, only saw this now')
  // …but a quoted reply is a reply whenever it comes.
  const d = await p.emu.say(phones.dia, 'Is this still on?', { contextId: await wamid(phones.dia) })

  const done = await waitCampaign(p, c.id, (x) => x.counts.replied === 4, 'four replies attributed')
  t.equal(done.counts.replied, 4)
  const rs = await recipients(p, c.id)
  const byPhone = new Map(rs.map((r) => [r.contact.phone, r]))
  const sec = (ms: number) => Math.floor(ms / 1000) * 1000
  t.equal(byPhone.get(phones.ana)!.repliedAt, sec(a.timestamp), 'Ana: quoted')
  t.equal(byPhone.get(phones.ben)!.repliedAt, sec(b1.timestamp), 'Ben: his first message in the window, once')
  t.equal(byPhone.get(phones.eve)!.repliedAt, sec(e.timestamp), 'Eve: the first message after delivery, not the one before')
  t.equal(byPhone.get(phones.dia)!.repliedAt, sec(d.timestamp), 'Dia: quoted, outside the window')
  t.equal(byPhone.get(phones.cai)!.repliedAt, null, 'Cai: outside the window, not quoted')
  t.same((await recipients(p, c.id, 'replied')).map((r) => r.contact.phone).sort(), [phones.ana, phones.ben, phones.dia, phones.eve].sort())

  // The conversation shows it: the reply carries context.campaign, on the stream too.
  const thread = async (phone: string) => {
    const r = byPhone.get(phone)!
    return (await p.call('GET', `/api/conversations/${r.conversationId}/messages`)).body.messages as MessageDTO[]
  }
  const campaignOf = (m: MessageDTO | undefined) => (m?.context as { campaign?: unknown } | null)?.campaign ?? null
  const ref = { id: c.id, name: 'Autumn' }
  const anaIn = (await thread(phones.ana)).find((m) => m.providerMessageId === a.id)
  t.same(campaignOf(anaIn), ref)
  t.equal((anaIn!.context as { id?: string }).id, await wamid(phones.ana), "Meta's own context is kept")
  const ben = await thread(phones.ben)
  t.same(campaignOf(ben.find((m) => m.providerMessageId === b1.id)), ref)
  t.equal(campaignOf(ben.find((m) => m.providerMessageId === b2.id)), null, 'the second message is not another reply')
  t.equal(campaignOf((await thread(phones.cai)).find((m) => m.providerMessageId === late.id)), null)
  const eve = await thread(phones.eve)
  t.equal(campaignOf(eve.find((m) => m.text === 'Do you open on Sundays?')), null)
  await sse.waitFor((evs) =>
    evs.some((ev) => ev.event === 'message.created' && ev.data.includes(d.id) && ev.data.includes('"campaign":{"id"')),
  )

  // Replies land in the inbox as open conversations, ready for an agent.
  const open = (await p.call('GET', '/api/conversations?status=open')).body.conversations.map(
    (x: { contact: { phone: string } }) => x.contact.phone,
  )
  for (const phone of Object.values(phones)) t.ok(open.includes(phone), `${phone} is in the open inbox`)
})

t.test('a message from a recipient whose campaign message failed or was never delivered is not a reply', async (t) => {
  const p = await startPair(t)
  // Half fail (131026), the rest stay "sent": the phone never confirms delivery.
  const player = play(p, { failures: { 131026: 0.5 }, delivered: 0 })
  await importCsv(p, contactsCsv(6))
  const c = await createCampaign(p)
  await action(p, c.id, 'start', {})
  const done = await waitCampaign(
    p,
    c.id,
    (x) => x.status === 'completed' && x.counts.failed === (player.outcomes.failed[131026] ?? 0) && x.counts.sent === player.outcomes.sent,
    'every status in',
  )
  t.equal(done.counts.failed + done.counts.sent, 6)
  for (let i = 0; i < 6; i++) {
    p.emu.emulator.createCustomer({ name: `R${i}`, phone: recipientPhone(i) })
    await p.emu.say(recipientPhone(i), 'Who is this?')
  }
  const after = await campaign(p, c.id)
  t.equal(after.counts.replied, 0)
  t.same(await recipients(p, c.id, 'replied'), [])
})
